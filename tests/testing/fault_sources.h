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

// Counts decodes (ReadBlock, ReadGroup, cursor starts; of its own blocks and of the units of
// composed blocks, which it decorates too); fails decode number `fail_nth` (1-based, 0 = never)
// or every decode of block `fail_block`; flips byte 0 of block `flip_block`. Block numbers of
// composed files count in their units' numbering. With no fault set it forwards everything
// unchanged.
class FaultySource final : public ForwardingSource {
 public:
  struct Faults {
    uint64_t fail_nth = 0;
    int64_t fail_block = -1;
    int64_t flip_block = -1;
    bool short_reads = false;  // ReadAt returns at most 1000 bytes per call (not at EOF only)
  };
  FaultySource(std::shared_ptr<ByteSource> inner, Faults faults)
      : ForwardingSource(std::move(inner)), state_(std::make_shared<State>()) {
    state_->faults = faults;
  }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override;
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t i) override;
  std::optional<Resident> ResidentBlock(uint64_t) const override { return std::nullopt; }
  uint64_t decodes() const { return state_->decodes.load(); }

 protected:
  std::shared_ptr<ByteSource> WrapUnits(std::shared_ptr<ByteSource> units) const override;

 private:
  struct State {  // shared with the decorators of composed blocks' units
    Faults faults;
    std::atomic<uint64_t> decodes{0};
  };
  FaultySource(std::shared_ptr<ByteSource> inner, std::shared_ptr<State> state)
      : ForwardingSource(std::move(inner)), state_(std::move(state)) {}
  // Counts a decode of block `i`; the injected failure, if this one fails.
  Status Count(uint64_t i);

  std::shared_ptr<State> state_;
};

// Every ReadBlock, ReadGroup, ReadAt and cursor start (also of the units of composed blocks)
// waits until Release() (then forwards); reads arriving after Release() pass at once. blocked()
// counts the reads waiting right now, so a test can confirm the state it means to test instead of
// sleeping.
class BlockingSource final : public ForwardingSource {
 public:
  explicit BlockingSource(std::shared_ptr<ByteSource> inner)
      : ForwardingSource(std::move(inner)), state_(std::make_shared<State>()) {}
  ~BlockingSource() override { Release(); }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t i) override;
  std::optional<Resident> ResidentBlock(uint64_t) const override { return std::nullopt; }
  // Lets every waiting and later read through.
  void Release();
  // Reads waiting now.
  uint64_t blocked() const;
  // Waits until at least `n` reads are waiting; false after `timeout`.
  bool WaitBlocked(uint64_t n, std::chrono::milliseconds timeout) const;

 protected:
  std::shared_ptr<ByteSource> WrapUnits(std::shared_ptr<ByteSource> units) const override;

 private:
  struct State {            // shared with the decorators of composed blocks' units
    mutable std::mutex mu;  // guards released, blocked
    mutable std::condition_variable cv;
    bool released = false;
    uint64_t blocked = 0;
  };
  BlockingSource(std::shared_ptr<ByteSource> inner, std::shared_ptr<State> state)
      : ForwardingSource(std::move(inner)), state_(std::move(state)) {}
  void Block();
  std::shared_ptr<State> state_;
};

}  // namespace daqfs::testing
