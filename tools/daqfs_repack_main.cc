// daqfs-repack: repack tar archives of raw data into tar archives of zstd-seekable members that
// daqfs mounts with random access. Parses the command line, then runs PlanRepack,
// ExecuteRepack and VerifyOutputs (tools/repack.h), with a progress bar and a summary.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fs/human_bytes.h"
#include "tools/daqfs_repack_args.h"
#include "tools/repack.h"

namespace daqfs {
namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel = true; }

class ProgressBar {
 public:
  ProgressBar() : start_(std::chrono::steady_clock::now()) {}
  void Draw(uint64_t done, uint64_t total) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    std::string eta = "--:--";
    if (rate > 0 && done < total) {
      const long long left = static_cast<long long>(static_cast<double>(total - done) / rate);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%lld:%02lld", left / 60, left % 60);
      eta = buf;
    } else if (done >= total) {
      eta = "0:00";
    }
    const int bar = static_cast<int>(frac * 30);
    std::fprintf(stderr, "\r[%-30s] %5.1f%% %s / %s  %.1f MB/s  ETA %s\033[K",
                 std::string(bar, '#').c_str(), frac * 100, HumanBytes(done).c_str(),
                 HumanBytes(total).c_str(), rate / 1e6, eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

void PrintSummary(const RepackSummary& s, const char* note) {
  const double ratio =
      s.content_bytes ? static_cast<double>(s.output_bytes) / static_cast<double>(s.content_bytes)
                      : 0.0;
  const double mbps = s.seconds > 0 ? static_cast<double>(s.content_bytes) / 1e6 / s.seconds : 0;
  std::printf(
      "daqfs-repack: %zu outputs, %llu members, input %llu bytes (%s), output %llu bytes "
      "(%s), ratio %.2f, %.2f s, %.1f MB/s%s\n",
      s.outputs.size(), static_cast<unsigned long long>(s.members),
      static_cast<unsigned long long>(s.content_bytes), HumanBytes(s.content_bytes).c_str(),
      static_cast<unsigned long long>(s.output_bytes), HumanBytes(s.output_bytes).c_str(), ratio,
      s.seconds, mbps, note);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  RepackArgs args;
  if (int rc = ReportOutcome(ParseRepackArgs(argc, argv, &args)); rc >= 0) return rc;
  RepackOptions& options = args.options;
  const std::vector<std::string>& inputs = args.inputs;
  const bool verify = args.verify, dry_run = args.dry_run;
  if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());

  Result<RepackPlan> plan = PlanRepack(options, inputs);
  if (!plan.ok()) {
    std::fprintf(stderr, "daqfs-repack: %s\n", plan.status().message().c_str());
    return plan.status().code() == Code::kInvalid ? 1 : 3;
  }
  constexpr size_t kMaxWarnings = 20;
  for (size_t i = 0; i < plan->warnings.size() && i < kMaxWarnings; ++i) {
    std::fprintf(stderr, "daqfs-repack: warning: %s\n", plan->warnings[i].c_str());
  }
  if (plan->warnings.size() > kMaxWarnings) {
    std::fprintf(stderr, "daqfs-repack: ... and %zu more warnings\n",
                 plan->warnings.size() - kMaxWarnings);
  }
  if (plan->unmatched > 0) {
    std::fprintf(stderr, "daqfs-repack: %llu members matched no group; they go to unmatched.tar\n",
                 static_cast<unsigned long long>(plan->unmatched));
  }

  if (dry_run) {
    uint64_t members = 0;
    std::printf("%-50s %9s %16s\n", "OUTPUT", "MEMBERS", "INPUT BYTES");
    for (const PlannedOutput& o : plan->outputs) {
      struct stat st;
      const std::string path = options.output_dir + "/" + o.name;
      const bool exists = ::lstat(path.c_str(), &st) == 0;
      std::printf("%-50s %9zu %16llu  %s%s\n", o.name.c_str(), o.members.size(),
                  static_cast<unsigned long long>(o.stored_bytes),
                  HumanBytes(o.stored_bytes).c_str(),
                  exists ? (options.force ? "  (exists, would be replaced)" : "  (exists)") : "");
      members += o.members.size();
    }
    std::printf("%zu outputs, %llu members, %llu input bytes (%s) in %s\n", plan->outputs.size(),
                static_cast<unsigned long long>(members),
                static_cast<unsigned long long>(plan->stored_bytes),
                HumanBytes(plan->stored_bytes).c_str(), options.output_dir.c_str());
    return 0;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESETHAND;  // a second signal kills at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  options.cancel = &g_cancel;

  ProgressBar bar;
  if (isatty(STDERR_FILENO)) {
    options.progress = [&bar](uint64_t done, uint64_t total) { bar.Draw(done, total); };
  }
  RepackResult result = ExecuteRepack(*plan, options);
  bar.Clear();
  if (result.failure != RepackFailure::kNone) {
    std::string msg = result.status.message();
    if (result.failure == RepackFailure::kOutputExists) msg += " (use --force to replace)";
    if (result.failure == RepackFailure::kCancelled) msg = "interrupted";
    std::fprintf(stderr, "daqfs-repack: %s\n", msg.c_str());
    if (!result.summary.outputs.empty()) {
      std::fprintf(stderr, "daqfs-repack: %zu outputs finished before that are complete; kept\n",
                   result.summary.outputs.size());
    }
    PrintSummary(result.summary, ", FAILED");
    return static_cast<int>(result.failure);
  }

  if (verify) {
    std::vector<std::string> problems = VerifyOutputs(result.summary.outputs, options.threads);
    for (const std::string& p : problems) {
      std::fprintf(stderr, "daqfs-repack: verify: %s\n", p.c_str());
    }
    if (!problems.empty()) {
      PrintSummary(result.summary, ", VERIFY FAILED");
      return static_cast<int>(RepackFailure::kVerify);
    }
    PrintSummary(result.summary, ", verified");
    return 0;
  }
  PrintSummary(result.summary, "");
  return 0;
}

}  // namespace
}  // namespace daqfs

int main(int argc, char** argv) { return daqfs::Main(argc, argv); }
