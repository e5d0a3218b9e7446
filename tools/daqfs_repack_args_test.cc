// daqfs-repack's command line: values in both forms, sizes through fs/config.h's ParseSize,
// inputs after "--", and usage errors (exit 1) that name the option.
#include "tools/daqfs_repack_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

using Strings = std::vector<std::string>;

CliOutcome Parse(Strings args, RepackArgs* out) {
  args.insert(args.begin(), "daqfs-repack");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseRepackArgs(static_cast<int>(argv.size()), argv.data(), out);
}

TEST(RepackArgsTest, EveryOptionInBothForms) {
  RepackArgs a;
  CliOutcome o = Parse({"in1.tar", "-oout", "--group=(?<c>\\d+)", "--window", "c=30", "--name",
                        "{c}.tar", "--frame-size=3MiB", "--level", "-5", "--threads=2", "--force",
                        "--verify", "--dry-run", "in2.tar"},
                       &a);
  ASSERT_TRUE(o.run) << o.err;
  EXPECT_EQ(a.options.output_dir, "out");
  EXPECT_EQ(a.options.group_regex, "(?<c>\\d+)");
  ASSERT_EQ(a.options.windows.size(), 1u);
  EXPECT_EQ(a.options.windows[0].group, "c");
  EXPECT_EQ(a.options.windows[0].width, 30u);
  EXPECT_EQ(a.options.name_template, "{c}.tar");
  EXPECT_EQ(a.options.frame_size, uint64_t{3} << 20);
  EXPECT_EQ(a.options.level, -5);
  EXPECT_EQ(a.options.threads, 2u);
  EXPECT_TRUE(a.options.force);
  EXPECT_TRUE(a.verify);
  EXPECT_TRUE(a.dry_run);
  EXPECT_EQ(a.inputs, (Strings{"in1.tar", "in2.tar"}));
}

TEST(RepackArgsTest, SizesAsTheConfigurationWritesThem) {
  for (auto [text, bytes] : std::vector<std::pair<std::string, uint64_t>>{
           {"4096", 4096}, {"64K", 65536}, {"1M", 1 << 20}, {"2g", uint64_t{2} << 30}}) {
    RepackArgs a;
    ASSERT_TRUE(Parse({"-o", "d", "--frame-size", text, "x.tar"}, &a).run) << text;
    EXPECT_EQ(a.options.frame_size, bytes) << text;
  }
  for (std::string bad : {"", "M", "1X", "99999999999999999999"}) {
    RepackArgs a;
    CliOutcome o = Parse({"-o", "d", "--frame-size=" + bad, "x.tar"}, &a);
    EXPECT_EQ(o.exit_code, 1) << bad;
    EXPECT_EQ(o.err.rfind("daqfs-repack: --frame-size '" + bad + "': ", 0), 0u) << o.err;
  }
}

TEST(RepackArgsTest, InputsAfterDoubleDashAndDash) {
  RepackArgs a;
  ASSERT_TRUE(Parse({"-o", "d", "--", "--weird.tar", "-"}, &a).run);
  EXPECT_EQ(a.inputs, (Strings{"--weird.tar", "-"}));
}

TEST(RepackArgsTest, UsageErrorsNameTheOption) {
  struct Case {
    Strings args;
    std::string message;
  } cases[] = {
      {{"-o", "d", "--bogus", "x.tar"}, "unknown option --bogus"},
      {{"x.tar", "-o"}, "-o needs a folder"},
      {{"x.tar", "--output"}, "--output needs a folder"},
      {{"-o", "", "x.tar"}, "-o needs a folder"},
      {{"-o", "d", "x.tar", "--group"}, "--group needs a regex"},
      {{"-o", "d", "x.tar", "--window"}, "--window needs NAME=N"},
      {{"-o", "d", "--window", "c", "x.tar"}, "--window 'c': expected NAME=N"},
      {{"-o", "d", "--level", "x", "x.tar"}, "--level needs an integer"},
      {{"-o", "d", "--threads=0", "x.tar"}, "--threads needs an integer from 1 to 1024"},
      {{"-o", "d", "--verify=yes", "x.tar"}, "--verify takes no value"},
      {{"x.tar"}, "-o DIR is required"},
      {{"-o", "d"}, "no input tar archives given"},
  };
  for (const Case& c : cases) {
    RepackArgs a;
    CliOutcome o = Parse(c.args, &a);
    EXPECT_FALSE(o.run) << c.message;
    EXPECT_EQ(o.exit_code, 1) << c.message;
    EXPECT_EQ(o.err, "daqfs-repack: " + c.message + "\n(see daqfs-repack --help)\n");
  }
}

TEST(RepackArgsTest, HelpAndVersion) {
  RepackArgs a;
  CliOutcome help = Parse({"--help"}, &a);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out, kRepackUsage);
  EXPECT_EQ(Parse({"-V"}, &a).out.rfind("daqfs-repack ", 0), 0u);
}

}  // namespace
}  // namespace daqfs
