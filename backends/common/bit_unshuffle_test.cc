// Tests for the bit-unshuffle paths: both against a bit-by-bit reference of bitshuffle's layout
// (pinned by hand-worked examples), and the scalar and AVX2 paths against each other, for
// element sizes 1..16 and element counts that exercise every tail (not a multiple of 32 or 256
// elements, a single group of 8).
#include "backends/common/bit_unshuffle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "backends/common/chunk_test_encoders.h"

namespace daqfs {
namespace {

using Bytes = std::vector<uint8_t>;

// bitshuffle's forward transform, bit by bit: bit k of byte j of element i goes to row
// j * 8 + k, byte i / 8, bit i % 8.
Bytes ReferenceShuffle(const Bytes& elems, size_t n, size_t es) {
  return testing::ReferenceShuffle(elems.data(), n, es);
}

using testing::RandomBytes;

Bytes Unshuffle(const Bytes& shuffled, size_t n, size_t es, SimdLevel level) {
  Bytes out(n * es + 64, 0xEE);  // guard bytes: nothing past n * es may be written
  BitUnshuffle(shuffled.data(), out.data(), n, es, level);
  for (size_t i = n * es; i < out.size(); ++i) EXPECT_EQ(out[i], 0xEE) << "wrote past the end";
  out.resize(n * es);
  return out;
}

std::vector<SimdLevel> Levels() { return testing::SimdLevels(); }

TEST(BitUnshuffleTest, HandWorkedLayout) {
  // Element 0 = 0x01 is bit 0 of row 0, byte 0, bit 0; element 7 = 0x80 is row 7, bit 7;
  // element 3 = 0x04: row 2, bit 3.
  Bytes elems(8, 0);
  elems[0] = 0x01;
  elems[7] = 0x80;
  elems[3] = 0x04;
  const Bytes shuffled = ReferenceShuffle(elems, 8, 1);
  EXPECT_EQ(shuffled, (Bytes{0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x80}));
  // Two-byte elements: byte 1 of element 1 = 0x02 is row 8 + 1 = 9, bit 1.
  Bytes wide(16, 0);
  wide[3] = 0x02;
  Bytes expect(16, 0);
  expect[9] = 0x02;
  EXPECT_EQ(ReferenceShuffle(wide, 8, 2), expect);
  for (SimdLevel level : Levels()) {
    EXPECT_EQ(Unshuffle(shuffled, 8, 1, level), elems) << SimdLevelName(level);
    EXPECT_EQ(Unshuffle(expect, 8, 2, level), wide) << SimdLevelName(level);
  }
}

TEST(BitUnshuffleTest, EveryPathInvertsTheReference) {
  // 8: one group; 256 and 512: whole AVX2 steps; the rest leave tails of every kind.
  const size_t counts[] = {8, 16, 24, 64, 248, 256, 264, 504, 512, 520, 1000, 2048, 4096, 8192};
  uint32_t seed = 1;
  for (size_t es : {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16}) {
    for (size_t n : counts) {
      const Bytes elems = RandomBytes(n * es, seed++);
      const Bytes shuffled = ReferenceShuffle(elems, n, es);
      for (SimdLevel level : Levels()) {
        ASSERT_EQ(Unshuffle(shuffled, n, es, level), elems)
            << SimdLevelName(level) << " elem_size " << es << " n " << n;
      }
    }
  }
}

TEST(BitUnshuffleTest, ScalarAndAvx2AreByteIdentical) {
#if defined(__x86_64__)
  if (!SimdSupported(SimdLevel::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2";
  EXPECT_EQ(BestSimdLevel(), SimdLevel::kAvx2);
  uint32_t seed = 1000;
  for (size_t es : {1, 2, 4, 8, 3, 10}) {
    for (size_t n = 8; n <= 3000; n += 8 * 7) {      // 7-group steps: all tails mod 32 columns
      const Bytes in = RandomBytes(n * es, seed++);  // any bytes are a valid shuffled block
      ASSERT_EQ(Unshuffle(in, n, es, SimdLevel::kScalar), Unshuffle(in, n, es, SimdLevel::kAvx2))
          << "elem_size " << es << " n " << n;
    }
  }
  // Sparse data (mostly zero rows, as detector counts give) and all-ones rows.
  for (size_t es : {1, 2, 4, 8}) {
    Bytes in(4096 * es, 0);
    for (size_t i = 0; i < in.size(); i += 97) in[i] = static_cast<uint8_t>(i * 31 + 7);
    ASSERT_EQ(Unshuffle(in, 4096, es, SimdLevel::kScalar),
              Unshuffle(in, 4096, es, SimdLevel::kAvx2));
    Bytes ones(4096 * es, 0xFF);
    ASSERT_EQ(Unshuffle(ones, 4096, es, SimdLevel::kAvx2), ones);
  }
#else
  EXPECT_EQ(BestSimdLevel(), SimdLevel::kScalar);
  EXPECT_FALSE(SimdSupported(SimdLevel::kAvx2));
#endif
}

TEST(BitUnshuffleTest, UnalignedBuffers) {
  const size_t n = 1024, es = 2;
  const Bytes elems = RandomBytes(n * es, 77);
  const Bytes shuffled = ReferenceShuffle(elems, n, es);
  for (SimdLevel level : Levels()) {
    for (size_t off_in : {1, 3}) {
      for (size_t off_out : {5, 7}) {
        Bytes in(n * es + off_in), out(n * es + off_out);
        std::memcpy(in.data() + off_in, shuffled.data(), shuffled.size());
        BitUnshuffle(in.data() + off_in, out.data() + off_out, n, es, level);
        ASSERT_EQ(0, std::memcmp(out.data() + off_out, elems.data(), elems.size()))
            << SimdLevelName(level);
      }
    }
  }
}

TEST(BitUnshuffleTest, ZeroElementsWritesNothing) {
  uint8_t in[1] = {0xAB}, out[1] = {0xCD};
  for (SimdLevel level : Levels()) BitUnshuffle(in, out, 0, 4, level);
  EXPECT_EQ(out[0], 0xCD);
}

TEST(BitUnshuffleTest, LevelNames) {
  EXPECT_STREQ(SimdLevelName(SimdLevel::kScalar), "scalar");
  EXPECT_STREQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
  EXPECT_TRUE(SimdSupported(SimdLevel::kScalar));
}

}  // namespace
}  // namespace daqfs
