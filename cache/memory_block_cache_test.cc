#include "cache/memory_block_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace daqfs {
namespace {

Block MakeBlock(size_t n, uint8_t fill) { return std::make_shared<Bytes>(n, fill); }

TEST(MemoryBlockCacheTest, HitMissAndSharedBytes) {
  Metrics m;
  MemoryBlockCache c(16 << 20, &m);
  BlockKey k{"src", 3};
  EXPECT_EQ(c.Get(k), nullptr);
  Block b = MakeBlock(1000, 7);
  c.Put(k, b);
  EXPECT_TRUE(c.Contains(k));
  EXPECT_EQ(c.Get(k).get(), b.get());  // the very same bytes, no copy
  EXPECT_EQ(c.Get(BlockKey{"src", 4}), nullptr);
  EXPECT_EQ(c.Get(BlockKey{"other", 3}), nullptr);
  EXPECT_EQ(c.bytes(), 1000u);
  std::string text = m.Text();
  EXPECT_NE(text.find("daqfs_cache_hits_total{tier=\"memory\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("daqfs_cache_misses_total{tier=\"memory\"} 3"), std::string::npos) << text;
}

TEST(MemoryBlockCacheTest, EvictsLeastRecentlyUsedWithinBudget) {
  MemoryBlockCache c(16 * 4096, nullptr);  // 4096 bytes per shard
  for (uint64_t i = 0; i < 1000; ++i) c.Put(BlockKey{"s", i}, MakeBlock(1024, 1));
  EXPECT_LE(c.bytes(), c.budget());
  EXPECT_GT(c.bytes(), 0u);
  // The most recent block of a shard survives.
  EXPECT_TRUE(c.Contains(BlockKey{"s", 999}));
}

TEST(MemoryBlockCacheTest, TooLargeBlockIsNotKept) {
  MemoryBlockCache c(16 * 1024, nullptr);
  c.Put(BlockKey{"s", 1}, MakeBlock(2048, 1));
  EXPECT_FALSE(c.Contains(BlockKey{"s", 1}));
  c.Put(BlockKey{"s", 2}, nullptr);
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(MemoryBlockCacheTest, ConcurrentUse) {
  MemoryBlockCache c(1 << 20, nullptr);
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; i < 2000; ++i) {
        BlockKey k{"s", (i * 7 + t) % 300};
        if (Block b = c.Get(k)) {
          ASSERT_EQ((*b)[0], static_cast<uint8_t>(k.index));
        } else {
          c.Put(k, MakeBlock(4096, static_cast<uint8_t>(k.index)));
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(c.bytes(), c.budget());
}

TEST(MemoryBlockCacheTest, ReleaseForgetsOneBlock) {
  MemoryBlockCache c(16 << 20, nullptr);
  c.Put(BlockKey{"s", 1}, MakeBlock(100, 1));
  c.Put(BlockKey{"s", 2}, MakeBlock(100, 2));
  c.Release(BlockKey{"s", 1});
  c.Release(BlockKey{"s", 9});  // unknown: nothing happens
  EXPECT_FALSE(c.Contains(BlockKey{"s", 1}));
  EXPECT_TRUE(c.Contains(BlockKey{"s", 2}));
  EXPECT_EQ(c.bytes(), 100u);
}

}  // namespace
}  // namespace daqfs
