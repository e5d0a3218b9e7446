// Harness for end-to-end tests: temp folders, shell commands, and a real daqfs daemon mounted in
// the foreground that signals readiness through --ready-fd (no sleeps). The daemon is always
// unmounted: gracefully by Unmount() (the test checks exit code 0), forcibly by the destructor
// when a test failed half-way. The daemon's log is kept for printing on failure.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace daqfs::e2e {

struct CmdResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `command` with bash -c.
CmdResult Sh(const std::string& command);
// Quotes for bash.
std::string Q(const std::string& s);

// A temp folder (mode 0755 so other users can reach mounts inside), removed with its content.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool IsMounted(const std::string& mountpoint);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);
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
  ::testing::AssertionResult Start(const std::vector<std::string>& args,
                                   const std::string& mountpoint, const std::string& log_path);
  // fusermount3 -u, then waits for the daemon: its exit code (-1 on signal or timeout).
  int Unmount();
  // Sends `sig` and waits: the daemon's exit code.
  int Signal(int sig);
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

}  // namespace daqfs::e2e
