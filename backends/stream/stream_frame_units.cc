#include "backends/stream/stream_frame_units.h"

#include <algorithm>
#include <cstring>

#include "fs/unique_fd.h"

namespace daqfs {

StreamFrameUnits::StreamFrameUnits(std::shared_ptr<const StreamFrame> frame, size_t image,
                                   std::string identity)
    : frame_(std::move(frame)),
      image_(image),
      identity_(std::move(identity)),
      size_(image_ < frame_->images.size() ? frame_->images[image_].DecodedBytes() : 0) {}

uint64_t StreamFrameUnits::BlockCount() const {
  if (size_ == 0) return 0;
  return Split() ? (size_ + kSubBlock - 1) / kSubBlock : 1;
}

BlockRange StreamFrameUnits::BlockRangeOf(uint64_t index) const {
  if (!Split()) return index == 0 ? BlockRange{0, size_} : BlockRange{size_, 0};
  const uint64_t off = std::min(size_, index * kSubBlock);
  return BlockRange{off, std::min(kSubBlock, size_ - off)};
}

uint64_t StreamFrameUnits::BlockOf(uint64_t offset) const {
  return Split() ? offset / kSubBlock : 0;
}

ByteSource::Group StreamFrameUnits::GroupOf(uint64_t index) const {
  if (!Split()) return Group{index, 1};
  return Group{0, BlockCount()};
}

Status StreamFrameUnits::Decode(std::span<uint8_t> out) const {
  StreamImage image = frame_->images[image_];
  Bytes spilled;
  if (frame_->spill) {
    // The payload is in a spill segment: read back as it was received, then decoded.
    const StreamFrameSpill& sp = *frame_->spill;
    if (image_ >= sp.offsets.size() || image_ >= sp.sizes.size()) {
      return Status(Code::kCorrupt, identity_ + ": spilled frame without its image");
    }
    spilled.resize(sp.sizes[image_]);
    Result<size_t> n =
        PreadFull(sp.segment->fd()->get(), sp.offsets[image_], spilled, sp.segment->path());
    if (!n.ok()) return Status(n.status().code(), identity_ + ": " + n.status().message());
    if (*n != spilled.size()) {
      return Status(Code::kIo, identity_ + ": " + sp.segment->path() + ": short file");
    }
    image.payload = std::span<const uint8_t>(spilled.data(), spilled.size());
  }
  Status s = DecodeStreamImage(image, out);
  if (!s.ok()) return Status(Code::kCorrupt, identity_ + ": " + s.message());
  return s;
}

Status StreamFrameUnits::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= BlockCount() || out.size() != BlockRangeOf(index).length) {
    return Invalid(identity_ + ": bad block " + std::to_string(index));
  }
  if (!Split()) return Decode(out);
  // A sub-block alone (readers go through ReadGroup): the frame is decoded for it.
  Bytes all(size_);
  if (Status s = Decode(all); !s.ok()) return s;
  std::memcpy(out.data(), all.data() + BlockRangeOf(index).offset, out.size());
  return Status::Ok();
}

Status StreamFrameUnits::ReadGroup(uint64_t index, const BlockEmit& emit) {
  if (!Split()) return ByteSource::ReadGroup(index, emit);
  Bytes all(size_);
  if (Status s = Decode(all); !s.ok()) return s;
  for (uint64_t b = 0; b < BlockCount(); ++b) {
    BlockRange r = BlockRangeOf(b);
    emit(b, Bytes(all.begin() + static_cast<ptrdiff_t>(r.offset),
                  all.begin() + static_cast<ptrdiff_t>(r.offset + r.length)));
  }
  return Status::Ok();
}

std::optional<ByteSource::Resident> StreamFrameUnits::ResidentBlock(uint64_t index) const {
  if (frame_->spill || image_ >= frame_->images.size() || index >= BlockCount()) {
    return std::nullopt;
  }
  const StreamImage& image = frame_->images[image_];
  if (image.encoding != FrameEncoding::kRaw || image.payload.size() != size_) return std::nullopt;
  const BlockRange r = BlockRangeOf(index);
  return Resident{frame_, image.payload.subspan(r.offset, r.length)};
}

}  // namespace daqfs
