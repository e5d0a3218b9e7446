#include "cache/block_fetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cache/memory_block_cache.h"
#include "tests/testing/fault_sources.h"
#include "tests/testing/pattern_source.h"

namespace daqfs {
namespace {

using testing::FaultySource;
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

TEST(BlockFetcherTest, WarmLeavesAUnitUnderWayToItsDecodeAndCachesOneThatIsNot) {
  PatternSource src(4 << 20, true, "p", std::chrono::milliseconds(200));
  MemoryBlockCache cache(64 << 20, nullptr);
  Metrics m;
  BlockFetcher f(&m);
  std::thread reader([&] { ASSERT_TRUE(f.Fetch(src, "p", 1, &cache).ok()); });
  while (src.decodes.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Block 1 is being decoded: Warm returns at once, without a block and without decoding.
  auto start = std::chrono::steady_clock::now();
  Result<Block> left = f.Warm(src, "p", 1, &cache);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, nullptr);
  reader.join();
  EXPECT_EQ(src.decodes.load(), 1u);
  EXPECT_TRUE(cache.Contains(BlockKey{"p", 1}));
  EXPECT_NE(m.Prometheus().find("daqfs_prefetch_left_to_decode_total 1\n"), std::string::npos)
      << m.Prometheus();
  // A block nobody decodes: Warm decodes it once and caches it; a cached one is returned.
  Result<Block> b = f.Warm(src, "p", 2, &cache);
  ASSERT_TRUE(b.ok());
  ASSERT_NE(*b, nullptr);
  EXPECT_EQ((**b)[7], PatternByte(2 * (1 << 20) + 7));
  EXPECT_TRUE(cache.Contains(BlockKey{"p", 2}));
  ASSERT_TRUE(f.Warm(src, "p", 2, &cache).ok());
  EXPECT_EQ(src.decodes.load(), 2u);
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

// Blocks of 1 KiB in groups of 8 (a huge frame's sub-blocks): one decode fills the group.
class GroupSource final : public ByteSource {
 public:
  uint64_t Size() const override { return 32 * 1024; }
  std::string Identity() const override { return "groups"; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return 32; }
  BlockRange BlockRangeOf(uint64_t i) const override { return {i * 1024, 1024}; }
  uint64_t BlockOf(uint64_t off) const override { return off / 1024; }
  Group GroupOf(uint64_t i) const override { return Group{i / 8 * 8, 8}; }
  Status ReadBlock(uint64_t, std::span<uint8_t>) override {
    single++;
    return Invalid("group blocks are decoded by ReadGroup");
  }
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    groups++;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (uint64_t b = i / 8 * 8; b < i / 8 * 8 + 8; ++b)
      emit(b, Bytes(1024, static_cast<uint8_t>(b)));
    return Status::Ok();
  }
  std::atomic<int> groups{0}, single{0};
};

TEST(BlockFetcherTest, OneStreamingDecodeFillsEveryBlockOfItsGroup) {
  GroupSource src;
  MemoryBlockCache cache(64 << 20, nullptr);
  BlockFetcher f(nullptr);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (uint64_t b = 8; b < 16; ++b) {  // concurrent readers of every block of group 1
    ts.emplace_back([&, b] {
      Result<Block> r = f.Fetch(src, "groups", b, &cache);
      if (!r.ok() || (**r)[0] != static_cast<uint8_t>(b)) bad++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(src.groups.load(), 1);
  EXPECT_EQ(src.single.load(), 0);
  for (uint64_t b = 8; b < 16; ++b) EXPECT_TRUE(cache.Contains(BlockKey{"groups", b})) << b;
  EXPECT_FALSE(cache.Contains(BlockKey{"groups", 16}));
}

}  // namespace
}  // namespace daqfs
