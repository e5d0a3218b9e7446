// WorkTimer: how long a piece of work took on the calling thread, not counting the time the
// thread waited for a CPU.
//
// The SSD tier admits what is dearer to produce again than to read back, and both costs are
// measured as they happen. Wall time is the wrong measure on a loaded node: a decode that waited
// for a core looks expensive, gets admitted, and its SSD write then takes CPU from the readers.
// Time spent sleeping on storage (a slow parallel filesystem) is the real cost and must count.
// So the cost is wall time minus the thread's run-queue wait (the second field of
// /proc/thread-self/schedstat, read through a per-thread descriptor). Where that file cannot be
// read, the timer falls back to wall time.
//
// Thread safety: a WorkTimer belongs to the thread that created it (it reads that thread's
// statistics); use it from that thread only.
#pragma once

#include <chrono>
#include <cstdint>

namespace daqfs {

class WorkTimer {
 public:
  WorkTimer();
  // Seconds since construction (or the last Restart), less the run-queue wait meanwhile.
  double Seconds() const;
  // Seconds() and starts again from now.
  double Lap();

 private:
  std::chrono::steady_clock::time_point start_;
  uint64_t wait_ns_ = 0;
};

// This thread's total run-queue wait in ns (0 when unknown).
uint64_t ThreadRunQueueWaitNs();

}  // namespace daqfs
