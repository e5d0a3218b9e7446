// The daemon's command line: the forms mount.fuse3 and users write, --help / --version, and
// usage errors that name the option with exit code 1.
#include "tools/daqfs_args.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

using Strings = std::vector<std::string>;

CliOutcome Parse(Strings args, DaqfsArgs* out) {
  args.insert(args.begin(), "daqfs");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseDaqfsArgs(static_cast<int>(argv.size()), argv.data(), out);
}

TEST(DaqfsArgsTest, HelpAndVersionGoToStdoutWithExitZero) {
  DaqfsArgs a;
  CliOutcome help = Parse({"--help"}, &a);
  EXPECT_FALSE(help.run);
  EXPECT_EQ(help.exit_code, kExitOk);
  EXPECT_EQ(help.out, kDaqfsUsage);
  EXPECT_EQ(Parse({"-h", "--bogus"}, &a).out, kDaqfsUsage);  // in order: help comes first
  CliOutcome version = Parse({"-V"}, &a);
  EXPECT_EQ(version.exit_code, kExitOk);
  EXPECT_EQ(version.out.rfind("daqfs ", 0), 0u) << version.out;
  EXPECT_TRUE(version.err.empty());
}

TEST(DaqfsArgsTest, MountFuse3Form) {
  // mount.fuse3 runs: daqfs CONFIG MOUNTPOINT -o ro,allow_other,dev,suid
  DaqfsArgs a;
  CliOutcome o =
      Parse({"/etc/daqfs.ini", "/mnt/daq", "-o", "ro,allow_other,nofail,x-sys,nonempty"}, &a);
  ASSERT_TRUE(o.run) << o.err;
  EXPECT_EQ(a.positional, (Strings{"/etc/daqfs.ini", "/mnt/daq"}));
  EXPECT_EQ(a.mount_options, (Strings{"ro", "allow_other"}));
  EXPECT_TRUE(a.nonempty);
  EXPECT_FALSE(a.foreground);
}

TEST(DaqfsArgsTest, ValuesInlineOrSeparateAndAttachedShortValues) {
  DaqfsArgs a;
  CliOutcome o = Parse(
      {"-fd", "-oro", "--source=/data", "--cache-dir", "/c", "--log-level=debug", "/mnt"}, &a);
  ASSERT_TRUE(o.run) << o.err;
  EXPECT_TRUE(a.foreground);
  EXPECT_TRUE(a.debug);
  EXPECT_EQ(a.mount_options, Strings{"ro"});
  EXPECT_EQ(a.source, "/data");
  EXPECT_EQ(a.cache_dir, "/c");
  EXPECT_EQ(a.log_level, "debug");
  EXPECT_EQ(a.positional, Strings{"/mnt"});
}

TEST(DaqfsArgsTest, DoubleDashEndsOptions) {
  DaqfsArgs a;
  CliOutcome o = Parse({"-f", "--", "-odd.ini", "--mnt"}, &a);
  ASSERT_TRUE(o.run) << o.err;
  EXPECT_EQ(a.positional, (Strings{"-odd.ini", "--mnt"}));
  EXPECT_TRUE(a.mount_options.empty());
}

TEST(DaqfsArgsTest, UsageErrorsNameTheOption) {
  struct Case {
    Strings args;
    std::string message;
  } cases[] = {
      {{"--bogus", "x", "y"}, "daqfs: unknown option '--bogus'\n"},
      {{"-x", "a.ini"}, "daqfs: unknown option '-x'\n"},
      {{"a.ini", "--source"}, "daqfs: --source needs a value\n"},
      {{"a.ini", "-o"}, "daqfs: -o needs a value\n"},
      {{"--ready-fd=x", "a.ini"}, "daqfs: bad --ready-fd 'x'\n"},
      {{"-f=1", "a.ini"}, "daqfs: unknown option '-='\n"},
      {{"--help=1"}, "daqfs: --help takes no value\n"},
      {{"--check-config", "a.ini", "b"},
       "daqfs: --check-config takes only the configuration file\n"},
      {{}, "daqfs: expected CONFIG.ini [MOUNTPOINT]\n"},
      {{"a", "b", "c"}, "daqfs: expected CONFIG.ini [MOUNTPOINT]\n"},
      {{"--source", "/d"}, "daqfs: expected MOUNTPOINT (with --source)\n"},
  };
  for (const Case& c : cases) {
    DaqfsArgs a;
    CliOutcome o = Parse(c.args, &a);
    EXPECT_FALSE(o.run) << c.message;
    EXPECT_EQ(o.exit_code, kExitUsage) << c.message;
    EXPECT_EQ(o.err.substr(0, c.message.size()), c.message) << o.err;
    EXPECT_TRUE(o.out.empty());
  }
}

TEST(DaqfsArgsTest, ReadyFdMustBeOpenForWriting) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  DaqfsArgs a;
  CliOutcome o = Parse({"--ready-fd", std::to_string(p[1]), "a.ini", "/mnt"}, &a);
  EXPECT_TRUE(o.run) << o.err;
  EXPECT_EQ(a.ready_fd, p[1]);
  o = Parse({"--ready-fd", std::to_string(p[0]), "a.ini", "/mnt"}, &a);
  EXPECT_EQ(o.exit_code, kExitUsage);
  EXPECT_NE(o.err.find("not open for writing"), std::string::npos) << o.err;
  close(p[0]);
  close(p[1]);
  o = Parse({"--ready-fd", std::to_string(p[0]), "a.ini", "/mnt"}, &a);
  EXPECT_NE(o.err.find("not an open file descriptor"), std::string::npos) << o.err;
}

TEST(DaqfsArgsTest, CheckConfigAlone) {
  DaqfsArgs a;
  CliOutcome o = Parse({"--check-config=/etc/daqfs.ini"}, &a);
  ASSERT_TRUE(o.run) << o.err;
  EXPECT_EQ(a.check_config, "/etc/daqfs.ini");
}

}  // namespace
}  // namespace daqfs
