// Tests for the 32008 / 32004 chunk decoders on chunks built here from the formats' definitions
// (bit-by-bit shuffle, liblz4): round trips over element sizes, block sizes and remainders;
// every malformed input the decoders check (each a kCorrupt naming the reason); every
// truncation and random corruption of valid chunks (kCorrupt or a clean decode, identical on
// both unshuffle paths); concurrent decoding. chunk_pipeline_hdf5_test.cc checks against libhdf5.
#include "backends/common/lz4_chunks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "backends/common/chunk_test_encoders.h"

namespace daqfs {
namespace {

using testing::Counts;
using testing::EncodeBitshuffleLz4;
using testing::EncodeHdf5Lz4;
using testing::PutBe32;
using testing::PutBe64;
using testing::RandomBytes;
using testing::SetBe32;
using Bytes = std::vector<uint8_t>;

std::vector<SimdLevel> Levels() { return testing::SimdLevels(); }

Status DecodeBshuf(const Bytes& chunk, uint32_t es, Bytes* out, SimdLevel level) {
  return DecodeBitshuffleLz4Chunk(chunk, es, *out, level);
}

// Decodes `chunk` into a buffer of `size` bytes on every path; the paths must agree exactly.
Status DecodeBshufAllPaths(const Bytes& chunk, uint32_t es, size_t size, Bytes* result) {
  Status first;
  bool have = false;
  for (SimdLevel level : Levels()) {
    Bytes out(size, 0);
    Status st = DecodeBshuf(chunk, es, &out, level);
    if (!have) {
      first = st;
      *result = out;
      have = true;
    } else {
      EXPECT_EQ(st.code(), first.code());
      EXPECT_EQ(st.message(), first.message());
      if (st.ok()) {
        EXPECT_EQ(out, *result) << "paths disagree";
      }
    }
  }
  return first;
}

void ExpectCorrupt(const Status& st, const std::string& reason) {
  EXPECT_EQ(st.code(), Code::kCorrupt) << st.ToString();
  EXPECT_NE(st.message().find(reason), std::string::npos)
      << "message \"" << st.message() << "\" lacks \"" << reason << "\"";
}

// ---- round trips ----

TEST(BitshuffleLz4Test, RoundTripsEveryShape) {
  uint32_t seed = 1;
  for (uint32_t es : {1u, 2u, 3u, 4u, 8u, 12u}) {
    // Sizes with remainders: < 8 elements (raw only), partial last blocks, exact blocks.
    for (size_t n : {1, 7, 8, 9, 255, 1000, 4096, 4099, 8192 + 13, 70001}) {
      for (uint32_t header_block : {0u, 64u * es, 8192u, 24u * es, 1u << 20}) {
        if (header_block % es != 0 || (header_block / es) % 8 != 0) continue;  // invalid
        const Bytes data = Counts(n, es, seed++);
        const Bytes chunk = EncodeBitshuffleLz4(data, es, header_block);
        Bytes out;
        Status st = DecodeBshufAllPaths(chunk, es, data.size(), &out);
        ASSERT_TRUE(st.ok()) << st.ToString() << " es " << es << " n " << n << " block "
                             << header_block;
        ASSERT_EQ(out, data) << "es " << es << " n " << n << " block " << header_block;
      }
    }
  }
}

TEST(BitshuffleLz4Test, IncompressibleBlocksAndTrailingBytes) {
  const Bytes data = RandomBytes(2 * 5003, 9);  // LZ4 expands random blocks: still LZ4 blocks
  Bytes chunk = EncodeBitshuffleLz4(data, 2, 0);
  chunk.insert(chunk.end(), {1, 2, 3});  // bytes after the last block are ignored (plugin)
  Bytes out;
  ASSERT_TRUE(DecodeBshufAllPaths(chunk, 2, data.size(), &out).ok());
  EXPECT_EQ(out, data);
}

TEST(BitshuffleLz4Test, ThreeArgumentOverloadUsesTheBestPath) {
  const Bytes data = Counts(10000, 2, 5);
  const Bytes chunk = EncodeBitshuffleLz4(data, 2, 0);
  Bytes out(data.size());
  ASSERT_TRUE(DecodeBitshuffleLz4Chunk(chunk, 2, out).ok());
  EXPECT_EQ(out, data);
}

TEST(Hdf5Lz4Test, RoundTripsWithCompressedAndRawBlocks) {
  uint32_t seed = 100;
  for (size_t size : {1, 100, 8192, 8193, 100000}) {
    for (uint32_t block : {1u, 3u, 1000u, 8192u, 1u << 30}) {
      if (size / block > 20000) continue;  // keep it quick
      for (bool random : {false, true}) {
        const Bytes data = random ? RandomBytes(size, seed++) : Counts(size / 2 + 1, 2, seed++);
        const Bytes sized(data.begin(), data.begin() + std::min(size, data.size()));
        const Bytes chunk = EncodeHdf5Lz4(sized, block);
        Bytes out(sized.size());
        Status st = DecodeHdf5Lz4Chunk(chunk, 2, out);
        ASSERT_TRUE(st.ok()) << st.ToString() << " size " << size << " block " << block;
        ASSERT_EQ(out, sized) << "size " << size << " block " << block;
      }
    }
  }
}

TEST(Lz4ChunkHeaderTest, PeekReadsTheClaims) {
  Bytes chunk;
  PutBe64(&chunk, 0x0102030405060708ULL);
  PutBe32(&chunk, 8192);
  Result<Lz4ChunkHeader> h = PeekLz4ChunkHeader(chunk);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->decoded_size, 0x0102030405060708ULL);
  EXPECT_EQ(h->block_size, 8192u);
  for (size_t n = 0; n < 12; ++n) {
    Result<Lz4ChunkHeader> short_h = PeekLz4ChunkHeader(std::span(chunk.data(), n));
    ASSERT_FALSE(short_h.ok());
    ExpectCorrupt(short_h.status(), "truncated header");
  }
}

TEST(Lz4ChunkHeaderTest, EmptyChunks) {
  Bytes chunk;
  PutBe64(&chunk, 0);
  PutBe32(&chunk, 0);
  Bytes out;
  EXPECT_TRUE(DecodeBitshuffleLz4Chunk(chunk, 2, out).ok());
  EXPECT_TRUE(DecodeHdf5Lz4Chunk(chunk, 2, out).ok());
}

// ---- malformed chunks ----

TEST(BitshuffleLz4Test, MalformedChunksAreCorruptWithTheReason) {
  const Bytes data = Counts(5003, 2, 3);  // 3 raw elements at the end
  const Bytes good = EncodeBitshuffleLz4(data, 2, 0);
  Bytes out(data.size());
  for (SimdLevel level : Levels()) {
    // Truncated header.
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(std::span(good.data(), 11), 2, out, level),
                  "truncated header");
    // Sizes that do not match the caller's buffer, including huge claims.
    Bytes small(data.size() - 2), big(data.size() + 2);
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(good, 2, small, level), "header claims 10006");
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(good, 2, big, level), "header claims");
    Bytes huge = good;
    for (int i = 0; i < 8; ++i) huge[i] = 0xFF;
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(huge, 2, out, level), "header claims");
    // Element size 0 or not dividing the size; block sizes not a multiple of 8 elements.
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(good, 0, out, level), "element size 0");
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(good, 4, out, level), "whole number");
    Bytes odd_block = good;
    SetBe32(&odd_block, 8, 2 * 12);
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(odd_block, 2, out, level), "multiple of 8 elements");
    // Truncated in a block length field, in a block, in the raw tail.
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(std::span(good.data(), 14), 2, out, level),
                  "has no length field");
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(std::span(good.data(), 40), 2, out, level),
                  "only 24 are left");
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(std::span(good.data(), good.size() - 1), 2, out, level),
                  "raw bytes are missing");
    // A block length past the end.
    Bytes past = good;
    SetBe32(&past, 12, 0x7FFFFFF0);
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(past, 2, out, level), "claims 2147483632 stored bytes");
    // Corrupt LZ4: a length one short (the block no longer ends where its data ends) and an
    // invalid match offset.
    Bytes shorter = good;
    const uint32_t len0 = uint32_t{good[12]} << 24 | good[13] << 16 | good[14] << 8 | good[15];
    SetBe32(&shorter, 12, len0 - 1);
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(shorter, 2, out, level), "LZ4 error in block 0 of 2");
    Bytes zeros = good;
    std::fill(zeros.begin() + 16, zeros.begin() + 16 + len0, 0);
    ExpectCorrupt(DecodeBitshuffleLz4Chunk(zeros, 2, out, level), "LZ4 error in block 0");
  }
}

TEST(Hdf5Lz4Test, MalformedChunksAreCorruptWithTheReason) {
  const Bytes data = Counts(5000, 2, 4);
  const Bytes good = EncodeHdf5Lz4(data, 4096);  // blocks of 4096, 4096, 1808 bytes
  Bytes out(data.size());
  ExpectCorrupt(DecodeHdf5Lz4Chunk(std::span(good.data(), 5), 2, out), "truncated header");
  Bytes small(data.size() - 1);
  ExpectCorrupt(DecodeHdf5Lz4Chunk(good, 2, small), "header claims 10000");
  Bytes zero_block = good;
  SetBe32(&zero_block, 8, 0);
  ExpectCorrupt(DecodeHdf5Lz4Chunk(zero_block, 2, out), "block size 0");
  ExpectCorrupt(DecodeHdf5Lz4Chunk(std::span(good.data(), 13), 2, out), "has no length field");
  ExpectCorrupt(DecodeHdf5Lz4Chunk(std::span(good.data(), good.size() - 1), 2, out),
                "block 2 of 3 claims");
  Bytes past = good;
  SetBe32(&past, 12, 0xFFFFFFFF);
  ExpectCorrupt(DecodeHdf5Lz4Chunk(past, 2, out), "claims 4294967295 stored bytes");
  Bytes bad = good;
  const uint32_t len0 = uint32_t{good[12]} << 24 | good[13] << 16 | good[14] << 8 | good[15];
  std::fill(bad.begin() + 16, bad.begin() + 16 + len0, 0xFF);
  ExpectCorrupt(DecodeHdf5Lz4Chunk(bad, 2, out), "LZ4 error in block 0 of 3");
}

TEST(BitshuffleLz4Test, EveryTruncationIsCorruptNeverACrash) {
  const Bytes data = Counts(1500, 4, 6);
  const Bytes good = EncodeBitshuffleLz4(data, 4, 256);
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes out;
    Status st = DecodeBshufAllPaths(Bytes(good.begin(), good.begin() + n), 4, data.size(), &out);
    ASSERT_EQ(st.code(), Code::kCorrupt) << "prefix " << n;
  }
}

TEST(Hdf5Lz4Test, EveryTruncationIsCorruptNeverACrash) {
  const Bytes data = Counts(1500, 2, 7);
  const Bytes good = EncodeHdf5Lz4(data, 700);
  for (size_t n = 0; n < good.size(); ++n) {
    const Bytes prefix(good.begin(), good.begin() + n);  // its own allocation: ASan sees overreads
    Bytes out(data.size());
    ASSERT_EQ(DecodeHdf5Lz4Chunk(prefix, 2, out).code(), Code::kCorrupt) << "prefix " << n;
  }
}

TEST(BitshuffleLz4Test, RandomCorruptionIsCleanAndPathIndependent) {
  std::mt19937 rng(42);
  int corrupt = 0, clean = 0;
  for (int round = 0; round < 400; ++round) {
    const uint32_t es = std::array<uint32_t, 4>{1, 2, 4, 8}[round % 4];
    const Bytes data = Counts(900 + round, es, round);
    Bytes chunk = EncodeBitshuffleLz4(data, es, round % 3 == 0 ? 0 : 64 * es);
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) chunk[rng() % chunk.size()] ^= uint8_t(1) << (rng() % 8);
    Bytes out;
    Status st = DecodeBshufAllPaths(chunk, es, data.size(), &out);
    ASSERT_TRUE(st.ok() || st.code() == Code::kCorrupt) << st.ToString();
    (st.ok() ? clean : corrupt)++;
  }
  EXPECT_GT(corrupt, 0);
  EXPECT_GT(clean, 0);  // flips in literals decode to other bytes: not detectable, not a crash
}

TEST(Hdf5Lz4Test, RandomCorruptionIsClean) {
  std::mt19937 rng(43);
  int corrupt = 0;
  for (int round = 0; round < 400; ++round) {
    const Bytes data = Counts(700 + round, 2, round);
    Bytes chunk = EncodeHdf5Lz4(data, 512);
    chunk[rng() % chunk.size()] ^= uint8_t(1) << (rng() % 8);
    Bytes out(data.size());
    Status st = DecodeHdf5Lz4Chunk(chunk, 2, out);
    ASSERT_TRUE(st.ok() || st.code() == Code::kCorrupt) << st.ToString();
    if (!st.ok()) ++corrupt;
  }
  EXPECT_GT(corrupt, 0);
}

// ---- threads ----

TEST(BitshuffleLz4Test, ConcurrentDecodesAreIndependent) {
  // Different block sizes per thread, so each thread's scratch sees growth while others decode.
  struct Job {
    Bytes data, chunk;
    uint32_t es;
  };
  std::vector<Job> jobs;
  for (uint32_t t = 0; t < 4; ++t) {
    const uint32_t es = 1u << t;
    Job j{Counts(60000 + t * 7, es, 500 + t), {}, es};
    j.chunk = EncodeBitshuffleLz4(j.data, es, t % 2 == 0 ? 0 : 65536 * es);
    jobs.push_back(std::move(j));
  }
  std::vector<int> failures(jobs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < jobs.size(); ++t) {
    threads.emplace_back([&, t] {
      Bytes out(jobs[t].data.size());
      for (int i = 0; i < 30; ++i) {
        const Job& j = jobs[(t + i) % jobs.size()];
        out.assign(j.data.size(), 0);
        if (!DecodeBitshuffleLz4Chunk(j.chunk, j.es, out).ok() || out != j.data) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (size_t t = 0; t < jobs.size(); ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace daqfs
