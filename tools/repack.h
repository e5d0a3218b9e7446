// The engine of daqfs-repack: turns tar archives of raw data into tar archives whose members are
// zstd-seekable streams, which daqfs mounts with random access.
//
// Three steps, each usable alone and each in a file of its own (repack_plan.cc,
// repack_execute.cc, repack_verify.cc; what they share, reading member data, is in
// repack_member_data.h). The CLI (daqfs_repack_main.cc, options in daqfs_repack_args.h) only
// parses and wires:
//   1. PlanRepack reads every input's tar headers (never member data, except the first bytes of
//      each file to recognise zstd, and zstd frame headers) and decides which member goes into
//      which output archive under which name. Every input is validated here, before anything is
//      written: an unreadable or damaged tar, or a member that claims to be zstd and is not,
//      fails the plan.
//   2. ExecuteRepack writes the planned outputs. Members are read (zstd members decompressed),
//      hashed (XXH64 of the content) and compressed on a pool of threads; one thread (the
//      caller's) appends the results to the output in plan order. At most `threads` + 1 members
//      are in flight (being compressed, or compressed and waiting for their turn), so memory
//      stays bounded:
//        - a member whose content is at most `in_memory_limit` bytes is read into memory and
//          compressed with CompressSeekable (peak about 2 x limit per thread);
//        - a larger member (or a zstd member whose size its frames do not record) is streamed
//          through a ZstdSeekableWriter into an unlinked spill file in the output folder, which
//          the writer then copies into the archive (copy_file_range). Large members therefore
//          compress in parallel with each other and with small ones, one thread per member.
//      An output is written to a temporary name in its folder, fsync'ed, and renamed into place
//      (refusing to replace an existing file unless `force`). Outputs completed before a failure
//      stay; the one being written is removed.
//   3. VerifyOutput reads an output back (IndexTar, IndexZstd, DecodeZstdFrame) and compares each
//      member with what ExecuteRepack recorded from the input.
//
// Grouping (`group_regex`): a PCRE2 pattern searched (not anchored) in each member's full,
// normalized path inside its tar. The values of its named groups, in group-number order, form
// the member's group; `windows` turn a numeric group's value v into the window start
// floor(v/N)*N, zero-padded to the width of the matched text (`{NAME_end}` is start + N - 1).
// The output name comes from `name_template` ({NAME}, {NAME_end}, "{{" and "}}" for braces), by
// default the values joined by '_' plus ".tar". Members whose names expand alike share an
// output, whatever their inputs. Files and symlinks that do not match (or whose windowed group
// is not a decimal number, or whose match fails with a PCRE2 error such as a match limit: these
// two with a warning) go to "unmatched.tar". A directory that does not match goes into every
// output holding something beneath it (so modes and mtimes of folders survive), or to
// "unmatched.tar" when none does. Without a regex each input becomes one output named after the
// input's base name (template placeholder: {input}, the base name without ".tar").
//
// Members: regular files become "<path>.zst" ("<path>" when it already ends in ".zst") in the
// seekable format, with the input member's mode, uid, gid, mtime and xattrs; data recognised as
// zstd (magic 0xFD2FB528, or a leading skippable frame as pzstd writes) is decompressed first.
// Directories and symlinks are copied as they are; hard links become regular copies of their
// target. When two members land on the same output path, the later one (inputs in command-line
// order, members in archive order) wins, with a warning. Members are sorted by path.
//
// Thread safety: the functions may be called from any thread; an ExecuteRepack call uses its
// own threads and returns after joining them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/archive/tar_index.h"
#include "fs/status.h"
#include "tools/tar_writer.h"

namespace daqfs {

// Why a repack step failed; the CLI's exit status is the numeric value (130 after a cancel).
enum class RepackFailure {
  kNone = 0,
  kUsage = 1,         // bad option, regex, window or name template
  kOutputExists = 2,  // an output file exists and `force` is off
  kBadInput = 3,      // an input cannot be read, or is damaged
  kVerify = 4,        // an output does not read back as its input
  kWrite = 5,         // the output folder or a file in it cannot be written
  kCancelled = 130,   // RepackOptions::cancel was set
};

struct WindowSpec {
  std::string group;   // a named group of the regex
  uint64_t width = 0;  // > 0
};

struct RepackOptions {
  std::string output_dir;   // created (with parents) if missing
  std::string group_regex;  // "" = one output per input
  std::vector<WindowSpec> windows;
  std::string name_template;                // "" = the default described above
  uint64_t frame_size = uint64_t{1} << 20;  // decompressed bytes per zstd frame, 1 KiB .. 1 GiB
  int level = 3;                            // zstd level (ZSTD_minCLevel() .. ZSTD_maxCLevel())
  unsigned threads = 0;                     // compressing threads; 0 = number of cores
  uint64_t in_memory_limit = uint64_t{64} << 20;  // larger members are streamed (see above)
  bool force = false;                             // replace existing outputs
  const std::atomic<bool>* cancel = nullptr;      // when it becomes true, ExecuteRepack stops soon
  // Called on the caller's thread of ExecuteRepack about five times a second and once at the
  // end: input bytes (as stored in the tars) consumed so far, and their total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct PlannedMember {
  size_t input = 0;        // index into RepackPlan::inputs
  size_t member = 0;       // index into that input's members: the entry (a hard link itself)
  size_t data_member = 0;  // whose data is read: a hard link's final target, else == member
  TarEntry::Kind kind = TarEntry::Kind::kFile;  // in the output (hard links become kFile)
  std::string out_path;                         // path in the output archive
  std::string link_target;                      // symlinks
  bool zstd = false;                            // the data is a zstd stream, decompressed when read
  uint64_t stored_bytes = 0;                    // data bytes in the input tar
  uint64_t content_bytes = 0;                   // decompressed size; valid when content_size_known
  bool content_size_known = true;               // false: a zstd frame without a recorded size
};

struct PlannedOutput {
  std::string name;                    // relative to the output folder (may hold '/')
  std::vector<PlannedMember> members;  // sorted by out_path, unique
  uint64_t stored_bytes = 0;           // sum over members
};

struct RepackInput {
  std::string path;
  uint64_t size = 0;
  TarIndex index;
};

struct RepackPlan {
  std::vector<RepackInput> inputs;
  std::vector<PlannedOutput> outputs;  // sorted by name
  uint64_t unmatched = 0;              // members sent to unmatched.tar
  uint64_t stored_bytes = 0;           // sum over outputs
  std::vector<std::string> warnings;   // skipped tar members, duplicates, non-numeric windows
};

// Fails with kInvalid for a bad option, regex, window or template (message ready for the
// user: PCRE2's text and the offset for a regex), and with another code, naming the file, for
// an input that cannot be read or is damaged.
Result<RepackPlan> PlanRepack(const RepackOptions& options, const std::vector<std::string>& inputs);

// What an output must contain, recorded while writing it; VerifyOutput's reference.
struct ExpectedMember {
  std::string path;
  TarEntry::Kind kind = TarEntry::Kind::kFile;
  uint64_t content_size = 0;  // decompressed
  uint64_t xxh64 = 0;         // of the decompressed content (seed 0)
  std::string link_target;
};

struct WrittenOutput {
  std::string path;  // output folder + name
  uint64_t bytes = 0;
  std::vector<ExpectedMember> members;
};

struct RepackSummary {
  uint64_t members = 0;        // entries written (files, folders, symlinks)
  uint64_t content_bytes = 0;  // decompressed file content read from the inputs
  uint64_t stored_bytes = 0;   // file data as stored in the inputs
  uint64_t output_bytes = 0;   // size of the output archives
  double seconds = 0;
  std::vector<WrittenOutput> outputs;  // the ones completed
};

struct RepackResult {
  RepackFailure failure = RepackFailure::kNone;
  Status status;  // the reason when failure != kNone
  RepackSummary summary;
};

// Writes the outputs of `plan` (made by PlanRepack with the same options). First checks that no
// output exists (kOutputExists, naming them) unless options.force.
RepackResult ExecuteRepack(const RepackPlan& plan, const RepackOptions& options);

// Reads `output` back and compares it with its record. Returns one line per problem (a missing,
// extra or different member, a member without a seek table, damage); empty when all is well.
std::vector<std::string> VerifyOutput(const WrittenOutput& output);

// VerifyOutput over many outputs on up to `threads` threads (0 = cores); problems in order.
std::vector<std::string> VerifyOutputs(const std::vector<WrittenOutput>& outputs, unsigned threads);

// "NAME=N" with N a positive integer.
Result<WindowSpec> ParseWindowSpec(std::string_view text);

}  // namespace daqfs
