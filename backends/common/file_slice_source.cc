#include "backends/common/file_slice_source.h"

#include <algorithm>

namespace daqfs {

Result<size_t> FileSliceSource::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset >= size_) return size_t{0};
  size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
  Result<size_t> n = PreadFull(fd_->get(), offset_ + offset, out.first(want), what_);
  if (!n.ok()) return n;
  if (*n != want) {
    return Corrupt(what_ + ": backing file ends inside the data at offset " +
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

}  // namespace daqfs
