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
// Member trees: member_tree.h.
//
// The work is split by job: tar_backend_discovery.cc finds archives (FindArchives, the rescans),
// tar_backend_indexer.cc indexes them (Start/Stop, the indexer thread, saved indexes and spills
// in the blob store, merged rebuilds), member_tree.cc builds trees, tar_backend.cc answers
// requests.
//
// Indexing: Create() only finds the archives. Start(env) indexes them: at once (without
// `background`), or on one indexer thread (readiness never waits for it), and a lookup inside
// an archive waits for that archive's index (merged: for the first merged tree). Indexes are
// loaded from / saved to env.blobs (keyed by the archive's identity), so a remount lists
// 100,000 members without reading the archive; a large-frame .tar.zst is decompressed once
// into a spill blob (pinned while its index is in use). Without env.blobs nothing is kept and
// nothing spilled (members are windows of the decompressed stream). Blobs of archives that are
// gone (at Start, or found gone by a rescan) are erased.
//
// Rescans (`rescan_seconds`): the folder or glob is looked at again that often: new archives
// appear once they have not changed for `stable_seconds`; removed ones disappear; a changed
// archive is indexed again under new node ids (old handles keep reading the bytes they opened).
// Every change is announced through env.invalidator once it is visible, so folders keep long
// kernel cache lifetimes (kCacheForever); only an archive's own folder keeps 1 s, so that a
// chmod of the archive file closes its folder within a second.
//
// Listing cookies: at the root of the per-archive layout the archive's slot number (archives
// found later list after earlier ones), in the merged layout a child's node id (stable across
// rebuilds), inside a per-archive tree (immutable) the position.
//
// Merged rebuilds happen on the indexer thread without holding any lock a request takes; the
// new tree replaces the old one as one shared_ptr. Requests never copy or lock the archive
// slots and never poll: they wait on a condition variable for the first tree only.
//
// Opening a member also requires read access to the archive file itself (checked against the
// caller). Thread safety: all methods are thread-safe. Lock order: mu_ (slots) before a slot's
// own mutex; merged_mu_ and queue_mu_ are leaves. None is held while indexing or reading; the
// invalidator (which never blocks) is called with none held.
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
#include "backends/archive/member_tree.h"
#include "fs/backend.h"
#include "fs/backend_env.h"
#include "fs/defaults.h"
#include "fs/unique_fd.h"

namespace daqfs {

// The archive files named by `path` (a file, a folder of archives or a glob), sorted.
Result<std::vector<std::string>> FindArchives(const std::string& path);

struct ArchiveSourceOptions {
  bool merged = false;                            // layout = merged
  std::string strip_suffix{kDefaultStripSuffix};  // "" = show zstd members as stored
  double rescan_seconds = 0;                      // 0 = never look again
  double stable_seconds = 5;                      // with rescan: skip files changed more recently
  bool background = false;  // index on a thread started by Start() instead of in it
};

class TarBackend final : public Backend {
 public:
  // Finds the archives named by `path`; fails only when `path` names nothing usable (missing,
  // unreadable). Indexes nothing (Start does).
  static Result<std::unique_ptr<TarBackend>> Create(const std::string& source_name,
                                                    const std::string& path,
                                                    ArchiveSourceOptions options = {});
  ~TarBackend() override;  // Stop()

  // Registers daqfs_archive_index_errors_total (an archive that could not be opened or
  // indexed, or was indexed up to damage) and daqfs_index_file_rejected_total (a saved index
  // found corrupt, stale or of another format version, and rebuilt), labelled env.source_label
  // (counts from before are carried over); erases blobs of archives not found; then indexes
  // (options.background: on the indexer thread, which also rescans). Call once.
  Status Start(BackendEnv& env) override;
  // Ends the indexer thread; waiters for indexes that will not come get kUnavailable, and so
  // does every later request into an archive: the indexes (and the spill blobs they pin) are
  // let go, because the blob store may be destroyed right after Stop().
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

  size_t archive_count() const;
  // Blocks until every archive found so far is indexed and the indexer is idle (tests,
  // benchmarks). Only after Start.
  void WaitIndexed();
  // Merged layout: ids held in the id table, and slots ever allocated (tests: bounded). Call
  // while the indexer is idle (after WaitIndexed).
  size_t merged_ids_live() const;
  size_t merged_id_slots() const;

  struct Slot;  // one archive file

 private:
  TarBackend() = default;
  void Discover(bool initial);
  void IndexSlot(const std::shared_ptr<Slot>& slot);
  void RebuildMerged();
  void IndexerLoop();
  void EraseBlobsOf(const std::string& identity);
  std::shared_ptr<Slot> SlotOf(NodeId id) const;
  // A node and the tree that keeps it alive (waiting for its archive's index).
  struct NodeRef {
    std::shared_ptr<const MemberTree> tree;
    const MemberTree::Node* node = nullptr;
  };
  Result<NodeRef> NodeOf(NodeId id) const;
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(NodeId node) const;
  std::shared_ptr<const MemberTree> TreeOf(NodeId id, Status* status) const;
  std::shared_ptr<const MemberTree> MergedTree(Status* status) const;
  // The node of `id` in `tree` (per-archive trees are keyed by the id's low half).
  const MemberTree::Node* NodeIn(const MemberTree& tree, NodeId id) const;
  Attr RootAttr() const;

  std::string name_;
  std::string path_;
  ArchiveSourceOptions options_;
  struct stat root_st_ {};
  bool root_stat_ok_ = false;

  // From Start(env); before it: counters of our own, no blobs, no notices.
  Counter own_index_errors_, own_index_rejected_;
  Counter* index_errors_ = &own_index_errors_;
  Counter* index_rejected_ = &own_index_rejected_;
  NullInvalidator null_invalidator_;
  Invalidator* invalidator_ = &null_invalidator_;
  SystemClock system_clock_;
  const Clock* clock_ = &system_clock_;  // env.clock from Start() on (stability of new files)
  BlobStore* blobs_ = nullptr;

  mutable std::shared_mutex mu_;  // guards slots_, by_name_, by_path_, next_slot_
  std::map<uint32_t, std::shared_ptr<Slot>> slots_;  // slot number -> archive
  std::map<std::string, uint32_t> by_name_;          // directory name -> slot number
  std::map<std::string, uint32_t> by_path_;          // archive path -> slot number
  uint32_t next_slot_ = 1;

  mutable std::mutex merged_mu_;  // guards merged_, stopping_
  mutable std::condition_variable merged_cv_;
  std::shared_ptr<const MemberTree> merged_;
  bool stopping_ = false;
  TreeIds merged_ids_;  // used by the one thread that rebuilds (Start, then the indexer)

  std::mutex queue_mu_;  // guards queue_, stop_, busy_
  std::condition_variable queue_cv_;
  std::vector<std::shared_ptr<Slot>> queue_;  // null entry: rebuild the merged tree
  bool stop_ = false;
  bool busy_ = false;  // the indexer works on what it took from queue_
  bool started_ = false;
  std::thread indexer_;
};

}  // namespace daqfs
