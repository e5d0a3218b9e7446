#include "tests/testing/fault_sources.h"

namespace daqfs::testing {

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

void BlockingSource::Block() {
  std::unique_lock<std::mutex> lock(mu_);
  if (released_) return;
  ++blocked_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return released_; });
  --blocked_;
}

Status BlockingSource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  Block();
  return inner_->ReadBlock(i, out);
}

Status BlockingSource::ReadGroup(uint64_t i, const BlockEmit& emit) {
  Block();
  return inner_->ReadGroup(i, emit);
}

Result<size_t> BlockingSource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  Block();
  return inner_->ReadAt(off, out);
}

void BlockingSource::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  cv_.notify_all();
}

uint64_t BlockingSource::blocked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return blocked_;
}

bool BlockingSource::WaitBlocked(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return blocked_ >= n; });
}

}  // namespace daqfs::testing
