// Stats: the mount's figures, shown in .daqfs/stats (Format: human text) and .daqfs/metrics
// (Prometheus: text exposition).
//
// Stats owns the mount's Metrics registry, where the Vfs, the cache tiers, the prefetcher and the
// backends register theirs. It registers itself: requests, errors and latency per FUSE
// operation, daqfs_build_info, daqfs_start_time_seconds, and per source (label source="NAME",
// the config section; ".daqfs" for the control folder) opens, bytes read, read errors and reads
// that met corrupt data. Format() lays every figure out once: operations, bytes, sources, the
// cache tiers side by side, prefetch and decoding, errors, then any metric it does not know.
//
// Thread safety: AddSource before serving requests; counting is relaxed atomics (no lock, no
// string work); Format() and Prometheus() read a consistent-enough snapshot.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "fs/metrics.h"

namespace daqfs {

enum class Op {
  kLookup,
  kForget,
  kGetAttr,
  kOpenDir,
  kReadDir,
  kReleaseDir,
  kOpen,
  kRead,
  kRelease,
  kReadLink,
  kStatFs,
  kGetXattr,
  kListXattr,
  kAccess,
  kWrite,
  kCount
};
const char* OpName(Op op);

class Stats {
 public:
  Stats();
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  void Count(Op op, bool error, double seconds = 0) {
    size_t i = static_cast<size_t>(op);
    ops_[i]->Add();
    if (error) errors_[i]->Add();
    latency_[i]->Observe(seconds);
  }
  Metrics& metrics() { return metrics_; }

  // Registers the per-source series of source number `index` (the Vfs's backend index: 0 is the
  // control folder, 1..N the sources). Indexes are added in order 0, 1, 2 ... before serving.
  void AddSource(uint32_t index, const std::string& name);
  const std::vector<std::string>& source_names() const { return source_names_; }

  // Per-source counting for the read path (an unknown index is ignored).
  void CountOpen(uint32_t source) {
    if (source < sources_.size()) sources_[source].opens->Add();
  }
  void CountRead(uint32_t source, uint64_t bytes) {
    if (source < sources_.size()) sources_[source].read_bytes->Add(bytes);
  }
  // `corrupt`: the read failed because stored data did not decode or verify (Code::kCorrupt).
  void CountReadError(uint32_t source, bool corrupt) {
    if (source >= sources_.size()) return;
    sources_[source].read_errors->Add();
    if (corrupt) sources_[source].corrupt_reads->Add();
  }

  uint64_t ops(Op op) const { return ops_[static_cast<size_t>(op)]->Get(); }
  uint64_t errors(Op op) const { return errors_[static_cast<size_t>(op)]->Get(); }
  uint64_t bytes_read() const;  // over all sources

  // Human-readable text: each figure once.
  std::string Format() const;
  // Prometheus text exposition of everything registered (no timestamps).
  std::string Prometheus() const;

 private:
  struct SourceCounters {
    Counter* opens;
    Counter* read_bytes;
    Counter* read_errors;
    Counter* corrupt_reads;
  };
  static constexpr size_t kOps = static_cast<size_t>(Op::kCount);
  Metrics metrics_;
  std::array<Counter*, kOps> ops_{};
  std::array<Counter*, kOps> errors_{};
  std::array<Histogram*, kOps> latency_{};
  std::vector<SourceCounters> sources_;    // by source index; fixed once serving
  std::vector<std::string> source_names_;  // by source index
  timespec start_{};                       // CLOCK_REALTIME at construction
  std::chrono::steady_clock::time_point start_steady_;
};

}  // namespace daqfs
