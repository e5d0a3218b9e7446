#include "tests/e2e/e2e_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

std::string WriteConfig(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir / name;
  WriteFile(path, body);
  if (!ConfiguredCacheDir(path).empty()) return path;
  std::string line = "dir = " + (dir / "cache") + "\n";
  std::string text = body;
  size_t cache = text.find("[cache]\n");
  if (cache != std::string::npos) {
    text.insert(cache + 8, line);
  } else {
    if (!text.empty() && text.back() != '\n') text += "\n";
    text += "[cache]\n" + line;
  }
  WriteFile(path, text);
  return path;
}

std::string ConfiguredCacheDir(const std::string& path) {
  std::istringstream in(Slurp(path));
  std::string line, section;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == ';' || line[b] == '#') continue;
    line = line.substr(b);
    if (line[0] == '[') {
      section = line.substr(0, line.find(']') + 1);
      continue;
    }
    if (section != "[cache]" || line.rfind("dir", 0) != 0) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || line.find_first_not_of(" \t", 3) != eq) continue;
    size_t v = line.find_first_not_of(" \t", eq + 1);
    return v == std::string::npos ? "" : line.substr(v);
  }
  return "";
}

double Series(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, series.size() + 1, series + " ") == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
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

std::vector<pid_t> ProcessesRunning(const std::string& program, const std::string& argument) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string cmdline = Slurp(std::string("/proc/") + e->d_name + "/cmdline");
    std::vector<std::string> argv;
    for (size_t pos = 0; pos < cmdline.size();) {
      size_t nul = cmdline.find('\0', pos);
      if (nul == std::string::npos) nul = cmdline.size();
      argv.push_back(cmdline.substr(pos, nul - pos));
      pos = nul + 1;
    }
    if (argv.empty() || argv[0] != program) continue;
    if (std::find(argv.begin() + 1, argv.end(), argument) != argv.end()) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  return out;
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
  // Host independence: never the default cache folder another daqfs may hold. A configuration
  // file is the argument that names a regular file and is not an option's value.
  bool source_mode = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--source" || args[i] == "--cache-dir") source_mode = true;
  }
  for (size_t i = 0; i < args.size() && !source_mode; ++i) {
    if (args[i] == "-o" || args[i] == "--log-level") {
      ++i;
      continue;
    }
    struct stat st;
    if (args[i][0] != '-' && stat(args[i].c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ConfiguredCacheDir(args[i]).empty()) {
      return ::testing::AssertionFailure()
             << args[i] << " sets no [cache] dir: the daemon would use the host's default cache "
             << "folder (write the configuration with WriteConfig)";
    }
  }
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

int DaqfsProcess::SignalThread(pid_t tid, int sig) {
  if (pid_ <= 0) return -1;
  if (syscall(SYS_tgkill, pid_, tid, sig) != 0) return -1;
  int code = Wait(30);
  return code == -2 ? -1 : code;
}

std::string DaqfsProcess::Log() const { return Slurp(log_path_); }

void MountTest::SetUp() {
  if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
  mnt_ = dir_ / "mnt";
  ASSERT_EQ(Sh("mkdir -p " + Q(mnt_)).exit_code, 0);
}

void MountTest::TearDown() {
  if (HasFailure() && daemon_.pid() > 0) {
    std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
  }
}

void MountTest::MountConfig(const std::string& body) {
  std::string cfg = WriteConfig(dir_, "daqfs.ini", body);
  ASSERT_TRUE(daemon_.Start({cfg, mnt_}, mnt_, dir_ / "daqfs.log"));
}

void MountTest::Python(const std::string& code) {
  std::string script = dir_ / "check.py";
  WriteFile(script, code);
  CmdResult r = Sh("/usr/bin/python3 " + Q(script));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace daqfs::e2e
