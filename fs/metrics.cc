#include "fs/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace daqfs {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double seconds) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9),
                    std::memory_order_relaxed);
}

std::vector<double> LatencyBuckets() {
  return {1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
          0.5,  1,    2.5,  10};
}

Counter& Metrics::AddCounter(const std::string& name, const std::string& help,
                             const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Counter& c = counters_.emplace_back();
  entries_.push_back(Entry{Kind::kCounter, name, help, labels, &c, nullptr, {}});
  return c;
}

Histogram& Metrics::AddHistogram(const std::string& name, const std::string& help,
                                 const std::string& labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = histograms_.emplace_back(std::move(bounds));
  entries_.push_back(Entry{Kind::kHistogram, name, help, labels, nullptr, &h, {}});
  return h;
}

void Metrics::AddGauge(const std::string& name, const std::string& help,
                       std::function<double()> read, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_back(Entry{Kind::kGauge, name, help, labels, nullptr, nullptr, std::move(read)});
}

namespace {

std::string Num(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e18 && v > -1e18) {
    std::snprintf(buf, sizeof buf, "%" PRId64, static_cast<int64_t>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

std::string Braces(const std::string& labels, const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? "" : "{" + all + "}";
}

// Upper bound of the bucket holding quantile q (a coarse estimate for humans).
double Quantile(const Histogram& h, double q) {
  uint64_t n = h.Count();
  if (n == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * n), seen = 0;
  for (size_t i = 0; i < h.bounds().size(); ++i) {
    seen += h.BucketCount(i);
    if (seen > want) return h.bounds()[i];
  }
  return h.bounds().empty() ? 0 : h.bounds().back();
}

}  // namespace

std::string Metrics::Prometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Group by name, keeping first-registration order, so HELP/TYPE appear once per family.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Entry*>> families;
  for (const Entry& e : entries_) {
    if (!families.count(e.name)) order.push_back(e.name);
    families[e.name].push_back(&e);
  }
  std::string out;
  for (const std::string& name : order) {
    const auto& fam = families[name];
    const char* type = fam[0]->kind == Kind::kCounter ? "counter"
                       : fam[0]->kind == Kind::kGauge ? "gauge"
                                                      : "histogram";
    out += "# HELP " + name + " " + fam[0]->help + "\n# TYPE " + name + " " + type + "\n";
    for (const Entry* e : fam) {
      switch (e->kind) {
        case Kind::kCounter:
          out += name + Braces(e->labels) + " " + Num(static_cast<double>(e->counter->Get())) + "\n";
          break;
        case Kind::kGauge: out += name + Braces(e->labels) + " " + Num(e->gauge()) + "\n"; break;
        case Kind::kHistogram: {
          const Histogram& h = *e->histogram;
          uint64_t cum = 0;
          for (size_t i = 0; i < h.bounds().size(); ++i) {
            cum += h.BucketCount(i);
            out += name + "_bucket" + Braces(e->labels, "le=\"" + Num(h.bounds()[i]) + "\"") +
                   " " + Num(static_cast<double>(cum)) + "\n";
          }
          out += name + "_bucket" + Braces(e->labels, "le=\"+Inf\"") + " " +
                 Num(static_cast<double>(h.Count())) + "\n";
          out += name + "_sum" + Braces(e->labels) + " " + Num(h.Sum()) + "\n";
          out += name + "_count" + Braces(e->labels) + " " + Num(static_cast<double>(h.Count())) +
                 "\n";
          break;
        }
      }
    }
  }
  return out;
}

std::string Metrics::Text() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Entry& e : entries_) {
    std::string id = e.name + Braces(e.labels);
    switch (e.kind) {
      case Kind::kCounter: out += id + " " + Num(static_cast<double>(e.counter->Get())) + "\n"; break;
      case Kind::kGauge: out += id + " " + Num(e.gauge()) + "\n"; break;
      case Kind::kHistogram: {
        const Histogram& h = *e.histogram;
        if (h.Count() == 0) break;  // keep the human view short
        char buf[160];
        std::snprintf(buf, sizeof buf, " count %" PRIu64 " mean %.6fs p50<=%gs p99<=%gs\n",
                      h.Count(), h.Sum() / h.Count(), Quantile(h, 0.5), Quantile(h, 0.99));
        out += id + buf;
        break;
      }
    }
  }
  return out;
}

}  // namespace daqfs
