// DiskBlockCache: how it works (the header holds the format and the contract).
//
// One mutex, index_mu_, guards the in-memory index (hash -> data length, LRU position), the
// external items (blobs: id -> length, pins), the one LRU list of both, the write queue, the
// deferred list and the error/pause state. It is held only for map and list operations,
// never across a system call on the folder.
//
// Get looks the hash up (a block still in the write queue is answered from memory and counted as
// a queue hit, not a disk hit: the stats once showed disk hits with 0 bytes read), then reads
// the file with one preadv straight into the new block's vector, plus one spare byte so that a
// file longer than its header says is noticed without an fstat. Everything is verified before
// the block is handed out; a bad file is unlinked and reported as a miss.
//
// Put only enqueues the caller's shared block (no copy of the data) with its serialized key; the
// queue is bounded in bytes, and beyond it a block is deferred (weak reference; see the header).
// The writer takes queued blocks first, deferred ones when the queue is empty. The writer thread
// writes the header and the data with one pwritev into v1/tmp/<pid>-<n>, renames it into blocks/HH/
// and only then publishes it in the index, so a crash at any point leaves either no block or a
// complete one (temp files are removed at the next Open). Blocks are not fsync()ed: after a power
// loss a renamed file may hold garbage, which the checksums catch. Eviction victims are chosen
// under the lock and unlinked outside it, by the writer, before Flush() returns. Evicted external
// items are handed to the evictor (the blob store), also outside the lock but under evictor_mu_,
// which SetExternalEvictor also takes: replacing the evictor waits for a running call, so the
// blob store can be destroyed while the writer still drains its queue.
//
// Accounting: a block counts as its data length (headers, keys and file-system rounding are not
// counted), so the total can be rebuilt from file names alone at start-up. External items count
// what their owner charged.
//
// Errors on the folder (ENOSPC, EROFS, EACCES, a vanished folder, EIO) drop the write, count an
// error, log once per distinct (operation, errno) per 10 minutes, and pause writes (Put drops and
// counts while paused). The first write after the pause re-creates missing folders; if
// v1/blocks itself had to be created again, its old content is gone and the index is cleared.
//
// Metrics: the counters live in the Metrics registry and the two gauges read a small state shared
// with the cache by shared_ptr, so rendering metrics is safe at any time, also after the cache is
// destroyed (the gauges then show the last values).
#include "cache/disk_block_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/cache_files.h"
#include "cache/disk_block_format.h"
#include "cache/work_timer.h"
#include "fs/log.h"

namespace daqfs {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kLruSaveInterval = std::chrono::seconds(30);
constexpr auto kErrorLogInterval = std::chrono::minutes(10);
// Blocks are a few MiB at most; a longer length in a file name is checked with fstat first.
constexpr uint64_t kTrustedBlockBytes = 64ull << 20;
// Weight of one measured read in the read-back cost average.
constexpr double kReadbackWeight = 0.05;
// Admission's running cost averages: one per source, in a fixed table (a source whose slot
// another source took starts afresh), the weight of one block of kSourceCostFullBlock bytes or
// more in it (smaller blocks weigh less).
constexpr size_t kSourceCostSlots = 4096;
constexpr double kSourceCostWeight = 1.0 / 8;
constexpr double kSourceCostFullBlock = 1 << 20;

uint64_t KeyHash(const std::string& serialized) {
  return XXH3_64bits(serialized.data(), serialized.size());
}

}  // namespace

struct DiskBlockCache::Impl {
  enum CounterId {
    kHits,
    kMisses,
    kWrites,
    kBytesRead,
    kBytesWritten,
    kEvictions,
    kChecksumFailures,
    kErrors,
    kDroppedWrites,
    kQueueHits,
    kNotAdmitted,
    kDeferred,
    kNumCounters
  };
  // Read by the gauges; shared so that metrics outliving the cache stay valid.
  struct GaugeState {
    std::atomic<uint64_t> blocks{0}, bytes{0};
  };
  // One LRU list for blocks and external items (blobs).
  struct LruItem {
    uint64_t id;  // block: key hash; external: the owner's id
    bool external;
  };
  using LruList = std::list<LruItem>;
  struct Entry {
    uint64_t len;
    uint64_t gen;  // tells a re-inserted entry from the one a reader looked up
    LruList::iterator lru;
  };
  struct External {
    uint64_t len = 0;
    int pins = 0;
    LruList::iterator lru;  // valid only while pins == 0
  };
  struct Pending {
    uint64_t hash;
    std::string key;                  // serialized
    Block block;                      // queued: the data; deferred: null
    std::weak_ptr<const Bytes> weak;  // deferred: the data while someone else holds it
    uint64_t size;
    bool deferred;
  };
  struct Victim {
    uint64_t hash, len;
    bool external = false;
  };

  explicit Impl(const DiskCacheOptions& o)
      : opt(o),
        v1(o.dir + "/v1"),
        blocks_dir(v1 + "/blocks"),
        tmp_dir(v1 + "/tmp"),
        lru_path(v1 + "/lru"),
        lock_path(v1 + "/lock"),
        pid(getpid()) {
    opt.low_watermark = std::clamp(opt.low_watermark, 0.0, 1.0);
    low_bytes = static_cast<uint64_t>(static_cast<double>(opt.budget_bytes) * opt.low_watermark);
    for (int i = 0; i < kNumCounters; ++i) c[i] = &own[i];
    readback_spb = opt.readback_seconds_per_mib / (1 << 20);
  }

  Status Init();
  Status Lock();
  Status Scan();
  void RegisterMetrics(Metrics* metrics);
  void Shutdown();

  Block Get(const BlockKey& key);
  // A block file that does not verify: counted, unlinked, a miss.
  Block Dropped(uint64_t hash, uint64_t gen, const std::string& path, const char* why);
  void Put(const BlockKey& key, const Block& block, double cost_seconds);
  bool Contains(const BlockKey& key);
  bool NeedsData(const BlockKey& key);
  void Flush();
  void SaveLru();
  Counters Snapshot() const;

  void WriterLoop();
  bool WriteBlock(const Pending& p);
  bool EnsureDirs();
  // Evicts LRU items until `need` more bytes fit under the budget (down to the low watermark
  // once the budget is crossed). Returns false when pinned items leave no room.
  bool EvictLocked(std::vector<Victim>* victims, uint64_t need = 0);
  // Takes the next item for the writer: queued first, then deferred. Null if none.
  std::shared_ptr<Pending> NextLocked();
  bool QuietLocked() const {
    return stop || flushes > 0 || queued_bytes >= opt.write_queue_bytes / 10 * 9 ||
           Clock::now() - last_put >= std::chrono::milliseconds(opt.write_behind_quiet_ms);
  }
  Status ResizeExternal(uint64_t id, uint64_t total);
  bool PinExternal(uint64_t id);
  void UnpinExternal(uint64_t id);
  void RemoveExternal(uint64_t id);
  void InsertLocked(uint64_t hash, uint64_t len, std::vector<Victim>* stale);
  void RemoveLocked(uint64_t hash);
  void RemoveIfGen(uint64_t hash, uint64_t gen);
  void UnlinkBlocks(const std::vector<Victim>& victims);
  void UpdateGaugesLocked() {
    gauges->blocks.store(index.size(), std::memory_order_relaxed);
    gauges->bytes.store(total_bytes - external_bytes, std::memory_order_relaxed);
  }
  std::string BlockPath(uint64_t hash, uint64_t len) const {
    return blocks_dir + "/" + ShardName(ShardOf(hash)) + "/" + BlockFileName(hash, len);
  }
  // Counts an error on the folder and logs it (once per operation and errno per 10 minutes).
  // With `pause`, block writes stop for retry_after_error_ms and folders are re-created later.
  void ReportError(const std::string& op, const std::string& path, int err, bool pause);

  // Fixed after Open.
  DiskCacheOptions opt;
  const std::string v1, blocks_dir, tmp_dir, lru_path, lock_path;
  const pid_t pid;
  uint64_t low_bytes = 0;
  Counter own[kNumCounters];  // used when there is no Metrics registry
  Counter* c[kNumCounters];
  std::shared_ptr<GaugeState> gauges = std::make_shared<GaugeState>();
  RateLimitedLog read_log{std::chrono::seconds(10)};
  RateLimitedLog recovered_log{kErrorLogInterval};
  std::atomic<uint64_t> temp_seq{0};
  std::atomic<bool> need_dirs{false};  // re-create the folders before the next write

  // Lock order: index_mu_ only (never held with another lock or across a system call).
  mutable std::mutex index_mu_;
  std::unordered_map<uint64_t, Entry> index;         // guarded by index_mu_
  std::unordered_map<uint64_t, External> externals;  // guarded
  LruList lru;               // guarded; front = most recently used; pinned externals are not in it
  uint64_t total_bytes = 0;  // guarded; blocks + externals
  uint64_t external_bytes = 0;                                     // guarded
  uint64_t next_gen = 1;                                           // guarded
  bool lru_dirty = false;                                          // guarded
  std::deque<std::shared_ptr<Pending>> queue;                      // guarded; data held
  std::deque<std::shared_ptr<Pending>> deferred;                   // guarded; data held weakly
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending;  // guarded; queued, deferred
                                                                   // or being written
  uint64_t queued_bytes = 0;                                       // guarded
  Clock::time_point last_put{};  // guarded; when the last block was queued
  double readback_spb = 0;       // guarded; measured seconds per byte of a disk read
  // guarded; per source (by hash): average cost in seconds per byte of the blocks put, and
  // whether any was (admission, see the header)
  struct SourceCost {
    double spb = 0;
    uint64_t hash = 0;  // XXH3 of the source's Identity
    bool seen = false;
  };
  std::vector<SourceCost> source_cost = std::vector<SourceCost>(kSourceCostSlots);
  int flushes = 0;                   // guarded; Flush calls waiting
  bool writing = false;              // guarded
  bool stop = false;                 // guarded
  bool failing = false;              // guarded; an error since the last good write
  Clock::time_point paused_until{};  // guarded
  std::map<std::pair<std::string, int>, std::unique_ptr<RateLimitedLog>> error_logs;  // guarded
  std::condition_variable work_cv;  // writer: work queued, a flush, or stop
  std::condition_variable idle_cv;  // Flush: queues empty and nothing being written

  // The owner's evictor. evictor_mu_ is held while it is called and while it is replaced, so
  // that once SetExternalEvictor returns, no call of the old one runs or can start (the owner
  // may then free what it captured). Lock order: evictor_mu_ before the evictor's own locks;
  // never taken with index_mu_ held, and the evictor must not call back into this cache.
  std::mutex evictor_mu_;
  ExternalEvictor evictor;  // guarded by evictor_mu_

  // Writer thread only (and Open before the thread starts).
  std::bitset<256> shard_ok;  // blocks/HH known to exist
  UniqueFd lock_fd;           // also replaced by EnsureDirs on the writer thread
  std::thread writer;
};

// ---------------------------------------------------------------------------------------------
// Open

Status DiskBlockCache::Impl::Init() {
  if (opt.dir.empty()) return Invalid("disk cache folder is not set");
  if (int err = MakeDirs(opt.dir, 0700); err != 0) {
    return ErrnoStatus(err, "cannot create cache folder " + opt.dir);
  }
  bool created;
  for (const std::string* d : {&v1, &blocks_dir, &tmp_dir}) {
    if (int err = MakeDir(*d, 0700, &created); err != 0) {
      return ErrnoStatus(err, "cannot create cache folder " + *d);
    }
  }
  if (Status s = Lock(); !s.ok()) return s;

  // Temp files are leftovers of a crash: nobody else can be writing (we hold the lock).
  std::vector<std::string> stale;
  int err =
      ForEachEntry(tmp_dir, [&](std::string_view n, unsigned char) { stale.emplace_back(n); });
  if (err != 0) return ErrnoStatus(err, "cannot read cache folder " + tmp_dir);
  for (const std::string& n : stale) {
    if (int e = RemoveTree(tmp_dir + "/" + n); e != 0)
      ReportError("remove", tmp_dir + "/" + n, e, false);
  }
  return Scan();
}

Status DiskBlockCache::Impl::Lock() {
  Result<UniqueFd> fd = LockFolder(lock_path, opt.dir);
  if (!fd.ok()) return fd.status();
  lock_fd = std::move(fd).value();
  return Status::Ok();
}

Status DiskBlockCache::Impl::Scan() {
  // Names only (readdir): opening or stat()ing 100,000 files would make start-up slow.
  std::unordered_map<uint64_t, uint64_t> found;  // hash -> len
  std::vector<std::string> junk;
  std::vector<unsigned> shards;
  int err = ForEachEntry(blocks_dir, [&](std::string_view n, unsigned char type) {
    unsigned shard;
    if (ParseShardName(n, &shard) && (type == DT_DIR || type == DT_UNKNOWN)) {
      shards.push_back(shard);
    } else {
      junk.push_back(blocks_dir + "/" + std::string(n));
    }
  });
  if (err != 0) return ErrnoStatus(err, "cannot read cache folder " + blocks_dir);
  for (unsigned shard : shards) {
    std::string sdir = blocks_dir + "/" + ShardName(shard);
    int e = ForEachEntry(sdir, [&](std::string_view n, unsigned char) {
      uint64_t hash, len;
      if (ParseBlockFileName(n, &hash, &len) && ShardOf(hash) == shard &&
          found.emplace(hash, len).second) {
        return;
      }
      junk.push_back(sdir + "/" + std::string(n));  // not ours, or a second length of a hash
    });
    if (e == ENOTDIR) {
      junk.push_back(sdir);
    } else if (e != 0) {
      ReportError("read", sdir, e, false);
    } else {
      shard_ok.set(shard);
    }
  }
  for (const std::string& j : junk) {
    if (int e = RemoveTree(j); e != 0) ReportError("remove", j, e, false);
  }

  // LRU order: hashes of the last save, oldest first; anything else is newer than that save.
  std::string saved_bytes;
  ReadWholeFile(lru_path, &saved_bytes);  // missing or unreadable: no saved order
  std::vector<uint64_t> saved = ParseLruFile(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(saved_bytes.data()), saved_bytes.size()));

  std::vector<Victim> victims;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    index.reserve(found.size());
    auto add = [&](uint64_t hash, uint64_t len) {
      lru.push_front(LruItem{hash, false});
      index.emplace(hash, Entry{len, next_gen++, lru.begin()});
      total_bytes += len;
    };
    for (uint64_t saved_hash : saved) {
      auto it = found.find(saved_hash);  // garbage and duplicates simply miss
      if (it == found.end()) continue;
      add(it->first, it->second);
      found.erase(it);
    }
    for (const auto& [hash, len] : found) add(hash, len);
    EvictLocked(&victims);
    UpdateGaugesLocked();
  }
  UnlinkBlocks(victims);
  return Status::Ok();
}

void DiskBlockCache::Impl::RegisterMetrics(Metrics* metrics) {
  // The memory tier's families with tier="ssd" (block_cache.h), plus what only a folder has.
  static constexpr const char* kNames[kNumCounters][2] = {
      {"daqfs_cache_hits_total", kCacheHitsHelp},
      {"daqfs_cache_misses_total", kCacheMissesHelp},
      {"daqfs_cache_inserts_total", kCacheInsertsHelp},
      {"daqfs_cache_read_bytes_total", kCacheReadBytesHelp},
      {"daqfs_cache_inserted_bytes_total", kCacheInsertedBytesHelp},
      {"daqfs_cache_evictions_total", kCacheEvictionsHelp},
      {"daqfs_cache_checksum_failures_total",
       "Cache block files dropped because they did not verify (ssd tier)"},
      {"daqfs_cache_errors_total", "Failed system calls on the cache folder (ssd tier)"},
      {"daqfs_cache_dropped_writes_total",
       "Cache writes dropped: data gone before the deferred write, paused after an error, or "
       "larger than the budget (ssd tier)"},
      {"daqfs_cache_queue_hits_total", kCacheQueueHitsHelp},
      {"daqfs_cache_not_admitted_total", kCacheNotAdmittedHelp},
      {"daqfs_cache_deferred_writes_total", kCacheDeferredHelp},
  };
  const std::string tier = Label("tier", "ssd");
  for (int i = 0; i < kNumCounters; ++i) {
    Counter& m = metrics->AddCounter(kNames[i][0], kNames[i][1], tier);
    m.Add(own[i].Get());  // what Open already counted
    c[i] = &m;
  }
  std::shared_ptr<GaugeState> g = gauges;
  metrics->AddGauge(
      "daqfs_cache_blocks", kCacheBlocksHelp,
      [g] { return static_cast<double>(g->blocks.load(std::memory_order_relaxed)); }, tier);
  metrics->AddGauge(
      "daqfs_cache_bytes", kCacheBytesHelp,
      [g] { return static_cast<double>(g->bytes.load(std::memory_order_relaxed)); }, tier);
  metrics->AddGauge(
      "daqfs_cache_budget_bytes", kCacheBudgetHelp,
      [budget = opt.budget_bytes] { return static_cast<double>(budget); }, tier);
}

void DiskBlockCache::Impl::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    stop = true;
  }
  work_cv.notify_all();
  if (writer.joinable()) writer.join();  // the writer drains the queue first
  SaveLru();
}

// ---------------------------------------------------------------------------------------------
// Index

bool DiskBlockCache::Impl::EvictLocked(std::vector<Victim>* victims, uint64_t need) {
  if (total_bytes + need <= opt.budget_bytes) return true;
  if (need > opt.budget_bytes) return false;
  uint64_t target = std::min(low_bytes, opt.budget_bytes - need);
  uint64_t n = 0;
  while (total_bytes > target && !lru.empty()) {
    LruItem item = lru.back();
    lru.pop_back();
    if (item.external) {
      auto it = externals.find(item.id);
      victims->push_back(Victim{item.id, it->second.len, true});
      total_bytes -= it->second.len;
      external_bytes -= it->second.len;
      externals.erase(it);
    } else {
      auto it = index.find(item.id);
      victims->push_back(Victim{item.id, it->second.len, false});
      total_bytes -= it->second.len;
      index.erase(it);
      ++n;
    }
  }
  c[kEvictions]->Add(n);
  lru_dirty = true;
  UpdateGaugesLocked();
  return total_bytes + need <= opt.budget_bytes;
}

// Publishes a block just written. A previous file of the same hash with another length
// (a key collision) goes to `stale`; overflowing the budget adds eviction victims.
void DiskBlockCache::Impl::InsertLocked(uint64_t hash, uint64_t len, std::vector<Victim>* stale) {
  auto it = index.find(hash);
  if (it != index.end()) {
    if (it->second.len != len) stale->push_back(Victim{hash, it->second.len});
    total_bytes -= it->second.len;
    lru.erase(it->second.lru);
    index.erase(it);
  }
  lru.push_front(LruItem{hash, false});
  index.emplace(hash, Entry{len, next_gen++, lru.begin()});
  total_bytes += len;
  lru_dirty = true;
  EvictLocked(stale);
  UpdateGaugesLocked();
}

Status DiskBlockCache::Impl::ResizeExternal(uint64_t id, uint64_t total) {
  std::vector<Victim> victims;
  Status status;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = externals.find(id);
    uint64_t now = it == externals.end() ? 0 : it->second.len;
    if (total > now && !EvictLocked(&victims, total - now)) {
      status = Status(Code::kNoSpace, "cache folder " + opt.dir + ": the budget of " +
                                          std::to_string(opt.budget_bytes) +
                                          " bytes is held by pinned files");
    } else {
      if (it == externals.end()) it = externals.emplace(id, External{0, 1, {}}).first;
      it->second.len = total;
      total_bytes = total_bytes - now + total;
      external_bytes = external_bytes - now + total;
      UpdateGaugesLocked();
    }
  }
  UnlinkBlocks(victims);
  return status;
}

bool DiskBlockCache::Impl::PinExternal(uint64_t id) {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = externals.find(id);
  if (it == externals.end()) return false;
  if (it->second.pins++ == 0) lru.erase(it->second.lru);
  return true;
}

void DiskBlockCache::Impl::UnpinExternal(uint64_t id) {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = externals.find(id);
  if (it == externals.end() || it->second.pins == 0) return;
  if (--it->second.pins == 0) {
    lru.push_front(LruItem{id, true});
    it->second.lru = lru.begin();
  }
}

void DiskBlockCache::Impl::RemoveExternal(uint64_t id) {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = externals.find(id);
  if (it == externals.end()) return;
  if (it->second.pins == 0) lru.erase(it->second.lru);
  total_bytes -= it->second.len;
  external_bytes -= it->second.len;
  externals.erase(it);
  UpdateGaugesLocked();
}

void DiskBlockCache::Impl::RemoveLocked(uint64_t hash) {
  auto it = index.find(hash);
  if (it == index.end()) return;
  total_bytes -= it->second.len;
  lru.erase(it->second.lru);
  index.erase(it);
  lru_dirty = true;
  UpdateGaugesLocked();
}

void DiskBlockCache::Impl::RemoveIfGen(uint64_t hash, uint64_t gen) {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = index.find(hash);
  if (it != index.end() && it->second.gen == gen) RemoveLocked(hash);
}

void DiskBlockCache::Impl::UnlinkBlocks(const std::vector<Victim>& victims) {
  for (const Victim& v : victims) {
    if (v.external) {
      std::lock_guard<std::mutex> lock(evictor_mu_);
      if (evictor) evictor(v.hash);
      continue;
    }
    std::string path = BlockPath(v.hash, v.len);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) ReportError("unlink", path, errno, false);
  }
}

void DiskBlockCache::Impl::ReportError(const std::string& op, const std::string& path, int err,
                                       bool pause) {
  c[kErrors]->Add();
  RateLimitedLog* log;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    std::unique_ptr<RateLimitedLog>& slot = error_logs[{op, err}];
    if (!slot) slot = std::make_unique<RateLimitedLog>(kErrorLogInterval);
    log = slot.get();  // entries are never erased
    if (pause) {
      paused_until = Clock::now() + std::chrono::milliseconds(opt.retry_after_error_ms);
      failing = true;
    }
  }
  if (pause) need_dirs = true;
  std::string msg = "disk cache " + opt.dir + ": " + op + " " + path + ": " + std::strerror(err);
  if (pause) msg += "; cache writes pause for " + std::to_string(opt.retry_after_error_ms) + " ms";
  log->Log(LogLevel::kWarn, msg);
}

// ---------------------------------------------------------------------------------------------
// Reads

Block DiskBlockCache::Impl::Get(const BlockKey& key) {
  std::string skey = key.Serialize();
  uint64_t hash = KeyHash(skey);
  uint64_t len, gen;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (auto p = pending.find(hash); p != pending.end() && p->second->key == skey) {
      // Not yet on disk: served from memory, so neither a disk hit nor disk bytes.
      Block b = p->second->deferred ? p->second->weak.lock() : p->second->block;
      if (b) {
        c[kQueueHits]->Add();
        return b;
      }
    }
    auto it = index.find(hash);
    if (it == index.end()) {
      c[kMisses]->Add();
      return nullptr;
    }
    len = it->second.len;
    gen = it->second.gen;
  }

  WorkTimer readback;  // the read-back cost, measured as the decode cost is (work_timer.h)
  std::string path = BlockPath(hash, len);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err != ENOENT) {  // a vanished file is just a miss
      c[kErrors]->Add();
      read_log.Log(LogLevel::kWarn,
                   "disk cache " + opt.dir + ": open " + path + ": " + std::strerror(err));
    }
    RemoveIfGen(hash, gen);
    c[kMisses]->Add();
    return nullptr;
  }

  // A length from a file name is trusted for an allocation only when it is modest or the file
  // really is that large.
  uint64_t expected = kBlockHeaderSize + skey.size() + len;
  if (len > kTrustedBlockBytes) {
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != expected) {
      return Dropped(hash, gen, path, "file size does not match its name");
    }
  }
  std::shared_ptr<Bytes> data;
  try {
    data = std::make_shared<Bytes>(len);
  } catch (const std::bad_alloc&) {
    read_log.Log(LogLevel::kWarn, "disk cache " + opt.dir + ": no memory to read " + path);
    c[kMisses]->Add();
    return nullptr;
  }

  // One preadv: header, key, data straight into the block, and one spare byte that must stay
  // unread (a longer file is as wrong as a shorter one).
  uint8_t header[kBlockHeaderSize];
  std::string file_key(skey.size(), '\0');
  uint8_t spare;
  iovec iov[4] = {{header, kBlockHeaderSize},
                  {file_key.data(), file_key.size()},
                  {data->data(), data->size()},
                  {&spare, 1}};
  ssize_t n = PreadvFull(fd.get(), iov, 4, 0);
  fd.Reset();
  if (n < 0) {
    int err = errno;
    c[kErrors]->Add();
    read_log.Log(LogLevel::kWarn,
                 "disk cache " + opt.dir + ": read " + path + ": " + std::strerror(err));
    RemoveIfGen(hash, gen);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) c[kErrors]->Add();
    c[kMisses]->Add();
    return nullptr;
  }

  const char* bad = nullptr;
  if (static_cast<uint64_t>(n) < expected)
    bad = "file too short";
  else if (static_cast<uint64_t>(n) > expected)
    bad = "file too long";
  else
    bad = VerifyBlockFile(header, file_key, *data, skey, len);
  if (bad != nullptr) return Dropped(hash, gen, path, bad);

  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = index.find(hash);
    if (it != index.end() && it->second.gen == gen) {
      lru.splice(lru.begin(), lru, it->second.lru);
      lru_dirty = true;
    }
    double spb = readback.Seconds() / static_cast<double>(expected);
    readback_spb += kReadbackWeight * (spb - readback_spb);
  }
  c[kHits]->Add();
  c[kBytesRead]->Add(len);
  return data;
}

Block DiskBlockCache::Impl::Dropped(uint64_t hash, uint64_t gen, const std::string& path,
                                    const char* why) {
  c[kChecksumFailures]->Add();
  read_log.Log(LogLevel::kWarn,
               "disk cache " + opt.dir + ": dropping block file " + path + ": " + why);
  RemoveIfGen(hash, gen);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) c[kErrors]->Add();
  c[kMisses]->Add();
  return nullptr;
}

bool DiskBlockCache::Impl::Contains(const BlockKey& key) {
  std::string skey = key.Serialize();
  uint64_t hash = KeyHash(skey);
  std::lock_guard<std::mutex> lock(index_mu_);
  if (auto p = pending.find(hash); p != pending.end() && p->second->key == skey) {
    return !p->second->deferred;  // a deferred block's data is held by someone else
  }
  return index.count(hash) != 0;
}

bool DiskBlockCache::Impl::NeedsData(const BlockKey& key) {
  std::string skey = key.Serialize();
  uint64_t hash = KeyHash(skey);
  std::lock_guard<std::mutex> lock(index_mu_);
  auto p = pending.find(hash);
  return p != pending.end() && p->second->key == skey && p->second->deferred;
}

// ---------------------------------------------------------------------------------------------
// Writes

void DiskBlockCache::Impl::Put(const BlockKey& key, const Block& block, double cost_seconds) {
  if (!block) return;
  std::string skey = key.Serialize();
  uint64_t hash = KeyHash(skey);
  uint64_t size = block->size();
  uint64_t source_hash = XXH3_64bits(key.source.data(), key.source.size());
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (auto it = index.find(hash); it != index.end() && it->second.len == size) {
      lru.splice(lru.begin(), lru, it->second.lru);  // already on disk: just a use
      lru_dirty = true;
      return;
    }
    if (auto p = pending.find(hash); p != pending.end() && p->second->key == skey) {
      std::shared_ptr<Pending>& item = p->second;
      if (!item->deferred || !item->weak.expired()) return;
      item->weak = block;  // admitted before and its data had died: written in its turn
      return;
    }
    // Dearer to write and read back than to produce again: not worth the disk's time. Both
    // this block and its source's earlier blocks on average must be that dear (see Admission).
    if (cost_seconds >= 0 && cost_seconds != kMustKeep && size > 0) {
      double spb = cost_seconds / static_cast<double>(size);
      SourceCost& avg = source_cost[source_hash % kSourceCostSlots];
      bool known = avg.seen && avg.hash == source_hash;  // another source's slot starts afresh
      double typical = known ? avg.spb : spb;
      // A block counts by its size (a 4 KiB tail's fixed overheads do not move the average).
      double weight =
          kSourceCostWeight * std::min(1.0, static_cast<double>(size) / kSourceCostFullBlock);
      avg.spb = known ? avg.spb + weight * (spb - avg.spb) : spb;
      avg.hash = source_hash;
      avg.seen = true;
      if (std::min(spb, typical) < opt.admit_factor * readback_spb) {
        c[kNotAdmitted]->Add();
        return;
      }
    }
    if (size > low_bytes || Clock::now() < paused_until) {
      c[kDroppedWrites]->Add();
      return;
    }
    bool defer = queued_bytes + size > opt.write_queue_bytes;
    if (defer && deferred.size() >= opt.deferred_max) {
      c[kDroppedWrites]->Add();
      return;
    }
    auto item = std::make_shared<Pending>(Pending{hash, std::move(skey), nullptr, {}, size, defer});
    pending[hash] = item;
    if (defer) {
      item->weak = block;
      deferred.push_back(std::move(item));
      c[kDeferred]->Add();
    } else {
      item->block = block;
      queue.push_back(std::move(item));
      queued_bytes += size;
    }
    last_put = Clock::now();
  }
  work_cv.notify_one();
}

void DiskBlockCache::Impl::Flush() {
  std::unique_lock<std::mutex> lock(index_mu_);
  ++flushes;
  work_cv.notify_all();
  idle_cv.wait(lock, [&] { return queue.empty() && deferred.empty() && !writing; });
  --flushes;
}

std::shared_ptr<DiskBlockCache::Impl::Pending> DiskBlockCache::Impl::NextLocked() {
  while (!queue.empty() || !deferred.empty()) {
    std::shared_ptr<Pending> item;
    if (!queue.empty()) {
      item = std::move(queue.front());
      queue.pop_front();
      queued_bytes -= item->size;
      return item;
    }
    item = std::move(deferred.front());
    deferred.pop_front();
    item->block = item->weak.lock();
    if (item->block) return item;
    // Its data died before its turn: it is written when it is put again.
    c[kDroppedWrites]->Add();
    if (auto p = pending.find(item->hash); p != pending.end() && p->second == item) {
      pending.erase(p);
    }
  }
  return nullptr;
}

void DiskBlockCache::Impl::WriterLoop() {
  // Writing blocks to the SSD is background work: at the lowest CPU priority the writer yields
  // to decoding and FUSE replies during a burst of reads and catches up (from its bounded
  // queue and the deferred list) when they pause.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  pthread_setname_np(pthread_self(), "daqfs-ssd");
  Clock::time_point next_save = Clock::now() + kLruSaveInterval;
  std::unique_lock<std::mutex> lock(index_mu_);
  for (;;) {
    work_cv.wait_until(lock, next_save,
                       [&] { return stop || flushes > 0 || !queue.empty() || !deferred.empty(); });
    if (queue.empty() && deferred.empty()) {
      if (stop) break;
      idle_cv.notify_all();
      if (Clock::now() >= next_save) {
        next_save = Clock::now() + kLruSaveInterval;
        if (lru_dirty) {
          lock.unlock();
          SaveLru();
          lock.lock();
        }
      }
      if (flushes > 0) work_cv.wait_for(lock, std::chrono::milliseconds(10));
      continue;
    }
    // While blocks keep arriving (a reader streaming through decoded data), writing them would
    // compete for the CPU and the disk with that very reader: wait for a pause, unless the
    // queue is nearly full or someone flushes.
    if (!QuietLocked()) {
      work_cv.wait_until(lock, last_put + std::chrono::milliseconds(opt.write_behind_quiet_ms));
      continue;
    }
    std::shared_ptr<Pending> item = NextLocked();
    if (!item) continue;
    writing = true;
    bool paused = Clock::now() < paused_until;
    lock.unlock();

    bool ok = false;
    if (paused) {
      c[kDroppedWrites]->Add();
    } else {
      ok = WriteBlock(*item);
    }

    std::vector<Victim> victims;
    lock.lock();
    bool recovered = ok && failing;
    if (ok) {
      failing = false;
      InsertLocked(item->hash, item->size, &victims);
    }
    if (auto p = pending.find(item->hash); p != pending.end() && p->second == item) {
      pending.erase(p);
    }
    lock.unlock();
    item.reset();  // the caller may be the last owner of the data
    if (recovered)
      recovered_log.Log(LogLevel::kInfo, "disk cache " + opt.dir + ": writes work again");
    UnlinkBlocks(victims);
    lock.lock();
    writing = false;
    if (queue.empty() && deferred.empty()) idle_cv.notify_all();
  }
}

bool DiskBlockCache::Impl::EnsureDirs() {
  if (int err = MakeDirs(opt.dir, 0700); err != 0) {
    ReportError("create folder", opt.dir, err, true);
    return false;
  }
  bool v1_new = false, blocks_new = false, tmp_new = false;
  std::pair<const std::string*, bool*> dirs[] = {
      {&v1, &v1_new}, {&blocks_dir, &blocks_new}, {&tmp_dir, &tmp_new}};
  for (auto& [dir, created] : dirs) {
    if (int err = MakeDir(*dir, 0700, created); err != 0) {
      ReportError("create folder", *dir, err, true);
      return false;
    }
  }
  shard_ok.reset();
  if (v1_new && Lock().ok()) {
    LogDebug("disk cache " + opt.dir + ": locked the re-created folder again");
  }
  if (blocks_new) {
    // The old blocks went with the old folder.
    std::lock_guard<std::mutex> lock(index_mu_);
    // Blobs live in their own folder and keep their places (and their iterators).
    index.clear();
    std::erase_if(lru, [](const LruItem& item) { return !item.external; });
    total_bytes = external_bytes;
    lru_dirty = true;
    UpdateGaugesLocked();
  }
  if (v1_new || blocks_new || tmp_new) {
    LogWarn("disk cache " + opt.dir + ": the cache folder had vanished; created it again");
  }
  return true;
}

bool DiskBlockCache::Impl::WriteBlock(const Pending& p) {
  if (need_dirs.exchange(false) && !EnsureDirs()) return false;
  const Bytes& data = *p.block;
  std::string tmp = tmp_dir + "/" + std::to_string(pid) + "-" + std::to_string(temp_seq++);
  UniqueFd fd(open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    ReportError("create", tmp, errno, true);
    return false;
  }
  std::vector<uint8_t> head = EncodeBlockHeader(p.key, data.size(), BlockDataChecksum(data));
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<uint8_t*>(data.data()), data.size()}};
  int err = PwritevFull(fd.get(), iov, 2);
  if (err == 0 && close(fd.Release()) != 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    ReportError("write", tmp, err, true);
    return false;
  }
  fd.Reset();

  unsigned shard = ShardOf(p.hash);
  std::string shard_dir = blocks_dir + "/" + ShardName(shard);
  std::string final_path = shard_dir + "/" + BlockFileName(p.hash, data.size());
  bool created;
  if (!shard_ok[shard] && (err = MakeDir(shard_dir, 0700, &created)) != 0) {
    unlink(tmp.c_str());
    ReportError("create folder", shard_dir, err, true);
    return false;
  }
  shard_ok.set(shard);
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    err = errno;
    // blocks/HH may have been removed behind our back: create it once more.
    if (err == ENOENT && MakeDir(shard_dir, 0700, &created) == 0 && created &&
        rename(tmp.c_str(), final_path.c_str()) == 0) {
      err = 0;
    }
    if (err != 0) {
      unlink(tmp.c_str());
      ReportError("rename", final_path, err, true);
      return false;
    }
  }
  c[kWrites]->Add();
  c[kBytesWritten]->Add(data.size());
  return true;
}

void DiskBlockCache::Impl::SaveLru() {
  std::vector<uint64_t> order;  // oldest first; blobs are not in it (their store counts them)
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    order.reserve(index.size());
    for (auto it = lru.rbegin(); it != lru.rend(); ++it) {
      if (!it->external) order.push_back(it->id);
    }
    lru_dirty = false;
  }
  std::vector<uint8_t> bytes = EncodeLruFile(order);
  // A unique temp name: concurrent saves never write into one file; the last rename wins.
  std::string tmp = tmp_dir + "/lru-" + std::to_string(pid) + "-" + std::to_string(temp_seq++);
  const char* op = "create";
  int err = WriteFileAtomically(tmp, lru_path, bytes.data(), bytes.size(), &op);
  if (err != 0) {
    {
      std::lock_guard<std::mutex> lock(index_mu_);
      lru_dirty = true;  // try again at the next periodic save
    }
    ReportError(op, std::string(op) == "rename" ? lru_path : tmp, err, true);
  }
}

DiskBlockCache::Counters DiskBlockCache::Impl::Snapshot() const {
  Counters s;
  s.hits = c[kHits]->Get();
  s.misses = c[kMisses]->Get();
  s.writes = c[kWrites]->Get();
  s.bytes_read = c[kBytesRead]->Get();
  s.bytes_written = c[kBytesWritten]->Get();
  s.evictions = c[kEvictions]->Get();
  s.checksum_failures = c[kChecksumFailures]->Get();
  s.errors = c[kErrors]->Get();
  s.dropped_writes = c[kDroppedWrites]->Get();
  s.queue_hits = c[kQueueHits]->Get();
  s.not_admitted = c[kNotAdmitted]->Get();
  s.deferred = c[kDeferred]->Get();
  std::lock_guard<std::mutex> lock(index_mu_);
  s.blocks = index.size();
  s.bytes = total_bytes - external_bytes;
  s.external_bytes = external_bytes;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Public API

DiskBlockCache::DiskBlockCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DiskBlockCache::~DiskBlockCache() {
  if (impl_) impl_->Shutdown();
}

Result<std::unique_ptr<DiskBlockCache>> DiskBlockCache::Open(const DiskCacheOptions& options,
                                                             Metrics* metrics) {
  auto impl = std::make_unique<Impl>(options);
  if (Status s = impl->Init(); !s.ok()) return s;
  if (metrics != nullptr) impl->RegisterMetrics(metrics);
  Impl* p = impl.get();
  p->writer = std::thread([p] { p->WriterLoop(); });
  return std::unique_ptr<DiskBlockCache>(new DiskBlockCache(std::move(impl)));
}

Block DiskBlockCache::Get(const BlockKey& key) { return impl_->Get(key); }
void DiskBlockCache::Put(const BlockKey& key, const Block& block, double cost_seconds) {
  impl_->Put(key, block, cost_seconds);
}
bool DiskBlockCache::Contains(const BlockKey& key) { return impl_->Contains(key); }
bool DiskBlockCache::NeedsData(const BlockKey& key) { return impl_->NeedsData(key); }
void DiskBlockCache::Flush() { impl_->Flush(); }
void DiskBlockCache::SaveLru() { impl_->SaveLru(); }
DiskBlockCache::Counters DiskBlockCache::counters() const { return impl_->Snapshot(); }
void DiskBlockCache::SetExternalEvictor(ExternalEvictor evictor) {
  ExternalEvictor old;
  {
    std::lock_guard<std::mutex> lock(impl_->evictor_mu_);  // waits for a running call
    old = std::exchange(impl_->evictor, std::move(evictor));
  }
  // `old` (and what it captured) is destroyed here, outside the lock.
}
Status DiskBlockCache::ResizeExternal(uint64_t id, uint64_t total_bytes) {
  return impl_->ResizeExternal(id, total_bytes);
}
bool DiskBlockCache::PinExternal(uint64_t id) { return impl_->PinExternal(id); }
void DiskBlockCache::UnpinExternal(uint64_t id) { impl_->UnpinExternal(id); }
void DiskBlockCache::RemoveExternal(uint64_t id) { impl_->RemoveExternal(id); }
uint64_t DiskBlockCache::budget_bytes() const { return impl_->opt.budget_bytes; }

Result<DiskCacheSummary> SummarizeDiskCache(const std::string& dir) {
  DiskCacheSummary sum;
  sum.version_dir = dir + "/v1";
  std::string blocks_dir = sum.version_dir + "/blocks";
  std::vector<std::string> shards;
  int err = ForEachEntry(blocks_dir, [&](std::string_view n, unsigned char) {
    unsigned shard;
    if (ParseShardName(n, &shard)) shards.emplace_back(n);
  });
  if (err == ENOENT) return NotFound("no daqfs disk cache in " + dir);
  if (err != 0) return ErrnoStatus(err, "cannot read cache folder " + blocks_dir);
  for (const std::string& s : shards) {
    ForEachEntry(blocks_dir + "/" + s, [&](std::string_view n, unsigned char) {
      uint64_t hash, len;
      if (ParseBlockFileName(n, &hash, &len)) {
        sum.blocks++;
        sum.bytes += len;
      }
    });
  }
  ForEachEntry(sum.version_dir + "/tmp",
               [&](std::string_view, unsigned char) { sum.temp_files++; });
  return sum;
}

}  // namespace daqfs
