// Tests for the xz block index on files written by xz: blocks of xz -T with every check type,
// concatenated files; every block decodes on its own to its bytes; a damaged index is kCorrupt;
// a damaged block fails alone (its check or structure), never a crash.
#include "backends/archive/xz_blocks.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::Shell;
using testing::Slurp;

CompressedReadFn ReaderOf(const std::string& bytes) { return testing::MemoryReader(bytes); }

class XzBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    ASSERT_EQ(Shell("cd " + dir_ + " && seq 1 400000 > d && head -c 300000 /dev/urandom >> d"), 0);
    data_ = Slurp(dir_ + "/d");
  }
  // Checks that `file` lists blocks covering the data and that each decodes to its bytes.
  void ExpectBlocksDecode(const std::string& file, size_t min_blocks) {
    const std::string bytes = Slurp(dir_ + "/" + file);
    Result<std::vector<XzBlock>> blocks = ReadXzBlocks(ReaderOf(bytes), bytes.size(), file);
    ASSERT_TRUE(blocks.ok()) << file << ": " << blocks.status().ToString();
    ASSERT_GE(blocks->size(), min_blocks) << file;
    uint64_t total = 0;
    for (const XzBlock& b : *blocks) {
      std::vector<uint8_t> out(b.uncompressed_size);
      Status s = DecodeXzBlock(ReaderOf(bytes), b, out, file);
      ASSERT_TRUE(s.ok()) << file << " block at " << b.compressed_offset << ": " << s.ToString();
      EXPECT_EQ(0, std::memcmp(out.data(), data_.data() + b.uncompressed_offset, out.size()));
      total += b.uncompressed_size;
    }
    EXPECT_EQ(total, data_.size()) << file;
  }

  testing::TempDir temp_{"xzblocks"};
  std::string dir_;
  std::string data_;
};

TEST_F(XzBlocksTest, EveryBlockOfEveryCheckTypeDecodesOnItsOwn) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; for c in none crc32 crc64 sha256; do xz -1 -T2 --block-size=256KiB "
                  "--check=$c -c d > $c.xz; done; xz -1 -T1 -c d > one.xz; "
                  "head -c 1000000 d | xz -1 -T2 --block-size=100KiB > cat.xz; "
                  "tail -c +1000001 d | xz -1 -c >> cat.xz; head -c 4096 /dev/zero >> cat.xz"),
            0);
  for (const char* f : {"none.xz", "crc32.xz", "crc64.xz", "sha256.xz"}) ExpectBlocksDecode(f, 8);
  ExpectBlocksDecode("one.xz", 1);
  ExpectBlocksDecode("cat.xz", 11);
}

TEST_F(XzBlocksTest, DamageIsCorruptAndStaysInItsBlock) {
  ASSERT_EQ(Shell("cd " + dir_ + " && xz -1 -T2 --block-size=256KiB -c d > b.xz"), 0);
  const std::string good = Slurp(dir_ + "/b.xz");
  Result<std::vector<XzBlock>> blocks = ReadXzBlocks(ReaderOf(good), good.size(), "b.xz");
  ASSERT_TRUE(blocks.ok());
  // The index (at the end) damaged: the whole listing fails.
  std::string bad_index = good;
  bad_index[bad_index.size() - 20] ^= 0x55;
  Result<std::vector<XzBlock>> none = ReadXzBlocks(ReaderOf(bad_index), bad_index.size(), "x.xz");
  EXPECT_EQ(none.status().code(), Code::kCorrupt) << none.status().ToString();
  EXPECT_NE(none.status().message().find("x.xz: xz index"), std::string::npos);
  // A block's data damaged: that block fails, its neighbours decode.
  const XzBlock& victim = (*blocks)[3];
  std::string bad = good;
  for (int i = 0; i < 8; ++i) bad[victim.compressed_offset + victim.total_size / 2 + i] ^= 0x5A;
  for (size_t k = 0; k < blocks->size(); ++k) {
    std::vector<uint8_t> out((*blocks)[k].uncompressed_size);
    Status s = DecodeXzBlock(ReaderOf(bad), (*blocks)[k], out, "b.xz");
    if (k == 3) {
      EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
      EXPECT_NE(s.message().find("b.xz: xz block at compressed offset " +
                                 std::to_string(victim.compressed_offset)),
                std::string::npos)
          << s.message();
    } else {
      EXPECT_TRUE(s.ok()) << k << ": " << s.ToString();
    }
  }
  // Random damage anywhere: clean errors only.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 60; ++trial) {
    std::string b = good;
    for (int i = 0; i < 3; ++i) b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<std::vector<XzBlock>> l = ReadXzBlocks(ReaderOf(b), b.size(), "r.xz");
    if (!l.ok()) {
      EXPECT_EQ(l.status().code(), Code::kCorrupt) << l.status().ToString();
      continue;
    }
    for (const XzBlock& x : *l) {
      if (x.uncompressed_size > (8u << 20)) continue;
      std::vector<uint8_t> out(x.uncompressed_size);
      Status s = DecodeXzBlock(ReaderOf(b), x, out, "r.xz");
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace daqfs
