// StreamFrameUnits: one received image's pixels as a decode unit, so a stream frame is an image
// stack part (backends/common/image_stack.h) like an HDF5 chunk: its TIFF and .npy views are
// composed of generated headers and this unit, decoded once (from the payload as received, kept
// by the frame) and cached under `identity` whichever view reads it.
//
// Layout: a frame of at most kMaxBlock bytes is one block; a larger one (a 16M detector's
// frame) is 1 MiB sub-blocks of one group that one decode fills (ByteSource::GroupOf).
//
// A raw little-endian payload still in RAM is resident (ResidentBlock): readers get the
// received bytes themselves, nothing is decoded, copied or cached for them.
//
// Errors: a payload that does not decode to its image gives kCorrupt naming `identity` and the
// reason (DecodeStreamImage), for the reads of that frame only.
//
// Thread safety: immutable; every method may be called concurrently.
#pragma once

#include <memory>
#include <string>

#include "backends/stream/stream_ledger.h"
#include "fs/byte_source.h"

namespace daqfs {

class StreamFrameUnits final : public ByteSource {
 public:
  static constexpr uint64_t kMaxBlock = 8 << 20;
  static constexpr uint64_t kSubBlock = 1 << 20;

  // Image `image` of `frame`, named `identity` (unique to this frame and image: e.g. the
  // source, the series' unique id or number, the frame number and the channel).
  StreamFrameUnits(std::shared_ptr<const StreamFrame> frame, size_t image, std::string identity);

  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override;
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;
  Group GroupOf(uint64_t index) const override;
  Status ReadGroup(uint64_t index, const BlockEmit& emit) override;
  std::optional<Resident> ResidentBlock(uint64_t index) const override;

 private:
  bool Split() const { return size_ > kMaxBlock; }
  Status Decode(std::span<uint8_t> out) const;

  std::shared_ptr<const StreamFrame> frame_;
  size_t image_;
  std::string identity_;
  uint64_t size_;
};

}  // namespace daqfs
