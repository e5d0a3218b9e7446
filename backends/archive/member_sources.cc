#include "backends/archive/member_sources.h"

#include <algorithm>
#include <cstring>

namespace daqfs {

Result<size_t> FileSliceSource::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset >= size_) return size_t{0};
  size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
  Result<size_t> n = PreadFull(fd_->get(), offset_ + offset, out.first(want), what_);
  if (!n.ok()) return n;
  if (*n != want) {
    return Corrupt(what_ + ": backing file ends inside member data at offset " +
                   std::to_string(offset_ + offset + *n));
  }
  return n;
}

Status FileSliceSource::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  BlockRange r = BlockRangeOf(index);
  if (out.size() != r.length) return Invalid("block buffer size mismatch");
  Result<size_t> n = ReadAt(r.offset, out);
  return n.ok() ? Status::Ok() : n.status();
}

ZstdSliceSource::ZstdSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t base,
                                 std::vector<ZstdFrame> frames, uint64_t window_offset,
                                 uint64_t window_size, std::string identity)
    : fd_(std::move(fd)),
      what_(std::move(what)),
      base_(base),
      frames_(std::move(frames)),
      window_offset_(window_offset),
      window_size_(window_size),
      identity_(std::move(identity)) {
  const uint64_t w0 = window_offset_, w1 = window_offset_ + window_size_;
  for (uint32_t f = 0; f < frames_.size(); ++f) {
    const ZstdFrame& fr = frames_[f];
    uint64_t d0 = fr.decompressed_offset, d1 = d0 + fr.decompressed_size;
    uint64_t lo = std::max(d0, w0), hi = std::min(d1, w1);
    if (lo >= hi) continue;
    if (fr.decompressed_size <= kMaxBlock) {
      uint64_t idx = blocks_.size();
      blocks_.push_back(Block{lo - w0, hi - lo, f, lo - d0, idx, 1});
      continue;
    }
    uint64_t first = blocks_.size();
    for (uint64_t s = (lo - d0) / kSubBlock * kSubBlock; d0 + s < hi; s += kSubBlock) {
      uint64_t b0 = std::max(d0 + s, lo), b1 = std::min(d0 + s + kSubBlock, hi);
      blocks_.push_back(Block{b0 - w0, b1 - b0, f, b0 - d0, first, 0});
    }
    for (uint64_t i = first; i < blocks_.size(); ++i)
      blocks_[i].group_count = blocks_.size() - first;
  }
}

BlockRange ZstdSliceSource::BlockRangeOf(uint64_t index) const {
  if (index >= blocks_.size()) return {window_size_, 0};
  return {blocks_[index].offset, blocks_[index].length};
}

uint64_t ZstdSliceSource::BlockOf(uint64_t offset) const {
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), offset,
                             [](uint64_t off, const Block& b) { return off < b.offset; });
  if (it == blocks_.begin()) return 0;
  return static_cast<uint64_t>(it - blocks_.begin()) - 1;
}

ByteSource::Group ZstdSliceSource::GroupOf(uint64_t index) const {
  if (index >= blocks_.size()) return Group{index, 1};
  return Group{blocks_[index].group_first, blocks_[index].group_count};
}

Status ZstdSliceSource::DecodeFrame(uint32_t f, std::span<uint8_t> out) const {
  const ZstdFrame& fr = frames_[f];
  // One compressed buffer per thread, reused: no allocation or page faults per frame.
  thread_local Bytes compressed;
  if (compressed.size() < fr.compressed_size) compressed.resize(fr.compressed_size);
  std::span<uint8_t> in(compressed.data(), fr.compressed_size);
  Result<size_t> n = PreadFull(fd_->get(), base_ + fr.compressed_offset, in, what_);
  if (!n.ok()) return n.status();
  if (*n != in.size() || out.size() != fr.decompressed_size) {
    return Corrupt(what_ + " frame " + std::to_string(f) + " at compressed offset " +
                   std::to_string(base_ + fr.compressed_offset) + ": backing file too short");
  }
  // libzstd verifies a frame's own checksum; the seek table's is checked only for frames
  // without one (bit 2 of the frame header descriptor), so the data is hashed once.
  bool own_checksum = in.size() > 4 && (in[4] & 0x04);
  const uint32_t* sum =
      fr.seek_table_has_checksum && !own_checksum ? &fr.seek_table_checksum : nullptr;
  Status s = DecodeZstdFrame(in, out, sum, what_);
  if (!s.ok()) {
    return Status(s.code(), s.message() + " (frame " + std::to_string(f) +
                                " at compressed offset " +
                                std::to_string(base_ + fr.compressed_offset) + ")");
  }
  return s;
}

Status ZstdSliceSource::StreamFrame(
    uint32_t f, const std::function<bool(uint64_t, std::span<const uint8_t>)>& emit) const {
  const ZstdFrame& fr = frames_[f];
  CompressedReadFn read = PreadReader(fd_->get(), what_);
  uint64_t pos = 0;
  return StreamZstdFrame(
      read, base_ + fr.compressed_offset, fr.compressed_size, kSubBlock,
      [&](std::span<const uint8_t> piece) {
        bool more = emit(pos, piece);
        pos += piece.size();
        return more;
      },
      what_ + " frame " + std::to_string(f) + " at compressed offset " +
          std::to_string(base_ + fr.compressed_offset));
}

Status ZstdSliceSource::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= blocks_.size() || out.size() != blocks_[index].length) {
    return Invalid("block buffer size mismatch");
  }
  const Block& b = blocks_[index];
  if (b.group_count == 1 && frames_[b.frame].decompressed_size <= kMaxBlock) {
    if (b.in_frame == 0 && b.length == frames_[b.frame].decompressed_size) {
      return DecodeFrame(b.frame, out);  // the block is the whole frame: decode in place
    }
    thread_local Bytes frame;
    frame.resize(frames_[b.frame].decompressed_size);
    Status s = DecodeFrame(b.frame, frame);
    if (!s.ok()) return s;
    std::memcpy(out.data(), frame.data() + b.in_frame, b.length);
    return Status::Ok();
  }
  // A sub-block of a huge frame: stream up to it (the cache layer prefers ReadGroup).
  bool found = false;
  Status s = StreamFrame(b.frame, [&](uint64_t pos, std::span<const uint8_t> piece) {
    if (b.in_frame >= pos && b.in_frame + b.length <= pos + piece.size()) {
      std::memcpy(out.data(), piece.data() + (b.in_frame - pos), b.length);
      found = true;
      return false;
    }
    return pos + piece.size() < b.in_frame + b.length;
  });
  if (!s.ok()) return s;
  return found ? Status::Ok() : Corrupt(what_ + ": frame shorter than its index says");
}

Status ZstdSliceSource::ReadGroup(uint64_t index, const BlockEmit& emit) {
  if (index >= blocks_.size()) return Invalid("block index");
  const Block& first = blocks_[blocks_[index].group_first];
  if (first.group_count == 1) return ByteSource::ReadGroup(index, emit);
  uint64_t next = first.group_first, end = first.group_first + first.group_count;
  Status s = StreamFrame(first.frame, [&](uint64_t pos, std::span<const uint8_t> piece) {
    while (next < end) {
      const Block& b = blocks_[next];
      if (b.in_frame + b.length > pos + piece.size()) break;  // lies in a later piece
      if (b.in_frame >= pos) {
        Bytes bytes(piece.begin() + (b.in_frame - pos),
                    piece.begin() + (b.in_frame - pos + b.length));
        emit(next, std::move(bytes));
      }
      ++next;
    }
    return next < end;
  });
  if (!s.ok()) return s;
  return next == end ? Status::Ok() : Corrupt(what_ + ": frame shorter than its index says");
}

}  // namespace daqfs
