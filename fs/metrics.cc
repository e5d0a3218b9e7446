#include "fs/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

double Histogram::Quantile(double q) const {
  uint64_t n = Count();
  if (n == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * n), seen = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    seen += BucketCount(i);
    if (seen > want) return bounds_[i];
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

std::vector<double> LatencyBuckets() {
  return {1e-5,   5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
          2.5e-2, 5e-2, 0.1,  0.25,   0.5,  1,    2.5,    10};
}

std::string Label(const std::string& key, const std::string& value) {
  std::string out = key + "=\"";
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Metrics::Entry* Metrics::FindLocked(const std::string& name, const std::string& labels, Kind kind) {
  Entry* found = nullptr;
  for (Entry& e : entries_) {
    if (e.name != name) continue;
    if (e.kind != kind) {
      std::fprintf(stderr, "daqfs: metric %s registered with two kinds\n", name.c_str());
      std::abort();
    }
    if (e.labels == labels) found = &e;
  }
  return found;
}

const Metrics::Entry* Metrics::FindLocked(const std::string& name,
                                          const std::string& labels) const {
  for (const Entry& e : entries_) {
    if (e.name == name && e.labels == labels) return &e;
  }
  return nullptr;
}

Counter& Metrics::AddCounter(const std::string& name, const std::string& help,
                             const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name, labels, Kind::kCounter)) return *e->counter;
  Counter& c = counters_.emplace_back();
  entries_.push_back(Entry{Kind::kCounter, name, help, labels, &c, nullptr, {}});
  return c;
}

Histogram& Metrics::AddHistogram(const std::string& name, const std::string& help,
                                 const std::string& labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name, labels, Kind::kHistogram)) return *e->histogram;
  Histogram& h = histograms_.emplace_back(std::move(bounds));
  entries_.push_back(Entry{Kind::kHistogram, name, help, labels, nullptr, &h, {}});
  return h;
}

void Metrics::AddCounterReader(const std::string& name, const std::string& help,
                               std::function<double()> read, const std::string& labels) {
  AddReader(Kind::kCounter, name, help, std::move(read), labels);
}

void Metrics::AddGauge(const std::string& name, const std::string& help,
                       std::function<double()> read, const std::string& labels) {
  AddReader(Kind::kGauge, name, help, std::move(read), labels);
}

void Metrics::AddReader(Kind kind, const std::string& name, const std::string& help,
                        std::function<double()> read, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name, labels, kind)) {
    e->gauge = std::move(read);  // the later reader wins
    return;
  }
  entries_.push_back(Entry{kind, name, help, labels, nullptr, nullptr, std::move(read)});
}

void Metrics::Remove(const std::string& name, const std::string& labels) {
  std::function<double()> dead;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->name == name && it->labels == labels) {
      dead = std::move(it->gauge);
      entries_.erase(it);
      return;
    }
  }
}

size_t Metrics::RemoveLabelled(const std::string& label) {
  // Labels are `k="v",k2="v2"`: a whole label is bounded by the start or a comma before it and
  // the end or a comma after it (a value holding `,k="v"` is escaped, so cannot fake a match).
  auto has = [&label](const std::string& labels) {
    for (size_t at = labels.find(label); at != std::string::npos; at = labels.find(label, at + 1)) {
      bool starts = at == 0 || labels[at - 1] == ',';
      bool ends = at + label.size() == labels.size() || labels[at + label.size()] == ',';
      if (starts && ends) return true;
    }
    return false;
  };
  std::vector<std::function<double()>> dead;
  std::lock_guard<std::mutex> lock(mu_);
  size_t before = entries_.size();
  std::erase_if(entries_, [&](Entry& e) {
    if (!has(e.labels)) return false;
    dead.push_back(std::move(e.gauge));
    return true;
  });
  return before - entries_.size();
}

namespace {

std::string Num(double v) {
  char buf[64];
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
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

// HELP text escaping of the exposition format: backslash and newline.
std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

double Metrics::ValueOf(const Entry& e) {
  switch (e.kind) {
    case Kind::kCounter:
      return e.gauge ? e.gauge() : static_cast<double>(e.counter->Get());
    case Kind::kGauge:
      return e.gauge();
    case Kind::kHistogram:
      return static_cast<double>(e.histogram->Count());
  }
  return 0;
}

std::optional<double> Metrics::Value(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = FindLocked(name, labels);
  if (!e) return std::nullopt;
  return ValueOf(*e);
}

const Histogram* Metrics::FindHistogram(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = FindLocked(name, labels);
  return e ? e->histogram : nullptr;
}

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
    out +=
        "# HELP " + name + " " + EscapeHelp(fam[0]->help) + "\n# TYPE " + name + " " + type + "\n";
    for (const Entry* e : fam) {
      if (e->kind != Kind::kHistogram) {
        out += name + Braces(e->labels) + " " + Num(ValueOf(*e)) + "\n";
        continue;
      }
      const Histogram& h = *e->histogram;
      // Read the buckets once: the +Inf bucket and _count are their sum, so a scrape taken
      // during updates stays consistent (cumulative counts never decrease, +Inf == _count).
      uint64_t cum = 0;
      for (size_t i = 0; i < h.bounds().size(); ++i) {
        cum += h.BucketCount(i);
        out += name + "_bucket" + Braces(e->labels, "le=\"" + Num(h.bounds()[i]) + "\"") + " " +
               Num(static_cast<double>(cum)) + "\n";
      }
      cum += h.BucketCount(h.bounds().size());
      out += name + "_bucket" + Braces(e->labels, "le=\"+Inf\"") + " " +
             Num(static_cast<double>(cum)) + "\n";
      out += name + "_sum" + Braces(e->labels) + " " + Num(h.Sum()) + "\n";
      out += name + "_count" + Braces(e->labels) + " " + Num(static_cast<double>(cum)) + "\n";
    }
  }
  return out;
}

std::string Metrics::Text(const std::set<std::string>& skip) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Entry& e : entries_) {
    if (skip.count(e.name)) continue;
    std::string id = e.name + Braces(e.labels);
    if (e.kind != Kind::kHistogram) {
      out += id + " " + Num(ValueOf(e)) + "\n";
      continue;
    }
    const Histogram& h = *e.histogram;
    if (h.Count() == 0) continue;  // keep the human view short
    char buf[160];
    std::snprintf(buf, sizeof buf, " count %" PRIu64 " mean %.6fs p50<=%gs p99<=%gs\n", h.Count(),
                  h.Sum() / h.Count(), h.Quantile(0.5), h.Quantile(0.99));
    out += id + buf;
  }
  return out;
}

}  // namespace daqfs
