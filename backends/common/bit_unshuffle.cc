// Bit-unshuffle, scalar and AVX2 (see bit_unshuffle.h for the layout).
//
// Both paths transpose 8 x 8 bit matrices with butterfly swaps: stage d (4, 2, 1) swaps bit d of
// the row index with bit d of the column index by exchanging, between rows r and r + d, the bits
// whose in-byte position has bit d set in row r with those that have it clear in row r + d.
// Done across 8 rows of a byte plane at once, this leaves row t holding byte j of elements
// 8m + t for every column m; a byte transpose then puts those in element order.
#include "backends/common/bit_unshuffle.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DAQFS_HAVE_X86 1
#endif

namespace daqfs {
namespace {

static_assert(std::endian::native == std::endian::little,
              "bit_unshuffle assumes a little-endian host (word loads of row bytes)");

// ---- scalar: 64-bit words, 8 columns (64 elements) at a time ----

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline void Store64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

// Rows a and b (b = a's row + distance) exchange the positions selected by `mask` in b with
// those `shift` bits higher in a.
template <int kShift>
inline void Swap(uint64_t& a, uint64_t& b, uint64_t mask) {
  const uint64_t t = ((a >> kShift) ^ b) & mask;
  b ^= t;
  a ^= t << kShift;
}

// w[k] byte m bit t -> w[t] byte m bit k (8 x 8 bit transpose in each byte column m).
inline void TransposeBitsAcrossWords(uint64_t w[8]) {
  constexpr uint64_t kMask4 = 0x0F0F0F0F0F0F0F0FULL;
  constexpr uint64_t kMask2 = 0x3333333333333333ULL;
  constexpr uint64_t kMask1 = 0x5555555555555555ULL;
  // Spelled out: keeps w[] in registers (loops over {0, 1, 4, 5} stay loops at -O2).
  Swap<4>(w[0], w[4], kMask4), Swap<4>(w[1], w[5], kMask4);
  Swap<4>(w[2], w[6], kMask4), Swap<4>(w[3], w[7], kMask4);
  Swap<2>(w[0], w[2], kMask2), Swap<2>(w[1], w[3], kMask2);
  Swap<2>(w[4], w[6], kMask2), Swap<2>(w[5], w[7], kMask2);
  Swap<1>(w[0], w[1], kMask1), Swap<1>(w[2], w[3], kMask1);
  Swap<1>(w[4], w[5], kMask1), Swap<1>(w[6], w[7], kMask1);
}

// w[t] byte m -> w[m] byte t (8 x 8 byte transpose).
inline void TransposeBytesAcrossWords(uint64_t w[8]) {
  constexpr uint64_t kMask32 = 0x00000000FFFFFFFFULL;
  constexpr uint64_t kMask16 = 0x0000FFFF0000FFFFULL;
  constexpr uint64_t kMask8 = 0x00FF00FF00FF00FFULL;
  Swap<32>(w[0], w[4], kMask32), Swap<32>(w[1], w[5], kMask32);
  Swap<32>(w[2], w[6], kMask32), Swap<32>(w[3], w[7], kMask32);
  Swap<16>(w[0], w[2], kMask16), Swap<16>(w[1], w[3], kMask16);
  Swap<16>(w[4], w[6], kMask16), Swap<16>(w[5], w[7], kMask16);
  Swap<8>(w[0], w[1], kMask8), Swap<8>(w[2], w[3], kMask8);
  Swap<8>(w[4], w[5], kMask8), Swap<8>(w[6], w[7], kMask8);
}

// Loads columns c.. (`width` of them, at most 8) of the 8 rows of byte plane `rows` and
// transposes them: afterwards w[m] byte t is that byte of element 8 * (c + m) + t.
inline void LoadPlaneColumns(const uint8_t* rows, size_t nrow, size_t width, uint64_t w[8]) {
  if (width == 8) {
    for (int k = 0; k < 8; ++k) w[k] = Load64(rows + k * nrow);
  } else {
    for (int k = 0; k < 8; ++k) {
      w[k] = 0;
      std::memcpy(&w[k], rows + k * nrow, width);
    }
  }
  TransposeBitsAcrossWords(w);
  TransposeBytesAcrossWords(w);
}

// The low 4 bytes of x spread to the even bytes of the result.
inline uint64_t SpreadBytes(uint64_t x) {
  x &= 0xFFFFFFFFULL;
  x = (x | x << 16) & 0x0000FFFF0000FFFFULL;
  return (x | x << 8) & 0x00FF00FF00FF00FFULL;
}

// Unshuffles columns [c_begin, c_end) of every row (elements 8 * c_begin .. 8 * c_end - 1). A
// last group of fewer than 8 columns is loaded and stored partially.
void UnshuffleColumnsScalar(const uint8_t* in, uint8_t* out, size_t n_elems, size_t elem_size,
                            size_t c_begin, size_t c_end) {
  const size_t nrow = n_elems / 8;
  const size_t plane = 8 * nrow;  // bytes per byte plane (8 rows)
  for (size_t c = c_begin; c < c_end; c += 8) {
    const size_t width = std::min<size_t>(8, c_end - c);  // columns in this group
    uint8_t* elems = out + 8 * c * elem_size;             // element 8c
    uint64_t w[8];
    if (width == 8 && elem_size == 1) {
      LoadPlaneColumns(in + c, nrow, width, w);
      for (int m = 0; m < 8; ++m) Store64(elems + 8 * m, w[m]);
      continue;
    }
    if (width == 8 && elem_size == 2) {
      // Interleave the two planes' bytes in registers: 16 output bytes per column.
      uint64_t w1[8];
      LoadPlaneColumns(in + c, nrow, width, w);
      LoadPlaneColumns(in + plane + c, nrow, width, w1);
      for (int m = 0; m < 8; ++m) {
        Store64(elems + 16 * m, SpreadBytes(w[m]) | SpreadBytes(w1[m]) << 8);
        Store64(elems + 16 * m + 8, SpreadBytes(w[m] >> 32) | SpreadBytes(w1[m] >> 32) << 8);
      }
      continue;
    }
    for (size_t j = 0; j < elem_size; ++j) {
      LoadPlaneColumns(in + j * plane + c, nrow, width, w);
      uint8_t* dst = elems + j;
      for (size_t m = 0; m < width; ++m) {
        uint64_t x = w[m];
        for (int t = 0; t < 8; ++t, x >>= 8) dst[(8 * m + t) * elem_size] = static_cast<uint8_t>(x);
      }
    }
  }
}

// ---- AVX2: 32-byte vectors, 32 columns (256 elements) at a time ----

#ifdef DAQFS_HAVE_X86
#define DAQFS_AVX2 __attribute__((target("avx2")))

template <int kShift>
DAQFS_AVX2 inline void SwapAvx2(__m256i& a, __m256i& b, __m256i mask) {
  // 16-bit shifts: the mask keeps only bits whose source lies in the same byte.
  const __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi16(a, kShift), b), mask);
  b = _mm256_xor_si256(b, t);
  a = _mm256_xor_si256(a, _mm256_slli_epi16(t, kShift));
}

// out[8 * m + t] = r[t][m] for m in 0..31: 256 bytes.
DAQFS_AVX2 inline void Transpose8x32(const __m256i r[8], uint8_t* out) {
  // After each unpack stage a 128-bit lane L holds columns 16L.. in the order noted.
  const __m256i a0 = _mm256_unpacklo_epi8(r[0], r[1]);  // m 0..7, rows 0-1
  const __m256i a1 = _mm256_unpackhi_epi8(r[0], r[1]);  // m 8..15
  const __m256i a2 = _mm256_unpacklo_epi8(r[2], r[3]);
  const __m256i a3 = _mm256_unpackhi_epi8(r[2], r[3]);
  const __m256i a4 = _mm256_unpacklo_epi8(r[4], r[5]);
  const __m256i a5 = _mm256_unpackhi_epi8(r[4], r[5]);
  const __m256i a6 = _mm256_unpacklo_epi8(r[6], r[7]);
  const __m256i a7 = _mm256_unpackhi_epi8(r[6], r[7]);
  const __m256i b0 = _mm256_unpacklo_epi16(a0, a2);  // m 0..3, rows 0-3
  const __m256i b1 = _mm256_unpackhi_epi16(a0, a2);  // m 4..7
  const __m256i b2 = _mm256_unpacklo_epi16(a1, a3);  // m 8..11
  const __m256i b3 = _mm256_unpackhi_epi16(a1, a3);  // m 12..15
  const __m256i b4 = _mm256_unpacklo_epi16(a4, a6);  // m 0..3, rows 4-7
  const __m256i b5 = _mm256_unpackhi_epi16(a4, a6);
  const __m256i b6 = _mm256_unpacklo_epi16(a5, a7);
  const __m256i b7 = _mm256_unpackhi_epi16(a5, a7);
  const __m256i c0 = _mm256_unpacklo_epi32(b0, b4);  // m 0,1, rows 0-7
  const __m256i c1 = _mm256_unpackhi_epi32(b0, b4);  // m 2,3
  const __m256i c2 = _mm256_unpacklo_epi32(b1, b5);  // m 4,5
  const __m256i c3 = _mm256_unpackhi_epi32(b1, b5);  // m 6,7
  const __m256i c4 = _mm256_unpacklo_epi32(b2, b6);  // m 8,9
  const __m256i c5 = _mm256_unpackhi_epi32(b2, b6);  // m 10,11
  const __m256i c6 = _mm256_unpacklo_epi32(b3, b7);  // m 12,13
  const __m256i c7 = _mm256_unpackhi_epi32(b3, b7);  // m 14,15
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(c0, c1, 0x20));  // m 0..3
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(c2, c3, 0x20));  // m 4..7
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(c4, c5, 0x20));  // m 8..11
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(c6, c7, 0x20));  // m 12..15
  _mm256_storeu_si256(o + 4, _mm256_permute2x128_si256(c0, c1, 0x31));  // m 16..19
  _mm256_storeu_si256(o + 5, _mm256_permute2x128_si256(c2, c3, 0x31));
  _mm256_storeu_si256(o + 6, _mm256_permute2x128_si256(c4, c5, 0x31));
  _mm256_storeu_si256(o + 7, _mm256_permute2x128_si256(c6, c7, 0x31));
}

DAQFS_AVX2 inline __m256i LoadAvx2(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

DAQFS_AVX2 inline void StoreAvx2(uint8_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// Interleaves 2 planes of 256 bytes into 256 two-byte elements.
DAQFS_AVX2 inline void Interleave2(const uint8_t* planes, uint8_t* out) {
  for (size_t i = 0; i < 256; i += 32) {
    const __m256i a = LoadAvx2(planes + i), b = LoadAvx2(planes + 256 + i);
    const __m256i lo = _mm256_unpacklo_epi8(a, b);  // elements i + 0..7 | i + 16..23
    const __m256i hi = _mm256_unpackhi_epi8(a, b);  // elements i + 8..15 | i + 24..31
    StoreAvx2(out + 2 * i, _mm256_permute2x128_si256(lo, hi, 0x20));
    StoreAvx2(out + 2 * i + 32, _mm256_permute2x128_si256(lo, hi, 0x31));
  }
}

// Interleaves 4 planes of 256 bytes into 256 four-byte elements.
DAQFS_AVX2 inline void Interleave4(const uint8_t* planes, uint8_t* out) {
  for (size_t i = 0; i < 256; i += 32) {
    const __m256i a = LoadAvx2(planes + i), b = LoadAvx2(planes + 256 + i);
    const __m256i c = LoadAvx2(planes + 512 + i), d = LoadAvx2(planes + 768 + i);
    const __m256i ab_lo = _mm256_unpacklo_epi8(a, b), ab_hi = _mm256_unpackhi_epi8(a, b);
    const __m256i cd_lo = _mm256_unpacklo_epi8(c, d), cd_hi = _mm256_unpackhi_epi8(c, d);
    const __m256i q0 = _mm256_unpacklo_epi16(ab_lo, cd_lo);  // elements 0..3 | 16..19
    const __m256i q1 = _mm256_unpackhi_epi16(ab_lo, cd_lo);  // 4..7 | 20..23
    const __m256i q2 = _mm256_unpacklo_epi16(ab_hi, cd_hi);  // 8..11 | 24..27
    const __m256i q3 = _mm256_unpackhi_epi16(ab_hi, cd_hi);  // 12..15 | 28..31
    uint8_t* o = out + 4 * i;
    StoreAvx2(o, _mm256_permute2x128_si256(q0, q1, 0x20));
    StoreAvx2(o + 32, _mm256_permute2x128_si256(q2, q3, 0x20));
    StoreAvx2(o + 64, _mm256_permute2x128_si256(q0, q1, 0x31));
    StoreAvx2(o + 96, _mm256_permute2x128_si256(q2, q3, 0x31));
  }
}

// Interleaves 8 planes of 256 bytes into 256 eight-byte elements.
DAQFS_AVX2 inline void Interleave8(const uint8_t* planes, uint8_t* out) {
  for (size_t i = 0; i < 256; i += 32) {
    __m256i r[8];
    for (int k = 0; k < 8; ++k) r[k] = LoadAvx2(planes + 256 * k + i);
    Transpose8x32(r, out + 8 * i);
  }
}

DAQFS_AVX2 void BitUnshuffleAvx2(const uint8_t* in, uint8_t* out, size_t n_elems,
                                 size_t elem_size) {
  const size_t nrow = n_elems / 8;
  const size_t c_end = nrow - nrow % 32;
  const __m256i mask4 = _mm256_set1_epi8(0x0F);
  const __m256i mask2 = _mm256_set1_epi8(0x33);
  const __m256i mask1 = _mm256_set1_epi8(0x55);
  // Byte planes of up to 8 element bytes for 256 elements (L1-resident).
  alignas(32) uint8_t planes[8 * 256];
  for (size_t c = 0; c < c_end; c += 32) {
    uint8_t* elems = out + 8 * c * elem_size;  // element 8c
    for (size_t jb = 0; jb < elem_size; jb += 8) {
      const size_t nb = std::min<size_t>(8, elem_size - jb);
      for (size_t jj = 0; jj < nb; ++jj) {
        const uint8_t* rows = in + (jb + jj) * 8 * nrow + c;
        __m256i r[8];
        for (int k = 0; k < 8; ++k) r[k] = LoadAvx2(rows + k * nrow);
        SwapAvx2<4>(r[0], r[4], mask4), SwapAvx2<4>(r[1], r[5], mask4);
        SwapAvx2<4>(r[2], r[6], mask4), SwapAvx2<4>(r[3], r[7], mask4);
        SwapAvx2<2>(r[0], r[2], mask2), SwapAvx2<2>(r[1], r[3], mask2);
        SwapAvx2<2>(r[4], r[6], mask2), SwapAvx2<2>(r[5], r[7], mask2);
        SwapAvx2<1>(r[0], r[1], mask1), SwapAvx2<1>(r[2], r[3], mask1);
        SwapAvx2<1>(r[4], r[5], mask1), SwapAvx2<1>(r[6], r[7], mask1);
        // r[t][m] is byte jb + jj of element 8 * (c + m) + t.
        Transpose8x32(r, elem_size == 1 ? elems : planes + 256 * jj);
      }
      switch (elem_size) {
        case 1:
          break;
        case 2:
          Interleave2(planes, elems);
          break;
        case 4:
          Interleave4(planes, elems);
          break;
        case 8:
          Interleave8(planes, elems);
          break;
        default:
          for (size_t jj = 0; jj < nb; ++jj) {
            const uint8_t* plane = planes + 256 * jj;
            uint8_t* dst = elems + jb + jj;
            for (size_t e = 0; e < 256; ++e) dst[e * elem_size] = plane[e];
          }
      }
    }
  }
  if (c_end < nrow) UnshuffleColumnsScalar(in, out, n_elems, elem_size, c_end, nrow);
}
#endif  // DAQFS_HAVE_X86

bool CpuHasAvx2() {
#ifdef DAQFS_HAVE_X86
  __builtin_cpu_init();  // harmless when already done; required if called during static init
  return __builtin_cpu_supports("avx2");  // also checks that the OS saves the YMM registers
#else
  return false;
#endif
}

}  // namespace

bool SimdSupported(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2: {
      static const bool kHas = CpuHasAvx2();  // immutable after first use
      return kHas;
    }
  }
  return false;
}

SimdLevel BestSimdLevel() {
  return SimdSupported(SimdLevel::kAvx2) ? SimdLevel::kAvx2 : SimdLevel::kScalar;
}

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
  }
  return "?";
}

void BitUnshuffle(const uint8_t* in, uint8_t* out, size_t n_elems, size_t elem_size,
                  SimdLevel level) {
  if (n_elems % 8 != 0 || elem_size == 0) std::abort();  // the callers check both
  if (n_elems == 0) return;
#ifdef DAQFS_HAVE_X86
  if (level == SimdLevel::kAvx2 && SimdSupported(SimdLevel::kAvx2)) {
    BitUnshuffleAvx2(in, out, n_elems, elem_size);
    return;
  }
#endif
  (void)level;
  UnshuffleColumnsScalar(in, out, n_elems, elem_size, 0, n_elems / 8);
}

}  // namespace daqfs
