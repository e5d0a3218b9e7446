// Test-only encoders of the HDF5 chunk formats, built from the formats' definitions (bit-by-bit
// shuffle, byte shuffle, liblz4, libzstd, libdeflate, HDF5's Fletcher-32 appended little
// endian): the decoders' tests build their inputs with these. The bitshuffle and HDF5-LZ4
// encoders write what the plugins write; libhdf5 itself is the reference in the *_hdf5_test
// files.
#pragma once

#include <libdeflate.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "backends/common/chunk_pipeline.h"
#include "backends/common/lz4_chunks.h"

namespace daqfs::testing {

using Bytes = std::vector<uint8_t>;

inline void PutBe64(Bytes* b, uint64_t v) {
  for (int i = 7; i >= 0; --i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void PutBe32(Bytes* b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void SetBe32(Bytes* b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<uint8_t>(v >> (8 * (3 - i)));
}

// bitshuffle's transpose of n (a multiple of 8) elements, bit by bit.
inline Bytes ReferenceShuffle(const uint8_t* elems, size_t n, size_t es) {
  Bytes out(n * es, 0);
  const size_t nrow = n / 8;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < es; ++j) {
      for (size_t k = 0; k < 8; ++k) {
        if (elems[i * es + j] >> k & 1) out[(j * 8 + k) * nrow + i / 8] |= uint8_t(1) << (i % 8);
      }
    }
  }
  return out;
}

inline Bytes Lz4Compress(const uint8_t* data, size_t size) {
  Bytes out(LZ4_compressBound(static_cast<int>(size)));
  const int n =
      LZ4_compress_default(reinterpret_cast<const char*>(data), reinterpret_cast<char*>(out.data()),
                           static_cast<int>(size), static_cast<int>(out.size()));
  out.resize(n > 0 ? n : 0);
  return out;
}

inline Bytes ZstdCompress(const uint8_t* data, size_t size, int level = 3) {
  Bytes out(ZSTD_compressBound(size));
  const size_t n = ZSTD_compress(out.data(), out.size(), data, size, level);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// A zlib stream, as HDF5's deflate filter writes it.
inline Bytes ZlibCompress(const Bytes& data, int level = 6) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(level);
  Bytes out(libdeflate_zlib_compress_bound(c, data.size()));
  out.resize(libdeflate_zlib_compress(c, data.data(), data.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

// HDF5's byte shuffle of es-byte elements (bytes past the last whole element stay at the end).
inline Bytes ByteShuffle(const Bytes& data, size_t es) {
  const size_t n = data.size() / es;
  if (es <= 1 || n <= 1) return data;
  Bytes out(data.size());
  for (size_t j = 0; j < n; ++j) {
    for (size_t b = 0; b < es; ++b) out[b * n + j] = data[j * es + b];
  }
  std::copy(data.begin() + n * es, data.end(), out.begin() + n * es);
  return out;
}

// The data with HDF5's Fletcher-32 appended (little endian).
inline Bytes AppendFletcher32(Bytes data) {
  const uint32_t sum = Hdf5Fletcher32(data);
  for (int i = 0; i < 4; ++i) data.push_back(static_cast<uint8_t>(sum >> (8 * i)));
  return data;
}

// A filter-32008 chunk as bitshuffle writes it. Compressed: a header whose block size is
// header_block bytes (0: bitshuffle's default), each block's length and LZ4 or zstd frame.
// kNone: the blocks of `header_block` bytes (0: the default) shuffled, no header. Either way
// the last n % 8 elements follow raw.
inline Bytes EncodeBitshuffle(const Bytes& data, size_t es, uint32_t header_block,
                              BitshuffleCompression compression) {
  const size_t n = data.size() / es;
  size_t block = header_block / es;
  if (block == 0) block = std::max<size_t>(8192 / es / 8 * 8, 128);
  Bytes out;
  if (compression != BitshuffleCompression::kNone) {
    PutBe64(&out, data.size());
    PutBe32(&out, header_block);
  }
  size_t i = 0;
  while (i + 8 <= n) {
    const size_t elems = std::min(block, (n - i) / 8 * 8);
    const Bytes shuffled = ReferenceShuffle(data.data() + i * es, elems, es);
    if (compression == BitshuffleCompression::kNone) {
      out.insert(out.end(), shuffled.begin(), shuffled.end());
    } else {
      const Bytes c = compression == BitshuffleCompression::kLz4
                          ? Lz4Compress(shuffled.data(), shuffled.size())
                          : ZstdCompress(shuffled.data(), shuffled.size());
      PutBe32(&out, static_cast<uint32_t>(c.size()));
      out.insert(out.end(), c.begin(), c.end());
    }
    i += elems;
  }
  out.insert(out.end(), data.begin() + i * es, data.end());
  return out;
}

inline Bytes EncodeBitshuffleLz4(const Bytes& data, size_t es, uint32_t header_block) {
  return EncodeBitshuffle(data, es, header_block, BitshuffleCompression::kLz4);
}

// A filter-32004 chunk as the HDF5 LZ4 plugin writes it: a block that does not shrink is
// stored raw.
inline Bytes EncodeHdf5Lz4(const Bytes& data, uint32_t block) {
  Bytes out;
  PutBe64(&out, data.size());
  PutBe32(&out, block);
  for (size_t i = 0; i < data.size(); i += block) {
    const size_t bytes = std::min<size_t>(block, data.size() - i);
    const Bytes lz = Lz4Compress(data.data() + i, bytes);
    if (lz.size() >= bytes) {
      PutBe32(&out, static_cast<uint32_t>(bytes));
      out.insert(out.end(), data.begin() + i, data.begin() + i + bytes);
    } else {
      PutBe32(&out, static_cast<uint32_t>(lz.size()));
      out.insert(out.end(), lz.begin(), lz.end());
    }
  }
  return out;
}

// Detector-like counts: mostly small numbers, a few hot pixels.
inline Bytes Counts(size_t n, size_t es, uint32_t seed) {
  std::mt19937 rng(seed);
  std::poisson_distribution<int> poisson(1.5);
  Bytes b(n * es, 0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = rng() % 997 == 0 ? rng() : static_cast<uint64_t>(poisson(rng));
    for (size_t j = 0; j < es; ++j) b[i * es + j] = static_cast<uint8_t>(v >> (8 * (j % 8)));
  }
  return b;
}

// Every unshuffle path this CPU runs (the tests compare them).
inline std::vector<SimdLevel> SimdLevels() {
  std::vector<SimdLevel> levels = {SimdLevel::kScalar};
  if (SimdSupported(SimdLevel::kAvx2)) levels.push_back(SimdLevel::kAvx2);
  return levels;
}

inline Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

}  // namespace daqfs::testing
