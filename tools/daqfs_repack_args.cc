#include "tools/daqfs_repack_args.h"

#include <cerrno>
#include <cstdlib>

#include "fs/config.h"
#include "fs/version.h"

namespace daqfs {

const char* const kRepackUsage =
    R"(usage: daqfs-repack -o DIR [--group REGEX] [--window NAME=N]... [--name TEMPLATE]
                    [--frame-size SIZE] [--level N] [--threads N] [--force]
                    [--verify] [--dry-run] TAR...

Repacks tar archives into tar archives whose members are zstd streams in the seekable format
(independent frames plus a seek table), which daqfs mounts with random access and which stock
`tar -x` and `zstd -d` still unpack.

Each regular file FILE becomes FILE.zst (a member already named X.zst stays X.zst); its content
is the input's content, decompressed first when the input member is zstd (recognised by its
magic number, also without the .zst suffix; pzstd output too). Mode, owner ids, mtime and
xattrs are kept. Directories and symlinks are copied as they are; hard links become regular
copies. Members are sorted by path in each output. Inputs must be plain (uncompressed) tar files.

  -o, --output DIR    where outputs go (created if missing). Outputs are written under a
                      temporary name in DIR, fsync'ed and renamed into place.
  --group REGEX       PCRE2 regex searched in each member's full path inside its tar (e.g.
                      "obs1/1266932744_0000_ch109.dat"; not anchored: use ^ and $ to anchor).
                      The values of its named groups form the member's group; members of all
                      inputs are regrouped. Members matching nothing go to unmatched.tar (the
                      count is reported). A folder that does not match goes into every output
                      holding something beneath it. Without --group, each input TAR becomes one
                      output of the same base name.
  --window NAME=N     bucket the numeric group NAME into windows of N: the value v becomes the
                      window start floor(v/N)*N, zero-padded to the matched width; {NAME_end}
                      is start+N-1. Repeatable.
  --name TEMPLATE     output name, with {NAME} and {NAME_end} placeholders ("{{" and "}}" for
                      braces); may contain '/' for subfolders of DIR. Example:
                      "{obsid}_{sec}-{sec_end}_ch{chan}.tar". Default with --group: the group
                      values joined by '_' plus ".tar"; without --group: the input's base name
                      ({input} is that name without ".tar"). Groups whose names expand alike
                      share one output.
  --frame-size SIZE   decompressed bytes per zstd frame, 1K..1G (K, M, G suffixes; default 1M).
                      Smaller frames make random reads cheaper, larger ones compress better.
  --level N           zstd compression level (default 3; negative levels are faster).
  --threads N         compressing threads (default: number of cores). At most N+1 members are
                      in flight. Members up to 64 MiB are compressed in memory; larger ones are
                      streamed through a temporary file in DIR (one thread per member, many
                      such members in parallel).
  --force             replace existing outputs (default: refuse, exit 2)
  --verify            read every output back (tar index, seek table, every frame decoded with
                      its checksums) and compare each member's XXH64 with its input's content
  --dry-run           print the planned outputs (name, members, input bytes) and exit
  -h, --help          this text
  -V, --version       version

When one member path occurs twice in an output, the later one wins (inputs in command-line
order, members in archive order) with a warning. A progress bar is drawn on stderr when it is a
terminal; a summary line always goes to stdout ("input" is file content after decompression,
"ratio" is output/input as zstd reports it (0.72 = 72%), MB/s is input MB (10^6 bytes) per
second).

exit status: 0 ok; 1 bad command line, regex, window or name; 2 an output exists (without
--force); 3 an input is unreadable or corrupt (all inputs are checked before anything is
written); 4 verification failed; 5 an output could not be written; 130 interrupted.
)";

namespace {

enum Opt {
  kOutput,
  kGroup,
  kWindow,
  kName,
  kFrameSize,
  kLevel,
  kThreads,
  kForce,
  kVerify,
  kDryRun,
  kHelp,
  kVersion
};
constexpr CliOption kOptions[] = {
    {"output", 'o', true, kOutput},      {"group", 0, true, kGroup},
    {"window", 0, true, kWindow},        {"name", 0, true, kName},
    {"frame-size", 0, true, kFrameSize}, {"level", 0, true, kLevel},
    {"threads", 0, true, kThreads},      {"force", 0, false, kForce},
    {"verify", 0, false, kVerify},       {"dry-run", 0, false, kDryRun},
    {"help", 'h', false, kHelp},         {"version", 'V', false, kVersion},
};

CliOutcome UsageError(const std::string& message) {
  return CliOutcome::Exit(static_cast<int>(RepackFailure::kUsage), "",
                          "daqfs-repack: " + message + "\n(see daqfs-repack --help)\n");
}

bool ParseInt(const std::string& s, long long lo, long long hi, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// What a missing value of option `id` is called in the error message.
std::string MissingValue(int id, const std::string& written) {
  switch (id) {
    case kOutput:
      return written + " needs a folder";
    case kGroup:
      return "--group needs a regex";
    case kWindow:
      return "--window needs NAME=N";
    case kName:
      return "--name needs a template";
    case kFrameSize:
      return "--frame-size needs a size";
    case kLevel:
      return "--level needs an integer";
    case kThreads:
      return "--threads needs an integer from 1 to 1024";
  }
  return written + " needs a value";
}

}  // namespace

CliOutcome ParseRepackArgs(int argc, const char* const* argv, RepackArgs* a) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv, kOptions);
  RepackOptions& o = a->options;
  bool have_output = false;
  for (const auto& [id, v] : parsed.options) {
    switch (id) {
      case kHelp:
        return CliOutcome::Exit(0, kRepackUsage, "");
      case kVersion:
        return CliOutcome::Exit(0, std::string("daqfs-repack ") + DaqfsVersion() + "\n", "");
      case kOutput:
        if (v.empty()) return UsageError(MissingValue(kOutput, "-o"));
        o.output_dir = v;
        have_output = true;
        break;
      case kGroup:
        if (v.empty()) return UsageError(MissingValue(kGroup, ""));
        o.group_regex = v;
        break;
      case kWindow: {
        Result<WindowSpec> spec = ParseWindowSpec(v);
        if (!spec.ok()) return UsageError(spec.status().message());
        o.windows.push_back(*spec);
        break;
      }
      case kName:
        if (v.empty()) return UsageError(MissingValue(kName, ""));
        o.name_template = v;
        break;
      case kFrameSize: {
        Result<uint64_t> size = ParseSize(v);
        if (!size.ok()) {
          return UsageError("--frame-size '" + v + "': " + size.status().message());
        }
        o.frame_size = *size;
        break;
      }
      case kLevel: {
        long long n = 0;
        if (!ParseInt(v, -1000000, 1000, &n)) return UsageError(MissingValue(kLevel, ""));
        o.level = static_cast<int>(n);
        break;
      }
      case kThreads: {
        long long n = 0;
        if (!ParseInt(v, 1, 1024, &n)) return UsageError(MissingValue(kThreads, ""));
        o.threads = static_cast<unsigned>(n);
        break;
      }
      case kForce:
        o.force = true;
        break;
      case kVerify:
        a->verify = true;
        break;
      case kDryRun:
        a->dry_run = true;
        break;
    }
  }
  switch (parsed.error) {
    case ParsedCommandLine::Error::kNone:
      break;
    case ParsedCommandLine::Error::kUnknownOption:
      return UsageError("unknown option " + parsed.bad);
    case ParsedCommandLine::Error::kMissingValue: {
      for (const CliOption& opt : kOptions) {
        if ((opt.name != nullptr && parsed.bad.starts_with("--") &&
             std::string("--") + opt.name == parsed.bad) ||
            (opt.short_name != 0 && parsed.bad == std::string("-") + opt.short_name)) {
          return UsageError(MissingValue(opt.id, parsed.bad));
        }
      }
      return UsageError(parsed.bad + " needs a value");
    }
    case ParsedCommandLine::Error::kUnexpectedValue:
      return UsageError(parsed.bad + " takes no value");
  }
  a->inputs = parsed.arguments;
  if (!have_output) return UsageError("-o DIR is required");
  if (a->inputs.empty()) return UsageError("no input tar archives given");
  return CliOutcome::Run();
}

}  // namespace daqfs
