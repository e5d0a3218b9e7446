// Hdf5FileView: the folder of one HDF5 file, built lazily: a folder's entries are read from the
// file the first time the folder is looked into or listed, then kept (the file is immutable
// while mounted).
//
// What a folder holds (see README "HDF5"): a group is a folder; a dataset is a text file NAME
// (scalars, short strings) or NAME.npy; a soft link whose target lies in the part of the file
// this folder shows is a relative symlink, any other soft link and every external link is
// followed (the target shown under the link's name, read from the target file); HDF5
// attributes of the folder's group are text files `@ATTR`, those of a dataset `NAME@ATTR`
// beside it, and both are extended attributes `user.ATTR` of the group's folder or the
// dataset's file; extra entries from Hdf5Views follow, asked for only when the folder is listed
// or a name is looked up that the rest of the folder does not hold (hdf5_views.h).
//
// Node ids are local to the view: 1 is the file's folder; nodes get ids as folders are loaded
// (never reused: a view only grows, by what has been listed). File entries of an extra folder
// (Hdf5ExtraDir) get computed ids (kExtraChildBit | folder number << 27 | index) without a node
// being kept for each, so listing 100,000 frames keeps no 100,000 nodes; a folder entry of an
// extra folder (`frames/` inside `NAME.stack/`) gets a node of its own when first met.
//
// Hard links show the same object under every path (one node per path; the data is cached
// once, under the object's identity). A group that is one of its own ancestors (a hard-link or
// external-link loop) is not shown again below itself (logged once per place). A soft or
// external link that leads nowhere (missing file, missing object) is a file of size 0 whose
// open fails with EIO naming the linking file and what is missing; the listing stays as the
// file promises. A dataset of a type NumPy cannot hold is left out (logged).
//
// libhdf5 is used in short critical sections (H5Lock), one link at a time, so loading a folder
// of 1000 external links never blocks reads for long; files are opened through the backend's
// bounded Hdf5FilePool.
//
// Thread safety: every method may be called concurrently. Lock order: a folder's load mutex,
// then its extras mutex (never both: extras are asked for after loading), then nodes_mu_
// (briefly, to add or find nodes), then H5Lock; nodes_mu_ is never held while loading.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/hdf5/hdf5_dataset_units.h"
#include "backends/hdf5/hdf5_file_pool.h"
#include "backends/hdf5/hdf5_links.h"
#include "backends/hdf5/hdf5_views.h"
#include "fs/backend.h"

namespace daqfs {

class Hdf5FileView {
 public:
  static constexpr uint64_t kFolder = 1;  // the file's own folder
  static constexpr uint64_t kExtraChildBit = 1ull << 43;
  static constexpr uint64_t kLocalMask = (1ull << 44) - 1;  // ids fit 44 bits

  // What a view uses from its backend (shared by every view of the backend).
  struct Env {
    std::string source;  // the source's name, for log lines
    std::shared_ptr<Hdf5FilePool> pool;
    uint64_t text_max = 4096;
    std::shared_ptr<Hdf5Views> views;  // may be null
    std::function<std::shared_ptr<Hdf5DatasetUnits>(std::shared_ptr<const Hdf5DatasetRef>,
                                                    Hdf5DatasetUnits::Layout)>
        units;
  };

  enum class Kind { kFolder, kText, kNpy, kSymlink, kBroken, kExtraFile, kExtraDir };

  struct Node {
    uint64_t local = 0;
    uint64_t parent = 0;  // 0 for the file's folder
    std::string name;
    Kind kind = Kind::kFolder;
    Attr attr;
    // Where the object is (folders, datasets): file, hard path, the file's identity, address.
    std::string file;
    std::string path;
    std::string file_identity;
    haddr_t addr = HADDR_UNDEF;
    // Folders: the group at the top of the part of its file this folder shows, and the node
    // showing it (soft links below it that stay inside become symlinks).
    std::string anchor_path;
    uint64_t anchor_node = 0;  // 0: this node itself
    // kText: the text; kSymlink: the target; kBroken: why it cannot be read.
    std::string content;
    std::shared_ptr<const Hdf5DatasetRef> dataset;  // kNpy
    std::shared_ptr<const Bytes> npy_header;        // kNpy: its header (the size needs it)
    std::vector<std::pair<std::string, std::string>> xattrs;  // files (folders: after loading)
    Hdf5ExtraEntry extra;                                     // kExtraFile, kExtraDir
    uint64_t extra_seq = 0;                                   // kExtraDir: its number in child ids
  };

  // `file` is the canonical path of the HDF5 file, `st` its stat when found.
  Hdf5FileView(std::shared_ptr<const Env> env, std::string file, const struct stat& st);
  ~Hdf5FileView();
  Hdf5FileView(const Hdf5FileView&) = delete;
  Hdf5FileView& operator=(const Hdf5FileView&) = delete;

  const std::string& file() const { return file_; }
  const std::string& identity() const { return identity_; }

  // Node `local` (kNotFound when there is none).
  Result<std::shared_ptr<const Node>> NodeOf(uint64_t local) const;
  // The child `name` of folder `dir` (loading it). Errors: kNotFound, kNotDir, or why the
  // folder cannot be read.
  Result<uint64_t> Lookup(uint64_t dir, std::string_view name);
  // Lists folder `dir` from position `cookie`: emit(name, local id, attr, next cookie) until it
  // returns false. Cookies are positions (a loaded folder never changes).
  using Emit = std::function<bool(const std::string&, uint64_t, const Attr&, uint64_t)>;
  Status List(uint64_t dir, uint64_t cookie, const Emit& emit);
  // Extended attributes of `local` (a folder's are its group's, after loading it).
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(uint64_t local);
  // Up to `max` file entries after `name` in folder `dir` (sibling prefetch).
  std::vector<std::pair<std::string, uint64_t>> FilesAfter(uint64_t dir, std::string_view name,
                                                           size_t max);

 private:
  struct Folder;  // a folder's loaded entries
  struct Made {   // an entry made while loading
    std::string name;
    std::shared_ptr<Node> node;
  };

  std::shared_ptr<const Node> Find(uint64_t local) const;
  Result<std::shared_ptr<Folder>> Load(uint64_t dir);
  Status LoadInto(const Node& dir, Folder& out);
  // Every entry of loaded folder `folder` (node `dir`), extra entries included (asked for from
  // Hdf5Views on the first call), sorted by name. The vector never changes afterwards.
  const std::vector<std::pair<std::string, uint64_t>>& AllChildren(const Node& dir, Folder& folder);
  // The node of entry `index` of extra folder `dir` when that entry is a folder itself: made on
  // first use, the same id afterwards (0 when no more extra folders fit).
  uint64_t NestedExtraDir(const Node& dir, uint64_t index, Hdf5ExtraEntry entry);
  // The entries link `link` of folder `dir` makes (with H5Lock held inside): the link's own in
  // *out, a dataset's attribute files in *attr_out (links win a name over them); log lines go
  // to *logs, for the caller to write once the lock is let go.
  void MakeEntries(const Node& dir, const std::vector<std::string>& view_path,
                   const std::vector<std::string>& anchor_view,
                   const std::set<std::string>& ancestors, const H5LinkEntry& link,
                   std::vector<Made>* out, std::vector<Made>* attr_out,
                   std::vector<std::string>* logs);
  std::shared_ptr<Node> NewNode(Kind kind, uint64_t parent, const std::string& name);
  uint64_t Add(std::shared_ptr<Node> node);
  uint64_t AddLocked(std::shared_ptr<Node> node);  // nodes_mu_ held (exclusive)
  std::vector<std::string> ViewPath(uint64_t local) const;
  Result<std::shared_ptr<const Node>> ExtraChild(uint64_t local) const;
  Attr FileAttr(const struct stat& st, uint64_t size) const;
  Attr DirAttr(const struct stat& st) const;
  void LogOnce(const std::string& message);

  std::shared_ptr<const Env> env_;
  std::string file_;
  std::string identity_;
  struct stat st_ {};

  // Guards nodes_, folders_, extra_dirs_, nested_dirs_.
  mutable std::shared_mutex nodes_mu_;
  std::vector<std::shared_ptr<Node>> nodes_;      // by local id (0 unused)
  std::vector<std::shared_ptr<Folder>> folders_;  // by local id, for folder nodes
  std::vector<uint64_t> extra_dirs_;              // extra folder number -> its node
  // (extra folder's node, index of a folder entry in it) -> that entry's node.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> nested_dirs_;

  std::mutex logged_mu_;
  std::set<std::string> logged_;
};

}  // namespace daqfs
