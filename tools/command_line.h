// The one command-line parser of the daqfs tools (daqfs, daqfs-cache, daqfs-repack): GNU
// getopt_long over a table of options, so every tool accepts the same forms:
//   --name VALUE, --name=VALUE, -x VALUE, -xVALUE, clustered flags (-fd), options before, between
//   and after the other arguments, "--" to end options (what follows is an argument even when it
//   starts with '-'), "-" as an argument; a long name may be abbreviated while it is unambiguous.
// Each tool keeps its own usage text, messages and exit codes (tools/*_args.h); this file only
// splits argv and names what is wrong: an unknown option, a missing value, a value given to a
// flag.
//
// Thread safety: ParseCommandLine uses getopt_long's process-wide state (optind, optarg, ...),
// resets it first and must not run on two threads at once (tools parse once, in main).
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace daqfs {

// One option a tool accepts.
struct CliOption {
  const char* name;  // long name without "--"; nullptr for a short option only
  char short_name;   // single-letter name, 0 for none
  bool takes_value;  // true: needs a value (--name VALUE, --name=VALUE, -x VALUE, -xVALUE)
  int id;            // what ParsedCommandLine::options reports for it
};

struct ParsedCommandLine {
  enum class Error { kNone, kUnknownOption, kMissingValue, kUnexpectedValue };
  // Options in command-line order: (CliOption::id, value; "" for a flag). On an error, the
  // options before the bad one.
  std::vector<std::pair<int, std::string>> options;
  // The other arguments in order (with every argument after "--").
  std::vector<std::string> arguments;
  Error error = Error::kNone;
  // The bad option as written: "--bogus", "--bogus=1", "-x"; for kMissingValue and
  // kUnexpectedValue the option's name ("--source", "-o", "--verify").
  std::string bad;
};

// Splits argv[1..argc-1] by `options`. Never prints.
ParsedCommandLine ParseCommandLine(int argc, const char* const* argv,
                                   std::span<const CliOption> options);

// What a tool's parser decided: run, or exit with `exit_code` after printing `out` on stdout
// (--help, --version) and `err` on stderr (a usage error).
struct CliOutcome {
  bool run = true;
  int exit_code = 0;
  std::string out, err;
  static CliOutcome Run() { return {}; }
  static CliOutcome Exit(int code, std::string out, std::string err) {
    return {false, code, std::move(out), std::move(err)};
  }
};

// Prints an outcome's texts; returns its exit code, or -1 when the tool should run.
int ReportOutcome(const CliOutcome& outcome);

}  // namespace daqfs
