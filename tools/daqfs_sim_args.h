// daqfs-sim's command line: its usage text and options, parsed with the tools' one parser
// (tools/command_line.h) into SimOptions (tools/daqfs_sim.h). Exit codes: 0 ok, 1 bad command
// line, 2 the socket could not be bound or connected.
//
// Thread safety: ParseSimArgs uses getopt's process-wide state; call it from main only.
#pragma once

#include "tools/command_line.h"
#include "tools/daqfs_sim.h"

namespace daqfs {

extern const char* const kSimUsage;

// Parses argv into *options. Exit: --help / --version (0) or a usage error naming the option
// (1, "daqfs-sim: MESSAGE" and a pointer to --help).
CliOutcome ParseSimArgs(int argc, const char* const* argv, SimOptions* options);

}  // namespace daqfs
