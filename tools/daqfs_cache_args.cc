#include "tools/daqfs_cache_args.h"

#include "fs/version.h"

namespace daqfs {

const char* const kCacheUsage = R"(usage: daqfs-cache stats [--dir DIR | --config FILE]
       daqfs-cache clear [--dir DIR | --config FILE]
       daqfs-cache warm PATH...

  stats   count every file in a cache folder and its bytes (apparent size, as du -sb): blocks,
          blobs (archive indexes, decompressed archives, spilled frames; also per source),
          the sources' state, temp files, the LRU and lock files, and anything else as
          "other" (reads names and sizes only, safe while mounted)
  clear   delete every cached block, blob and state file (refused while a daqfs daemon uses
          the folder)
  warm    read every file under PATH (files or folders inside a daqfs mount; symlinks below
          PATH are not followed) so that their decoded blocks land in the cache, with a
          summary on stdout (and a progress bar on stderr when it is a terminal); a PATH
          outside a daqfs mount is refused (exit 1)

  --dir DIR       the cache folder (default: [cache] dir of --config, else the built-in default)
  --config FILE   a daqfs configuration to take [cache] dir from
  -h, --help      this text
  -V, --version   version

exit status: 0 ok; 1 bad command line (or a warm PATH not inside a daqfs mount); 2 bad
configuration; 3 folder unusable or in use;
4 some files could not be read (warm).
)";

namespace {

enum Opt { kDir, kConfig, kHelp, kVersion };
constexpr CliOption kOptions[] = {
    {"dir", 0, true, kDir},
    {"config", 0, true, kConfig},
    {"help", 'h', false, kHelp},
    {"version", 'V', false, kVersion},
};

CliOutcome Usage(const std::string& message, bool with_usage = true) {
  return CliOutcome::Exit(1, "",
                          "daqfs-cache: " + message + "\n" + (with_usage ? kCacheUsage : ""));
}

}  // namespace

CliOutcome ParseCacheArgs(int argc, const char* const* argv, CacheArgs* a) {
  if (argc < 2) return CliOutcome::Exit(1, "", kCacheUsage);
  ParsedCommandLine parsed = ParseCommandLine(argc, argv, kOptions);
  for (const auto& [id, v] : parsed.options) {
    switch (id) {
      case kHelp:
        return CliOutcome::Exit(0, kCacheUsage, "");
      case kVersion:
        return CliOutcome::Exit(0, std::string("daqfs-cache ") + DaqfsVersion() + "\n", "");
      case kDir:
        a->dir = v;
        break;
      case kConfig:
        a->config = v;
        break;
    }
  }
  switch (parsed.error) {
    case ParsedCommandLine::Error::kNone:
      break;
    case ParsedCommandLine::Error::kUnknownOption:
      return Usage("unknown option " + parsed.bad);
    case ParsedCommandLine::Error::kMissingValue:
      return Usage(parsed.bad + " needs a value");
    case ParsedCommandLine::Error::kUnexpectedValue:
      return Usage(parsed.bad + " takes no value");
  }
  if (parsed.arguments.empty()) return Usage("no command (stats, clear or warm)");
  a->command = parsed.arguments[0];
  a->paths.assign(parsed.arguments.begin() + 1, parsed.arguments.end());
  if (a->command == "warm") {
    if (a->paths.empty()) return Usage("warm needs at least one PATH");
    return CliOutcome::Run();
  }
  if (a->command != "stats" && a->command != "clear") {
    return Usage("unknown command " + a->command);
  }
  if (!a->paths.empty()) return Usage(a->command + " takes no PATH", false);
  return CliOutcome::Run();
}

}  // namespace daqfs
