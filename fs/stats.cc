#include "fs/stats.h"

#include <cstdio>

namespace daqfs {

const char* OpName(Op op) {
  switch (op) {
    case Op::kLookup: return "lookup";
    case Op::kForget: return "forget";
    case Op::kGetAttr: return "getattr";
    case Op::kOpenDir: return "opendir";
    case Op::kReadDir: return "readdir";
    case Op::kReleaseDir: return "releasedir";
    case Op::kOpen: return "open";
    case Op::kRead: return "read";
    case Op::kRelease: return "release";
    case Op::kReadLink: return "readlink";
    case Op::kStatFs: return "statfs";
    case Op::kGetXattr: return "getxattr";
    case Op::kListXattr: return "listxattr";
    case Op::kAccess: return "access";
    case Op::kWrite: return "write";
    case Op::kCount: break;
  }
  return "?";
}

Stats::Stats() : start_(std::chrono::steady_clock::now()) {
  metrics_.AddGauge("daqfs_uptime_seconds", "Seconds since the mount started", [this] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  });
  metrics_.AddGauge("daqfs_read_bytes_total", "Bytes returned by read requests",
                    [this] { return static_cast<double>(bytes_read()); });
  for (size_t i = 0; i < kOps; ++i) {
    std::string label = std::string("op=\"") + OpName(static_cast<Op>(i)) + "\"";
    metrics_.AddGauge("daqfs_fuse_requests_total", "FUSE requests by operation",
                      [this, i] { return static_cast<double>(ops_[i].load()); }, label);
    metrics_.AddGauge("daqfs_fuse_errors_total", "FUSE requests answered with an error",
                      [this, i] { return static_cast<double>(errors_[i].load()); }, label);
    latency_[i] = &metrics_.AddHistogram("daqfs_fuse_request_seconds",
                                         "FUSE request handling time", label);
  }
}

std::string Stats::Prometheus() const { return metrics_.Prometheus(); }

std::string Stats::Format() const {
  std::string out;
  char line[128];
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::snprintf(line, sizeof line, "uptime_seconds %.1f\n", up);
  out += line;
  std::snprintf(line, sizeof line, "bytes_read %llu\n",
                static_cast<unsigned long long>(bytes_read()));
  out += line;
  uint64_t total_errors = 0;
  for (size_t i = 0; i < kOps; ++i) total_errors += errors_[i].load();
  std::snprintf(line, sizeof line, "errors %llu\n", static_cast<unsigned long long>(total_errors));
  out += line;
  for (size_t i = 0; i < kOps; ++i) {
    Op op = static_cast<Op>(i);
    std::snprintf(line, sizeof line, "op_%s %llu errors %llu\n", OpName(op),
                  static_cast<unsigned long long>(ops(op)),
                  static_cast<unsigned long long>(errors(op)));
    out += line;
  }
  out += metrics_.Text();
  return out;
}

}  // namespace daqfs
