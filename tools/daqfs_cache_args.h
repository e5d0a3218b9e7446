// daqfs-cache's command line: its usage text, exit codes and options, parsed with the tools'
// one parser (tools/command_line.h). The first argument that is not an option is the command.
//
// Thread safety: ParseCacheArgs uses getopt's process-wide state; call it from main only.
#pragma once

#include <string>
#include <vector>

#include "tools/command_line.h"

namespace daqfs {

// The --help text.
extern const char* const kCacheUsage;

struct CacheArgs {
  std::string command;             // "stats", "clear" or "warm"
  std::string dir;                 // --dir DIR ("" = not given)
  std::string config;              // --config FILE ("" = not given)
  std::vector<std::string> paths;  // warm's PATHs (at least one); empty for stats and clear
};

// Parses argv into *args. Run: a known command with what it needs. Exit: --help / --version
// (exit 0) or a usage error (exit 1) naming the bad option, command or argument.
CliOutcome ParseCacheArgs(int argc, const char* const* argv, CacheArgs* args);

}  // namespace daqfs
