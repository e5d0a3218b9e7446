// DiskBlobStore: the BlobStore (fs/blob_store.h) in the SSD cache folder, inside the SSD tier's
// byte budget.
//
// Layout under the cache folder (next to the block tier's v1/, guarded by its v1/lock):
//   blobs-v1/ns/<namespace>/<name>@<ID16>   one file per blob; ID16 = 16 hex digits, unique
//                                           (a blob replaced by a new one gets a new file)
//   blobs-v1/tmp/<pid>-<n>                  blobs being written; renamed when committed
// Blob file: the data, then a 24-byte trailer {magic "DQFSBLB1", u64 data length, u64 XXH3-64
// of the data} (little-endian). The trailer lets a writer append in one pass and checksum as
// it goes.
//
// Budget: every blob file is charged to the DiskBlockCache given at Open as an external item
// (DiskBlockCache::ResizeExternal), so blocks and blobs evict each other, oldest use first. A
// blob is pinned (never evicted) while a Blob handle or its writer lives; a writer charges its
// bytes as it appends and gets kNoSpace when pinned blobs fill the budget or the disk is full.
// Using a blob (Open, Get, Put) makes it the most recently used item when its last handle goes.
//
// Verification: Get (small blobs) checks the checksum on every call; Open checks it the first
// time a blob file is opened in this process (a blob written by this process is known good).
// A blob that fails is removed and reported as kCorrupt.
//
// Start-up: names and sizes come from readdir + stat (no blob is read); of two files of one
// name the newer (higher ID) wins and the other is removed; temp files are removed. Found blobs
// are charged as unpinned items, newest in the LRU order.
//
// Thread safety: all methods are thread-safe. Lock order: mu_ before the DiskBlockCache's
// lock; mu_ is never held across file I/O or a call that may evict (ResizeExternal).
// Lifetime: the store must outlive every BlobStore* it handed out, every Blob and BlobWriter;
// the DiskBlockCache must outlive the store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cache/disk_block_cache.h"
#include "fs/blob_store.h"
#include "fs/metrics.h"
#include "fs/status.h"

namespace daqfs {

// What the daemon hands the Vfs: the blob store of a source (by its name), or null when there
// is no SSD tier. Each call with the same name returns the same pointer.
using BlobStoreFactory = std::function<BlobStore*(const std::string& source_name)>;

class DiskBlobStore {
 public:
  // Opens (creating) <dir>/blobs-v1, removes temp files and charges the blobs found to `space`
  // (not owned; the block tier of the same folder, already open: its lock guards both).
  // `metrics` may be null; otherwise daqfs_blob_* metrics are registered there.
  static Result<std::unique_ptr<DiskBlobStore>> Open(const std::string& dir, DiskBlockCache* space,
                                                     Metrics* metrics);
  ~DiskBlobStore();

  // The blobs of namespace `ns` ([A-Za-z0-9._-]+, not "." or ".."; a source name with other
  // characters is mapped to one that is not). Valid while the store lives.
  BlobStore* ForNamespace(const std::string& ns);
  // A factory over ForNamespace (this store must outlive the factory's use).
  BlobStoreFactory Factory();

  struct Counters {
    uint64_t blobs = 0, bytes = 0;  // current content (bytes = file sizes)
    uint64_t pinned = 0;            // blobs with a live handle
    uint64_t verifications = 0;     // whole-blob checksum checks
    uint64_t corrupt = 0;           // blobs removed because they failed
    uint64_t evictions = 0;         // blobs evicted for the budget
  };
  Counters counters() const;

  struct Impl;

 private:
  explicit DiskBlobStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A factory that always answers null (no SSD tier).
BlobStoreFactory NoBlobStores();

// Reads a cache folder's blobs without opening it for use (daqfs-cache stats).
struct BlobSummary {
  uint64_t blobs = 0, bytes = 0, temp_files = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_namespace;  // ns -> (blobs, bytes)
};
// kNotFound when the folder has no blobs-v1.
Result<BlobSummary> SummarizeBlobs(const std::string& dir);

// The namespace folder name for a source name (what ForNamespace uses).
std::string BlobNamespaceName(const std::string& source_name);

}  // namespace daqfs
