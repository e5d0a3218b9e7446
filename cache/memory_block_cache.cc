#include "cache/memory_block_cache.h"

#include <functional>

namespace daqfs {

MemoryBlockCache::MemoryBlockCache(uint64_t budget_bytes, Metrics* metrics)
    : budget_(budget_bytes), shard_budget_(budget_bytes / kShards) {
  if (metrics) {
    // One naming scheme for both tiers (see DiskBlockCache): daqfs_cache_*{tier="memory"}.
    const std::string tier = Label("tier", "memory");
    hits_ = &metrics->AddCounter("daqfs_cache_hits_total", kCacheHitsHelp, tier);
    misses_ = &metrics->AddCounter("daqfs_cache_misses_total", kCacheMissesHelp, tier);
    evictions_ = &metrics->AddCounter("daqfs_cache_evictions_total", kCacheEvictionsHelp, tier);
    inserts_ = &metrics->AddCounter("daqfs_cache_inserts_total", kCacheInsertsHelp, tier);
    inserted_bytes_ =
        &metrics->AddCounter("daqfs_cache_inserted_bytes_total", kCacheInsertedBytesHelp, tier);
    read_bytes_ = &metrics->AddCounter("daqfs_cache_read_bytes_total", kCacheReadBytesHelp, tier);
    metrics->AddGauge(
        "daqfs_cache_bytes", kCacheBytesHelp, [this] { return static_cast<double>(bytes()); },
        tier);
    metrics->AddGauge(
        "daqfs_cache_blocks", kCacheBlocksHelp, [this] { return static_cast<double>(blocks()); },
        tier);
    metrics->AddGauge(
        "daqfs_cache_budget_bytes", kCacheBudgetHelp,
        [budget = budget_] { return static_cast<double>(budget); }, tier);
  } else {
    hits_ = misses_ = evictions_ = inserts_ = inserted_bytes_ = read_bytes_ = &dummy_;
  }
}

MemoryBlockCache::Shard& MemoryBlockCache::ShardOf(const std::string& key) {
  return shards_[std::hash<std::string>()(key) % kShards];
}

Block MemoryBlockCache::Get(const BlockKey& key) {
  std::string k = key.Serialize();
  Shard& s = ShardOf(k);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(k);
  if (it == s.map.end()) {
    misses_->Add();
    return nullptr;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  hits_->Add();
  read_bytes_->Add(it->second->block->size());
  return it->second->block;
}

bool MemoryBlockCache::Contains(const BlockKey& key) {
  std::string k = key.Serialize();
  Shard& s = ShardOf(k);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.map.count(k) != 0;
}

void MemoryBlockCache::Put(const BlockKey& key, const Block& block, double cost_seconds) {
  (void)cost_seconds;
  if (!block || block->size() > shard_budget_) return;
  std::string k = key.Serialize();
  Shard& s = ShardOf(k);
  std::vector<Block> evicted;  // released after the lock is dropped
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(k);
    if (it != s.map.end()) {
      s.bytes -= it->second->block->size();
      evicted.push_back(std::move(it->second->block));
      s.lru.erase(it->second);
      s.map.erase(it);
    }
    s.lru.push_front(Entry{k, block});
    s.map[k] = s.lru.begin();
    s.bytes += block->size();
    inserts_->Add();
    inserted_bytes_->Add(block->size());
    while (s.bytes > shard_budget_ && !s.lru.empty()) {
      Entry& victim = s.lru.back();
      s.bytes -= victim.block->size();
      evicted.push_back(std::move(victim.block));
      s.map.erase(victim.key);
      s.lru.pop_back();
      evictions_->Add();
    }
  }
}

void MemoryBlockCache::Release(const BlockKey& key) {
  std::string k = key.Serialize();
  Shard& s = ShardOf(k);
  Block dropped;  // freed after the lock is released
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(k);
  if (it == s.map.end()) return;
  s.bytes -= it->second->block->size();
  dropped = std::move(it->second->block);
  s.lru.erase(it->second);
  s.map.erase(it);
}

uint64_t MemoryBlockCache::bytes() const {
  uint64_t total = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(s.mu));
    total += s.bytes;
  }
  return total;
}

uint64_t MemoryBlockCache::blocks() const {
  uint64_t total = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(s.mu));
    total += s.map.size();
  }
  return total;
}

}  // namespace daqfs
