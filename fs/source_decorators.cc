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

Status LatencySource::ReadGroup(uint64_t i, const BlockEmit& emit) {
  std::this_thread::sleep_for(latency_);
  return inner_->ReadGroup(i, emit);
}

std::unique_ptr<GroupCursor> LatencySource::OpenGroupCursor(uint64_t i) {
  std::this_thread::sleep_for(latency_);
  return inner_->OpenGroupCursor(i);
}

}  // namespace daqfs
