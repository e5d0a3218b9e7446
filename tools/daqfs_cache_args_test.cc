// daqfs-cache's command line: a command, then options and PATHs in any order.
#include "tools/daqfs_cache_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

using Strings = std::vector<std::string>;

CliOutcome Parse(Strings args, CacheArgs* out) {
  args.insert(args.begin(), "daqfs-cache");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseCacheArgs(static_cast<int>(argv.size()), argv.data(), out);
}

TEST(CacheArgsTest, CommandsAndOptions) {
  CacheArgs a;
  ASSERT_TRUE(Parse({"stats", "--dir", "/c"}, &a).run);
  EXPECT_EQ(a.command, "stats");
  EXPECT_EQ(a.dir, "/c");
  CacheArgs b;
  ASSERT_TRUE(Parse({"clear", "--config=/etc/daqfs.ini"}, &b).run);
  EXPECT_EQ(b.command, "clear");
  EXPECT_EQ(b.config, "/etc/daqfs.ini");
  CacheArgs c;
  ASSERT_TRUE(Parse({"warm", "/mnt/a", "--", "-odd"}, &c).run);
  EXPECT_EQ(c.paths, (Strings{"/mnt/a", "-odd"}));
}

TEST(CacheArgsTest, HelpVersionAndNoArguments) {
  CacheArgs a;
  EXPECT_EQ(Parse({"--help"}, &a).out, kCacheUsage);
  EXPECT_EQ(Parse({"stats", "-h"}, &a).exit_code, 0);
  EXPECT_EQ(Parse({"-V"}, &a).out.rfind("daqfs-cache ", 0), 0u);
  CliOutcome none = Parse({}, &a);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, kCacheUsage);
}

TEST(CacheArgsTest, UsageErrorsExitOne) {
  struct Case {
    Strings args;
    std::string message;
  } cases[] = {
      {{"stats", "--bogus"}, "daqfs-cache: unknown option --bogus\n"},
      {{"stats", "--dir"}, "daqfs-cache: --dir needs a value\n"},
      {{"frob"}, "daqfs-cache: unknown command frob\n"},
      {{"warm"}, "daqfs-cache: warm needs at least one PATH\n"},
      {{"clear", "x"}, "daqfs-cache: clear takes no PATH\n"},
      {{"--dir", "/c"}, "daqfs-cache: no command (stats, clear or warm)\n"},
  };
  for (const Case& c : cases) {
    CacheArgs a;
    CliOutcome o = Parse(c.args, &a);
    EXPECT_FALSE(o.run) << c.message;
    EXPECT_EQ(o.exit_code, 1) << c.message;
    EXPECT_EQ(o.err.substr(0, c.message.size()), c.message) << o.err;
  }
}

}  // namespace
}  // namespace daqfs
