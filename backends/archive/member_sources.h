// ByteSources for archive members.
//
// FileSliceSource: bytes [offset, offset + size) of a backing file, read with pread (a plain tar
//   member, or a member of a decompressed .tar.zst spilled to the cache folder).
// ZstdSliceSource: the decompressed content of zstd frames stored in a backing file, given their
//   frame index. Blocks are frames; a frame larger than kMaxBlock (or of unknown size) is
//   exposed as 1 MiB sub-blocks that one streaming decode fills together (GroupOf/ReadGroup).
//   Used for `X.zst` members (frames inside the member's bytes) and, with a window, for the
//   members of a multi-frame .tar.zst (a member is a window of the archive's decompressed
//   stream; its blocks are the overlaps of that window with the frames).
//
// Errors: a short backing file or a frame that does not decode gives Code::kCorrupt naming the
// archive, the member and the compressed offset; the caller logs it (rate limited).
// Thread safety: all methods are thread-safe (pread; thread-local zstd contexts).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/common/zstd_frames.h"
#include "fs/byte_source.h"
#include "fs/unique_fd.h"

namespace daqfs {

class FileSliceSource final : public ByteSource {
 public:
  FileSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t offset, uint64_t size,
                  std::string identity, bool decoded = false)
      : fd_(std::move(fd)),
        what_(std::move(what)),
        offset_(offset),
        size_(size),
        identity_(std::move(identity)),
        decoded_(decoded) {}
  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return decoded_; }
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;

 private:
  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  uint64_t offset_, size_;
  std::string identity_;
  bool decoded_;
};

class ZstdSliceSource final : public ByteSource {
 public:
  static constexpr uint64_t kMaxBlock = 8 << 20;  // larger frames become 1 MiB sub-blocks
  static constexpr uint64_t kSubBlock = 1 << 20;

  // `frames` have compressed offsets relative to `base` in the backing file and consecutive,
  // known decompressed offsets starting at 0. The source shows decompressed bytes
  // [window_offset, window_offset + window_size) (the whole stream for a zstd member).
  ZstdSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t base,
                  std::vector<ZstdFrame> frames, uint64_t window_offset, uint64_t window_size,
                  std::string identity);

  uint64_t Size() const override { return window_size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return blocks_.size(); }
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Group GroupOf(uint64_t index) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t index, const BlockEmit& emit) override;

  size_t frame_count() const { return frames_.size(); }

 private:
  struct Block {
    uint64_t offset;  // in the window
    uint64_t length;
    uint32_t frame;        // index into frames_
    uint64_t in_frame;     // offset of the block's first byte inside the frame's output
    uint64_t group_first;  // first block of the frame (== own index unless sub-blocks)
    uint64_t group_count;
  };
  // Decodes frame `f` whole into `out` (exactly its decompressed size).
  Status DecodeFrame(uint32_t f, std::span<uint8_t> out) const;
  // Streams frame `f`, calling emit(pos, bytes) for its output in kSubBlock pieces.
  Status StreamFrame(uint32_t f,
                     const std::function<bool(uint64_t, std::span<const uint8_t>)>& emit) const;

  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  uint64_t base_;
  std::vector<ZstdFrame> frames_;
  uint64_t window_offset_, window_size_;
  std::string identity_;
  std::vector<Block> blocks_;
};

}  // namespace daqfs
