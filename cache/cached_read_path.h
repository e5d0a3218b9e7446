// CachedReadPath: the ReadPath of a mount with a block cache and a prefetcher.
//
// Per source it applies a cache policy (none | memory | disk | auto; auto caches decoded data in
// every tier and leaves plain byte ranges to the kernel's page cache). Decoded sources (zstd
// frames, HDF5 chunks...) are read block by block through the BlockFetcher: from the cache, or
// from one decode shared by every concurrent reader. Plain sources (tar members: byte ranges of
// a backing file) take a block from the cache when it is there (prefetched) and otherwise read
// just the requested bytes directly, so a 4 KiB random read never costs a 1 MiB block read.
//
// Decode units: a block made of unit slices (ByteSource::PartsOf, e.g. a .tar.zst member whose
// blocks are slices of the archive's frames) is served as slices of the cached units
// themselves: no copy, and a unit shared by two files is decoded and cached once. A sequential
// scan releases a unit it had prefetched from RAM (when an SSD tier keeps it) only once it has
// read the unit's last byte, so the next file that starts inside the same unit still finds it.
//
// Without a cache (cache = none) a reader keeps its last unit, and reads a huge frame's
// sub-blocks through a per-handle streaming cursor (ByteSource::OpenGroupCursor): a sequential
// reader decodes each frame once, holding about 1 MiB, instead of once per sub-block.
//
// Each open file has a PrefetchPlanner; the blocks it asks for are decoded on the Executor
// (the decode pool) into the cache, within a global in-flight byte budget. Releasing the file
// cancels its queued prefetches. Sibling prefetch: when a file has been read whole and in order
// and the reader then starts on the next file of the same directory, the files after it are
// prefetched too (up to one window of bytes), as a frame-by-frame reader of a series does.
//
// Thread safety: Open is thread-safe; a FileReader handles concurrent Reads (its planner is
// guarded by a per-file mutex that is never held while decoding or copying).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/block_cache.h"
#include "cache/block_fetcher.h"
#include "fs/defaults.h"
#include "fs/metrics.h"
#include "fs/read_path.h"

namespace daqfs {

// In the order of kCacheModes (fs/defaults.h), which names them.
enum class CachePolicy { kAuto, kNone, kMemory, kDisk };
// "auto", "none", "memory", "disk".
bool ParseCachePolicy(const std::string& text, CachePolicy* out);

struct ReadPathOptions {
  uint64_t prefetch_window_bytes =
      kDefaultPrefetchWindowBytes;  // cap of the per-file window; 0 = no prefetch
  uint64_t prefetch_budget_bytes = kDefaultPrefetchBudgetBytes;  // all prefetches in flight at once
  // The longest an open waits for its file's bytes on their way to the page cache (a stored
  // sibling): normally a decode and a queue of stores away; past this it reads through daqfs.
  std::chrono::milliseconds store_wait{1000};
};

class CachedReadPath final : public ReadPath {
 public:
  // `memory` and `disk` may be null (tier absent); `executor` runs prefetches. None is owned.
  // The caches must outlive this object, every FileReader it opened and the executor's queued
  // tasks (destroy the executor first); the executor may outlive this object.
  CachedReadPath(ReadPathOptions options, BlockCache* memory, BlockCache* disk, Executor* executor,
                 Metrics* metrics);
  ~CachedReadPath() override;

  // Sets the policy of source index `source` (default kAuto).
  void SetPolicy(uint32_t source, CachePolicy policy);

  using ReadPath::Open;
  std::unique_ptr<FileReader> Open(std::shared_ptr<ByteSource> source, FileContext context,
                                   std::function<void()>* after_open) override;

  BlockFetcher& fetcher() { return shared_->fetcher; }
  uint64_t prefetch_issued() const { return issued_->Get(); }
  uint64_t prefetch_used() const { return used_->Get(); }
  uint64_t prefetch_wasted() const { return wasted_->Get(); }
  uint64_t inflight_bytes() const { return shared_->inflight.load(); }
  // The most bytes one streaming cursor (cache = none) has held.
  uint64_t peak_cursor_bytes() const { return peak_cursor_bytes_.load(); }

 private:
  friend class CachedFileReader;
  BlockCache* CacheFor(uint32_t source, bool decoded);
  // Blocks a handle has had prefetched and not read yet; a queued prefetch of a block its
  // reader has already read is skipped (it would decode again what a scan released).
  struct Pending {
    std::mutex mu;                        // guards blocks, released
    std::unordered_set<uint64_t> blocks;  // prefetched, not read yet
    // Prefetched blocks whose units a scan may still release from RAM (once read to their end).
    std::unordered_set<uint64_t> releasable;
  };
  // Queues a prefetch of block `index` of `source` (its units); false when the budget is full
  // or the pool refused it. `pending` (may be null) is the handle's.
  // `done` (may be null) runs after the prefetch task, if it was queued.
  bool Prefetch(const std::shared_ptr<ByteSource>& source, uint64_t index, BlockCache* cache,
                const std::shared_ptr<std::atomic<bool>>& cancelled,
                const std::shared_ptr<Pending>& pending, std::function<void()> done = nullptr);
  // A sibling's store on its way to the kernel: an open of it waits for the outcome (its
  // reader then reads the page cache), up to ReadPathOptions::store_wait.
  struct StoreWait {
    std::mutex mu;
    std::condition_variable cv;
    enum class State { kOnItsWay, kTaken, kNotStored } state = State::kOnItsWay;
    void Finish(bool taken);
    bool Wait(std::chrono::milliseconds limit);  // true if the kernel took it
  };
  // Hands sibling `s` (opened as `source`, every block in `cache` now) to the kernel's page
  // cache (Sibling::store); once the kernel holds it, notes it as stored (Open lets its units
  // go from RAM). `wait` learns the outcome either way.
  void Store(const FileContext& context, const Sibling& s,
             const std::shared_ptr<ByteSource>& source, BlockCache* cache,
             const std::shared_ptr<StoreWait>& wait);
  // The store of `name` of `dir` ended: taken by the kernel, or not.
  void StoreEnded(const std::string& dir, const std::string& name,
                  const std::shared_ptr<StoreWait>& wait, bool taken);
  // The cache keys of the units block `index` of `source` (named `identity`) is made of: its
  // own key when it has no parts, none for generated parts.
  static std::vector<BlockKey> UnitKeys(ByteSource& source, const std::string& identity,
                                        uint64_t index);
  // True if every unit of block `index` is in `cache`'s fast tier.
  static bool Cached(ByteSource& source, const std::string& identity, uint64_t index,
                     BlockCache* cache);
  void NoteCursorBytes(uint64_t bytes);
  // A file of `dir` named `name` was read whole and in order / has started being read.
  void FileCompleted(const FileContext& context);
  // `cache_plain`: the started file's cache, used for siblings whose policy gives none. True
  // when the file continues a scan of its directory (its predecessor was read whole).
  // `stored`: the file was stored in the page cache ahead of its reader (it continues the scan
  // whatever the name expected next, unless the scan is past it, and counts as read whole).
  bool FileStarted(const FileContext& context, BlockCache* cache_plain, bool stored = false);
  // FileStarted's sibling walk: opens and queues the siblings within one window.
  void QueueSiblings(const FileContext& context, BlockCache* cache_plain);
  // Sibling `name` of `dir` is not queued ahead of its scan after all.
  void Unclaim(const std::string& dir, const std::string& name);

  ReadPathOptions options_;
  BlockCache* memory_;
  BlockCache* disk_;
  std::unique_ptr<BlockCache> tiered_;       // cache = auto: the SSD tier admits by cost
  std::unique_ptr<BlockCache> tiered_keep_;  // cache = disk: the SSD tier keeps everything
  Executor* executor_;
  // What queued prefetch tasks use: shared with them, so a task that runs after this object
  // is gone (its executor outlived it) touches nothing freed.
  struct Shared {
    explicit Shared(Metrics* metrics) : fetcher(metrics) {}
    BlockFetcher fetcher;
    std::atomic<uint64_t> inflight{0};
    // Prefetch tasks inside a `done` callback (it uses the CachedReadPath): its destructor
    // waits for them (the executor may outlive it).
    std::atomic<int> in_callbacks{0};
  };
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<std::atomic<bool>> shutdown_;
  std::atomic<uint64_t> peak_cursor_bytes_{0};

  std::mutex policy_mu_;  // guards policies_
  std::map<uint32_t, CachePolicy> policies_;
  // A scan of one directory: the name expected to be read next, and the siblings whose
  // prefetch was queued whole (the most recent ones): the next file's start skips them instead
  // of opening them again (an open can cost a backend lock; 30 of them per file made the
  // reader wait).
  struct DirScan {
    std::string next;
    std::deque<std::string> order;
    std::unordered_set<std::string> names;
    // Siblings whose bytes went to the page cache ahead of their reader: its reads will not
    // reach daqfs, so opening one counts as reading it whole (the scan goes on).
    std::unordered_set<std::string> stored;
    // Siblings whose store is on its way (decoding, or queued for the kernel).
    std::unordered_map<std::string, std::shared_ptr<StoreWait>> storing;
  };
  std::mutex dirs_mu_;                    // guards scans_
  std::map<std::string, DirScan> scans_;  // by directory identity, at most kScanDirs

  Counter own_issued_, own_used_, own_wasted_, own_skipped_;
  Counter* issued_ = &own_issued_;
  Counter* used_ = &own_used_;
  Counter* wasted_ = &own_wasted_;
  Counter* over_budget_ = &own_skipped_;
  Counter* sibling_ = nullptr;
  Counter own_sibling_;
  Counter* stored_files_ = nullptr;
  Counter own_stored_files_;
  Counter* store_waits_ = nullptr;
  Counter own_store_waits_;
};

}  // namespace daqfs
