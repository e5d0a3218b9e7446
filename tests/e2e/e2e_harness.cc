#include "tests/e2e/e2e_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace daqfs::e2e {

const char* DaqfsBinary() { return DAQFS_BINARY; }

CmdResult Sh(const std::string& command) {
  CmdResult r;
  std::string full = "bash -c " + Q(command) + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Q(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/daqfs-e2e-XXXXXX";
  char* d = mkdtemp(tmpl);
  if (!d) std::abort();
  path_ = d;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  // Never delete through a live mount.
  std::ifstream in("/proc/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string dev, mnt;
    ls >> dev >> mnt;
    if (mnt.rfind(path_ + "/", 0) == 0) Sh("fusermount3 -u -z " + Q(mnt));
  }
  Sh("rm -rf " + Q(path_));
}

bool IsMounted(const std::string& mountpoint) {
  std::ifstream in("/proc/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string dev, mnt;
    ls >> dev >> mnt;
    if (mnt == mountpoint) return true;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

bool FuseAvailable() { return access("/dev/fuse", R_OK | W_OK) == 0 && geteuid() == 0; }

DaqfsProcess::~DaqfsProcess() {
  if (!mountpoint_.empty() && IsMounted(mountpoint_)) {
    Sh("fusermount3 -u -z " + Q(mountpoint_));
  }
  if (pid_ > 0) {
    if (Wait(5) == -2) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
}

::testing::AssertionResult DaqfsProcess::Start(const std::vector<std::string>& args,
                                               const std::string& mountpoint,
                                               const std::string& log_path) {
  mountpoint_ = mountpoint;
  log_path_ = log_path;
  int fds[2];
  if (pipe(fds) != 0) return ::testing::AssertionFailure() << "pipe";
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = fork();
  if (pid_ == 0) {
    close(fds[0]);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    std::vector<std::string> argv_s = {DaqfsBinary(), "-f", "--ready-fd", std::to_string(fds[1])};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  close(log_fd);
  pollfd pfd{fds[0], POLLIN, 0};
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    int rc = poll(&pfd, 1, 1000);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    char buf[64];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // the daemon closed the pipe: it died or exited
    got.append(buf, n);
  }
  close(fds[0]);
  if (got != "ready\n") {
    int code = Wait(5);
    return ::testing::AssertionFailure()
           << "daqfs did not become ready (exit " << code << "); log:\n"
           << Log();
  }
  if (!IsMounted(mountpoint)) {
    return ::testing::AssertionFailure() << "ready but not in /proc/mounts; log:\n" << Log();
  }
  return ::testing::AssertionSuccess();
}

int DaqfsProcess::Wait(int timeout_s) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int DaqfsProcess::Unmount() {
  CmdResult r = Sh("fusermount3 -u " + Q(mountpoint_));
  if (r.exit_code != 0) ADD_FAILURE() << "fusermount3 -u failed: " << r.output;
  int code = Wait(30);
  return code == -2 ? -1 : code;
}

int DaqfsProcess::Signal(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int code = Wait(30);
  return code == -2 ? -1 : code;
}

std::string DaqfsProcess::Log() const { return ReadFile(log_path_); }

}  // namespace daqfs::e2e
