// How a line is written: formatted into a string of its own with no lock held, then handed to
// the kernel with one write(2) on fd 2 (WriteAll repeats only after a short write). A log file is
// opened O_APPEND, so each line lands whole at the end even when several threads write at once;
// a pipe takes a line of up to PIPE_BUF bytes whole. No lock is held across the write: a log
// target that blocks (a full pipe, a hung file system) holds only the threads whose own lines
// wait for it, never a thread that changes the target (LogToFile, ReopenLog on SIGHUP) or asks
// for it. Changing the target is one dup2 onto fd 2, which is atomic: a concurrent line goes
// whole into either the old or the new file.
#include "fs/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "fs/unique_fd.h"

namespace daqfs {
namespace {

// Output configuration of the process (like the stderr stream itself), set once at start-up.
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_syslog{false};
// Serializes changes of the log file (LogToFile, ReopenLog, ForgetLogFile) and guards g_file.
// Never held while a log line is written.
std::mutex g_file_mu;
// The log file named by LogToFile ("" = none); guarded by g_file_mu.
std::string g_file;

}  // namespace

const char* LogLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

bool ParseLogLevel(const std::string& t, LogLevel* out) {
  if (t == "error")
    *out = LogLevel::kError;
  else if (t == "warn" || t == "warning")
    *out = LogLevel::kWarn;
  else if (t == "info")
    *out = LogLevel::kInfo;
  else if (t == "debug")
    *out = LogLevel::kDebug;
  else
    return false;
  return true;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void UseSyslog(bool on) {
  if (on && !g_syslog) openlog("daqfs", LOG_PID, LOG_DAEMON);
  g_syslog = on;
}

namespace {
// Opens `path` for appending onto fd 2. Caller holds g_file_mu.
Status OpenOntoStderr(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(errno, "log file " + path);
  std::fflush(stderr);
  if (fd == STDERR_FILENO) return Status::Ok();  // fd 2 was closed: the file took its place
  int rc = dup2(fd, STDERR_FILENO);
  int err = errno;
  close(fd);
  if (rc < 0) return ErrnoStatus(err, "log file " + path);
  return Status::Ok();
}
}  // namespace

Status LogToFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_file_mu);
  if (Status s = OpenOntoStderr(path); !s.ok()) return s;
  g_file = path;
  return Status::Ok();
}

Status ReopenLog() {
  if (g_syslog) {
    closelog();
    openlog("daqfs", LOG_PID, LOG_DAEMON);
    return Status::Ok();
  }
  std::lock_guard<std::mutex> lock(g_file_mu);
  if (g_file.empty()) return Status::Ok();
  return OpenOntoStderr(g_file);
}

void ForgetLogFile() {
  std::lock_guard<std::mutex> lock(g_file_mu);
  g_file.clear();
}

std::string LogTarget() {
  if (g_syslog) return "syslog";
  std::lock_guard<std::mutex> lock(g_file_mu);
  return g_file.empty() ? "stderr" : g_file;
}

void Log(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) > g_level.load(std::memory_order_relaxed)) return;
  if (g_syslog) {
    int prio = level == LogLevel::kError  ? LOG_ERR
               : level == LogLevel::kWarn ? LOG_WARNING
               : level == LogLevel::kInfo ? LOG_INFO
                                          : LOG_DEBUG;
    syslog(prio, "%s", message.c_str());
    return;
  }
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tmv;
  gmtime_r(&ts.tv_sec, &tmv);
  char stamp[40];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tmv);
  char head[96];
  std::snprintf(head, sizeof head, "%s.%03ldZ daqfs[%d] %s: ", stamp, ts.tv_nsec / 1000000,
                static_cast<int>(getpid()), LogLevelName(level));
  std::string line;
  line.reserve(std::strlen(head) + message.size() + 1);
  line.append(head).append(message).push_back('\n');
  // Nothing to report a failed log write to; the line is lost, as with fprintf before.
  (void)WriteAll(STDERR_FILENO, line, "log");
}

void RateLimitedLog::Log(LogLevel level, const std::string& message) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_ms_.load();
  if (now < next || !next_ms_.compare_exchange_strong(next, now + interval_ms_)) {
    suppressed_++;
    return;
  }
  uint64_t dropped = suppressed_.exchange(0);
  daqfs::Log(level, dropped
                        ? message + " (" + std::to_string(dropped) + " similar messages suppressed)"
                        : message);
}

}  // namespace daqfs
