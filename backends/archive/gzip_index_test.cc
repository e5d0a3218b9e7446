// Tests for the gzip checkpoint index on data compressed here with zlib's gzip writer (levels 0,
// 1, 6, 9, Huffman-only and RLE strategies; several members, empty members): the streaming
// reader gives the data; every checkpoint decodes its interval (and with a skip, across members);
// checkpoints fall about every interval; padding after the last member is accepted, other
// trailing bytes reported; every truncation and damaged byte is a kCorrupt naming the offset,
// never a crash.
#include "backends/archive/gzip_index.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using Bytes = std::vector<uint8_t>;

// One gzip member of `data`.
Bytes GzipMember(const Bytes& data, int level, int strategy = Z_DEFAULT_STRATEGY) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, 31, 8, strategy), Z_OK);
  Bytes out(deflateBound(&s, data.size()) + 64);
  s.next_in = const_cast<Bytef*>(data.data());
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// Detector-ish and text-ish data: runs, counts, words, random stretches.
Bytes Data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b;
  b.reserve(n);
  const char* words[] = {"frame ", "series ", "detector ", "0042 ", "\n", "beamline "};
  while (b.size() < n) {
    switch (rng() % 4) {
      case 0:
        b.insert(b.end(), 1 + rng() % 300, static_cast<uint8_t>(rng()));
        break;
      case 1:
        for (int i = 0; i < 200; ++i) b.push_back(static_cast<uint8_t>(rng() % 5));
        break;
      case 2:
        for (int i = 0; i < 50; ++i) {
          const char* w = words[rng() % 6];
          b.insert(b.end(), w, w + std::strlen(w));
        }
        break;
      default:
        for (int i = 0; i < 500; ++i) b.push_back(static_cast<uint8_t>(rng()));
    }
  }
  b.resize(n);
  return b;
}

CompressedReadFn ReaderOf(const Bytes& file) { return testing::MemoryReader(file); }

Result<GzipIndex> Index(const Bytes& file, uint64_t interval) {
  GzipStreamIndexer ix(ReaderOf(file), file.size(), "t.gz", interval);
  Status s = ix.Drain();
  if (!s.ok()) return s;
  return ix.Take();
}

// Every checkpoint decodes its whole interval, and a piece at a skip into it.
void ExpectEveryCheckpointDecodes(const Bytes& file, const GzipIndex& index, const Bytes& data) {
  ASSERT_EQ(index.decompressed_size, data.size());
  for (size_t k = 0; k < index.points.size(); ++k) {
    const GzipCheckpoint& p = index.points[k];
    const uint64_t end = k + 1 < index.points.size() ? index.points[k + 1].out_offset : data.size();
    Bytes out(end - p.out_offset);
    Status s = InflateFromCheckpoint(ReaderOf(file), p, 0, out, "t.gz");
    ASSERT_TRUE(s.ok()) << "checkpoint " << k << ": " << s.ToString();
    ASSERT_TRUE(std::equal(out.begin(), out.end(), data.begin() + p.out_offset)) << k;
    // From a skip to the end of the data (through later checkpoints and members).
    const uint64_t skip = (end - p.out_offset) / 3;
    Bytes rest(data.size() - p.out_offset - skip);
    s = InflateFromCheckpoint(ReaderOf(file), p, skip, rest, "t.gz");
    ASSERT_TRUE(s.ok()) << "checkpoint " << k << " skip " << skip << ": " << s.ToString();
    ASSERT_TRUE(std::equal(rest.begin(), rest.end(), data.begin() + p.out_offset + skip)) << k;
  }
}

TEST(GzipIndexTest, CheckpointsEveryIntervalDecodeTheirData) {
  for (int level : {0, 1, 6, 9}) {
    SCOPED_TRACE("level " + std::to_string(level));
    const Bytes data = Data(3 << 20, static_cast<uint32_t>(level + 1));
    const Bytes file = GzipMember(data, level);
    Result<GzipIndex> index = Index(file, 256 << 10);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ(index->members, 1u);
    EXPECT_EQ(index->compressed_size, file.size());
    EXPECT_TRUE(index->trailing.empty());
    ASSERT_GE(index->points.size(), 8u);
    EXPECT_TRUE(index->points[0].member_start);
    for (size_t k = 1; k < index->points.size(); ++k) {
      const GzipCheckpoint& p = index->points[k];
      EXPECT_FALSE(p.member_start);
      EXPECT_GE(p.out_offset - index->points[k - 1].out_offset, 256u << 10);
      EXPECT_LT(p.out_offset - index->points[k - 1].out_offset, 512u << 10);  // block sizes
      EXPECT_EQ(p.window.size(), kGzipWindowBytes);
      EXPECT_EQ(0, std::memcmp(p.window.data(), data.data() + p.out_offset - kGzipWindowBytes,
                               kGzipWindowBytes));
    }
    // Every interval's CRC-32 is known and right.
    for (size_t k = 0; k < index->points.size(); ++k) {
      const GzipCheckpoint& p = index->points[k];
      const uint64_t end =
          k + 1 < index->points.size() ? index->points[k + 1].out_offset : data.size();
      ASSERT_TRUE(p.has_crc) << k;
      EXPECT_EQ(p.crc, crc32(0, data.data() + p.out_offset, static_cast<uInt>(end - p.out_offset)))
          << k;
    }
    ExpectEveryCheckpointDecodes(file, *index, data);
  }
}

TEST(GzipIndexTest, StrategiesWithOddBlocksIndexToo) {
  for (int strategy : {Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED}) {
    const Bytes data = Data(1 << 20, static_cast<uint32_t>(strategy + 10));
    const Bytes file = GzipMember(data, 6, strategy);
    Result<GzipIndex> index = Index(file, 64 << 10);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_GE(index->points.size(), 4u) << strategy;
    ExpectEveryCheckpointDecodes(file, *index, data);
  }
}

TEST(GzipIndexTest, ConcatenatedMembersGetCheckpointsAtTheirStarts) {
  // `cat a.gz b.gz ...` as pigz -i and bgzip write them; an empty member among them.
  Bytes data, file;
  // Members smaller than the interval (bgzip-like) start where checkpoints fall due.
  std::vector<size_t> sizes = {700000, 0, 100000, 900000, 5, 300000};
  sizes.insert(sizes.end(), 10, 70000);
  for (size_t n : sizes) {
    const Bytes part = Data(n, static_cast<uint32_t>(n));
    const Bytes gz = GzipMember(part, 6);
    data.insert(data.end(), part.begin(), part.end());
    file.insert(file.end(), gz.begin(), gz.end());
  }
  Result<GzipIndex> index = Index(file, 200 << 10);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->members, 16u);
  size_t starts = 0;
  for (const GzipCheckpoint& p : index->points) {
    if (p.member_start) {
      ++starts;
      EXPECT_TRUE(p.window.empty());
      EXPECT_EQ(file[p.in_offset], 0x1F);
    }
  }
  EXPECT_GE(starts, 4u);  // the first, and members that start when a checkpoint is due
  ExpectEveryCheckpointDecodes(file, *index, data);
}

TEST(GzipIndexTest, ForwardReadsGiveTheDataBackwardReadsAreRefused) {
  const Bytes data = Data(2 << 20, 3);
  const Bytes file = GzipMember(data, 6);
  GzipStreamIndexer ix(ReaderOf(file), file.size(), "t.gz", 1 << 20);
  std::mt19937 rng(4);
  uint64_t pos = 0;
  while (pos < data.size()) {
    const uint64_t skip = rng() % 3 == 0 ? rng() % 100000 : 0;
    Bytes out(1 + rng() % 70000);
    Result<size_t> n = ix.Read(pos + skip, out);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    const uint64_t at = pos + skip;
    ASSERT_EQ(*n, std::min<uint64_t>(out.size(), data.size() > at ? data.size() - at : 0));
    ASSERT_TRUE(std::equal(out.begin(), out.begin() + *n, data.begin() + at));
    pos = at + *n + (*n == 0 ? 1 : 0);
  }
  Bytes one(1);
  EXPECT_EQ(ix.Read(0, one).status().code(), Code::kInvalid);
  EXPECT_TRUE(ix.Drain().ok());
  EXPECT_EQ(ix.index().decompressed_size, data.size());
}

TEST(GzipIndexTest, ZeroPaddingIsTheEndOtherTrailingBytesAreReported) {
  const Bytes data = Data(100000, 5);
  Bytes file = GzipMember(data, 6);
  const size_t gz = file.size();
  file.insert(file.end(), 10240, 0);  // tape blocks
  Result<GzipIndex> index = Index(file, 1 << 20);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_TRUE(index->trailing.empty()) << index->trailing;
  EXPECT_EQ(index->compressed_size, gz);
  file.push_back('x');
  index = Index(file, 1 << 20);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_NE(index->trailing.find("are not gzip data"), std::string::npos) << index->trailing;
  EXPECT_EQ(index->decompressed_size, data.size());
}

void ExpectCorrupt(const Status& st, const std::string& reason) {
  EXPECT_EQ(st.code(), Code::kCorrupt) << st.ToString();
  EXPECT_NE(st.message().find(reason), std::string::npos)
      << "message \"" << st.message() << "\" lacks \"" << reason << "\"";
}

TEST(GzipIndexTest, DamageIsCorruptNamingTheOffset) {
  const Bytes data = Data(300000, 6);
  const Bytes file = GzipMember(data, 6);
  {
    Bytes cut(file.begin(), file.begin() + file.size() / 2);
    ExpectCorrupt(Index(cut, 1 << 20).status(), "t.gz: gzip data at compressed offset");
    ExpectCorrupt(Index(cut, 1 << 20).status(), "truncated");
  }
  {
    Bytes crc = file;
    crc[crc.size() - 6] ^= 1;  // the CRC-32
    ExpectCorrupt(Index(crc, 1 << 20).status(), "incorrect data check");
    // Only the CRC noticed: none of the member's output is trusted; with a good member before
    // it, that member's output is.
    GzipStreamIndexer one(ReaderOf(crc), crc.size(), "t.gz", 1 << 20);
    EXPECT_FALSE(one.Drain().ok());
    EXPECT_EQ(one.verified(), 0u);
    EXPECT_EQ(one.position(), data.size());
    Bytes two = GzipMember(data, 1);
    two.insert(two.end(), crc.begin(), crc.end());
    GzipStreamIndexer both(ReaderOf(two), two.size(), "t.gz", 1 << 20);
    EXPECT_FALSE(both.Drain().ok());
    EXPECT_EQ(both.verified(), data.size());
  }
  ExpectCorrupt(Index(Bytes{'n', 'o', 't', ' ', 'g', 'z', 'i', 'p'}, 1 << 20).status(),
                "incorrect header check");
  // A checkpoint whose data is damaged later: the read from it fails, the others do not.
  Result<GzipIndex> index = Index(file, 64 << 10);
  ASSERT_TRUE(index.ok());
  ASSERT_GE(index->points.size(), 3u);
  Bytes bad = file;
  const GzipCheckpoint& p = index->points[1];
  for (size_t i = 0; i < 64; ++i) bad[p.in_offset + 100 + i] ^= 0x5A;
  const uint64_t len = index->points[2].out_offset - p.out_offset;
  Bytes out(len);
  Status s = InflateFromCheckpoint(ReaderOf(bad), p, 0, out, "t.gz");
  if (s.ok()) {
    // Deflate did not notice (a literal run): the bytes differ, and the CRC catches it at the
    // member's end when indexing.
    EXPECT_FALSE(std::equal(out.begin(), out.end(), data.begin() + p.out_offset));
  } else {
    ExpectCorrupt(s,
                  "decoding from the checkpoint at output offset " + std::to_string(p.out_offset));
  }
  Bytes first(index->points[1].out_offset);
  EXPECT_TRUE(InflateFromCheckpoint(ReaderOf(bad), index->points[0], 0, first, "t.gz").ok());
}

TEST(GzipIndexTest, EveryTruncationAndRandomDamageIsCleanNeverACrash) {
  const Bytes data = Data(40000, 7);
  Bytes file = GzipMember(data, 6);
  const Bytes more = GzipMember(Data(20000, 8), 1);
  file.insert(file.end(), more.begin(), more.end());
  for (size_t len = 0; len < file.size(); len += 7) {
    Bytes cut(file.begin(), file.begin() + len);
    Result<GzipIndex> index = Index(cut, 4096);
    if (!index.ok()) {
      EXPECT_EQ(index.status().code(), Code::kCorrupt) << index.status().ToString();
    }
  }
  std::mt19937 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    Bytes bad = file;
    for (int k = 0; k < 2; ++k) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    Result<GzipIndex> index = Index(bad, 4096);
    if (!index.ok()) {
      EXPECT_EQ(index.status().code(), Code::kCorrupt) << index.status().ToString();
      continue;
    }
    // Whatever indexed decodes from every checkpoint without a crash.
    for (const GzipCheckpoint& p : index->points) {
      Bytes out(std::min<uint64_t>(4096, index->decompressed_size - p.out_offset));
      Status s = InflateFromCheckpoint(ReaderOf(bad), p, 0, out, "t.gz");
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace daqfs
