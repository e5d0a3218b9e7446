// DiskBlockCache: decoded blocks as files in a node-local SSD folder, surviving restarts.
//
// Layout under the configured folder (created 0700):
//   v1/                     format-version folder; a future format uses v2/ beside it
//   v1/lock                 flock()ed by the daemon that owns the cache (see Open)
//   v1/blocks/HH/HASH16.LEN one file per block: HH = first two hex digits of HASH16
//                           (BlockKey::Hash() as 16 hex digits), LEN = data length in bytes
//   v1/tmp/                 blocks being written; renamed into blocks/ when complete
//   v1/lru                  the LRU order (oldest first) saved at shutdown and periodically
// Block file: a 40-byte header {magic "DQFSBLK1", u32 key length, u32 zero, u64 data length,
// u64 XXH64 of the data, u64 XXH64 of the first 32 header bytes + key}, then the key, then
// the data. A block whose header, key, length or checksum does not match what Get expects is
// deleted, counted as a checksum failure, and reported as a miss (the caller decodes again).
//
// Start-up reads no block file: the index (hash, length) comes from the file names found by
// readdir, the LRU order from v1/lru (blocks missing from it count as the newest: they were
// written after the last save). Stale temp files are removed.
//
// Writes go through one background writer thread with a bounded queue (writes beyond it are
// dropped and counted), so a read never waits for the disk. The byte budget has a high
// watermark (the budget) and a low one (90%): crossing the high one evicts least recently used
// blocks down to the low one.
//
// Errors: a full disk (ENOSPC), a read-only or vanished folder, or any I/O error on it never
// fails a read: the first one logs a warning, every one is counted, writes pause for a few
// seconds and are retried (a vanished folder is created again).
//
// Sharing: two daemons cannot share a cache folder: Open fails with a clear message naming the
// folder and the pid holding v1/lock.
//
// Thread safety: all public methods are thread-safe. Lock order: index_mu_ only; never held
// across file I/O.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "cache/block_cache.h"
#include "fs/metrics.h"
#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

struct DiskCacheOptions {
  std::string dir;                            // the cache folder (created 0700 if missing)
  uint64_t budget_bytes = 64ull << 30;        // high watermark, bytes of block files
  double low_watermark = 0.9;                 // evict down to budget * low_watermark
  uint64_t write_queue_bytes = 256ull << 20;  // pending writes beyond this are dropped
  int retry_after_error_ms = 5000;            // writes pause this long after an error
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
  void Put(const BlockKey& key, const Block& block) override;
  bool Contains(const BlockKey& key) override;

  // Waits until every queued write is on disk (tests, daqfs-cache, shutdown).
  void Flush();
  // Saves the LRU order now.
  void SaveLru();

  struct Counters {
    uint64_t hits = 0, misses = 0, writes = 0, bytes_read = 0, bytes_written = 0;
    uint64_t evictions = 0, checksum_failures = 0, errors = 0, dropped_writes = 0;
    uint64_t blocks = 0, bytes = 0;  // current content
  };
  Counters counters() const;

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
