#include "fs/stats.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <optional>
#include <set>

#include "fs/human_bytes.h"
#include "fs/version.h"

namespace daqfs {

const char* OpName(Op op) {
  switch (op) {
    case Op::kLookup:
      return "lookup";
    case Op::kForget:
      return "forget";
    case Op::kGetAttr:
      return "getattr";
    case Op::kOpenDir:
      return "opendir";
    case Op::kReadDir:
      return "readdir";
    case Op::kReleaseDir:
      return "releasedir";
    case Op::kOpen:
      return "open";
    case Op::kRead:
      return "read";
    case Op::kRelease:
      return "release";
    case Op::kReadLink:
      return "readlink";
    case Op::kStatFs:
      return "statfs";
    case Op::kGetXattr:
      return "getxattr";
    case Op::kListXattr:
      return "listxattr";
    case Op::kAccess:
      return "access";
    case Op::kWrite:
      return "write";
    case Op::kCount:
      break;
  }
  return "?";
}

Stats::Stats() : start_steady_(std::chrono::steady_clock::now()) {
  clock_gettime(CLOCK_REALTIME, &start_);
  metrics_.AddGauge(
      "daqfs_build_info", "daqfs build; the value is always 1", [] { return 1.0; },
      Label("version", DaqfsVersion()));
  double start = static_cast<double>(start_.tv_sec) + start_.tv_nsec / 1e9;
  metrics_.AddGauge("daqfs_start_time_seconds",
                    "When the mount started, in seconds since the epoch",
                    [start] { return start; });
  for (size_t i = 0; i < kOps; ++i) {
    std::string label = Label("op", OpName(static_cast<Op>(i)));
    ops_[i] =
        &metrics_.AddCounter("daqfs_fuse_requests_total", "FUSE requests by operation", label);
  }
  for (size_t i = 0; i < kOps; ++i) {
    std::string label = Label("op", OpName(static_cast<Op>(i)));
    errors_[i] = &metrics_.AddCounter("daqfs_fuse_errors_total",
                                      "FUSE requests answered with an error, by operation", label);
  }
  for (size_t i = 0; i < kOps; ++i) {
    std::string label = Label("op", OpName(static_cast<Op>(i)));
    latency_[i] = &metrics_.AddHistogram("daqfs_fuse_request_seconds",
                                         "FUSE request handling time, by operation", label);
  }
}

void Stats::AddSource(uint32_t index, const std::string& name) {
  if (index != sources_.size()) return;  // added in order only
  std::string label = Label("source", name);
  SourceCounters c;
  c.opens = &metrics_.AddCounter("daqfs_opens_total", "Files opened, by source", label);
  c.read_bytes =
      &metrics_.AddCounter("daqfs_read_bytes_total", "Bytes returned by reads, by source", label);
  c.read_errors =
      &metrics_.AddCounter("daqfs_read_errors_total", "Reads that failed, by source", label);
  c.corrupt_reads = &metrics_.AddCounter(
      "daqfs_corrupt_reads_total",
      "Reads that failed because stored data did not decode or verify (corrupt frame, checksum "
      "mismatch, backing file shorter than its index), by source",
      label);
  sources_.push_back(c);
  source_names_.push_back(name);
}

uint64_t Stats::bytes_read() const {
  uint64_t total = 0;
  for (const SourceCounters& c : sources_) total += c.read_bytes->Get();
  return total;
}

std::string Stats::Prometheus() const { return metrics_.Prometheus(); }

namespace {

// Builds the human view; remembers which families it showed so the rest can follow once.
class Layout {
 public:
  explicit Layout(const Metrics& m) : m_(m) {}

  std::optional<double> Get(const std::string& name, const std::string& labels = "") {
    shown_.insert(name);
    return m_.Value(name, labels);
  }
  const Histogram* Hist(const std::string& name, const std::string& labels) {
    shown_.insert(name);
    return m_.FindHistogram(name, labels);
  }
  void Line(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    out_ += buf;
    out_ += '\n';
  }
  void Blank() { out_ += '\n'; }
  void Raw(const std::string& s) { out_ += s; }
  const std::set<std::string>& shown() const { return shown_; }
  std::string Take() { return std::move(out_); }

 private:
  const Metrics& m_;
  std::set<std::string> shown_;
  std::string out_;
};

std::string Int(std::optional<double> v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", *v);
  return buf;
}

std::string Bytes(std::optional<double> v) {
  if (!v) return "-";
  return Int(v) + " (" + HumanBytes(*v) + ")";
}

}  // namespace

std::string Stats::Format() const {
  Layout l(metrics_);
  double up =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_steady_).count();
  l.Get("daqfs_build_info", Label("version", DaqfsVersion()));
  l.Get("daqfs_start_time_seconds");
  char started[32] = "?";
  tm t;
  if (gmtime_r(&start_.tv_sec, &t)) std::strftime(started, sizeof started, "%FT%TZ", &t);
  l.Line("daqfs %s, started %s, up %.1f s", DaqfsVersion(), started, up);

  // Operations: requests, errors and latency side by side.
  l.Blank();
  l.Line("%-12s %12s %8s %10s %10s %10s", "operation", "requests", "errors", "mean ms",
         "p50 ms<=", "p99 ms<=");
  uint64_t total_ops = 0, total_errors = 0;
  for (size_t i = 0; i < kOps; ++i) {
    std::string label = Label("op", OpName(static_cast<Op>(i)));
    uint64_t n = static_cast<uint64_t>(l.Get("daqfs_fuse_requests_total", label).value_or(0));
    uint64_t e = static_cast<uint64_t>(l.Get("daqfs_fuse_errors_total", label).value_or(0));
    const Histogram* h = l.Hist("daqfs_fuse_request_seconds", label);
    total_ops += n;
    total_errors += e;
    double mean = h && h->Count() ? h->Sum() / h->Count() * 1e3 : 0;
    l.Line("%-12s %12" PRIu64 " %8" PRIu64 " %10.3f %10g %10g", OpName(static_cast<Op>(i)), n, e,
           mean, h ? h->Quantile(0.5) * 1e3 : 0, h ? h->Quantile(0.99) * 1e3 : 0);
  }
  l.Line("%-12s %12" PRIu64 " %8" PRIu64, "all", total_ops, total_errors);

  l.Blank();
  l.Line("bytes read   %s", Bytes(static_cast<double>(bytes_read())).c_str());

  // Sources.
  size_t w = 8;
  for (const std::string& n : source_names_) w = std::max(w, n.size());
  int wi = static_cast<int>(w);
  l.Blank();
  l.Line("%-*s %10s %24s %12s %14s", wi, "source", "opens", "read bytes", "read errors",
         "corrupt reads");
  for (const std::string& n : source_names_) {
    std::string label = Label("source", n);
    std::optional<double> bytes = l.Get("daqfs_read_bytes_total", label);
    l.Line("%-*s %10s %24s %12s %14s", wi, n.c_str(),
           Int(l.Get("daqfs_opens_total", label)).c_str(), Bytes(bytes).c_str(),
           Int(l.Get("daqfs_read_errors_total", label)).c_str(),
           Int(l.Get("daqfs_corrupt_reads_total", label)).c_str());
  }

  // Cache tiers side by side ("-": the tier is off or does not keep that figure).
  const std::string mem = Label("tier", "memory"), ssd = Label("tier", "ssd");
  auto row = [&](const char* what, const std::string& name, bool bytes) {
    std::optional<double> a = l.Get(name, mem), b = l.Get(name, ssd);
    l.Line("%-16s %24s %24s", what, (bytes ? Bytes(a) : Int(a)).c_str(),
           (bytes ? Bytes(b) : Int(b)).c_str());
  };
  l.Blank();
  l.Line("%-16s %24s %24s", "cache", "memory", "ssd");
  row("hits", "daqfs_cache_hits_total", false);
  row("misses", "daqfs_cache_misses_total", false);
  row("blocks", "daqfs_cache_blocks", false);
  row("bytes", "daqfs_cache_bytes", true);
  row("budget", "daqfs_cache_budget_bytes", true);
  row("inserts", "daqfs_cache_inserts_total", false);
  row("inserted bytes", "daqfs_cache_inserted_bytes_total", true);
  row("read bytes", "daqfs_cache_read_bytes_total", true);
  row("evictions", "daqfs_cache_evictions_total", false);

  // Prefetch and decoding.
  l.Blank();
  const std::pair<const char*, const char*> work[] = {
      {"prefetch issued", "daqfs_prefetch_issued_total"},
      {"prefetch used", "daqfs_prefetch_used_total"},
      {"prefetch wasted", "daqfs_prefetch_wasted_total"},
      {"over budget", "daqfs_prefetch_over_budget_total"},
      {"sibling files", "daqfs_prefetch_sibling_files_total"},
      {"inflight bytes", "daqfs_prefetch_inflight_bytes"},
      {"decodes", "daqfs_decodes_total"},
      {"decodes shared", "daqfs_decode_shared_total"},
  };
  for (const auto& [what, name] : work) l.Line("%-16s %s", what, Int(l.Get(name)).c_str());
  if (const Histogram* h = l.Hist("daqfs_decode_seconds", ""); h && h->Count()) {
    l.Line("%-16s mean %.3f ms, p50 <= %g ms, p99 <= %g ms", "decode time",
           h->Sum() / h->Count() * 1e3, h->Quantile(0.5) * 1e3, h->Quantile(0.99) * 1e3);
  }

  // HDF5 sources: dataset units read (by path), files open now.
  for (const std::string& n : source_names_) {
    std::string label = Label("source", n);
    std::optional<double> fallback =
        l.Get("daqfs_hdf5_units_read_total", label + "," + Label("path", "fallback"));
    if (!fallback) continue;
    std::optional<double> fast =
        l.Get("daqfs_hdf5_units_read_total", label + "," + Label("path", "fast"));
    l.Line("%-16s %s units decoded by the fast path, %s read with H5Dread, %s files open",
           ("hdf5 " + n).c_str(), Int(fast).c_str(), Int(fallback).c_str(),
           Int(l.Get("daqfs_hdf5_open_files", label)).c_str());
  }

  // Errors not shown above (request errors are in the operations table, read errors per source
  // in the sources table).
  l.Blank();
  l.Line("errors");
  l.Line("  %-28s %s", "decode errors", Int(l.Get("daqfs_decode_errors_total")).c_str());
  l.Line("  %-28s %s", "ssd checksum failures",
         Int(l.Get("daqfs_cache_checksum_failures_total", ssd)).c_str());
  l.Line("  %-28s %s", "ssd folder errors", Int(l.Get("daqfs_cache_errors_total", ssd)).c_str());
  l.Line("  %-28s %s", "ssd dropped writes",
         Int(l.Get("daqfs_cache_dropped_writes_total", ssd)).c_str());
  for (const std::string& n : source_names_) {
    std::string label = Label("source", n);
    std::optional<double> ie = l.Get("daqfs_archive_index_errors_total", label);
    std::optional<double> rj = l.Get("daqfs_index_file_rejected_total", label);
    if (ie) l.Line("  %-28s %s", ("archive index errors " + n).c_str(), Int(ie).c_str());
    if (rj) l.Line("  %-28s %s", ("index files rejected " + n).c_str(), Int(rj).c_str());
    std::optional<double> hr = l.Get("daqfs_hdf5_read_errors_total", label);
    std::optional<double> hf = l.Get("daqfs_hdf5_file_errors_total", label);
    if (hr) l.Line("  %-28s %s", ("hdf5 read errors " + n).c_str(), Int(hr).c_str());
    if (hf) l.Line("  %-28s %s", ("hdf5 files skipped " + n).c_str(), Int(hf).c_str());
  }

  std::string rest = metrics_.Text(l.shown());
  if (!rest.empty()) {
    l.Blank();
    l.Line("other");
    l.Raw(rest);
  }
  return l.Take();
}

}  // namespace daqfs
