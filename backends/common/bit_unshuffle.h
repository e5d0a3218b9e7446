// Bit-unshuffle: the inverse of bitshuffle's bit transpose (github.com/kiyo-masui/bitshuffle,
// the transform behind HDF5 filter 32008), for one block of elements.
//
// A bit-shuffled block of n elements (n a multiple of 8) of `elem_size` bytes is 8 * elem_size
// rows of n / 8 bytes: row j * 8 + k holds bit k of byte j of every element, element i at bit
// i % 8 (least significant first) of the row's byte i / 8. Unshuffling is an 8 x 8 bit-matrix
// transpose per (byte j, group of 8 elements): the eight row bytes go in, the byte j of each of
// the eight elements comes out.
//
// Both paths do the same arithmetic on different widths: butterfly swaps across the 8 rows of a
// byte (3 stages of shift/xor/mask) turn rows into per-element-byte "planes", a byte transpose
// puts the planes in element order, and an interleave merges the byte planes of elements wider
// than one byte. The scalar path works on 64-bit words (8 columns at a time), the AVX2 path on
// 32-byte vectors (32 columns, 256 elements at a time) and is chosen at run time when the CPU
// has AVX2 (no global -mavx2: only the functions that need it are compiled for it).
//
// Thread safety: pure functions over the caller's buffers; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daqfs {

enum class SimdLevel : uint8_t {
  kScalar,  // portable 64-bit code
  kAvx2,    // x86-64 AVX2; only valid when SimdSupported(kAvx2)
};

// True when this CPU can run `level` (kScalar always).
bool SimdSupported(SimdLevel level);

// The fastest level this CPU runs (decided once per process; the answer never changes).
SimdLevel BestSimdLevel();

// "scalar" / "avx2", for logs and benchmarks.
const char* SimdLevelName(SimdLevel level);

// Unshuffles one block: `in` holds n_elems * elem_size bit-shuffled bytes, `out` receives as
// many bytes of elements in their original order. n_elems must be a multiple of 8 and elem_size
// at least 1 (the callers check: a broken precondition aborts); `in` and `out` must not overlap.
// `level` must satisfy SimdSupported (else the scalar path runs). Both levels give identical
// bytes.
void BitUnshuffle(const uint8_t* in, uint8_t* out, size_t n_elems, size_t elem_size,
                  SimdLevel level);

}  // namespace daqfs
