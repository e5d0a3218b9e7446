// The log's targets: a file that SIGHUP (ReopenLog) reopens after logrotate moved it, levels,
// and the rate limit for errors a hot read path can repeat.
#include "fs/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace
}  // namespace daqfs
