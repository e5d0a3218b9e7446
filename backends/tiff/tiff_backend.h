// TiffBackend: a source of `type = tiff`: a series of TIFF files (a tomography scan, a camera's
// run) shown as one image stack with the views of an HDF5 stack (backends/common/stack_views.h).
//
// `path` is a folder (its files named *.tif / *.tiff, any case, not recursive), a glob or one
// (multi-page) TIFF file. Files are put in file-name order with numbers compared by value
// (FileNameLess: proj_2.tif before proj_10.tif); each page is a frame, numbered from 0 in that
// order. The source's folder shows:
//   - `data.npy`: every frame, shape (N, H, W) (or (N, H, W, C) for RGB), as numpy.save writes;
//   - `frames/NNNNNN.tif`: one uncompressed TIFF per frame; with `raw` also `NNNNNN.raw`.
// Each frame file carries the xattrs user.daqfs.file (the TIFF it comes from) and
// user.daqfs.page (its page there, from 0).
//
// Pages are the decode units (tiff_pages.h): decoded by libtiff on the read path's pool, cached
// once whichever view reads them, and data.npy's reader is prefetched across files (one
// ComposedSource over every file's pages).
//
// Rejected files: a file libtiff cannot read is left out of the series and logged once (per
// version of the file); daqfs_tiff_skipped_files counts them. Files of another shape or pixel
// type than the first good one make the series an error: the folder is then empty and the
// reason, naming both files, is logged once; never a stack that mixes them.
//
// Rescans (`rescan_seconds`): the folder is listed again; files changed less than
// `stable_seconds` ago wait (a camera still writing), files already described and unchanged are
// not opened again. When the series changed it is published whole: a frame's node id names its
// file (as described) and page, so the frames of unchanged files keep their ids and a scan that
// grows by new files only adds names to frames/; a name that now shows another frame (a file
// inserted before it) or none is announced as removed, new names as added, through
// env.invalidator. data.npy gets a new node id per series (its bytes changed); the last few
// series' data.npy keep answering for readers that still hold them. With rescans, names and
// attributes are cached by the kernel for about a rescan period only (a lookup that raced a
// rescan is not kept). A file being rewritten keeps its place in the series (its frames are EIO
// until it is stable again) instead of every later name shifting. Describing a file is
// remembered only when libtiff rejected the file itself: a failure that may pass (EMFILE, EIO)
// is retried at the next rescan. A folder that cannot be listed keeps the last series.
//
// Access: opening a frame requires read access (checked against the caller) to its TIFF,
// opening data.npy to every TIFF of the series (one open and check per file: with 10^5 files,
// a noticeable cost per open of data.npy on a network filesystem). A file replaced since it
// was listed (another inode) is EIO; one whose content changed fails the reads of its pages.
// Attributes: a frame file shows its TIFF's owner, mode and mtime; data.npy the first file's owner,
// the mode bits every file has, and the newest mtime; folders the source folder's owner and mode.
//
// Metrics (registered at Start, labelled env.source_label): daqfs_tiff_frames,
// daqfs_tiff_files and daqfs_tiff_skipped_files (gauges of the current series),
// daqfs_tiff_series_errors_total (series that could not be made: shapes differ).
//
// Thread safety: every method may be called concurrently; series are immutable snapshots.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/tiff/tiff_stack.h"
#include "fs/backend.h"
#include "fs/backend_env.h"
#include "fs/metrics.h"

namespace daqfs {

// True for the names the source lists from a folder: *.tif and *.tiff, in any case.
bool IsTiffName(const std::string& name);
// True when the file at `path` starts with a TIFF or BigTIFF signature (II*\0, MM\0*, II+\0,
// MM\0+).
bool HasTiffSignature(const std::string& path);
// What `path` holds for a TIFF source: Ok when one of the files it lists (a folder's *.tif and
// *.tiff, a glob's matches, the file itself) carries a TIFF signature, looking no further than
// the first that does; `*count` is then the number of files listed (the backend's scan
// describes each and skips what libtiff rejects). Errors: the path cannot be listed (errno status);
// kInvalid naming the path for a file that is no TIFF, or a folder or glob without one ("no TIFF
// files in this folder").
Status CheckTiffSource(const std::string& path, size_t* count);

struct TiffSourceOptions {
  bool raw_frames = false;    // frames/NNNNNN.raw beside each .tif
  double rescan_seconds = 0;  // 0 = never look again
  double stable_seconds = 5;  // with rescan: files changed more recently wait
  bool background = false;    // scan on a thread started by Start() instead of in it
};

class TiffBackend final : public Backend {
 public:
  // Checks that `path` names something to list (a folder, a glob, a file); reads no TIFF yet
  // (Start does).
  static Result<std::unique_ptr<TiffBackend>> Create(std::string name, std::string path,
                                                     TiffSourceOptions options);
  ~TiffBackend() override;

  Status Start(BackendEnv& env) override;
  void Stop() override;

  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;
  Result<std::vector<std::string>> ListXattr(NodeId node) override;
  Result<std::string> GetXattr(NodeId node, const std::string& name) override;
  std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max) override;
  uint64_t TotalBytes() const override;
  uint64_t TotalNodes() const override;

  // Lists and describes the files now and publishes the series if it changed (what a rescan
  // does; tests call it to rescan at once).
  void ScanNow();

  // Node ids: the root (kRootNode), frames/ (kFramesDir), data.npy of series generation G
  // (kNpyTag | G), and the frame of page P of described file F (numbered from 1 as files are
  // described): kFrameTag | F << 25 | P << 1 (| 1 for its .raw). Pages of a file: < 2^24.
  static constexpr NodeId kFramesDir = 2;
  static constexpr NodeId kNpyTag = uint64_t{1} << 61;
  static constexpr NodeId kFrameTag = uint64_t{1} << 60;
  static constexpr uint64_t kMaxPages = uint64_t{1} << 24;

 private:
  struct FileInfo {
    std::string path;  // canonical
    struct stat st {};
    std::string identity;
    uint64_t number = 0;  // unique per described version of a file, from 1
    DescribedTiff described;
  };
  struct Series {
    uint64_t generation = 0;
    std::shared_ptr<const ImageStack> stack;             // null: no stack (no file, or an error)
    std::vector<std::shared_ptr<const FileInfo>> files;  // the stack's parts, in part order
    std::vector<uint64_t> first_index;                   // per part: index of its first frame
    std::map<uint64_t, size_t> part_of_file;             // file number -> part
    std::vector<std::string> paths;                      // every file listed, for comparing
    Attr npy_attr;
    size_t skipped = 0;
  };
  // A frame of the current series a node names.
  struct FrameRef {
    std::shared_ptr<const Series> series;
    uint64_t index = 0;
    bool raw = false;
  };

  TiffBackend(std::string name, std::string path, TiffSourceOptions options);
  std::shared_ptr<const Series> Current() const;
  // The series whose data.npy `node` is; null when it is none kept.
  std::shared_ptr<const Series> SeriesOfNpy(NodeId node) const;
  // The frame `node` names in the current series.
  Result<FrameRef> FrameOf(NodeId node) const;
  static NodeId FrameNode(const Series& s, uint64_t index, bool raw);
  // Tells the kernel what changed between two series.
  void Announce(const Series& old, const Series& now);
  Attr DirAttr() const;
  Attr FrameAttr(const Series& s, uint64_t index, bool raw) const;
  Status CheckAccess(const Caller& caller, const Series& s, const std::vector<size_t>& parts) const;
  void ScannerLoop();
  void WaitFirstScan() const;

  const std::string name_;
  const std::string path_;
  const TiffSourceOptions options_;
  const int exts_;  // entries per frame in frames/: 1 (.tif) or 2 (.tif, .raw)
  // How long the kernel may cache names and attributes: for ever without rescans; else about a
  // rescan period, so a lookup that raced a rescan (and got a frame that another name shows
  // now) is not kept.
  const double entry_seconds_;

  Invalidator* invalidator_ = nullptr;
  const Clock* clock_ = nullptr;
  NullInvalidator null_invalidator_;
  SystemClock system_clock_;
  Counter own_series_errors_;
  Counter* series_errors_ = &own_series_errors_;
  struct Gauges;
  std::shared_ptr<Gauges> gauges_;

  mutable std::mutex mu_;  // guards current_, recent_, root_st_
  std::shared_ptr<const Series> current_;
  std::map<uint64_t, std::shared_ptr<const Series>> recent_;  // by generation, a few (data.npy)
  struct stat root_st_ {};
  bool root_stat_ok_ = false;

  // Only the scanning thread (or ScanNow's caller, serialised by scan_run_mu_) touches these.
  std::mutex scan_run_mu_;
  std::map<std::string, std::shared_ptr<const FileInfo>> known_;  // by canonical path
  std::set<std::string> logged_;                                  // messages already logged
  std::string last_error_;
  uint64_t next_generation_ = 1;
  uint64_t next_file_number_ = 1;

  mutable std::mutex scan_mu_;
  mutable std::condition_variable scan_cv_;
  bool started_ = false;
  bool scanned_ = false;
  bool stop_ = false;
  std::thread scanner_;
};

}  // namespace daqfs
