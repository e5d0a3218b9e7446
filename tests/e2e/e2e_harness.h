// Harness for end-to-end tests: shell commands and a real daqfs daemon mounted in the foreground
// that signals readiness through --ready-fd (no sleeps). Temp folders and files come from the
// test library (tests/testing/files.h). The daemon is always
// unmounted: gracefully by Unmount() (the test checks exit code 0), forcibly by the destructor
// when a test failed half-way. The daemon's log is kept for printing on failure.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/testing/files.h"
#include "tests/testing/test_env.h"

namespace daqfs::e2e {

using testing::kSanitizerSlowdown;  // tests/testing/test_env.h

struct CmdResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `command` with bash -c.
CmdResult Sh(const std::string& command);
// Quotes for bash.
inline std::string Q(const std::string& s) { return testing::ShellQuote(s); }

// Temp folders (mounts inside are detached before removal) and files: the test library's.
using testing::Slurp;
using testing::TempDir;
using testing::WriteFile;

bool IsMounted(const std::string& mountpoint);

// The value of one series ("name" or "name{labels}") in Prometheus text; -1 when absent.
double Series(const std::string& text, const std::string& series);

// Writes the daqfs configuration `body` to dir/name and returns its path. Unless `body` sets
// [cache] dir itself, `dir = <dir>/cache` is added (at the end, or right after a [cache] line
// that has no dir), so a test never uses the host's default cache folder (/var/cache/daqfs),
// which another daqfs on the machine may hold (exit 6).
std::string WriteConfig(const TempDir& dir, const std::string& name, const std::string& body);
// The [cache] dir that configuration file `path` sets ("" = none: the host's default).
std::string ConfiguredCacheDir(const std::string& path);
// Processes whose argv[0] is `program` and whose later arguments include `argument` (read from
// /proc/PID/cmdline: exact words, no pattern matching).
std::vector<pid_t> ProcessesRunning(const std::string& program, const std::string& argument);
// True when /dev/fuse exists and we can mount (root).
bool FuseAvailable();

class DaqfsProcess {
 public:
  DaqfsProcess() = default;
  ~DaqfsProcess();
  DaqfsProcess(const DaqfsProcess&) = delete;
  DaqfsProcess& operator=(const DaqfsProcess&) = delete;

  // Starts `daqfs -f --ready-fd N <args>` and waits until it is ready (or exits, or 60 s pass).
  // `mountpoint` must be the mount point named in `args`. `log_path` collects its stderr.
  // Refused (a test failure) when the daemon would use the host's default cache folder: a
  // configuration file must set [cache] dir (WriteConfig does); a --source mount without
  // --cache-dir keeps no cache folder.
  ::testing::AssertionResult Start(const std::vector<std::string>& args,
                                   const std::string& mountpoint, const std::string& log_path);
  // fusermount3 -u, then waits for the daemon: its exit code (-1 on signal or timeout).
  int Unmount();
  // Sends `sig` and waits: the daemon's exit code.
  int Signal(int sig);
  // Sends `sig` to thread `tid` of the daemon alone (tgkill) and waits: its exit code.
  int SignalThread(pid_t tid, int sig);
  std::string Log() const;
  pid_t pid() const { return pid_; }

 private:
  int Wait(int timeout_s);
  pid_t pid_ = -1;
  std::string mountpoint_;
  std::string log_path_;
};

// Path of the daqfs binary under test.
const char* DaqfsBinary();

// A test that mounts daqfs on `mnt_` inside a temporary folder of its own: skipped without
// FUSE, the daemon's log printed when it failed (the daemon is unmounted by DaqfsProcess).
// A subclass that extends SetUp calls MountTest::SetUp() first and returns if IsSkipped().
class MountTest : public ::testing::Test {
 protected:
  explicit MountTest(const std::string& temp_prefix) : dir_(temp_prefix) {}
  void SetUp() override;
  void TearDown() override;
  // Mounts the configuration `body` (WriteConfig adds the cache folder) on mnt_.
  void MountConfig(const std::string& body);
  // Runs /usr/bin/python3 (numpy, h5py, tifffile...) on `code`; its output on failure.
  void Python(const std::string& code);

  TempDir dir_;
  std::string mnt_;
  DaqfsProcess daemon_;
};

}  // namespace daqfs::e2e
