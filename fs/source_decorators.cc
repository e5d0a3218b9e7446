#include "fs/source_decorators.h"

#include <algorithm>
#include <thread>

#include "fs/blocking.h"

namespace daqfs {

void LatencySource::Sleep() const {
  BlockingScope blocking;  // simulated storage latency: a wait, not work
  std::this_thread::sleep_for(latency_);
}

Status LatencySource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  Sleep();
  return inner_->ReadBlock(i, out);
}

Result<size_t> LatencySource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  Sleep();
  return inner_->ReadAt(off, out);
}

Status LatencySource::ReadGroup(uint64_t i, const BlockEmit& emit) {
  Sleep();
  return inner_->ReadGroup(i, emit);
}

std::unique_ptr<GroupCursor> LatencySource::OpenGroupCursor(uint64_t i) {
  Sleep();
  return inner_->OpenGroupCursor(i);
}

}  // namespace daqfs
