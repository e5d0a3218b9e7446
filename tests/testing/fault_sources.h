// ByteSource decorators that inject faults, for tests only (the production decorators are in
// fs/source_decorators.h): FaultySource fails the Nth decode, a given block, flips a byte or
// makes reads short; BlockingSource holds every read until the test releases it (a backing
// filesystem that stopped answering).
//
// Thread safety: as the wrapped source; counters are atomic; BlockingSource's Release and
// WaitBlocked may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "fs/source_decorators.h"

namespace daqfs::testing {

// Counts block decodes; fails decode number `fail_nth` (1-based, 0 = never) or every decode of
// block `fail_block`; flips byte 0 of block `flip_block`. With no fault set it forwards
// everything unchanged.
class FaultySource final : public ForwardingSource {
 public:
  struct Faults {
    uint64_t fail_nth = 0;
    int64_t fail_block = -1;
    int64_t flip_block = -1;
    bool short_reads = false;  // ReadAt returns at most 1000 bytes per call (not at EOF only)
  };
  FaultySource(std::shared_ptr<ByteSource> inner, Faults faults)
      : ForwardingSource(std::move(inner)), faults_(faults) {}
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  uint64_t decodes() const { return decodes_.load(); }

 private:
  Faults faults_;
  std::atomic<uint64_t> decodes_{0};
};

// Every ReadBlock, ReadGroup and ReadAt waits until Release() (then forwards); reads arriving
// after Release() pass at once. blocked() counts the reads waiting right now, so a test can
// confirm the state it means to test instead of sleeping.
class BlockingSource final : public ForwardingSource {
 public:
  explicit BlockingSource(std::shared_ptr<ByteSource> inner) : ForwardingSource(std::move(inner)) {}
  ~BlockingSource() override { Release(); }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  // Lets every waiting and later read through.
  void Release();
  // Reads waiting now.
  uint64_t blocked() const;
  // Waits until at least `n` reads are waiting; false after `timeout`.
  bool WaitBlocked(uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  void Block();
  mutable std::mutex mu_;  // guards released_, blocked_
  mutable std::condition_variable cv_;
  bool released_ = false;
  uint64_t blocked_ = 0;
};

}  // namespace daqfs::testing
