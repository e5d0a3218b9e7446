// Metrics: a registry of counters, gauges and histograms, rendered in the Prometheus text
// exposition format (.daqfs/metrics) and read back by name for the human view (.daqfs/stats).
//
// Parts register their metrics before the mount serves requests, or at run time (a stream
// source that appears), and keep the returned references (stable for the registry's lifetime,
// also after their series was removed: a removed series is no longer rendered or found, and
// updates to it are harmless). Updating a metric is a relaxed atomic add: no
// lock and no string work on the read path.
//
// Naming (checked by `promtool check metrics` in the tests): counters end in `_total` and are
// typed counter; units are in the name (`_bytes`, `_seconds`); every family has HELP. One family
// is one name: registering a name again with other labels adds a series to it; registering the
// same name and labels again returns the same counter or histogram (a gauge's reader is
// replaced), so no series is ever rendered twice. A family's kind is fixed by its first
// registration; registering it with another kind is a programming error (abort).
//
// Thread safety: registration, Value() and rendering take one mutex; updates are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace daqfs {

class Counter {
 public:
  void Add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Cumulative histogram of seconds (Prometheus "le" buckets).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double seconds);
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t BucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_ns_.load(std::memory_order_relaxed) / 1e9; }
  // Upper bound of the bucket holding quantile q (a coarse estimate for humans); 0 when empty.
  double Quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound (not cumulative)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Latency buckets from 10 us to 10 s.
std::vector<double> LatencyBuckets();

// `key="value"` with the value escaped for the exposition format (backslash, quote, newline).
std::string Label(const std::string& key, const std::string& value);

class Metrics {
 public:
  // `name` follows Prometheus rules (daqfs_cache_hits_total); `labels` is either empty or
  // `key="value",...` without braces (build it with Label()). Same name with different labels
  // shares HELP and TYPE (the first registration's).
  Counter& AddCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "",
                          std::vector<double> bounds = LatencyBuckets());
  // A counter whose value is read when rendered (a count another object keeps, such as a
  // stream ledger's); `read` must never decrease.
  void AddCounterReader(const std::string& name, const std::string& help,
                        std::function<double()> read, const std::string& labels = "");
  // A value read when rendered (sizes, in-flight bytes, constants such as budgets).
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read,
                const std::string& labels = "");

  // Removes one series (name and exact labels) at run time; absent series are ignored. A family
  // whose last series goes is no longer rendered. A gauge's reader is destroyed here (under the
  // registry's lock; it is never called again).
  void Remove(const std::string& name, const std::string& labels = "");
  // Removes every series of every family whose labels contain `label` (`key="value"`, e.g. a
  // source="NAME" whose source went away). Returns how many series were removed.
  size_t RemoveLabelled(const std::string& label);

  // Prometheus text exposition (version 0.0.4), without timestamps.
  std::string Prometheus() const;
  // The current value of one series (a histogram's: its count); nullopt when not registered.
  std::optional<double> Value(const std::string& name, const std::string& labels = "") const;
  // A histogram of one series; null when not registered.
  const Histogram* FindHistogram(const std::string& name, const std::string& labels = "") const;
  // One "name{labels} value" per line for every family not in `skip`, in registration order;
  // histograms as count, mean and p50/p99 estimates (omitted while empty).
  std::string Text(const std::set<std::string>& skip = {}) const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Entry {
    Kind kind;
    std::string name, help, labels;
    Counter* counter = nullptr;
    Histogram* histogram = nullptr;
    std::function<double()> gauge;
  };
  // Returns the entry for (name, labels) or null; aborts when `name` has another kind.
  Entry* FindLocked(const std::string& name, const std::string& labels, Kind kind);
  const Entry* FindLocked(const std::string& name, const std::string& labels) const;
  static double ValueOf(const Entry& e);
  // A series whose value `read` gives when rendered (a gauge, or a counter kept elsewhere).
  void AddReader(Kind kind, const std::string& name, const std::string& help,
                 std::function<double()> read, const std::string& labels);

  mutable std::mutex mu_;  // guards entries_ and the deques' growth
  std::vector<Entry> entries_;
  std::deque<Counter> counters_;
  std::deque<Histogram> histograms_;
};

}  // namespace daqfs
