// The shared getopt_long parser: every form of option and value, "--", "-", and errors that name
// the option as written.
#include "tools/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

enum { kFlag = 1, kOut, kName, kVerbose, kLevel };
const CliOption kOptions[] = {
    {"flag", 'f', false, kFlag},     {"output", 'o', true, kOut}, {"name", 0, true, kName},
    {nullptr, 'v', false, kVerbose}, {"level", 0, true, kLevel},
};
using Error = ParsedCommandLine::Error;
using Opts = std::vector<std::pair<int, std::string>>;
using Strings = std::vector<std::string>;

ParsedCommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tool");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), kOptions);
}

TEST(CommandLineTest, ValuesSeparateInlineAndAttached) {
  ParsedCommandLine p = Parse({"--output", "a", "--output=b", "-o", "c", "-od", "--name=", "x"});
  EXPECT_EQ(p.error, Error::kNone);
  EXPECT_EQ(p.options, (Opts{{kOut, "a"}, {kOut, "b"}, {kOut, "c"}, {kOut, "d"}, {kName, ""}}));
  EXPECT_EQ(p.arguments, Strings{"x"});
}

TEST(CommandLineTest, OptionsAndArgumentsMixInOrder) {
  ParsedCommandLine p = Parse({"in1", "-fv", "in2", "--flag", "-", "--level", "-5"});
  EXPECT_EQ(p.error, Error::kNone);
  EXPECT_EQ(p.options, (Opts{{kFlag, ""}, {kVerbose, ""}, {kFlag, ""}, {kLevel, "-5"}}));
  EXPECT_EQ(p.arguments, (Strings{"in1", "in2", "-"}));
}

TEST(CommandLineTest, DoubleDashEndsOptions) {
  ParsedCommandLine p = Parse({"-f", "a", "--", "--flag", "-o", "--"});
  EXPECT_EQ(p.error, Error::kNone);
  EXPECT_EQ(p.options, (Opts{{kFlag, ""}}));
  EXPECT_EQ(p.arguments, (Strings{"a", "--flag", "-o", "--"}));
}

TEST(CommandLineTest, UnambiguousAbbreviationsOfLongNames) {
  ParsedCommandLine p = Parse({"--out", "a", "--lev=3"});
  EXPECT_EQ(p.error, Error::kNone);
  EXPECT_EQ(p.options, (Opts{{kOut, "a"}, {kLevel, "3"}}));
}

TEST(CommandLineTest, UnknownOptionsAreNamedAsWritten) {
  ParsedCommandLine p = Parse({"-f", "--bogus=1", "--flag"});
  EXPECT_EQ(p.error, Error::kUnknownOption);
  EXPECT_EQ(p.bad, "--bogus=1");
  EXPECT_EQ(p.options, (Opts{{kFlag, ""}}));  // what came before the error
  p = Parse({"-fx"});
  EXPECT_EQ(p.error, Error::kUnknownOption);
  EXPECT_EQ(p.bad, "-x");
  p = Parse({"-q", "a"});
  EXPECT_EQ(p.error, Error::kUnknownOption);
  EXPECT_EQ(p.bad, "-q");
}

TEST(CommandLineTest, MissingValuesAreNamed) {
  ParsedCommandLine p = Parse({"a", "--output"});
  EXPECT_EQ(p.error, Error::kMissingValue);
  EXPECT_EQ(p.bad, "--output");
  p = Parse({"-o"});
  EXPECT_EQ(p.error, Error::kMissingValue);
  EXPECT_EQ(p.bad, "-o");
  p = Parse({"--name"});
  EXPECT_EQ(p.error, Error::kMissingValue);
  EXPECT_EQ(p.bad, "--name");
}

TEST(CommandLineTest, AValueForAFlagIsAnError) {
  ParsedCommandLine p = Parse({"--flag=yes"});
  EXPECT_EQ(p.error, Error::kUnexpectedValue);
  EXPECT_EQ(p.bad, "--flag");
}

TEST(CommandLineTest, ParsesAgainFromTheStart) {
  // getopt keeps state between calls; each parse must start afresh, also after an error
  // inside a cluster of short flags.
  EXPECT_EQ(Parse({"-fx", "y"}).error, Error::kUnknownOption);
  ParsedCommandLine p = Parse({"-v", "z"});
  EXPECT_EQ(p.error, Error::kNone);
  EXPECT_EQ(p.options, (Opts{{kVerbose, ""}}));
  EXPECT_EQ(p.arguments, Strings{"z"});
}

TEST(CommandLineTest, OutcomeReportsItsExitCode) {
  EXPECT_EQ(ReportOutcome(CliOutcome::Run()), -1);
  EXPECT_EQ(ReportOutcome(CliOutcome::Exit(3, "", "")), 3);
}

}  // namespace
}  // namespace daqfs
