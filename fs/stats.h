// Stats: process counters shown in .daqfs/stats: per-operation counts and errors, bytes read.
//
// Thread safety: counters are relaxed atomics; Format() reads a consistent-enough snapshot.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "fs/metrics.h"

namespace daqfs {

enum class Op {
  kLookup, kForget, kGetAttr, kOpenDir, kReadDir, kReleaseDir, kOpen, kRead, kRelease,
  kReadLink, kStatFs, kGetXattr, kListXattr, kAccess, kWrite, kCount
};
const char* OpName(Op op);

// Owns the mount's Metrics registry, where the cache and prefetcher register theirs too.
class Stats {
 public:
  Stats();
  void Count(Op op, bool error, double seconds = 0) {
    ops_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
    if (error) errors_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
    latency_[static_cast<size_t>(op)]->Observe(seconds);
  }
  Metrics& metrics() { return metrics_; }
  void AddBytesRead(uint64_t n) { bytes_read_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t ops(Op op) const { return ops_[static_cast<size_t>(op)].load(); }
  uint64_t errors(Op op) const { return errors_[static_cast<size_t>(op)].load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }

  // Human-readable text, one "key value" per line (then every registered metric).
  std::string Format() const;
  // Prometheus text exposition of everything.
  std::string Prometheus() const;

 private:
  static constexpr size_t kOps = static_cast<size_t>(Op::kCount);
  std::array<std::atomic<uint64_t>, kOps> ops_{};
  std::array<std::atomic<uint64_t>, kOps> errors_{};
  std::atomic<uint64_t> bytes_read_{0};
  Metrics metrics_;
  std::array<Histogram*, kOps> latency_{};
  std::chrono::steady_clock::time_point start_;
};

}  // namespace daqfs
