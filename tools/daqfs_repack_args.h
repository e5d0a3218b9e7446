// daqfs-repack's command line: its usage text and options, parsed with the tools' one parser
// (tools/command_line.h) into the engine's RepackOptions (tools/repack.h). Exit codes are
// RepackFailure's values; a bad command line is kUsage (1).
//
// Thread safety: ParseRepackArgs uses getopt's process-wide state; call it from main only.
#pragma once

#include <string>
#include <vector>

#include "tools/command_line.h"
#include "tools/repack.h"

namespace daqfs {

// The --help text.
extern const char* const kRepackUsage;

struct RepackArgs {
  RepackOptions options;            // output_dir set; threads 0 = the number of cores
  std::vector<std::string> inputs;  // TAR... (at least one)
  bool verify = false;              // --verify
  bool dry_run = false;             // --dry-run
};

// Parses argv into *args. Run: -o DIR and at least one input given, every value valid
// (--frame-size with fs/config.h's ParseSize, --window with ParseWindowSpec). Exit: --help /
// --version (exit 0) or a usage error naming the option (exit 1, "daqfs-repack: MESSAGE" and a
// pointer to --help).
CliOutcome ParseRepackArgs(int argc, const char* const* argv, RepackArgs* args);

}  // namespace daqfs
