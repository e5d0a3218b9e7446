// DiskBlockCache: decoded blocks as files in a node-local SSD folder, surviving restarts.
//
// Layout under the configured folder (created 0700):
//   v1/                     format-version folder; a future format uses v2/ beside it
//   v1/lock                 flock()ed by the daemon that owns the cache (see Open)
//   v1/blocks/HH/HASH16.LEN one file per block: HH = first two hex digits of HASH16
//                           (BlockKey::Hash() as 16 hex digits), LEN = data length in bytes
//   v1/tmp/                 blocks being written; renamed into blocks/ when complete
//   v1/lru                  the LRU order (oldest first) saved at shutdown and periodically
// Block files and the LRU file are described in disk_block_format.h. A block whose header, key,
// length or checksum does not match what Get expects is deleted, counted as a checksum
// failure, and reported as a miss (the caller decodes again).
//
// Start-up reads no block file: the index (hash, length) comes from the file names found by
// readdir, the LRU order from v1/lru (blocks missing from it count as the newest: they were
// written after the last save). Stale temp files are removed.
//
// Admission: Put carries what producing the block again would cost (seconds, measured by the
// caller). The cache measures what reading a block back costs it (an average of its own reads,
// seconds per byte, starting from DiskCacheOptions::readback_seconds_per_mib) and admits a
// block only when the cost is at least `admit_factor` times its read-back cost: a zstd block
// that decodes at 1.4 GB/s is not worth a write, a block of a slow source is. One block's cost
// is noisy (a cold read that queued behind 15 others on a busy disk looks slow), so the block
// must also come from a source whose earlier blocks have cost that much on average (a running
// average per source Identity, weight 1/8 per MiB-sized block, in a table of 4096 slots where
// a source that finds its slot taken starts afresh; a source's first block stands for it): a
// cheap source's odd slow block is not written, a slow source's first block is. A block once
// admitted and deferred is written when put again, whatever it cost then. kUnknownCost
// (or any negative or NaN cost) and kMustKeep (cache = disk) are always admitted.
//
// Writes go through one background writer thread (write-behind), so a read never waits for the
// disk. While blocks keep arriving the writer waits for a pause (write_behind_quiet_ms) unless
// its queue is nearly full. The queue holds at most write_queue_bytes of blocks; beyond that an
// admitted block is deferred: only a weak reference is kept (the memory tier or a reader holds
// the data), and the writer writes it when the queue has drained, if the data is still alive.
// A deferred block whose data died before it was written is counted as a dropped write and is
// written when it is put again (read or decoded again). Nothing admitted is lost while its data
// lives.
//
// One byte budget: other files of the cache folder (the blob store, cache/blob_store.h) are
// charged to the same budget as "external" items and share the LRU order with blocks: blocks
// and unpinned blobs evict each other, oldest use first; pinned items are never evicted. The
// budget has a high watermark (the budget) and a low one (90%): crossing the high one evicts
// least recently used items down to the low one.
//
// Errors: a full disk (ENOSPC), a read-only or vanished folder, or any I/O error on it never
// fails a read: the first one logs a warning, every one is counted, writes pause for a few
// seconds and are retried (a vanished folder is created again).
//
// Sharing: two daemons cannot share a cache folder: Open fails with a clear message naming the
// folder and the pid holding v1/lock.
//
// Thread safety: all public methods are thread-safe. Lock order: index_mu_ is innermost and
// never held across file I/O or a call out (the evictor); evictor_mu_ is held only around calls
// of the evictor and while it is replaced (before the evictor's own locks, never with index_mu_).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "cache/block_cache.h"
#include "fs/defaults.h"
#include "fs/metrics.h"
#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

// The most block data the SSD writer queues by default (the daemon sizes it from the memory
// budget, up to this).
inline constexpr uint64_t kMaxWriteQueueBytes = 256ull << 20;

struct DiskCacheOptions {
  std::string dir;                                   // the cache folder (created 0700 if missing)
  uint64_t budget_bytes = kDefaultDiskCacheBytes;    // high watermark, bytes of block files
  double low_watermark = 0.9;                        // evict down to budget * low_watermark
  uint64_t write_queue_bytes = kMaxWriteQueueBytes;  // queued data beyond this is deferred
  size_t deferred_max = 1u << 16;                    // deferred blocks remembered (weakly) at most
  int retry_after_error_ms = 5000;                   // writes pause this long after an error
  int write_behind_quiet_ms = 50;  // the writer waits this long after the last Put
  // Read-back cost before the first measured read, and the admission factor (see Admission).
  double readback_seconds_per_mib = 0.002;
  double admit_factor = 2.0;
};

class DiskBlockCache final : public BlockCache {
 public:
  // Opens (creating as needed) the cache folder and builds the index. Fails with a message
  // naming the folder when it cannot be created or another daemon holds it. `metrics` may be
  // null; otherwise the daqfs_cache_* metrics with tier="ssd" are registered there
  // (block_cache.h).
  static Result<std::unique_ptr<DiskBlockCache>> Open(const DiskCacheOptions& options,
                                                      Metrics* metrics);
  ~DiskBlockCache() override;  // drains queued writes, saves the LRU order

  Block Get(const BlockKey& key) override;
  // Queues the block for writing if its cost admits it (see Admission; kMustKeep always).
  void Put(const BlockKey& key, const Block& block, double cost_seconds = kUnknownCost) override;
  // True when the block is on disk or queued with its data (not when deferred: its data lives
  // only as long as someone else, e.g. the memory tier, holds it).
  bool Contains(const BlockKey& key) override;
  // True while an admitted block's write is deferred (only a weak reference is kept).
  bool NeedsData(const BlockKey& key) override;

  // Writes every queued and deferred block (whose data is alive) now, ignoring the write-behind
  // pause, and waits until they are on disk (tests, daqfs-cache, shutdown).
  void Flush();
  // Saves the LRU order now.
  void SaveLru();

  // hits and bytes_read count reads from disk only; a block served from the write queue counts
  // as a queue_hit (it came from memory).
  struct Counters {
    uint64_t hits = 0, misses = 0, writes = 0, bytes_read = 0, bytes_written = 0;
    uint64_t evictions = 0, checksum_failures = 0, errors = 0, dropped_writes = 0;
    uint64_t queue_hits = 0, not_admitted = 0, deferred = 0;
    uint64_t blocks = 0, bytes = 0;  // current content: block files
    uint64_t external_bytes = 0;     // current content: external items (blobs)
  };
  Counters counters() const;

  // ---- The one byte budget, shared with the blob store ----
  // An external item is a file someone else owns in the cache folder, charged to this budget
  // under an id the owner chooses (unique for the life of the cache object). A pinned item is
  // never evicted; an unpinned one sits in the LRU with the blocks and may be evicted: the
  // evictor is then called (on the evicting thread, with only the evictor's own lock of this
  // cache held; calls are serialized) and must remove the file; it must not call back into this
  // cache. Set the evictor before adding items. Once SetExternalEvictor returns (with another
  // evictor or null), the old one is not running and will not be called again, so its owner may
  // be destroyed even while the writer thread is still busy. Must not be called from the evictor.
  using ExternalEvictor = std::function<void(uint64_t id)>;
  void SetExternalEvictor(ExternalEvictor evictor);
  // Sets the charge of item `id` to `total_bytes` (a new item starts pinned once). Growing
  // evicts least recently used unpinned items as needed; kNoSpace (charge unchanged) when the
  // budget cannot hold it even after evicting everything unpinned. Must not be called while
  // holding a lock the evictor takes.
  Status ResizeExternal(uint64_t id, uint64_t total_bytes);
  // Pins an item again (counted); false if it was evicted or removed.
  bool PinExternal(uint64_t id);
  // Drops one pin; at zero the item becomes the most recently used unpinned item.
  void UnpinExternal(uint64_t id);
  // Forgets an item and its charge (the owner removes the file). Unknown ids are ignored.
  void RemoveExternal(uint64_t id);
  uint64_t budget_bytes() const;

 private:
  // (declared by the implementation)
  struct Impl;
  explicit DiskBlockCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a cache folder's index without opening it for use (daqfs-cache stats): blocks, bytes.
struct DiskCacheSummary {
  uint64_t blocks = 0, bytes = 0, temp_files = 0;
  std::string version_dir;
};
Result<DiskCacheSummary> SummarizeDiskCache(const std::string& dir);

}  // namespace daqfs
