// MemoryBlockCache: decoded blocks in RAM, a sharded LRU under one byte budget.
//
// Keys are hashed to 16 shards, each an LRU list with 1/16 of the budget, so concurrent readers
// of different blocks rarely meet on a lock. A block larger than a shard's budget is not kept.
// Evicted blocks stay alive while a reader still holds them (shared_ptr).
//
// Thread safety: all methods are thread-safe; a shard's mutex is held only for list updates.
#pragma once

#include <array>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cache/block_cache.h"
#include "fs/metrics.h"

namespace daqfs {

class MemoryBlockCache final : public BlockCache {
 public:
  // `metrics` may be null; otherwise the daqfs_cache_* metrics with tier="memory" are registered
  // there (see block_cache.h); the cache must outlive their rendering.
  MemoryBlockCache(uint64_t budget_bytes, Metrics* metrics);

  Block Get(const BlockKey& key) override;
  // The cost is not used: RAM takes everything within its budget.
  void Put(const BlockKey& key, const Block& block, double cost_seconds = kUnknownCost) override;
  bool Contains(const BlockKey& key) override;
  void Release(const BlockKey& key) override;

  uint64_t bytes() const;
  uint64_t blocks() const;
  uint64_t budget() const { return budget_; }

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    std::string key;
    Block block;
  };
  struct Shard {
    std::mutex mu;         // guards lru, map, bytes
    std::list<Entry> lru;  // front = most recent
    std::unordered_map<std::string, std::list<Entry>::iterator> map;
    uint64_t bytes = 0;
  };
  Shard& ShardOf(const std::string& key);

  uint64_t budget_;
  uint64_t shard_budget_;
  std::array<Shard, kShards> shards_;
  Counter* hits_ = nullptr;
  Counter* misses_ = nullptr;
  Counter* evictions_ = nullptr;
  Counter* inserts_ = nullptr;
  Counter* inserted_bytes_ = nullptr;
  Counter* read_bytes_ = nullptr;
  Counter dummy_;
};

}  // namespace daqfs
