// The log's targets: a file that SIGHUP (ReopenLog) reopens after logrotate moved it, levels,
// the rate limit for errors a hot read path can repeat, and a blocked target that holds only the
// thread whose line waits for it.
#include "fs/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::Slurp;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    saved_stderr_ = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    ASSERT_GE(saved_stderr_, 0);
    saved_level_ = GetLogLevel();
  }
  void TearDown() override {
    ForgetLogFile();
    dup2(saved_stderr_, STDERR_FILENO);
    close(saved_stderr_);
    SetLogLevel(saved_level_);
  }
  testing::TempDir temp_{"log"};
  std::string dir_;
  int saved_stderr_ = -1;
  LogLevel saved_level_ = LogLevel::kInfo;
};

TEST_F(LogTest, AFileIsReopenedAfterLogrotateMovedIt) {
  std::string log = dir_ + "/daqfs.log";
  ASSERT_TRUE(LogToFile(log).ok());
  EXPECT_EQ(LogTarget(), log);
  SetLogLevel(LogLevel::kInfo);
  LogInfo("first line");
  LogDebug("not at info level");
  std::fprintf(stderr, "what a library prints\n");  // fd 2 is the file too
  std::fflush(stderr);
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  LogInfo("still into the moved file");
  ASSERT_TRUE(ReopenLog().ok());
  LogWarn("after the reopen");
  std::string old_file = Slurp(log + ".1");
  std::string new_file = Slurp(log);
  EXPECT_NE(old_file.find("info: first line"), std::string::npos) << old_file;
  EXPECT_NE(old_file.find("what a library prints"), std::string::npos) << old_file;
  EXPECT_NE(old_file.find("still into the moved file"), std::string::npos) << old_file;
  EXPECT_EQ(old_file.find("not at info level"), std::string::npos) << old_file;
  EXPECT_EQ(old_file.find("after the reopen"), std::string::npos) << old_file;
  EXPECT_NE(new_file.find("warn: after the reopen"), std::string::npos) << new_file;
}

TEST_F(LogTest, AnUnusableFileIsAnErrorNamingIt) {
  Status s = LogToFile(dir_ + "/no-such-folder/daqfs.log");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_ + "/no-such-folder/daqfs.log"), std::string::npos);
  EXPECT_EQ(LogTarget(), "stderr");
  EXPECT_TRUE(ReopenLog().ok());  // nothing to reopen
}

TEST_F(LogTest, RateLimitedLinesCountWhatTheySuppressed) {
  std::string log = dir_ + "/r.log";
  ASSERT_TRUE(LogToFile(log).ok());
  RateLimitedLog limited(std::chrono::hours(1));
  for (int i = 0; i < 5; ++i) limited.Log(LogLevel::kError, "corrupt frame");
  std::string text = Slurp(log);
  size_t first = text.find("corrupt frame");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("corrupt frame", first + 1), std::string::npos) << text;
}

// True when thread `tid` of this process sits in write(2) on `fd` (from /proc: the system call
// number and first argument of a thread blocked in a call).
bool BlockedInWrite(pid_t tid, int fd) {
  std::string text = Slurp("/proc/self/task/" + std::to_string(tid) + "/syscall");
  char want[64];
  std::snprintf(want, sizeof want, "%ld 0x%x ", static_cast<long>(SYS_write), fd);
  return text.rfind(want, 0) == 0;
}

TEST_F(LogTest, ABlockedTargetHoldsOnlyTheThreadWritingToIt) {
  // fd 2 becomes a full pipe that nobody reads: the next line written to it blocks in write(2).
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  char fill[4096] = {};
  while (write(p[1], fill, sizeof fill) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_EQ(fcntl(p[1], F_SETFL, 0), 0);
  ASSERT_EQ(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
  close(p[1]);  // fd 2 is the pipe's only write end now
  SetLogLevel(LogLevel::kInfo);

  std::atomic<pid_t> stuck_tid{0};
  std::thread stuck([&] {
    stuck_tid = static_cast<pid_t>(syscall(SYS_gettid));
    LogInfo("the stuck line");
  });
  // Wait (bounded) until that thread is inside write(2) on fd 2, so the case below is real.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool blocked = false;
  while (!blocked && std::chrono::steady_clock::now() < deadline) {
    blocked = stuck_tid != 0 && BlockedInWrite(stuck_tid, STDERR_FILENO);
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(blocked) << "the logging thread never blocked in write(2) on fd 2";

  // Meanwhile another thread moves the log to a file (as SIGHUP after logrotate would) and logs:
  // neither may wait for the blocked write.
  const std::string log = dir_ + "/moved.log";
  std::future<Status> other = std::async(std::launch::async, [&] {
    Status s = LogToFile(log);
    LogWarn("another thread's line");
    EXPECT_EQ(LogTarget(), log);
    return s;
  });
  const bool other_done = other.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(other_done) << "LogToFile or Log waited for another thread's blocked write";

  // Unblock the stuck writer: its line arrives whole in the pipe, then the pipe closes.
  std::string piped;
  char buf[4096];
  for (ssize_t n; piped.find("the stuck line\n") == std::string::npos &&
                  (n = read(p[0], buf, sizeof buf)) > 0;) {
    piped.append(buf, static_cast<size_t>(n));
  }
  stuck.join();
  Status moved = other.get();
  close(p[0]);
  ASSERT_TRUE(moved.ok()) << moved.ToString();
  EXPECT_NE(piped.find("info: the stuck line\n"), std::string::npos);
  std::string text = Slurp(log);
  EXPECT_NE(text.find("warn: another thread's line\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("the stuck line"), std::string::npos) << text;
}

TEST_F(LogTest, LinesFromManyThreadsStayWhole) {
  const std::string log = dir_ + "/many.log";
  ASSERT_TRUE(LogToFile(log).ok());
  SetLogLevel(LogLevel::kInfo);
  constexpr int kThreads = 8, kLines = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      const std::string body(200 + t * 37, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) LogInfo(body);
    });
  }
  for (std::thread& t : threads) t.join();
  std::istringstream in(Slurp(log));
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    size_t colon = line.find("info: ");
    ASSERT_NE(colon, std::string::npos) << line;
    std::string body = line.substr(colon + 6);
    ASSERT_FALSE(body.empty());
    int t = body[0] - 'a';
    ASSERT_TRUE(t >= 0 && t < kThreads) << line;
    EXPECT_EQ(body, std::string(200 + t * 37, body[0]));
  }
  EXPECT_EQ(lines, kThreads * kLines);
}

}  // namespace
}  // namespace daqfs
