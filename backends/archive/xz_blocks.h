// Random access into xz files of many blocks: the index at the end of every xz stream lists
// each block's compressed offset and sizes (liblzma's file info decoder reads them, across
// concatenated streams and their padding, without decoding data), and one block decodes on its
// own. `xz -T` (multithreaded, the default in xz 5.4 with -T0), pixz and pxz write blocks of a
// few MiB; single-threaded `xz` writes one block, which gives nothing to seek to (such archives
// are spilled instead, stream_codecs.h).
//
// Errors: an index that does not parse is kCorrupt (the caller spills the archive then); a
// block that does not decode, or whose check (CRC-32/CRC-64/SHA-256 as the stream says) fails,
// is kCorrupt naming the file, the block's offset and liblzma's reason: EIO for the reads that
// need that block only.
//
// Thread safety: plain functions, reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backends/common/zstd_frames.h"  // CompressedReadFn
#include "fs/status.h"

namespace daqfs {

struct XzBlock {
  uint64_t compressed_offset = 0;    // of the block header in the file
  uint64_t total_size = 0;           // header + compressed data + padding + check
  uint64_t unpadded_size = 0;        // as the index records it (the block header needs it)
  uint64_t uncompressed_offset = 0;  // in the decompressed data of the whole file
  uint64_t uncompressed_size = 0;
  uint32_t check = 0;  // lzma_check of the block's stream
  bool operator==(const XzBlock&) const = default;
};

// Every block of every stream of the xz file of `size` bytes, in order, with consecutive
// uncompressed offsets from 0. kCorrupt when the file's indexes do not parse.
Result<std::vector<XzBlock>> ReadXzBlocks(const CompressedReadFn& read, uint64_t size,
                                          const std::string& name);

// Decodes block `b` whole into `out` (exactly b.uncompressed_size bytes), checking its check.
Status DecodeXzBlock(const CompressedReadFn& read, const XzBlock& b, std::span<uint8_t> out,
                     const std::string& name);

}  // namespace daqfs
