// The daqfs daemon's command line: its usage text, exit codes and options, parsed with the
// tools' one parser (tools/command_line.h). What the options mean is in the usage text (kept
// word for word in README and in the manual page help2man makes from --help).
//
// Thread safety: ParseDaqfsArgs uses getopt's process-wide state; call it from main only.
#pragma once

#include <string>
#include <vector>

#include "tools/command_line.h"

namespace daqfs {

// Exit codes (documented in README and --help).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitConfig = 2;
inline constexpr int kExitSource = 3;
inline constexpr int kExitMount = 4;
inline constexpr int kExitRuntime = 5;
inline constexpr int kExitCache = 6;

// The --help text.
extern const char* const kDaqfsUsage;

struct DaqfsArgs {
  bool foreground = false;                 // -f (or -d)
  bool debug = false;                      // -d
  std::vector<std::string> mount_options;  // -o lists, without mount(8)-only options
  std::string source;                      // --source PATH
  std::vector<std::string> positional;     // CONFIG.ini [MOUNTPOINT], or MOUNTPOINT
  int ready_fd = -1;                       // --ready-fd N, checked open for writing
  std::string log_level;                   // --log-level, unchecked
  std::string cache_dir;                   // --cache-dir DIR
  std::string check_config;                // --check-config FILE
  bool nonempty = false;                   // -o nonempty (daqfs checks it, not libfuse)
};

// Parses argv into *args. Run: *args is complete and consistent (positional count fits the
// mode; --ready-fd names a descriptor open for writing). Exit: --help / --version (exit 0) or a
// usage error naming what is wrong, followed by the usage text (exit kExitUsage).
CliOutcome ParseDaqfsArgs(int argc, const char* const* argv, DaqfsArgs* args);

}  // namespace daqfs
