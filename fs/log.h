// Leveled logging to stderr (default) or syslog.
//
// The logger is process-wide output configuration, not state: tests may create many Vfs
// instances and all log through it. Thread safety: all functions are thread-safe. A line is
// written with one write(2) and no lock held, so lines never interleave inside a line, and a
// log target that blocks delays only the threads whose lines wait for it (LogToFile and
// ReopenLog still change the target meanwhile).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "fs/status.h"

namespace daqfs {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Parses "error", "warn", "info", "debug".
bool ParseLogLevel(const std::string& text, LogLevel* out);
// The name ParseLogLevel reads: "error", "warn", "info", "debug".
const char* LogLevelName(LogLevel level);
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Sends log lines to syslog (ident "daqfs") instead of stderr.
void UseSyslog(bool on);
// Appends log lines to `path` (created 0640): the file is opened onto stderr (fd 2), so what
// libraries print there lands in it too. Errors: the open's errno as a Status.
Status LogToFile(const std::string& path);
// Reopens the log file named by LogToFile (after logrotate moved it) or reconnects to syslog;
// nothing for stderr. Called on SIGHUP. Errors are also logged to the old target.
Status ReopenLog();
// Stops writing to the log file named by LogToFile (fd 2 is left as it is): lines go to stderr.
void ForgetLogFile();
// The current target, as .daqfs/config shows it: "stderr", "syslog" or the file's path.
std::string LogTarget();

void Log(LogLevel level, const std::string& message);
inline void LogError(const std::string& m) { Log(LogLevel::kError, m); }
inline void LogWarn(const std::string& m) { Log(LogLevel::kWarn, m); }
inline void LogInfo(const std::string& m) { Log(LogLevel::kInfo, m); }
inline void LogDebug(const std::string& m) { Log(LogLevel::kDebug, m); }

// Lets one line through per `interval`, counting the ones it suppressed; used for errors that a
// hot read path can hit many times (a corrupt block read by many requests).
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::milliseconds interval = std::chrono::seconds(5))
      : interval_ms_(interval.count()) {}
  void Log(LogLevel level, const std::string& message);

 private:
  int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace daqfs
