#include "backends/common/composed_source.h"

#include <algorithm>
#include <cstring>

namespace daqfs {

ComposedSource::ComposedSource(std::vector<Piece> pieces, std::string identity)
    : identity_(std::move(identity)) {
  for (Piece& p : pieces) {
    Span s;
    s.file_offset = size_;
    s.first_block = block_count_;
    if (p.units) {
      if (p.length == 0) continue;
      s.first_unit = p.units->BlockOf(p.offset);
      s.blocks = p.units->BlockOf(p.offset + p.length - 1) - s.first_unit + 1;
      decoded_ = decoded_ || p.units->IsDecoded();
    } else {
      if (!p.bytes || p.bytes->empty()) continue;
      p.offset = 0;
      p.length = p.bytes->size();
      s.blocks = 1;
    }
    size_ += p.length;
    block_count_ += s.blocks;
    s.piece = std::move(p);
    spans_.push_back(std::move(s));
  }
}

const ComposedSource::Span& ComposedSource::SpanOfBlock(uint64_t index) const {
  auto it = std::upper_bound(spans_.begin(), spans_.end(), index,
                             [](uint64_t i, const Span& s) { return i < s.first_block; });
  return *(it - 1);
}

BlockRange ComposedSource::BlockRangeOf(uint64_t index) const {
  if (index >= block_count_) return {size_, 0};
  const Span& s = SpanOfBlock(index);
  if (!s.piece.units) return {s.file_offset, s.piece.length};
  BlockRange u = s.piece.units->BlockRangeOf(s.first_unit + (index - s.first_block));
  uint64_t lo = std::max(u.offset, s.piece.offset);
  uint64_t hi = std::min(u.offset + u.length, s.piece.offset + s.piece.length);
  return {s.file_offset + (lo - s.piece.offset), hi > lo ? hi - lo : 0};
}

uint64_t ComposedSource::BlockOf(uint64_t offset) const {
  if (spans_.empty()) return 0;
  auto it = std::upper_bound(spans_.begin(), spans_.end(), offset,
                             [](uint64_t off, const Span& s) { return off < s.file_offset; });
  const Span& s = *(it == spans_.begin() ? it : it - 1);
  if (!s.piece.units) return s.first_block;
  uint64_t in_piece = std::min(offset - s.file_offset, s.piece.length - 1);
  return s.first_block + (s.piece.units->BlockOf(s.piece.offset + in_piece) - s.first_unit);
}

std::vector<BlockPart> ComposedSource::PartsOf(uint64_t index) const {
  std::vector<BlockPart> parts;
  if (index >= block_count_) return parts;
  const Span& s = SpanOfBlock(index);
  BlockPart part;
  if (!s.piece.units) {
    part.bytes = s.piece.bytes;
    part.offset = 0;
    part.length = s.piece.length;
  } else {
    part.units = s.piece.units;
    part.unit = s.first_unit + (index - s.first_block);
    BlockRange u = s.piece.units->BlockRangeOf(part.unit);
    uint64_t lo = std::max(u.offset, s.piece.offset);
    uint64_t hi = std::min(u.offset + u.length, s.piece.offset + s.piece.length);
    part.offset = lo - u.offset;
    part.length = hi > lo ? hi - lo : 0;
  }
  parts.push_back(std::move(part));
  return parts;
}

Status ComposedSource::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= block_count_ || out.size() != BlockRangeOf(index).length) {
    return Invalid("block buffer size mismatch");
  }
  size_t done = 0;
  for (const BlockPart& p : PartsOf(index)) {
    if (!p.units) {
      std::memcpy(out.data() + done, p.bytes->data() + p.offset, p.length);
    } else {
      uint64_t unit_len = p.units->BlockRangeOf(p.unit).length;
      if (p.offset == 0 && p.length == unit_len) {
        Status s = p.units->ReadBlock(p.unit, out.subspan(done, p.length));
        if (!s.ok()) return s;
      } else {
        Bytes unit(unit_len);
        Status s = p.units->ReadBlock(p.unit, unit);
        if (!s.ok()) return s;
        std::memcpy(out.data() + done, unit.data() + p.offset, p.length);
      }
    }
    done += p.length;
  }
  return Status::Ok();
}

}  // namespace daqfs
