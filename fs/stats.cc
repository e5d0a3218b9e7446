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

Stats::Stats() : start_(std::chrono::steady_clock::now()) {}

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
  return out;
}

}  // namespace daqfs
