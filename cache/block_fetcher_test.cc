#include "cache/block_fetcher.h"

#include <gtest/gtest.h>

#include <thread>

#include "cache/memory_block_cache.h"
#include "cache/test_sources.h"
#include "fs/source_decorators.h"

namespace daqfs {
namespace {

using testing::PatternByte;
using testing::PatternSource;

TEST(BlockFetcherTest, SixteenThreadsOneColdBlockOneDecode) {
  PatternSource src(4 << 20, true, "p", std::chrono::milliseconds(50));
  MemoryBlockCache cache(64 << 20, nullptr);
  BlockFetcher f(nullptr);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 16; ++t) {
    ts.emplace_back([&] {
      Result<Block> b = f.Fetch(src, "p", 2, &cache);
      if (!b.ok() || (**b)[5] != PatternByte(2 * (1 << 20) + 5)) bad++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(src.decodes.load(), 1u);
  EXPECT_EQ(f.decodes(), 1u);
  // Later requests hit the cache.
  ASSERT_TRUE(f.Fetch(src, "p", 2, &cache).ok());
  EXPECT_EQ(src.decodes.load(), 1u);
}

TEST(BlockFetcherTest, WithoutCacheEveryMissDecodes) {
  PatternSource src(2 << 20, true);
  BlockFetcher f(nullptr);
  ASSERT_TRUE(f.Fetch(src, "p", 0, nullptr).ok());
  ASSERT_TRUE(f.Fetch(src, "p", 0, nullptr).ok());
  EXPECT_EQ(src.decodes.load(), 2u);
}

TEST(BlockFetcherTest, ErrorsReachEveryWaiterAndAreNotCached) {
  auto inner = std::make_shared<PatternSource>(4 << 20, true, "p", std::chrono::milliseconds(30));
  FaultySource::Faults faults;
  faults.fail_block = 1;
  FaultySource src(inner, faults);
  MemoryBlockCache cache(64 << 20, nullptr);
  Metrics m;
  BlockFetcher f(&m);
  std::vector<std::thread> ts;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      Result<Block> b = f.Fetch(src, "p", 1, &cache);
      if (!b.ok() && b.status().ToErrno() == EIO) failed++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 8);
  EXPECT_FALSE(cache.Contains(BlockKey{"p", 1}));
  EXPECT_TRUE(f.Fetch(src, "p", 0, &cache).ok());  // other blocks unaffected
  EXPECT_NE(m.Text().find("daqfs_decode_errors_total"), std::string::npos);
}

}  // namespace
}  // namespace daqfs
