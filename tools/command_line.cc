#include "tools/command_line.h"

#include <getopt.h>

#include <cstdio>
#include <cstring>

namespace daqfs {
namespace {

// getopt_long reports long options by `val`; ids at or above this value mark "long option i".
constexpr int kLongBase = 256;

// The option argv[index] names, as written and without "=VALUE": "--source" from
// "--source=x"; "" when it is not a long option.
std::string LongNameAt(int argc, const char* const* argv, int index) {
  if (index <= 0 || index >= argc || std::strncmp(argv[index], "--", 2) != 0) return "";
  std::string s = argv[index];
  return s.substr(0, s.find('='));
}

}  // namespace

ParsedCommandLine ParseCommandLine(int argc, const char* const* argv,
                                   std::span<const CliOption> options) {
  ParsedCommandLine parsed;
  // '-' first: arguments come back in order as option 1 (and no POSIXLY_CORRECT changes that);
  // ':' next: a missing value is ':' rather than '?', and getopt prints nothing.
  std::string shorts = "-:";
  std::vector<struct option> longs;
  for (size_t i = 0; i < options.size(); ++i) {
    const CliOption& o = options[i];
    if (o.short_name != 0) {
      shorts += o.short_name;
      if (o.takes_value) shorts += ':';
    }
    if (o.name != nullptr) {
      longs.push_back({o.name, o.takes_value ? required_argument : no_argument, nullptr,
                       kLongBase + static_cast<int>(i)});
    }
  }
  longs.push_back({nullptr, 0, nullptr, 0});
  auto index_of_short = [&](int c) -> int {
    for (size_t i = 0; i < options.size(); ++i) {
      if (options[i].short_name != 0 && options[i].short_name == c) return static_cast<int>(i);
    }
    return -1;
  };
  auto name_of = [&](int index, int at) {
    std::string written = LongNameAt(argc, argv, at);
    if (!written.empty()) return written;
    const CliOption& o = options[index];
    return o.short_name != 0 ? std::string("-") + o.short_name : std::string("--") + o.name;
  };

  // getopt_long never writes the strings; it only reorders pointers (not in '-' mode at all).
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) args.push_back(const_cast<char*>(argv[i]));
  args.push_back(nullptr);
  optind = 0;  // glibc: 0 starts a new scan (also resets the position inside a cluster)
  opterr = 0;
  for (;;) {
    const int before = optind;
    const int c = getopt_long(argc, args.data(), shorts.c_str(), longs.data(), nullptr);
    if (c == -1) break;
    if (c == 1) {
      parsed.arguments.emplace_back(optarg);
      continue;
    }
    if (c >= kLongBase) {
      const int i = c - kLongBase;
      parsed.options.emplace_back(options[i].id, optarg != nullptr ? optarg : "");
      continue;
    }
    if (c == ':') {  // optopt: the option's val (a short char or kLongBase + i)
      parsed.error = ParsedCommandLine::Error::kMissingValue;
      const int i = optopt >= kLongBase ? optopt - kLongBase : index_of_short(optopt);
      parsed.bad = i >= 0 ? name_of(i, optind - 1) : std::string("-") + static_cast<char>(optopt);
      break;
    }
    if (c == '?') {
      // optopt is 0 for an unknown (or ambiguous) long option, the character for an unknown
      // short one, and the option's val for a known long flag that was given "=VALUE".
      if (optopt >= kLongBase) {
        parsed.error = ParsedCommandLine::Error::kUnexpectedValue;
        parsed.bad = name_of(optopt - kLongBase, optind - 1);
      } else if (optopt != 0) {
        parsed.error = ParsedCommandLine::Error::kUnknownOption;
        parsed.bad = std::string("-") + static_cast<char>(optopt);
      } else {
        parsed.error = ParsedCommandLine::Error::kUnknownOption;
        const int at = optind > before ? optind - 1 : before;
        parsed.bad = at < argc ? argv[at] : "?";
      }
      break;
    }
    const int i = index_of_short(c);
    parsed.options.emplace_back(options[i].id, optarg != nullptr ? optarg : "");
  }
  if (parsed.error == ParsedCommandLine::Error::kNone) {
    for (int i = optind; i < argc; ++i) parsed.arguments.emplace_back(argv[i]);
  }
  optind = 0;
  return parsed;
}

int ReportOutcome(const CliOutcome& outcome) {
  if (outcome.run) return -1;
  if (!outcome.out.empty()) std::fputs(outcome.out.c_str(), stdout);
  if (!outcome.err.empty()) std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

}  // namespace daqfs
