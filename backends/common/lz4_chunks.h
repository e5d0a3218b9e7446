// Decoders for the bitshuffle and LZ4 HDF5 chunk formats detector files use, byte-identical to
// libhdf5 with Debian's plugins (bitshuffle 0.3.5, hdf5-filter-plugin):
//
//   filter 32008, bitshuffle + LZ4 (cd_values (v, v, elem_size, block, 2), written by the
//     `bitshuffle` plugin and by DECTRIS detectors): a 12-byte header (8-byte big-endian
//     decoded size, 4-byte big-endian block size in bytes; 0 means bitshuffle's default of
//     8192 bytes' worth of elements), then per block a 4-byte big-endian compressed length and
//     an LZ4 block of bit-shuffled elements (bit_unshuffle.h). Blocks hold block_size /
//     elem_size elements (a multiple of 8); a partial last block holds floor(rest / 8) * 8;
//     the last decoded_size / elem_size % 8 elements follow raw (neither shuffled nor
//     compressed).
//   filter 32008 with zstd (cd_values[4] = 3, bitshuffle 0.4+; Debian's 0.3.5 cannot write it):
//     the same, each block a zstd frame. Without compression (cd_values[4] = 0): no header, the
//     blocks (cd_values[3] elements, 0: the default) bit-shuffled as they are, the raw tail the
//     same.
//   filter 32004, HDF5 LZ4 (no cd_values needed): the same 12-byte header, then per block a
//     4-byte big-endian stored length and the block; a block holds min(block size, what is
//     left) bytes, and a block whose stored length equals that size is stored raw.
//
// Bytes after the last block are ignored, as the plugins ignore them.
//
// Speed: each LZ4 block (8 KiB by default) is decoded into a small per-thread scratch that
// stays in L1 and unshuffled from there into the caller's buffer (AVX2 where the CPU has it);
// there is no allocation per chunk once a thread has decoded its first block. HDF5-LZ4 blocks
// decode straight into the caller's buffer.
//
// Errors: every malformed input gives Code::kCorrupt with the reason (truncated header, a block
// length past the end, an LZ4 error at block k, a size mismatch); the caller adds the file and
// offset. No input makes a decoder read or write outside `chunk` and `out`.
//
// Thread safety: all functions are safe to call concurrently (scratch is thread_local).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "backends/common/bit_unshuffle.h"
#include "fs/status.h"

namespace daqfs {

// The HDF5 filter ids these decoders implement.
inline constexpr int kHdf5FilterBitshuffle = 32008;
inline constexpr int kHdf5FilterLz4 = 32004;

// The 12-byte header both formats start with.
struct Lz4ChunkHeader {
  uint64_t decoded_size = 0;  // bytes the chunk decodes to, as the chunk claims
  uint32_t block_size = 0;    // bytes per block as stored (0: the format's default / whole)
};
inline constexpr size_t kLz4ChunkHeaderBytes = 12;

// Reads the header of a 32008 or 32004 chunk without decoding: what the chunk claims, for a
// caller that does not know the decoded size. kCorrupt when fewer than 12 bytes.
Result<Lz4ChunkHeader> PeekLz4ChunkHeader(std::span<const uint8_t> chunk);

// Decodes one filter-32008 chunk with LZ4 compression. `elem_size` is cd_values[2] (the
// dataset's element size in bytes); `out` must be exactly the decoded chunk size (the chunk's
// elements times elem_size). kCorrupt when the chunk is malformed or its header disagrees with
// out.size() or elem_size; `out` then holds unspecified bytes. Unshuffles with BestSimdLevel().
Status DecodeBitshuffleLz4Chunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                                std::span<uint8_t> out);
// The same with the unshuffle path chosen by the caller (tests and benchmarks compare them; a
// level the CPU lacks runs the scalar path).
Status DecodeBitshuffleLz4Chunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                                std::span<uint8_t> out, SimdLevel level);

// How a filter-32008 chunk's blocks are stored: cd_values[4] (0: not compressed, no header;
// 2: LZ4; 3: zstd, bitshuffle 0.4 and later, same framing as LZ4 with a zstd frame per block).
enum class BitshuffleCompression : uint8_t { kNone = 0, kLz4 = 2, kZstd = 3 };

// Decodes one filter-32008 chunk of any compression into `out` (exactly the decoded size).
// `plain_block_elems` is cd_values[3] (0: the default), used only for kNone: the compressed
// formats carry their block size in the header. kCorrupt as above.
Status DecodeBitshuffleChunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                             BitshuffleCompression compression, uint32_t plain_block_elems,
                             std::span<uint8_t> out, SimdLevel level = BestSimdLevel());

// Decodes one filter-32004 chunk into `out`, which must be exactly its decoded size. LZ4 works
// on bytes: `elem_size` is not used (the signature matches DecodeBitshuffleLz4Chunk's so a
// caller can hold either). kCorrupt as above.
Status DecodeHdf5Lz4Chunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                          std::span<uint8_t> out);

}  // namespace daqfs
