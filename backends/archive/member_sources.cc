#include "backends/archive/member_sources.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "backends/common/zstd_owners.h"

namespace daqfs {

ZstdSliceSource::ZstdSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t base,
                                 std::shared_ptr<const std::vector<ZstdFrame>> frames,
                                 std::string identity)
    : fd_(std::move(fd)),
      what_(std::move(what)),
      base_(base),
      frames_(std::move(frames)),
      identity_(std::move(identity)) {
  const std::vector<ZstdFrame>& fr = *frames_;
  if (!fr.empty()) size_ = fr.back().decompressed_offset + fr.back().decompressed_size;
  // The common case (repacked or t2sz archives: frames of 1 MiB or so) needs no table.
  bool simple = std::all_of(fr.begin(), fr.end(), [](const ZstdFrame& f) {
    return f.decompressed_size > 0 && f.decompressed_size <= kMaxBlock;
  });
  if (simple) return;
  for (uint32_t f = 0; f < fr.size(); ++f) {
    uint64_t d0 = fr[f].decompressed_offset, len = fr[f].decompressed_size;
    if (len == 0) continue;
    if (len <= kMaxBlock) {
      uint64_t idx = blocks_.size();
      blocks_.push_back(Block{d0, len, f, 0, idx, 1});
      continue;
    }
    uint64_t first = blocks_.size();
    for (uint64_t s = 0; s < len; s += kSubBlock) {
      blocks_.push_back(Block{d0 + s, std::min(kSubBlock, len - s), f, s, first, 0});
    }
    for (uint64_t i = first; i < blocks_.size(); ++i)
      blocks_[i].group_count = blocks_.size() - first;
  }
}

uint64_t ZstdSliceSource::BlockCount() const {
  return blocks_.empty() && size_ > 0 ? frames_->size() : blocks_.size();
}

ZstdSliceSource::Block ZstdSliceSource::BlockAt(uint64_t index) const {
  if (!blocks_.empty()) return blocks_[index];
  const ZstdFrame& f = (*frames_)[index];
  return Block{
      f.decompressed_offset, f.decompressed_size, static_cast<uint32_t>(index), 0, index, 1};
}

BlockRange ZstdSliceSource::BlockRangeOf(uint64_t index) const {
  if (index >= BlockCount()) return {size_, 0};
  Block b = BlockAt(index);
  return {b.offset, b.length};
}

uint64_t ZstdSliceSource::BlockOf(uint64_t offset) const {
  if (blocks_.empty()) {
    const std::vector<ZstdFrame>& fr = *frames_;
    auto it = std::upper_bound(fr.begin(), fr.end(), offset, [](uint64_t off, const ZstdFrame& f) {
      return off < f.decompressed_offset;
    });
    return it == fr.begin() ? 0 : static_cast<uint64_t>(it - fr.begin()) - 1;
  }
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), offset,
                             [](uint64_t off, const Block& b) { return off < b.offset; });
  if (it == blocks_.begin()) return 0;
  return static_cast<uint64_t>(it - blocks_.begin()) - 1;
}

ByteSource::Group ZstdSliceSource::GroupOf(uint64_t index) const {
  if (index >= BlockCount()) return Group{index, 1};
  Block b = BlockAt(index);
  return Group{b.group_first, b.group_count};
}

Status ZstdSliceSource::DecodeFrame(uint32_t f, std::span<uint8_t> out) const {
  const ZstdFrame& fr = (*frames_)[f];
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
  const ZstdFrame& fr = (*frames_)[f];
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
  if (index >= BlockCount() || out.size() != BlockRangeOf(index).length) {
    return Invalid("block buffer size mismatch");
  }
  const Block b = BlockAt(index);
  if (b.group_count == 1) return DecodeFrame(b.frame, out);  // the block is the whole frame
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
  if (index >= BlockCount()) return Invalid("block index");
  const Block first = BlockAt(GroupOf(index).first);
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

namespace {

// Decodes one huge frame forward, one kSubBlock sub-block at a time, keeping the last kKeep
// sub-blocks (a kernel's concurrent read-ahead requests arrive slightly out of order).
class ZstdFrameCursor final : public GroupCursor {
 public:
  static constexpr size_t kKeep = 2;
  static constexpr size_t kInChunk = 256 * 1024;

  ZstdFrameCursor(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t offset, uint64_t size,
                  uint64_t first_block, uint64_t decompressed_size, uint64_t sub_block)
      : fd_(std::move(fd)),
        what_(std::move(what)),
        offset_(offset),
        size_(size),
        first_block_(first_block),
        decompressed_size_(decompressed_size),
        sub_block_(sub_block) {}

  Status Read(uint64_t index, std::span<uint8_t> out) override {
    if (index < first_block_) return Invalid(what_ + ": block outside the cursor's frame");
    const uint64_t k = index - first_block_;
    for (;;) {
      for (const Kept& kept : kept_) {
        if (kept.k == k) {
          if (kept.bytes.size() != out.size()) return Invalid("block buffer size mismatch");
          std::memcpy(out.data(), kept.bytes.data(), out.size());
          return Status::Ok();
        }
      }
      if (!dstream_ || k < next_k_) {
        if (Status s = Restart(); !s.ok()) return s;
      }
      if (Status s = DecodeNext(); !s.ok()) {
        dstream_.reset();  // a failed decode is never continued
        return s;
      }
    }
  }

  uint64_t buffered_bytes() const override {
    uint64_t n = in_buf_.capacity();
    for (const Kept& k : kept_) n += k.bytes.capacity();
    if (dstream_) n += ZSTD_sizeof_DStream(dstream_.get());
    return n;
  }
  uint64_t starts() const override { return starts_; }

 private:
  struct Kept {
    uint64_t k;
    Bytes bytes;
  };

  Status Restart() {
    if (!dstream_) dstream_ = MakeZstdDCtx();
    if (!dstream_) return Status(Code::kNoMemory, what_ + ": cannot create a zstd stream");
    ZSTD_DCtx_reset(dstream_.get(), ZSTD_reset_session_only);
    ++starts_;
    consumed_ = 0;
    next_k_ = 0;
    kept_.clear();
    in_ = ZSTD_inBuffer{in_buf_.data(), 0, 0};
    return Status::Ok();
  }

  // Decodes sub-block next_k_ into the kept ring.
  Status DecodeNext() {
    const uint64_t start = next_k_ * sub_block_;
    if (start >= decompressed_size_) return Corrupt(what_ + ": block past the frame's end");
    const size_t want = static_cast<size_t>(std::min(sub_block_, decompressed_size_ - start));
    Bytes buf;
    if (kept_.size() >= kKeep) {
      buf = std::move(kept_.front().bytes);
      kept_.pop_front();
    }
    buf.resize(want);
    ZSTD_outBuffer out{buf.data(), want, 0};
    while (out.pos < out.size) {
      if (in_.pos == in_.size) {
        if (consumed_ == size_) return Corrupt(what_ + ": frame truncated");
        if (in_buf_.size() != kInChunk) in_buf_.resize(kInChunk);
        const size_t n_want = static_cast<size_t>(std::min<uint64_t>(kInChunk, size_ - consumed_));
        Result<size_t> n =
            PreadFull(fd_->get(), offset_ + consumed_, std::span(in_buf_.data(), n_want), what_);
        if (!n.ok()) return n.status();
        if (*n == 0) return Corrupt(what_ + ": backing file ends inside the frame");
        consumed_ += *n;
        in_ = ZSTD_inBuffer{in_buf_.data(), *n, 0};
      }
      const size_t in_before = in_.pos, out_before = out.pos;
      const size_t r = ZSTD_decompressStream(dstream_.get(), &out, &in_);
      if (ZSTD_isError(r)) return Corrupt(what_ + ": " + ZSTD_getErrorName(r));
      if (r == 0 && out.pos < out.size) return Corrupt(what_ + ": frame shorter than its index");
      if (in_.pos == in_before && out.pos == out_before && in_.pos < in_.size) {
        return Corrupt(what_ + ": decoder made no progress");
      }
    }
    kept_.push_back(Kept{next_k_, std::move(buf)});
    ++next_k_;
    return Status::Ok();
  }

  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  uint64_t offset_, size_;  // the compressed frame in the backing file
  uint64_t first_block_, decompressed_size_, sub_block_;
  ZstdDCtxPtr dstream_;  // a ZSTD_DStream
  Bytes in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  uint64_t consumed_ = 0;  // compressed bytes read
  uint64_t next_k_ = 0;    // next sub-block the decoder produces
  std::deque<Kept> kept_;
  uint64_t starts_ = 0;
};

}  // namespace

std::unique_ptr<GroupCursor> ZstdSliceSource::OpenGroupCursor(uint64_t index) {
  if (index >= BlockCount()) return nullptr;
  const Block b = BlockAt(index);
  if (b.group_count == 1) return nullptr;
  const ZstdFrame& fr = (*frames_)[b.frame];
  const Block first = BlockAt(b.group_first);
  return std::make_unique<ZstdFrameCursor>(fd_,
                                           what_ + " frame " + std::to_string(b.frame) +
                                               " at compressed offset " +
                                               std::to_string(base_ + fr.compressed_offset),
                                           base_ + fr.compressed_offset, fr.compressed_size,
                                           first.group_first, fr.decompressed_size, kSubBlock);
}

GzipSliceSource::GzipSliceSource(std::shared_ptr<UniqueFd> fd, std::string what,
                                 std::shared_ptr<const std::vector<GzipCheckpoint>> points,
                                 uint64_t size, std::string identity)
    : fd_(std::move(fd)),
      what_(std::move(what)),
      points_(std::move(points)),
      size_(size),
      identity_(std::move(identity)) {
  const std::vector<GzipCheckpoint>& p = *points_;
  auto end_of = [&](size_t i) { return i + 1 < p.size() ? p[i + 1].out_offset : size_; };
  bool simple = true;
  for (size_t i = 0; i < p.size() && simple; ++i) simple = end_of(i) - p[i].out_offset <= kMaxBlock;
  if (simple) return;
  for (size_t i = 0; i < p.size(); ++i) {
    const uint64_t begin = p[i].out_offset, len = end_of(i) - begin;
    if (len <= kMaxBlock) {
      pieces_.push_back(Piece{begin, len, static_cast<uint32_t>(i), true});
      continue;
    }
    for (uint64_t at = 0; at < len; at += kSubBlock) {
      pieces_.push_back(
          Piece{begin + at, std::min(kSubBlock, len - at), static_cast<uint32_t>(i), false});
    }
  }
}

uint64_t GzipSliceSource::BlockCount() const {
  if (size_ == 0) return 0;
  return pieces_.empty() ? points_->size() : pieces_.size();
}

GzipSliceSource::Piece GzipSliceSource::PieceAt(uint64_t index) const {
  if (!pieces_.empty()) return pieces_[index];
  const uint64_t begin = (*points_)[index].out_offset;
  const uint64_t end = index + 1 < points_->size() ? (*points_)[index + 1].out_offset : size_;
  return Piece{begin, end - begin, static_cast<uint32_t>(index), true};
}

BlockRange GzipSliceSource::BlockRangeOf(uint64_t index) const {
  if (index >= BlockCount()) return {size_, 0};
  const Piece p = PieceAt(index);
  return {p.offset, p.length};
}

uint64_t GzipSliceSource::BlockOf(uint64_t offset) const {
  if (offset >= size_) return BlockCount();
  if (!pieces_.empty()) {
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                               [](uint64_t off, const Piece& p) { return off < p.offset; });
    return static_cast<uint64_t>(it - pieces_.begin()) - 1;
  }
  auto it =
      std::upper_bound(points_->begin(), points_->end(), offset,
                       [](uint64_t off, const GzipCheckpoint& p) { return off < p.out_offset; });
  return static_cast<uint64_t>(it - points_->begin()) - 1;
}

Status GzipSliceSource::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= BlockCount() || out.size() != PieceAt(index).length) {
    return Invalid(what_ + ": block " + std::to_string(index) + ": bad block or buffer size");
  }
  const Piece piece = PieceAt(index);
  const GzipCheckpoint& point = (*points_)[piece.point];
  Status s = InflateFromCheckpoint(PreadReader(fd_->get(), what_), point,
                                   piece.offset - point.out_offset, out, what_);
  if (!s.ok() || !piece.whole || !point.has_crc) return s;
  const uint32_t crc = static_cast<uint32_t>(crc32(0, out.data(), static_cast<uInt>(out.size())));
  if (crc != point.crc) {
    return Corrupt(what_ + ": gzip data from output offset " + std::to_string(point.out_offset) +
                   " does not match the CRC-32 recorded when the archive was indexed (damaged "
                   "since)");
  }
  return Status::Ok();
}

template <class Block>
BlockTableSource<Block>::BlockTableSource(std::shared_ptr<UniqueFd> fd, std::string what,
                                          std::shared_ptr<const std::vector<Block>> blocks,
                                          std::string identity)
    : fd_(std::move(fd)),
      what_(std::move(what)),
      blocks_(std::move(blocks)),
      identity_(std::move(identity)) {
  if (!blocks_->empty())
    size_ = blocks_->back().uncompressed_offset + blocks_->back().uncompressed_size;
}

template <class Block>
BlockRange BlockTableSource<Block>::BlockRangeOf(uint64_t index) const {
  if (index >= blocks_->size()) return {size_, 0};
  const Block& b = (*blocks_)[index];
  return {b.uncompressed_offset, b.uncompressed_size};
}

template <class Block>
uint64_t BlockTableSource<Block>::BlockOf(uint64_t offset) const {
  if (offset >= size_) return blocks_->size();
  auto it =
      std::upper_bound(blocks_->begin(), blocks_->end(), offset,
                       [](uint64_t off, const Block& b) { return off < b.uncompressed_offset; });
  return static_cast<uint64_t>(it - blocks_->begin()) - 1;
}

template <class Block>
Status BlockTableSource<Block>::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= blocks_->size()) {
    return Invalid(what_ + ": " + BlockCodec<Block>::kName + " block " + std::to_string(index) +
                   ": no such block");
  }
  return BlockCodec<Block>::Decode(PreadReader(fd_->get(), what_), (*blocks_)[index], out, what_);
}

template class BlockTableSource<XzBlock>;
template class BlockTableSource<Bz2Block>;

}  // namespace daqfs
