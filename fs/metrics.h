// Metrics: a registry of counters, gauges and histograms, rendered as human text
// (.daqfs/stats) and in the Prometheus text exposition format (.daqfs/metrics).
//
// Parts register their metrics once, before the mount serves requests, and keep the returned
// references (stable for the registry's lifetime). Updating a metric is a relaxed atomic add.
//
// Thread safety: registration and rendering take one mutex; updates are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound (not cumulative)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Latency buckets from 10 us to 10 s.
std::vector<double> LatencyBuckets();

class Metrics {
 public:
  // `name` follows Prometheus rules (daqfs_cache_hits_total); `labels` is either empty or
  // `key="value",...` without braces. Same name with different labels shares HELP and TYPE.
  Counter& AddCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "",
                          std::vector<double> bounds = LatencyBuckets());
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read,
                const std::string& labels = "");

  std::string Prometheus() const;
  // One "name{labels} value" per line; histograms as count, sum and p50/p99 estimates.
  std::string Text() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Entry {
    Kind kind;
    std::string name, help, labels;
    Counter* counter = nullptr;
    Histogram* histogram = nullptr;
    std::function<double()> gauge;
  };
  mutable std::mutex mu_;  // guards entries_ and the deques' growth
  std::vector<Entry> entries_;
  std::deque<Counter> counters_;
  std::deque<Histogram> histograms_;
};

}  // namespace daqfs
