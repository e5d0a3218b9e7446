#include "cache/memory_block_cache.h"

#include <functional>

namespace daqfs {

MemoryBlockCache::MemoryBlockCache(uint64_t budget_bytes, Metrics* metrics)
    : budget_(budget_bytes), shard_budget_(budget_bytes / kShards) {
  if (metrics) {
    hits_ = &metrics->AddCounter("daqfs_cache_hits_total", "Block cache hits", "tier=\"memory\"");
    misses_ = &metrics->AddCounter("daqfs_cache_misses_total", "Block cache misses",
                                   "tier=\"memory\"");
    evictions_ = &metrics->AddCounter("daqfs_cache_evictions_total", "Blocks evicted",
                                      "tier=\"memory\"");
    inserted_bytes_ = &metrics->AddCounter("daqfs_cache_inserted_bytes_total",
                                           "Bytes put into the cache", "tier=\"memory\"");
    metrics->AddGauge("daqfs_cache_bytes", "Bytes held by the cache",
                      [this] { return static_cast<double>(bytes()); }, "tier=\"memory\"");
  } else {
    hits_ = misses_ = evictions_ = inserted_bytes_ = &dummy_;
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
  return it->second->block;
}

bool MemoryBlockCache::Contains(const BlockKey& key) {
  std::string k = key.Serialize();
  Shard& s = ShardOf(k);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.map.count(k) != 0;
}

void MemoryBlockCache::Put(const BlockKey& key, const Block& block) {
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

}  // namespace daqfs
