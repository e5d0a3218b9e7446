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
#include "tools/repack.h"

namespace daqfs {
namespace {

constexpr const char* kUsage =
    R"(usage: daqfs-repack -o DIR [--group REGEX] [--window NAME=N]... [--name TEMPLATE]
                    [--frame-size SIZE] [--level N] [--threads N] [--force]
                    [--verify] [--dry-run] TAR...

Repacks tar archives into tar archives whose members are zstd streams in the seekable format
(independent frames plus a seek table), which daqfs mounts with random access and which stock
`tar -x` and `zstd -d` still unpack.

Each regular file FILE becomes FILE.zst (a member already named X.zst stays X.zst); its content
is the input's content, decompressed first when the input member is zstd (recognised by its
magic number, also without the .zst suffix; pzstd output too). Mode, owner ids, mtime and
xattrs are kept. Directories and symlinks are copied as they are; hard links become regular
copies. Members are sorted by path in each output. Inputs must be plain (uncompressed) tar files.

  -o, --output DIR    where outputs go (created if missing). Outputs are written under a
                      temporary name in DIR, fsync'ed and renamed into place.
  --group REGEX       PCRE2 regex searched in each member's full path inside its tar (e.g.
                      "obs1/1266932744_0000_ch109.dat"; not anchored: use ^ and $ to anchor).
                      The values of its named groups form the member's group; members of all
                      inputs are regrouped. Members matching nothing go to unmatched.tar (the
                      count is reported). A folder that does not match goes into every output
                      holding something beneath it. Without --group, each input TAR becomes one
                      output of the same base name.
  --window NAME=N     bucket the numeric group NAME into windows of N: the value v becomes the
                      window start floor(v/N)*N, zero-padded to the matched width; {NAME_end}
                      is start+N-1. Repeatable.
  --name TEMPLATE     output name, with {NAME} and {NAME_end} placeholders ("{{" and "}}" for
                      braces); may contain '/' for subfolders of DIR. Example:
                      "{obsid}_{sec}-{sec_end}_ch{chan}.tar". Default with --group: the group
                      values joined by '_' plus ".tar"; without --group: the input's base name
                      ({input} is that name without ".tar"). Groups whose names expand alike
                      share one output.
  --frame-size SIZE   decompressed bytes per zstd frame, 1K..1G (K, M, G suffixes; default 1M).
                      Smaller frames make random reads cheaper, larger ones compress better.
  --level N           zstd compression level (default 3; negative levels are faster).
  --threads N         compressing threads (default: number of cores). At most N+1 members are
                      in flight. Members up to 64 MiB are compressed in memory; larger ones are
                      streamed through a temporary file in DIR (one thread per member, many
                      such members in parallel).
  --force             replace existing outputs (default: refuse, exit 2)
  --verify            read every output back (tar index, seek table, every frame decoded with
                      its checksums) and compare each member's XXH64 with its input's content
  --dry-run           print the planned outputs (name, members, input bytes) and exit
  -h, --help          this text
  -V, --version       version

When one member path occurs twice in an output, the later one wins (inputs in command-line
order, members in archive order) with a warning. A progress bar is drawn on stderr when it is a
terminal; a summary line always goes to stdout ("input" is file content after decompression,
"ratio" is output/input as zstd reports it (0.72 = 72%), MB/s is input MB (10^6 bytes) per
second).

exit status: 0 ok; 1 bad command line, regex, window or name; 2 an output exists (without
--force); 3 an input is unreadable or corrupt (all inputs are checked before anything is
written); 4 verification failed; 5 an output could not be written; 130 interrupted.
)";

std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel = true; }

int UsageError(const std::string& message) {
  std::fprintf(stderr, "daqfs-repack: %s\n(see daqfs-repack --help)\n", message.c_str());
  return 1;
}

bool ParseInt(const std::string& s, long long lo, long long hi, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

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
  RepackOptions options;
  std::vector<std::string> inputs;
  bool verify = false, dry_run = false, have_output = false;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      inputs.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_inline = true;
      }
    } else if (arg.size() > 2 && arg[0] == '-' && arg[1] == 'o') {
      value = arg.substr(2);  // -oDIR
      arg = "-o";
      has_inline = true;
    }
    auto take = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    auto flag = [&] { return !has_inline; };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "-V" || arg == "--version") {
      std::printf("daqfs-repack %s\n", DAQFS_VERSION);
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      if (!take(&options.output_dir) || options.output_dir.empty()) {
        return UsageError(arg + " needs a folder");
      }
      have_output = true;
    } else if (arg == "--group") {
      if (!take(&options.group_regex) || options.group_regex.empty()) {
        return UsageError("--group needs a regex");
      }
    } else if (arg == "--window") {
      std::string w;
      if (!take(&w)) return UsageError("--window needs NAME=N");
      Result<WindowSpec> spec = ParseWindowSpec(w);
      if (!spec.ok()) return UsageError(spec.status().message());
      options.windows.push_back(*spec);
    } else if (arg == "--name") {
      if (!take(&options.name_template) || options.name_template.empty()) {
        return UsageError("--name needs a template");
      }
    } else if (arg == "--frame-size") {
      std::string v;
      if (!take(&v)) return UsageError("--frame-size needs a size");
      Result<uint64_t> size = ParseByteSize(v);
      if (!size.ok()) return UsageError("--frame-size: " + size.status().message());
      options.frame_size = *size;
    } else if (arg == "--level") {
      std::string v;
      long long n = 0;
      if (!take(&v) || !ParseInt(v, -1000000, 1000, &n)) {
        return UsageError("--level needs an integer");
      }
      options.level = static_cast<int>(n);
    } else if (arg == "--threads") {
      std::string v;
      long long n = 0;
      if (!take(&v) || !ParseInt(v, 1, 1024, &n)) {
        return UsageError("--threads needs an integer from 1 to 1024");
      }
      options.threads = static_cast<unsigned>(n);
    } else if (arg == "--verify" && flag()) {
      verify = true;
    } else if (arg == "--dry-run" && flag()) {
      dry_run = true;
    } else if (arg == "--force" && flag()) {
      options.force = true;
    } else {
      return UsageError("unknown option " + std::string(argv[i]));
    }
  }
  if (!have_output) return UsageError("-o DIR is required");
  if (inputs.empty()) return UsageError("no input tar archives given");
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
