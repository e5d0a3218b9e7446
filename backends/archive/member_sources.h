// ByteSources for archive members.
//
// FileSliceSource (a plain tar member, or a member of a decompressed .tar.zst spilled to the
//   cache folder): backends/common/file_slice_source.h.
// ZstdSliceSource: the decompressed content of zstd frames stored in a backing file, given their
//   frame index. It is a units source (fs/byte_source.h): its blocks are the frames, named by
//   what they are (the identity given: archive identity + where the frames are), so every file
//   showing them shares one decode and one cached copy. A frame larger than kMaxBlock (or of
//   unknown size) is exposed as 1 MiB sub-blocks that one streaming decode fills together
//   (GroupOf/ReadGroup), or that a GroupCursor decodes in order for a reader without a cache.
//   Used for `X.zst` members (the member's frames) and for the whole stream of a multi-frame
//   .tar.zst, whose members are ComposedSources over it (backends/common/composed_source.h).
//   The frame index is shared, never copied: building one over 100,000 frames allocates only
//   when some frame is huge or empty (then a block table is built once).
// GzipSliceSource: the decompressed stream of a .tar.gz, given its inflate checkpoints
//   (gzip_index.h). A units source like ZstdSliceSource: block i is the output from checkpoint
//   i to checkpoint i + 1 (about the index's interval, 4 MiB by default), decoded from that
//   checkpoint alone, so members are ComposedSources over it and a read anywhere costs at most
//   one interval of inflation.
// XzSliceSource / Bz2SliceSource (BlockTableSource): the decompressed data of a .tar.xz of many
//   blocks (xz_blocks.h) or of a .tar.bz2 (bz2_blocks.h): block i is the archive's block i,
//   decoded on its own; members are ComposedSources over it.
//
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/archive/bz2_blocks.h"
#include "backends/archive/gzip_index.h"
#include "backends/archive/xz_blocks.h"
#include "backends/common/file_slice_source.h"
#include "backends/common/zstd_frames.h"
#include "fs/byte_source.h"
#include "fs/unique_fd.h"

namespace daqfs {

class ZstdSliceSource final : public ByteSource {
 public:
  static constexpr uint64_t kMaxBlock = 8 << 20;  // larger frames become 1 MiB sub-blocks
  static constexpr uint64_t kSubBlock = 1 << 20;

  // `frames` have compressed offsets relative to `base` in the backing file and consecutive,
  // known decompressed offsets starting at 0 (the frames of one stream, in order). `frames` is
  // shared (an aliasing pointer into an immutable index keeps the index alive).
  ZstdSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t base,
                  std::shared_ptr<const std::vector<ZstdFrame>> frames, std::string identity);

  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override;
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Group GroupOf(uint64_t index) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t index, const BlockEmit& emit) override;
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t index) override;

  size_t frame_count() const { return frames_->size(); }

 private:
  struct Block {
    uint64_t offset;  // in the stream
    uint64_t length;
    uint32_t frame;        // index into frames_
    uint64_t in_frame;     // offset of the block's first byte inside the frame's output
    uint64_t group_first;  // first block of the frame (== own index unless sub-blocks)
    uint64_t group_count;
  };
  // Block `index` (< BlockCount()): from the table, or frame `index` when there is none.
  Block BlockAt(uint64_t index) const;
  // Decodes frame `f` whole into `out` (exactly its decompressed size).
  Status DecodeFrame(uint32_t f, std::span<uint8_t> out) const;
  // Streams frame `f`, calling emit(pos, bytes) for its output in kSubBlock pieces.
  Status StreamFrame(uint32_t f,
                     const std::function<bool(uint64_t, std::span<const uint8_t>)>& emit) const;

  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  uint64_t base_;
  std::shared_ptr<const std::vector<ZstdFrame>> frames_;
  uint64_t size_ = 0;
  std::string identity_;
  // Empty when every frame is one block (non-empty, at most kMaxBlock): block i is frame i.
  std::vector<Block> blocks_;
};

class GzipSliceSource final : public ByteSource {
 public:
  // `points` (shared: an aliasing pointer into an immutable index) by output offset, the first
  // at 0; `size` the decompressed size.
  GzipSliceSource(std::shared_ptr<UniqueFd> fd, std::string what,
                  std::shared_ptr<const std::vector<GzipCheckpoint>> points, uint64_t size,
                  std::string identity);

  // Intervals longer than this (a deflate block of many MiB, which only a crafted or unusual
  // encoder writes) are served as kSubBlock pieces, each inflated from the interval's
  // checkpoint: memory stays bounded whatever the file says.
  static constexpr uint64_t kMaxBlock = 16 << 20;
  static constexpr uint64_t kSubBlock = 4 << 20;

  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override;
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  // A whole interval is checked against its CRC-32 (kCorrupt on a mismatch: the archive was
  // damaged after it was indexed); pieces of a long one are not.
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;

 private:
  struct Piece {
    uint64_t offset;
    uint64_t length;
    uint32_t point;
    bool whole;  // the whole interval of `point`
  };
  // Piece `index`: from the table, or interval `index` when there is none.
  Piece PieceAt(uint64_t index) const;

  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  std::shared_ptr<const std::vector<GzipCheckpoint>> points_;
  uint64_t size_;
  std::string identity_;
  std::vector<Piece> pieces_;  // empty when every interval is one block
};

// How the blocks of a compressed archive decode: one specialisation per block kind.
template <class Block>
struct BlockCodec;
template <>
struct BlockCodec<XzBlock> {
  static constexpr const char* kName = "xz";
  static Status Decode(const CompressedReadFn& read, const XzBlock& b, std::span<uint8_t> out,
                       const std::string& name) {
    return DecodeXzBlock(read, b, out, name);
  }
};
template <>
struct BlockCodec<Bz2Block> {
  static constexpr const char* kName = "bzip2";
  static Status Decode(const CompressedReadFn& read, const Bz2Block& b, std::span<uint8_t> out,
                       const std::string& name) {
    return DecodeBz2Block(read, b, out, name);
  }
};

template <class Block>
class BlockTableSource final : public ByteSource {
 public:
  // `blocks` (shared: an aliasing pointer into an immutable index) in order from offset 0, each
  // with uncompressed_offset and uncompressed_size.
  BlockTableSource(std::shared_ptr<UniqueFd> fd, std::string what,
                   std::shared_ptr<const std::vector<Block>> blocks, std::string identity);

  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return blocks_->size(); }
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;

 private:
  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  std::shared_ptr<const std::vector<Block>> blocks_;
  uint64_t size_ = 0;
  std::string identity_;
};

using XzSliceSource = BlockTableSource<XzBlock>;
using Bz2SliceSource = BlockTableSource<Bz2Block>;

}  // namespace daqfs
