// TarBackend: a source of `type = archive`: tar archives shown as directories of their members.
//
// `path` is an archive file, a folder (its *.tar, *.tar.zst and *.tzst files, not recursive) or a
// glob. Archives are plain tar, tar with zstd-compressed members (`X.zst` is shown as `X`,
// decompressed, with its true size and random access through its frame index), or whole
// compressed .tar.zst (see archive_index.h).
//
// Layouts: per-archive (default): each archive is a directory named after the archive file,
// holding its member tree. merged: one tree of all members of all archives, paths as stored; a
// path found in two archives comes from the later archive in sorted path order (logged).
// Member trees follow `tar -x`: implied directories are created, a later member of the same path
// replaces an earlier one, hard links share their target's node (nlink counted), hostile paths
// are skipped. Modes, owners and mtimes are as stored.
//
// Indexing: with `background`, Create() only finds the archives; Start() indexes them on one
// indexer thread (readiness never waits for it), and a lookup inside an archive waits for that
// archive's index (merged: for all). Indexes are loaded from / saved to `index_dir` (keyed by the
// archive's identity), so a remount lists 100,000 members without reading the archive.
// With `rescan_seconds`, the folder or glob is looked at again that often: new archives appear
// once they have not changed for `stable_seconds`; removed ones disappear; a changed archive is
// indexed again under new node ids (old handles keep reading the bytes they opened).
//
// Opening a member also requires read access to the archive file itself (checked against the
// caller). Thread safety: all methods are thread-safe. Lock order: mu_ (slots) before a slot's
// own mutex; neither is held while indexing or reading.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/archive/archive_index.h"
#include "fs/backend.h"
#include "fs/unique_fd.h"

namespace daqfs {

// The archive files named by `path` (a file, a folder of archives or a glob), sorted.
Result<std::vector<std::string>> FindArchives(const std::string& path);

struct ArchiveSourceOptions {
  bool merged = false;                // layout = merged
  std::string strip_suffix = ".zst";  // "" = show zstd members as stored
  double rescan_seconds = 0;          // 0 = never look again
  double stable_seconds = 5;          // with rescan: skip files changed more recently
  std::string index_dir;              // persistent indexes ("" = none)
  std::string spill_dir;              // decompressed large-frame .tar.zst ("" = none)
  bool background = false;            // index in Start() on a thread instead of in Create()
};

class TarBackend final : public Backend {
 public:
  // Finds the archives named by `path`; fails only when `path` names nothing usable (missing,
  // unreadable). Without options.background it also indexes them all before returning.
  static Result<std::unique_ptr<TarBackend>> Create(const std::string& source_name,
                                                    const std::string& path,
                                                    ArchiveSourceOptions options = {});
  ~TarBackend() override;

  // Starts background indexing and rescanning (options.background). Call once, after forking.
  void Start() override;
  // daqfs_archive_index_errors_total (an archive that could not be opened or indexed, or was
  // indexed up to damage) and daqfs_index_file_rejected_total (a saved index file found corrupt,
  // stale or of another format version, and rebuilt), both labelled with `source_label`. Counts
  // from before the call (Create indexes without `background`) are carried over.
  void RegisterMetrics(Metrics& metrics, const std::string& source_label) override;

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

  size_t archive_count() const;
  // Blocks until every archive found so far is indexed (tests, benchmarks).
  void WaitIndexed();

  struct Tree;  // a member tree (one archive's, or the merged one)
  struct Slot;  // one archive file

 private:
  TarBackend() = default;
  void Discover(bool initial);
  void IndexSlot(const std::shared_ptr<Slot>& slot);
  void RebuildMerged();
  void IndexerLoop();
  std::shared_ptr<Slot> SlotOf(NodeId id) const;
  // A node and the tree that keeps it alive (waiting for its archive's index).
  struct NodeRef;
  Result<NodeRef> NodeOf(NodeId id) const;
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(NodeId node) const;
  std::shared_ptr<const Tree> TreeOf(NodeId id, Status* status) const;
  Attr RootAttr() const;

  std::string name_;
  std::string path_;
  // Set before Start() (RegisterMetrics), read by the indexer thread it starts.
  Counter own_index_errors_, own_index_rejected_;
  Counter* index_errors_ = &own_index_errors_;
  Counter* index_rejected_ = &own_index_rejected_;
  ArchiveSourceOptions options_;
  struct stat root_st_ {};
  bool root_stat_ok_ = false;

  mutable std::shared_mutex mu_;                     // guards slots_, by_name_, merged_, next_slot_
  std::map<uint32_t, std::shared_ptr<Slot>> slots_;  // slot number -> archive
  std::map<std::string, uint32_t> by_name_;          // directory name -> slot number
  std::map<std::string, uint32_t> by_path_;          // archive path -> slot number
  uint32_t next_slot_ = 1;
  std::shared_ptr<const Tree> merged_;
  std::map<std::string, uint64_t> merged_ids_;  // path -> local id, stable across rebuilds
  std::vector<std::string> merged_paths_;       // local id -> path (merged readdir cookies)

  std::mutex queue_mu_;  // guards queue_, stop_
  std::condition_variable queue_cv_;
  std::vector<std::shared_ptr<Slot>> queue_;
  bool stop_ = false;
  std::thread indexer_;
};

}  // namespace daqfs
