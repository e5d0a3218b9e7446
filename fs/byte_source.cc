#include "fs/byte_source.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace daqfs {

uint64_t ByteSource::BlockCount() const {
  return (Size() + kDefaultBlockSize - 1) / kDefaultBlockSize;
}

BlockRange ByteSource::BlockRangeOf(uint64_t index) const {
  uint64_t off = index * kDefaultBlockSize;
  uint64_t size = Size();
  if (off >= size) return {size, 0};
  return {off, std::min<uint64_t>(kDefaultBlockSize, size - off)};
}

uint64_t ByteSource::BlockOf(uint64_t offset) const { return offset / kDefaultBlockSize; }

Status ByteSource::ReadGroup(uint64_t index, const BlockEmit& emit) {
  Bytes buf(BlockRangeOf(index).length);
  Status s = ReadBlock(index, buf);
  if (s.ok()) emit(index, std::move(buf));
  return s;
}

Result<size_t> ByteSource::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  uint64_t size = Size();
  if (offset >= size || out.empty()) return size_t{0};
  uint64_t end = std::min<uint64_t>(size, offset + out.size());
  size_t done = 0;
  std::vector<uint8_t> scratch;
  uint64_t pos = offset;
  while (pos < end) {
    uint64_t bi = BlockOf(pos);
    BlockRange r = BlockRangeOf(bi);
    if (r.length == 0 || r.offset > pos || pos - r.offset >= r.length) {
      return Status(Code::kCorrupt, "block layout does not cover offset " + std::to_string(pos));
    }
    uint64_t in_block = pos - r.offset;
    uint64_t n = std::min<uint64_t>(r.length - in_block, end - pos);
    if (in_block == 0 && n == r.length) {
      Status s = ReadBlock(bi, out.subspan(done, n));
      if (!s.ok()) return s;
    } else {
      scratch.resize(r.length);
      Status s = ReadBlock(bi, scratch);
      if (!s.ok()) return s;
      std::memcpy(out.data() + done, scratch.data() + in_block, n);
    }
    done += n;
    pos += n;
  }
  return done;
}

Status MemorySource::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  BlockRange r = BlockRangeOf(index);
  if (out.size() != r.length) return Invalid("block buffer size mismatch");
  std::memcpy(out.data(), data_.data() + r.offset, r.length);
  return Status::Ok();
}

Result<size_t> MemorySource::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset >= data_.size()) return size_t{0};
  size_t n = std::min<size_t>(out.size(), data_.size() - offset);
  std::memcpy(out.data(), data_.data() + offset, n);
  return n;
}

}  // namespace daqfs
