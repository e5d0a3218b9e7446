// Random access into bzip2 files by block. A bzip2 stream ("BZh" + a level digit) is a run of
// blocks, each of at most level x 100 kB before its run-length step, each starting with the
// 48-bit magic 0x314159265359 and its CRC at an arbitrary *bit* position, and ends with the
// 48-bit marker 0x177245385090, the stream's combined CRC and padding to a byte. libbz2 only
// decodes whole streams, so one block is decoded on its own by handing libbz2 a stream made for
// it: the header of the block's stream, the block's bits shifted to follow it, and an
// end-of-stream marker whose combined CRC is the block's own (a one-block stream's combined CRC
// is its block's CRC), so libbz2 checks the block's CRC as usual. This is how seek-bzip2,
// lbzip2 and indexed_bzip2 find and decode blocks in parallel.
//
// Blocks are found by scanning the compressed bits for the two magics. The magics can also occur
// by chance inside a block's data (about once in 2^48 bit positions): a block that does not
// decode up to the next magic is retried up to the ones after it, so a chance magic only costs a
// retry. Concatenated streams (pbzip2 writes one per block) are followed; bytes after the last
// stream that are no stream end the data.
//
// Bz2StreamIndexer walks a file forward once, decoding every block once (the archive index reads
// the tar headers from its output as it goes) and records each block's bit range, CRC and
// decompressed offset and size: afterwards any block is decoded alone (DecodeBz2Block), so a
// .tar.bz2 member is read from the blocks its bytes lie in.
//
// Errors: a block that decodes to nothing valid (bad data, CRC mismatch) is kCorrupt naming the
// file, the block's bit offset and libbz2's reason. The indexer stops there: verified() is the
// output of the blocks before it, every one checked by its CRC.
//
// Thread safety: DecodeBz2Block is reentrant; a Bz2StreamIndexer is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/common/zstd_frames.h"  // CompressedReadFn
#include "fs/status.h"

namespace daqfs {

struct Bz2Block {
  uint64_t bit_offset = 0;  // first bit of the block's magic, from the file's start (MSB first)
  uint64_t bit_end = 0;     // first bit after the block: the next magic or end-of-stream marker
  uint32_t crc = 0;         // the block's CRC, as stored after its magic
  uint8_t level = 9;        // its stream's block size: 1..9 (x 100 kB)
  uint64_t uncompressed_offset = 0;  // in the decompressed data of the whole file
  uint64_t uncompressed_size = 0;
  bool operator==(const Bz2Block&) const = default;
};

// More than any block can decode to: 900 kB of run-length pairs expand about 51 times.
inline constexpr uint64_t kMaxBz2BlockOutput = uint64_t{64} << 20;
// More than any block's compressed bits take (900 kB of data, Huffman-coded, plus tables).
inline constexpr uint64_t kMaxBz2BlockBits = uint64_t{2} << 23;  // 2 MiB

// Decodes block `b` whole into `out` (exactly b.uncompressed_size bytes), checking its CRC.
Status DecodeBz2Block(const CompressedReadFn& read, const Bz2Block& b, std::span<uint8_t> out,
                      const std::string& name);

// Decodes the block whose bits are [bit_offset, bit_end) of a stream of `level` into `*out`
// (replaced), checking its CRC; `*crc` gets the stored CRC. For finding blocks (sizes unknown).
Status DecodeBz2Bits(const CompressedReadFn& read, uint64_t bit_offset, uint64_t bit_end,
                     uint8_t level, std::vector<uint8_t>* out, uint32_t* crc,
                     const std::string& name);

class Bz2StreamIndexer {
 public:
  // `size`: bytes of the file; `name` for messages.
  Bz2StreamIndexer(CompressedReadFn read, uint64_t size, std::string name);

  // Output bytes [offset, offset + out.size()): short at the end of the data, and before a
  // block that does not decode (the error comes with the next call). Reads go forward; one
  // that goes back to an earlier block decodes that block again.
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out);
  // Decodes the rest; then blocks() is complete.
  Status Drain();
  const std::vector<Bz2Block>& blocks() const { return blocks_; }
  std::vector<Bz2Block> Take() { return std::move(blocks_); }
  // Output bytes of the blocks decoded and checked so far.
  uint64_t verified() const { return out_total_; }
  // Why the data ended early ("" when it did not): bytes after the last stream, say.
  const std::string& trailing() const { return trailing_; }

 private:
  struct Marker {
    uint64_t bit = 0;
    bool block = false;  // a block magic; else an end-of-stream marker
  };
  Status Produce();  // decodes the next block (or reaches the end)
  // The next magic starting at bit `from` .. `limit`, or none.
  Result<std::optional<Marker>> NextMarker(uint64_t from, uint64_t limit);
  // At byte `offset`: a stream header? Sets level_ and the position after it.
  bool StreamHeaderAt(uint64_t offset);
  Status Corrupted(const std::string& why) const;

  CompressedReadFn read_;
  uint64_t size_;
  std::string name_;
  std::vector<Bz2Block> blocks_;
  uint64_t bit_ = 0;  // where the next block's magic (or the end-of-stream marker) is due
  uint8_t level_ = 0;
  bool ended_ = false;
  Status failed_;
  std::string trailing_;
  // The current block's output: [out_total_ - cur_.size(), out_total_).
  std::vector<uint8_t> cur_;
  uint64_t out_total_ = 0;
  std::vector<uint8_t> back_;  // an earlier block decoded again for a read that went back
  size_t back_index_ = SIZE_MAX;
  uint64_t next_progress_ = uint64_t{1} << 30;
  // Scan buffer: bytes [buf_at_, buf_at_ + buf_.size()) of the file.
  std::vector<uint8_t> buf_;
  uint64_t buf_at_ = 0;
};

}  // namespace daqfs
