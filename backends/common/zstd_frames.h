// zstd frame indexes and the zstd seekable format, for random access into compressed data.
//
// A zstd stream is a sequence of frames (and skippable frames). Random access decodes whole
// frames, so an index of frames (compressed offset and size, decompressed offset and size) is
// what a reader needs. It comes from:
//   1. the seekable-format seek table (zstd contrib/seekable_format): a skippable frame at the
//      end of the stream (magic 0x184D2A5E) whose last 9 bytes are the footer
//      {u32 number_of_frames, u8 descriptor, u32 seekable magic 0x8F92EAB1}; the descriptor's
//      bit 7 says each entry carries a u32 checksum (entries of 12 bytes, else 8), bits 2..6
//      are reserved and must be zero; entries are {u32 compressed size, u32 decompressed size
//      [, u32 checksum]} in frame order, little-endian;
//   2. otherwise a walk over the frames: frame headers and block headers only (never the
//      compressed payload), stepping over skippable frames (pzstd puts a 12-byte one before
//      each frame); a frame whose header records no content size is reported with
//      content_size_known = false (the caller decodes it once to learn the size).
// A malformed seek table (wrong magic, reserved bits set, a count that overflows or does not
// fit, sizes that do not add up to the stream) is ignored and the frames are walked instead.
//
// Thread safety: functions are pure over the ReadFn; ZstdWriter is single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backends/common/zstd_owners.h"
#include "fs/status.h"

namespace daqfs {

// Reads up to out.size() bytes at `offset` of the compressed stream; short only at its end.
using CompressedReadFn = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

struct ZstdFrame {
  uint64_t compressed_offset = 0;    // in the stream
  uint64_t compressed_size = 0;      // the whole frame, header and checksum included
  uint64_t decompressed_offset = 0;  // in the decompressed data (valid only if all sizes known)
  uint64_t decompressed_size = 0;    // valid when content_size_known
  bool content_size_known = true;
  bool has_checksum = false;         // the frame carries a content checksum (XXH64, verified by
                                     // libzstd on decode)
  uint32_t seek_table_checksum = 0;  // from a seek table with checksums (low 32 bits of XXH64
                                     // of the decompressed frame), else 0
  bool seek_table_has_checksum = false;
};

struct ZstdIndex {
  std::vector<ZstdFrame> frames;  // data frames only, in order
  bool from_seek_table = false;
  bool all_sizes_known = true;     // false: some frame lacks a content size
  uint64_t decompressed_size = 0;  // sum (valid when all_sizes_known)
  std::string note;                // why a seek table was rejected, if one was ("" otherwise)
};

// Builds the frame index of a stream of `size` bytes. Errors (Code::kCorrupt) name `name` and
// the offset: not a zstd stream, a truncated frame, a bad block header.
Result<ZstdIndex> IndexZstd(const CompressedReadFn& read, uint64_t size, const std::string& name);

// Parses only the seek table at the end of the stream. Returns kNotFound when there is none,
// kCorrupt (message says why) when it is malformed.
Result<ZstdIndex> ReadSeekTable(const CompressedReadFn& read, uint64_t size);

// Decodes one whole frame (`compressed` holds exactly its bytes) into `out`, which must be
// exactly its decompressed size. Verifies the frame's own checksum (libzstd) and, when
// `expected_xxh64_low32` is set, the seek table's checksum. Uses a thread-local context.
Status DecodeZstdFrame(std::span<const uint8_t> compressed, std::span<uint8_t> out,
                       const uint32_t* expected_xxh64_low32, const std::string& what);

// Decodes a frame of unknown (or huge) size as a stream, handing out decompressed bytes in
// pieces of at most `piece` bytes (the last may be shorter) through `emit`, which returns false
// to stop early. Reads compressed bytes through `read` starting at `offset`, `size` bytes.
Status StreamZstdFrame(const CompressedReadFn& read, uint64_t offset, uint64_t size, size_t piece,
                       const std::function<bool(std::span<const uint8_t>)>& emit,
                       const std::string& what);

// Writes data in the seekable format: independent frames of at most `frame_size` decompressed
// bytes at compression `level`, each with a content checksum, then a seek table with
// checksums. The output extracts with stock `zstd -d`.
class ZstdSeekableWriter {
 public:
  using WriteFn = std::function<Status(std::span<const uint8_t>)>;
  ZstdSeekableWriter(WriteFn write, size_t frame_size, int level);
  ~ZstdSeekableWriter();
  ZstdSeekableWriter(const ZstdSeekableWriter&) = delete;
  ZstdSeekableWriter& operator=(const ZstdSeekableWriter&) = delete;

  Status Write(std::span<const uint8_t> data);
  // Flushes the last frame and writes the seek table. Call once.
  Status Finish();
  uint64_t compressed_bytes() const { return compressed_bytes_; }

 private:
  Status FlushFrame();
  WriteFn write_;
  size_t frame_size_;
  int level_;
  std::vector<uint8_t> pending_;
  std::vector<uint8_t> out_;
  struct Entry {
    uint32_t compressed, decompressed, checksum;
  };
  std::vector<Entry> entries_;
  uint64_t compressed_bytes_ = 0;
  ZstdCCtxPtr cctx_;  // null after Finish, or when libzstd could not create it
};

// Compresses a whole buffer to the seekable format in memory (parallel-friendly: a caller may
// compress many members at once on different threads).
std::vector<uint8_t> CompressSeekable(std::span<const uint8_t> data, size_t frame_size, int level);

}  // namespace daqfs
