// Tests for bzip2 random access by block on files written by the bzip2 tool: levels 9 and 1
// (blocks of 900 and 100 kB), concatenated streams as pbzip2 writes, a tiny one-block file; every
// block found, decoded alone byte-equal to its slice of the input, the forward reader equal to
// the input; damage and truncation give kCorrupt naming the file and the block's bit offset with
// only the blocks before counted as verified; bytes after the last stream reported; a block
// that is not the one indexed refused; reads that go back decode an earlier block again.
#include "backends/archive/bz2_blocks.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::MemoryReader;
using testing::Shell;
using testing::Slurp;

class Bz2BlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    std::mt19937 rng(3);
    std::string data;
    while (data.size() < (5u << 20)) {
      if (rng() % 3) {
        data += "frame " + std::to_string(rng() % 100000) + " detector ok\n";
      } else {
        for (int i = 0; i < 200; ++i) data.push_back(static_cast<char>(rng()));
      }
    }
    data_ = data;
    testing::WriteFile(dir_ + "/d", data);
    testing::WriteFile(dir_ + "/small", "a small file\n");
    ASSERT_EQ(Shell("cd " + dir_ +
                    " && bzip2 -9 -k -c d > d9.bz2 && bzip2 -1 -k -c d > d1.bz2"
                    " && head -c 700000 d > a && tail -c +700001 d > b"
                    " && bzip2 -1 -c a > cat.bz2 && bzip2 -9 -c b >> cat.bz2"
                    " && bzip2 -c small > small.bz2"),
              0);
  }

  struct Indexed {
    Status status;
    std::vector<Bz2Block> blocks;
    std::string output;
    uint64_t verified = 0;
    std::string trailing;
  };
  Indexed Index(const std::string& bytes) {
    Indexed r;
    Bz2StreamIndexer ix(MemoryReader(bytes), bytes.size(), "t.bz2");
    std::string out;
    std::vector<uint8_t> piece(70001);  // reads that straddle blocks
    for (;;) {
      Result<size_t> n = ix.Read(out.size(), piece);
      if (!n.ok()) {
        r.status = n.status();
        break;
      }
      if (*n == 0) break;
      out.append(reinterpret_cast<const char*>(piece.data()), *n);
    }
    if (r.status.ok()) r.status = ix.Drain();
    r.blocks = ix.blocks();
    r.output = out;
    r.verified = ix.verified();
    r.trailing = ix.trailing();
    return r;
  }

  // Every block decoded alone equals its slice of `want`.
  void ExpectBlocksDecodeAlone(const std::string& bytes, const std::vector<Bz2Block>& blocks,
                               const std::string& want) {
    uint64_t next = 0;
    for (const Bz2Block& b : blocks) {
      EXPECT_EQ(b.uncompressed_offset, next);
      next += b.uncompressed_size;
      std::vector<uint8_t> out(b.uncompressed_size);
      Status s = DecodeBz2Block(MemoryReader(bytes), b, out, "t.bz2");
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(std::string(out.begin(), out.end()) ==
                  want.substr(b.uncompressed_offset, b.uncompressed_size))
          << "block at bit " << b.bit_offset;
    }
    EXPECT_EQ(next, want.size());
  }

  testing::TempDir temp_{"bz2-blocks"};
  std::string dir_;
  std::string data_;
};

TEST_F(Bz2BlocksTest, EveryBlockOfWhatBzip2WritesIsFoundAndDecodesAlone) {
  for (const char* name : {"d9.bz2", "d1.bz2", "cat.bz2"}) {
    SCOPED_TRACE(name);
    const std::string bytes = Slurp(dir_ + "/" + name);
    Indexed r = Index(bytes);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_TRUE(r.output == data_);
    EXPECT_EQ(r.verified, data_.size());
    EXPECT_EQ(r.trailing, "");
    ExpectBlocksDecodeAlone(bytes, r.blocks, data_);
  }
  // Level 1 cuts about every 100 kB of input, level 9 every 900 kB; blocks start at bits that
  // are not byte-aligned.
  Indexed one = Index(Slurp(dir_ + "/d1.bz2"));
  EXPECT_GE(one.blocks.size(), 40u);
  EXPECT_EQ(one.blocks[0].level, 1);
  EXPECT_EQ(one.blocks[0].bit_offset, 32u);
  bool unaligned = false;
  for (const Bz2Block& b : one.blocks) unaligned = unaligned || b.bit_offset % 8 != 0;
  EXPECT_TRUE(unaligned);
  Indexed nine = Index(Slurp(dir_ + "/d9.bz2"));
  EXPECT_GE(nine.blocks.size(), 5u);
  EXPECT_EQ(nine.blocks[0].level, 9);
  // Concatenated streams keep each stream's level.
  Indexed cat = Index(Slurp(dir_ + "/cat.bz2"));
  EXPECT_EQ(cat.blocks.front().level, 1);
  EXPECT_EQ(cat.blocks.back().level, 9);
  Indexed small = Index(Slurp(dir_ + "/small.bz2"));
  ASSERT_TRUE(small.status.ok()) << small.status.ToString();
  ASSERT_EQ(small.blocks.size(), 1u);
  EXPECT_EQ(small.output, "a small file\n");
}

TEST_F(Bz2BlocksTest, DamageAndTruncationEndTheTrustedDataAtTheBlockBefore) {
  const std::string good = Slurp(dir_ + "/d1.bz2");
  Indexed whole = Index(good);
  ASSERT_GE(whole.blocks.size(), 4u);
  const Bz2Block& third = whole.blocks[2];
  std::string bad = good;
  for (uint64_t i = third.bit_offset / 8 + 200; i < third.bit_offset / 8 + 260; ++i) bad[i] ^= 0x5a;
  Indexed r = Index(bad);
  EXPECT_EQ(r.status.code(), Code::kCorrupt) << r.status.ToString();
  EXPECT_NE(
      r.status.message().find("t.bz2: bzip2 block at bit " + std::to_string(third.bit_offset)),
      std::string::npos)
      << r.status.message();
  EXPECT_EQ(r.verified, third.uncompressed_offset);
  ASSERT_EQ(r.blocks.size(), 2u);
  // What was read before the error (the last piece read may be lost with it) is the input's.
  EXPECT_LE(r.output.size(), r.verified);
  EXPECT_TRUE(data_.compare(0, r.output.size(), r.output) == 0);
  ExpectBlocksDecodeAlone(bad, r.blocks, data_.substr(0, r.verified));

  // Cut inside the third block.
  Indexed cut = Index(good.substr(0, third.bit_offset / 8 + 1000));
  EXPECT_EQ(cut.status.code(), Code::kCorrupt) << cut.status.ToString();
  EXPECT_NE(cut.status.message().find("the file ends inside it"), std::string::npos)
      << cut.status.message();
  EXPECT_EQ(cut.verified, third.uncompressed_offset);
  // Cut inside the end-of-stream marker: every block decodes, the end is missing.
  Indexed no_end = Index(good.substr(0, good.size() - 6));
  EXPECT_EQ(no_end.status.code(), Code::kCorrupt) << no_end.status.ToString();

  // Not bzip2 at all, and random damage anywhere: an error or the right bytes, never a crash.
  EXPECT_EQ(Index("BZh0 nonsense").status.code(), Code::kCorrupt);
  EXPECT_EQ(Index(std::string(100, 'x')).status.message(), "t.bz2: not a bzip2 stream");
  std::mt19937 rng(9);
  const std::string small = Slurp(dir_ + "/d1.bz2").substr(0, 300000);
  for (int round = 0; round < 40; ++round) {
    std::string b = small;
    for (int k = 0; k < 4; ++k) b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    Indexed x = Index(b);
    const size_t n = std::min<size_t>(x.output.size(), x.verified);
    EXPECT_TRUE(x.output.compare(0, n, data_, 0, n) == 0) << round;
  }
}

TEST_F(Bz2BlocksTest, BytesAfterTheLastStreamAreReportedZerosAreNot) {
  const std::string good = Slurp(dir_ + "/d9.bz2");
  Indexed zeros = Index(good + std::string(512, '\0'));
  ASSERT_TRUE(zeros.status.ok()) << zeros.status.ToString();
  EXPECT_EQ(zeros.trailing, "");
  Indexed junk = Index(good + "tail");
  ASSERT_TRUE(junk.status.ok()) << junk.status.ToString();
  EXPECT_EQ(junk.trailing, "4 bytes after the last bzip2 stream are ignored");
  EXPECT_TRUE(junk.output == data_);
}

TEST_F(Bz2BlocksTest, ABlockThatIsNotTheOneIndexedIsRefusedReadsBackDecodeAgain) {
  const std::string bytes = Slurp(dir_ + "/d1.bz2");
  Indexed r = Index(bytes);
  ASSERT_GE(r.blocks.size(), 4u);
  Bz2Block b = r.blocks[1];
  b.crc ^= 1;
  std::vector<uint8_t> out(b.uncompressed_size);
  EXPECT_EQ(DecodeBz2Block(MemoryReader(bytes), b, out, "t.bz2").code(), Code::kCorrupt);
  b = r.blocks[1];
  b.bit_offset += 1;  // no block starts there
  EXPECT_EQ(DecodeBz2Block(MemoryReader(bytes), b, out, "t.bz2").code(), Code::kCorrupt);
  b = r.blocks[1];
  b.bit_offset = UINT64_MAX - 15;  // bit ranges that wrap around are refused, not read
  b.bit_end = 100;
  EXPECT_EQ(DecodeBz2Block(MemoryReader(bytes), b, out, "t.bz2").code(), Code::kCorrupt);
  // The indexer reads forward; a read that goes back (the tar reader does, for long metadata)
  // decodes the earlier block again, also across block boundaries.
  Bz2StreamIndexer ix(MemoryReader(bytes), bytes.size(), "t.bz2");
  std::vector<uint8_t> piece(4096);
  const uint64_t far = r.blocks[3].uncompressed_offset + 10;
  ASSERT_TRUE(ix.Read(far, piece).ok());
  for (uint64_t at : {uint64_t{0}, r.blocks[1].uncompressed_offset - 100, far - 5000}) {
    Result<size_t> n = ix.Read(at, piece);
    ASSERT_TRUE(n.ok()) << at << ": " << n.status().ToString();
    ASSERT_EQ(*n, piece.size());
    EXPECT_TRUE(std::string(piece.begin(), piece.end()) == data_.substr(at, piece.size())) << at;
  }
}

}  // namespace
}  // namespace daqfs
