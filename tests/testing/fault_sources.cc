#include "tests/testing/fault_sources.h"

namespace daqfs::testing {

Status FaultySource::Count(uint64_t i) {
  uint64_t n = ++state_->decodes;
  const Faults& f = state_->faults;
  if (f.fail_nth != 0 && n == f.fail_nth) return IoError("injected failure");
  if (f.fail_block >= 0 && static_cast<int64_t>(i) == f.fail_block) {
    return Corrupt("injected corrupt block " + std::to_string(i));
  }
  return Status::Ok();
}

Status FaultySource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  if (Status s = Count(i); !s.ok()) return s;
  Status s = inner_->ReadBlock(i, out);
  if (s.ok() && state_->faults.flip_block >= 0 &&
      static_cast<int64_t>(i) == state_->faults.flip_block && !out.empty()) {
    out[0] ^= 0xff;
  }
  return s;
}

Status FaultySource::ReadGroup(uint64_t i, const BlockEmit& emit) {
  if (GroupOf(i).count == 1) return ByteSource::ReadGroup(i, emit);  // through ReadBlock
  if (Status s = Count(i); !s.ok()) return s;
  const int64_t flip = state_->faults.flip_block;
  return inner_->ReadGroup(i, [&](uint64_t b, Bytes&& bytes) {
    if (flip >= 0 && static_cast<int64_t>(b) == flip && !bytes.empty()) bytes[0] ^= 0xff;
    emit(b, std::move(bytes));
  });
}

std::unique_ptr<GroupCursor> FaultySource::OpenGroupCursor(uint64_t i) {
  // A cursor that fails is not offered: the caller falls back to ReadGroup, which fails.
  if (state_->faults.fail_nth != 0 || state_->faults.fail_block >= 0 ||
      state_->faults.flip_block >= 0) {
    return nullptr;
  }
  ++state_->decodes;
  return inner_->OpenGroupCursor(i);
}

std::shared_ptr<ByteSource> FaultySource::WrapUnits(std::shared_ptr<ByteSource> units) const {
  return std::shared_ptr<ByteSource>(new FaultySource(std::move(units), state_));
}

Result<size_t> FaultySource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  if (state_->faults.short_reads && out.size() > 1000) out = out.first(1000);
  return inner_->ReadAt(off, out);
}

void BlockingSource::Block() {
  std::unique_lock<std::mutex> lock(state_->mu);
  if (state_->released) return;
  ++state_->blocked;
  state_->cv.notify_all();
  state_->cv.wait(lock, [&] { return state_->released; });
  --state_->blocked;
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

std::unique_ptr<GroupCursor> BlockingSource::OpenGroupCursor(uint64_t i) {
  Block();
  return inner_->OpenGroupCursor(i);
}

std::shared_ptr<ByteSource> BlockingSource::WrapUnits(std::shared_ptr<ByteSource> units) const {
  return std::shared_ptr<ByteSource>(new BlockingSource(std::move(units), state_));
}

void BlockingSource::Release() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->released = true;
  state_->cv.notify_all();
}

uint64_t BlockingSource::blocked() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->blocked;
}

bool BlockingSource::WaitBlocked(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->blocked >= n; });
}

}  // namespace daqfs::testing
