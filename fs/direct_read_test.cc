#include "fs/direct_read.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fs/blocking.h"
#include "tests/testing/files.h"
#include "tests/testing/page_cache.h"

namespace daqfs {
namespace {

uint8_t Byte(uint64_t i) { return static_cast<uint8_t>((i * 7919) >> 5); }

class DirectReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "data";
    std::vector<uint8_t> bytes(kSize);
    for (uint64_t i = 0; i < kSize; ++i) bytes[i] = Byte(i);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
    ASSERT_EQ(::stat(path_.c_str(), &st_), 0);
  }
  // Drops the file's pages from the page cache (written back above: they are clean).
  void Evict() { ASSERT_TRUE(testing::EvictFromPageCache(path_)); }
  static constexpr uint64_t kSize = 1 << 20 | 777;  // not a whole number of blocks
  testing::TempDir dir_{"direct-read"};
  std::string path_;
  struct stat st_ {};
};

TEST_F(DirectReadTest, ModesParseAndName) {
  DirectReads m = DirectReads::kNever;
  ASSERT_TRUE(ParseDirectReads("auto", &m));
  EXPECT_EQ(m, DirectReads::kAuto);
  ASSERT_TRUE(ParseDirectReads("always", &m));
  EXPECT_EQ(m, DirectReads::kAlways);
  ASSERT_TRUE(ParseDirectReads("never", &m));
  EXPECT_EQ(m, DirectReads::kNever);
  EXPECT_FALSE(ParseDirectReads("yes", &m));
  EXPECT_FALSE(ParseDirectReads("", &m));
  for (DirectReads d : {DirectReads::kAuto, DirectReads::kAlways, DirectReads::kNever}) {
    ASSERT_TRUE(ParseDirectReads(DirectReadsName(d), &m));
    EXPECT_EQ(m, d);
  }
}

TEST_F(DirectReadTest, OpensOnlyTheFileListedWhereTheModeAllows) {
  const bool works = testing::DirectIoWorks(path_);
  EXPECT_FALSE(OpenDirect(path_, st_, DirectReads::kNever).valid());
  EXPECT_EQ(OpenDirect(path_, st_, DirectReads::kAlways).valid(), works);
  EXPECT_EQ(OpenDirect(path_, st_, DirectReads::kAuto).valid(),
            works && testing::OnLocalDisk(dir_.path()) && testing::HasCachestat());
  // Another file now at the path (replaced since it was listed): not opened.
  struct stat other = st_;
  other.st_ino += 1;
  EXPECT_FALSE(OpenDirect(path_, other, DirectReads::kAlways).valid());
  EXPECT_FALSE(OpenDirect(dir_ / "missing", st_, DirectReads::kAlways).valid());
}

TEST_F(DirectReadTest, ReadsAnyRangeWithTheBytesThePageCacheWouldGive) {
  UniqueFd fd = OpenDirect(path_, st_, DirectReads::kAlways);
  if (!fd.valid()) GTEST_SKIP() << dir_.path() << " has no direct I/O";
  struct Case {
    uint64_t offset;
    size_t length;
  };
  // Unaligned starts and ends, a range that runs past the end (short), one past it (empty).
  for (Case c : {Case{0, 4096}, Case{1, 100000}, Case{4095, 70001}, Case{12345, 1 << 20},
                 Case{kSize - 1000, 5000}, Case{kSize + 10, 10}}) {
    Result<std::span<const uint8_t>> r = DirectRead(fd.get(), c.offset, c.length, "data");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    uint64_t want = c.offset >= kSize ? 0 : std::min<uint64_t>(c.length, kSize - c.offset);
    ASSERT_EQ(r->size(), want) << c.offset;
    for (uint64_t i = 0; i < want; ++i) {
      ASSERT_EQ((*r)[i], Byte(c.offset + i)) << c.offset << "+" << i;
    }
  }
}

TEST_F(DirectReadTest, ADirectReadCountsAsWaitingForStorage) {
  UniqueFd fd = OpenDirect(path_, st_, DirectReads::kAlways);
  if (!fd.valid()) GTEST_SKIP() << dir_.path() << " has no direct I/O";
  struct Observer : BlockingObserver {
    void BlockingStarted() override { ++begins; }
    void BlockingEnded() override { ++ends; }
    int begins = 0, ends = 0;
  } observer;
  SetBlockingObserver(&observer);
  ASSERT_TRUE(DirectRead(fd.get(), 0, 100000, "data").ok());
  SetBlockingObserver(nullptr);
  EXPECT_EQ(observer.begins, 1);
  EXPECT_EQ(observer.ends, 1);
}

TEST_F(DirectReadTest, AutoReadsDirectlyOnlyWhatThePageCacheDoesNotHoldWhole) {
  int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // Short ranges never; always: any long one, cached or not; never: none.
  EXPECT_FALSE(WantDirectRead(fd, 0, kMinDirectRead - 1, DirectReads::kAlways));
  EXPECT_TRUE(WantDirectRead(fd, 0, kMinDirectRead, DirectReads::kAlways));
  EXPECT_FALSE(WantDirectRead(fd, 0, kMinDirectRead, DirectReads::kNever));
  if (testing::HasCachestat() && testing::OnLocalDisk(dir_.path())) {
    Evict();
    EXPECT_TRUE(WantDirectRead(fd, 4096, 200000, DirectReads::kAuto));
    // Part of it cached (read-ahead around another read): still direct.
    std::vector<uint8_t> buf(8192);
    ASSERT_EQ(::pread(fd, buf.data(), buf.size(), 4096), 8192);
    EXPECT_TRUE(WantDirectRead(fd, 4096, 200000, DirectReads::kAuto));
    // All of it cached: through the page cache.
    std::vector<uint8_t> all(kSize);
    ASSERT_EQ(::pread(fd, all.data(), all.size(), 0), static_cast<ssize_t>(kSize));
    EXPECT_FALSE(WantDirectRead(fd, 4096, 200000, DirectReads::kAuto));
  } else if (!testing::HasCachestat()) {
    EXPECT_FALSE(WantDirectRead(fd, 4096, 200000, DirectReads::kAuto));  // cannot tell: no
  }
  ::close(fd);
}

}  // namespace
}  // namespace daqfs
