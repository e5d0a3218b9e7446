// The 32008 (bitshuffle, with LZ4, zstd or no compression) and 32004 (HDF5 LZ4) chunk decoders
// (see lz4_chunks.h).
//
// Every length read from the chunk is checked against the bytes left before it is used, every
// LZ4 call is the bounds-checked LZ4_decompress_safe with the exact output size (the plugins use
// LZ4_decompress_fast, which trusts its input), and the decoded size must match the caller's
// buffer before anything is written, so hostile chunks cost at most one pass over their bytes.
#include "backends/common/lz4_chunks.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

namespace daqfs {
namespace {

// bitshuffle's constants (bitshuffle_internals.h, stable across versions: they define the
// format): the default block holds 8192 bytes' worth of elements, rounded down to a multiple of
// 8 elements and at least 128 elements.
constexpr uint64_t kBshufTargetBlockBytes = 8192;
constexpr uint64_t kBshufBlockedMult = 8;
constexpr uint64_t kBshufMinDefaultBlock = 128;

// Per-thread scratch for decoded (still shuffled) blocks; kept between calls up to this size,
// larger blocks (never written by the plugins' defaults) get a buffer of their own per call.
constexpr size_t kKeptScratchBytes = size_t{1} << 20;

uint64_t ReadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

uint32_t ReadBe32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

std::string Str(uint64_t v) { return std::to_string(v); }

// A buffer of at least `bytes`: the thread's kept scratch, or (for a huge block) `own`.
uint8_t* Scratch(size_t bytes, std::unique_ptr<uint8_t[]>& own) {
  thread_local std::unique_ptr<uint8_t[]> kept;
  thread_local size_t kept_size = 0;
  if (bytes > kKeptScratchBytes) {
    own.reset(new uint8_t[bytes]);
    return own.get();
  }
  if (kept_size < bytes) {
    // Grow to the next power of two (at least 8 KiB) so a thread settles after one growth.
    size_t size = std::max<size_t>(kept_size, 8192);
    while (size < bytes) size *= 2;
    kept.reset(new uint8_t[size]);
    kept_size = size;
  }
  return kept.get();
}

// Checks the header against the caller's buffer; returns the claimed block size.
Result<uint32_t> CheckHeader(std::span<const uint8_t> chunk, std::span<uint8_t> out,
                             const char* format) {
  Result<Lz4ChunkHeader> header = PeekLz4ChunkHeader(chunk);
  if (!header.ok())
    return Status(Code::kCorrupt, std::string(format) + " chunk: " + header.status().message());
  if (header->decoded_size != out.size()) {
    return Corrupt(std::string(format) + " chunk: header claims " + Str(header->decoded_size) +
                   " decoded bytes, the chunk holds " + Str(out.size()));
  }
  return header->block_size;
}

// Reads the stored length of block `k` (of `count`) at `*pos` and checks that the block's bytes
// lie inside the chunk; advances *pos past the length field.
Result<uint32_t> BlockLength(std::span<const uint8_t> chunk, size_t* pos, uint64_t k,
                             uint64_t count, const char* format) {
  if (chunk.size() - *pos < 4) {
    return Corrupt(std::string(format) + " chunk truncated: block " + Str(k) + " of " + Str(count) +
                   " has no length field (chunk ends at byte " + Str(chunk.size()) + ")");
  }
  const uint32_t length = ReadBe32(chunk.data() + *pos);
  *pos += 4;
  if (length > chunk.size() - *pos) {
    return Corrupt(std::string(format) + " chunk: block " + Str(k) + " of " + Str(count) +
                   " claims " + Str(length) + " stored bytes, only " + Str(chunk.size() - *pos) +
                   " are left");
  }
  if (length > INT_MAX) {
    return Corrupt(std::string(format) + " chunk: block " + Str(k) + " is too large for LZ4 (" +
                   Str(length) + " bytes)");
  }
  return length;
}

constexpr const char* kBshuf = "bitshuffle/LZ4";
constexpr const char* kBshufZstd = "bitshuffle/zstd";
constexpr const char* kBshufPlain = "bitshuffle";

// Decompresses block `k` (of `count`) of a compressed bitshuffle chunk into exactly `out`.
Status DecompressBlock(BitshuffleCompression compression, std::span<const uint8_t> in,
                       std::span<uint8_t> out, uint64_t k, uint64_t count, const char* format) {
  std::string error;
  if (compression == BitshuffleCompression::kLz4) {
    const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()),
                                        reinterpret_cast<char*>(out.data()),
                                        static_cast<int>(in.size()), static_cast<int>(out.size()));
    if (got == static_cast<int>(out.size())) return Status::Ok();
    error = "LZ4 error in block " + Str(k) + " of " + Str(count) + " (" +
            (got < 0 ? "malformed, code " + std::to_string(got)
                     : "decodes to " + Str(got) + " bytes, expected " + Str(out.size())) +
            ")";
  } else {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                         &ZSTD_freeDCtx);
    const size_t got =
        ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), in.data(), in.size());
    if (!ZSTD_isError(got) && got == out.size()) return Status::Ok();
    error = "zstd error in block " + Str(k) + " of " + Str(count) + " (" +
            (ZSTD_isError(got) ? std::string(ZSTD_getErrorName(got))
                               : "decodes to " + Str(got) + " bytes, expected " + Str(out.size())) +
            ")";
  }
  return Corrupt(std::string(format) + " chunk: " + error);
}
constexpr const char* kLz4 = "HDF5 LZ4";

}  // namespace

Result<Lz4ChunkHeader> PeekLz4ChunkHeader(std::span<const uint8_t> chunk) {
  if (chunk.size() < kLz4ChunkHeaderBytes) {
    return Corrupt("truncated header: " + Str(chunk.size()) + " of " + Str(kLz4ChunkHeaderBytes) +
                   " bytes");
  }
  Lz4ChunkHeader h;
  h.decoded_size = ReadBe64(chunk.data());
  h.block_size = ReadBe32(chunk.data() + 8);
  return h;
}

Status DecodeBitshuffleLz4Chunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                                std::span<uint8_t> out) {
  return DecodeBitshuffleLz4Chunk(chunk, elem_size, out, BestSimdLevel());
}

Status DecodeBitshuffleLz4Chunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                                std::span<uint8_t> out, SimdLevel level) {
  return DecodeBitshuffleChunk(chunk, elem_size, BitshuffleCompression::kLz4, 0, out, level);
}

Status DecodeBitshuffleChunk(std::span<const uint8_t> chunk, uint32_t elem_size,
                             BitshuffleCompression compression, uint32_t plain_block_elems,
                             std::span<uint8_t> out, SimdLevel level) {
  const char* format = compression == BitshuffleCompression::kLz4    ? kBshuf
                       : compression == BitshuffleCompression::kZstd ? kBshufZstd
                                                                     : kBshufPlain;
  if (elem_size == 0) return Corrupt(std::string(format) + " chunk: element size 0");
  const uint64_t total = out.size();
  if (total % elem_size != 0) {
    return Corrupt(std::string(format) + " chunk: " + Str(total) +
                   " bytes are not a whole number of " + Str(elem_size) + "-byte elements");
  }
  const uint64_t n_elems = total / elem_size;
  const bool compressed = compression != BitshuffleCompression::kNone;
  // Compressed: the header's block size in bytes, in whole elements. Plain: the caller's
  // (cd_values[3], in elements). 0 means the default.
  uint64_t block_elems = 0;
  size_t pos = 0;
  if (compressed) {
    Result<uint32_t> header_block = CheckHeader(chunk, out, format);
    if (!header_block.ok()) return header_block.status();
    block_elems = *header_block / elem_size;
    pos = kLz4ChunkHeaderBytes;
  } else {
    block_elems = plain_block_elems;
  }
  if (block_elems == 0) {
    block_elems =
        std::max(kBshufTargetBlockBytes / elem_size / kBshufBlockedMult * kBshufBlockedMult,
                 kBshufMinDefaultBlock);
  }
  if (block_elems % kBshufBlockedMult != 0) {
    return Corrupt(std::string(format) + " chunk: block size of " + Str(block_elems) +
                   " elements of " + Str(elem_size) + " bytes is not a multiple of 8 elements");
  }
  const uint64_t full_blocks = n_elems / block_elems;
  const uint64_t last_elems = n_elems % block_elems / kBshufBlockedMult * kBshufBlockedMult;
  const uint64_t blocks = full_blocks + (last_elems != 0 ? 1 : 0);
  const uint64_t raw_bytes = n_elems % kBshufBlockedMult * elem_size;

  std::unique_ptr<uint8_t[]> own;
  uint8_t* scratch = nullptr;
  if (blocks != 0 && compressed) {
    const uint64_t scratch_bytes = (full_blocks != 0 ? block_elems : last_elems) * elem_size;
    if (scratch_bytes > INT_MAX) {
      return Corrupt(std::string(format) + " chunk: block of " + Str(scratch_bytes) +
                     " bytes is too large to decompress");
    }
    scratch = Scratch(scratch_bytes, own);
  }
  uint8_t* dst = out.data();
  for (uint64_t k = 0; k < blocks; ++k) {
    const uint64_t elems = k < full_blocks ? block_elems : last_elems;
    const uint64_t bytes = elems * elem_size;
    const uint8_t* shuffled = nullptr;
    if (!compressed) {
      if (chunk.size() - pos < bytes) {
        return Corrupt(std::string(format) + " chunk truncated: block " + Str(k) + " of " +
                       Str(blocks) + " needs " + Str(bytes) + " bytes, " + Str(chunk.size() - pos) +
                       " are left");
      }
      shuffled = chunk.data() + pos;
      pos += bytes;
    } else {
      Result<uint32_t> length = BlockLength(chunk, &pos, k, blocks, format);
      if (!length.ok()) return length.status();
      Status s = DecompressBlock(compression, chunk.subspan(pos, *length),
                                 std::span<uint8_t>(scratch, bytes), k, blocks, format);
      if (!s.ok()) return s;
      pos += *length;
      shuffled = scratch;
    }
    BitUnshuffle(shuffled, dst, elems, elem_size, level);
    dst += bytes;
  }
  if (chunk.size() - pos < raw_bytes) {
    return Corrupt(std::string(format) + " chunk truncated: the last " + Str(raw_bytes) +
                   " raw bytes are missing (" + Str(chunk.size() - pos) + " left)");
  }
  if (raw_bytes != 0) std::memcpy(dst, chunk.data() + pos, raw_bytes);
  return Status::Ok();
}

Status DecodeHdf5Lz4Chunk(std::span<const uint8_t> chunk, uint32_t /*elem_size*/,
                          std::span<uint8_t> out) {
  Result<uint32_t> header_block = CheckHeader(chunk, out, kLz4);
  if (!header_block.ok()) return header_block.status();
  const uint64_t total = out.size();
  // As the plugin: a block larger than the chunk is the whole chunk.
  const uint64_t block = std::min<uint64_t>(*header_block, total);
  if (block == 0 && total != 0) return Corrupt(std::string(kLz4) + " chunk: block size 0");
  const uint64_t blocks = total == 0 ? 0 : (total + block - 1) / block;
  size_t pos = kLz4ChunkHeaderBytes;
  uint64_t done = 0;
  for (uint64_t k = 0; k < blocks; ++k) {
    const uint64_t bytes = std::min(block, total - done);
    Result<uint32_t> length = BlockLength(chunk, &pos, k, blocks, kLz4);
    if (!length.ok()) return length.status();
    const uint8_t* src = chunk.data() + pos;
    if (*length == bytes) {
      std::memcpy(out.data() + done, src, bytes);  // stored raw
    } else {
      if (bytes > INT_MAX) {
        return Corrupt(std::string(kLz4) + " chunk: block of " + Str(bytes) +
                       " bytes is too large for LZ4");
      }
      const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(src),
                                          reinterpret_cast<char*>(out.data() + done),
                                          static_cast<int>(*length), static_cast<int>(bytes));
      if (got != static_cast<int>(bytes)) {
        return Corrupt(std::string(kLz4) + " chunk: LZ4 error in block " + Str(k) + " of " +
                       Str(blocks) + " (" +
                       (got < 0 ? "malformed, code " + std::to_string(got)
                                : "decodes to " + Str(got) + " bytes, expected " + Str(bytes)) +
                       ")");
      }
    }
    pos += *length;
    done += bytes;
  }
  return Status::Ok();
}

}  // namespace daqfs
