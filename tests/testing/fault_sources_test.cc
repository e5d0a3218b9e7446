#include "tests/testing/fault_sources.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/testing/pattern_source.h"

namespace daqfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::vector<uint8_t> Block(ByteSource& s, uint64_t i, Status* status) {
  std::vector<uint8_t> out(s.BlockRangeOf(i).length);
  *status = s.ReadBlock(i, out);
  return out;
}

TEST(FaultySourceTest, InjectsEachFaultAndCountsDecodes) {
  auto inner = std::make_shared<PatternSource>(4 * kMiB, true);
  FaultySource::Faults f;
  f.fail_nth = 2;
  f.fail_block = 3;
  f.flip_block = 1;
  FaultySource s(inner, f);
  Status st;
  std::vector<uint8_t> b0 = Block(s, 0, &st);
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(b0[0], PatternByte(0));
  Block(s, 0, &st);
  EXPECT_EQ(st.code(), Code::kIo);  // the 2nd decode
  std::vector<uint8_t> b1 = Block(s, 1, &st);
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(b1[0], static_cast<uint8_t>(PatternByte(kMiB) ^ 0xff));
  EXPECT_EQ(b1[1], PatternByte(kMiB + 1));
  Block(s, 3, &st);
  EXPECT_EQ(st.code(), Code::kCorrupt);
  EXPECT_EQ(s.decodes(), 4u);
}

TEST(FaultySourceTest, ShortReadsReturnAtMost1000Bytes) {
  auto inner = std::make_shared<PatternSource>(kMiB, false);
  FaultySource::Faults f;
  f.short_reads = true;
  FaultySource s(inner, f);
  std::vector<uint8_t> buf(5000);
  Result<size_t> n = s.ReadAt(10, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1000u);
  EXPECT_EQ(buf[0], PatternByte(10));
}

TEST(BlockingSourceTest, ReadsWaitUntilReleased) {
  auto inner = std::make_shared<PatternSource>(4 * kMiB, true);
  BlockingSource s(inner);
  std::atomic<int> done{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&, i] {
      Status st;
      Block(s, i, &st);
      EXPECT_TRUE(st.ok());
      ++done;
    });
  }
  ASSERT_TRUE(s.WaitBlocked(3, std::chrono::seconds(10)));
  EXPECT_EQ(s.blocked(), 3u);
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(inner->decodes.load(), 0u);
  s.Release();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(done.load(), 3);
  EXPECT_EQ(s.blocked(), 0u);
  // After the release reads pass at once.
  std::vector<uint8_t> buf(10);
  EXPECT_EQ(*s.ReadAt(0, buf), 10u);
  EXPECT_FALSE(s.WaitBlocked(1, std::chrono::milliseconds(1)));
}

}  // namespace
}  // namespace daqfs::testing
