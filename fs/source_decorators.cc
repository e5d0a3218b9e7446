#include "fs/source_decorators.h"

#include <algorithm>
#include <thread>

namespace daqfs {

Status LatencySource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  std::this_thread::sleep_for(latency_);
  return inner_->ReadBlock(i, out);
}

Result<size_t> LatencySource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  std::this_thread::sleep_for(latency_);
  return inner_->ReadAt(off, out);
}

Status FaultySource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  uint64_t n = ++decodes_;
  if (faults_.fail_nth != 0 && n == faults_.fail_nth) return IoError("injected failure");
  if (faults_.fail_block >= 0 && static_cast<int64_t>(i) == faults_.fail_block) {
    return Corrupt("injected corrupt block " + std::to_string(i));
  }
  Status s = inner_->ReadBlock(i, out);
  if (s.ok() && faults_.flip_block >= 0 && static_cast<int64_t>(i) == faults_.flip_block &&
      !out.empty()) {
    out[0] ^= 0xff;
  }
  return s;
}

Result<size_t> FaultySource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  if (faults_.short_reads && out.size() > 1000) out = out.first(1000);
  return inner_->ReadAt(off, out);
}

}  // namespace daqfs
