// SourceType: one kind of source (archive; later hdf5, tiff, stream) as a unit of its own, and the
// registry the daemon fills with them.
//
// A source type names itself (the `type = NAME` of a [source] section), reads and checks its own
// INI keys (the INI reader hands it the section's key/value/line triples, so its errors carry
// file:line), formats those keys for .daqfs/config, sniffs a path for `--source PATH`, checks at
// start-up that a source has something to serve, and creates the source's Backend. Create gets
// no environment: what a backend uses from outside (metrics, blob store, invalidator, clock)
// comes at Backend::Start. Each type lives in its backend's folder (archive:
// backends/archive/archive_source_type.h); tools/daqfs_main.cc only registers them.
//
// The keys every source shares (type, cache, rescan, simulate_latency_ms, max_inflight,
// stuck_timeout) are read once, by fs/config.cc, into SourceSpec; a type sees only the rest.
//
// Thread safety: a SourceType is immutable and its methods may be called from any thread. The
// registry is filled before use (Register is not thread-safe); its lookups are const.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/backend.h"
#include "fs/defaults.h"
#include "fs/ini_reader.h"
#include "fs/status.h"

namespace daqfs {

class SourceType;

// A type's own keys, parsed (each type derives its own; ArchiveOptions, ...).
class SourceOptions {
 public:
  virtual ~SourceOptions() = default;
};

// One source as configured: a [source NAME] section, or a sniffed --source PATH.
struct SourceSpec {
  std::string name;  // the section's NAME: the directory at the mount root
  int line = 0;      // line of the [source NAME] header (0 for --source), for messages
  std::string type;  // the `type` key: a registered SourceType's name

  // Keys every source shares (defaults in fs/defaults.h, meaning in configs/daqfs.example.ini).
  // Cache tiers: "auto", "none", "memory" or "disk".
  std::string cache{kDefaultSourceCache};
  // Seconds between looks for new, changed or removed content; 0 = off.
  double rescan = 0;
  // FOR BENCHMARKS AND TESTS ONLY: every block read first sleeps this many ms (0..60000).
  unsigned simulate_latency_ms = 0;
  // Most calls into the source at once (fs/inflight_limit.h), 1..4096.
  unsigned max_inflight = kDefaultMaxInflight;
  // Seconds a call waits for an in-flight slot before it fails with EIO (> 0).
  double stuck_timeout = kDefaultStuckTimeoutSeconds;

  std::shared_ptr<const SourceType> source_type;  // never null once parsed or sniffed
  std::shared_ptr<SourceOptions> options;         // the type's own keys; never null likewise
};

// What a start-up check found.
struct SourceCheck {
  std::string summary;  // one line for --check-config: "/data/mwa: 3 archive files"
  std::string warning;  // "" or why the source is served although it holds nothing yet
};

// For SourceType::Check of a path-based source: `missing` (the source's own check of its path
// failed) stops start-up, except that a folder or glob that holds nothing yet (kInvalid) and is
// rescanned mounts anyway, with check->warning saying so. A single file that fails always stops.
// Returns Ok when the source mounts anyway, else `missing`.
Status MountAnywayIfRescanned(const Status& missing, const std::string& path, double rescan,
                              SourceCheck* check);

// True if `path` holds glob characters (* ? [): a source path glob(3) expands.
bool HasGlobChars(const std::string& path);
// The files a source's `path` names, sorted: the regular file itself, the regular files of a
// folder whose names `accept` takes (not recursive), or the regular files a glob matches.
// Errors name the path: missing (errno), not a file or folder (kInvalid), a folder that
// cannot be read, a glob that fails (not one that matches nothing: an empty list).
Result<std::vector<std::string>> ListSourceFiles(
    const std::string& path, const std::function<bool(const std::string& name)>& accept);

class SourceType {
 public:
  virtual ~SourceType() = default;

  // The `type = NAME` this type answers to ("archive").
  virtual std::string_view Name() const = 0;

  // Reads the type's own keys of `section` ([source NAME], header at section.line): `keys` are
  // the section's keys other than the shared ones, in file order. Sets *options, or returns an
  // IniError at the offending key's line (the header's line for a missing required key), worded
  // "unknown key 'K' in [source NAME]", "bad value 'V' for K: REASON" or "[source NAME] needs 'K'".
  virtual IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                             std::shared_ptr<SourceOptions>* options) const = 0;

  // The type's keys for .daqfs/config: (key, value) pairs in a fixed order, every key with its
  // value (defaults included), such that ParseKeys reads them back to the same options.
  virtual std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const = 0;

  // Makes the options' relative paths absolute, relative to `base_dir` (the configuration
  // file's folder). Default: nothing.
  virtual void ResolvePaths(SourceOptions& options, const std::string& base_dir) const {
    (void)options;
    (void)base_dir;
  }

  // `--source PATH`: options to serve PATH (already absolute) with this type, when it can.
  // Errors: Code::kInvalid naming what PATH holds ("PATH: not an archive: an HDF5 file"; an
  // empty message when PATH is nothing this type could serve, such as a file for a stream), or
  // the errno status of a path that cannot be looked at (missing, no permission).
  virtual Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const = 0;

  // Start-up check that `spec` holds something to serve (also --check-config). Errors name what
  // was found, without the "source NAME: " prefix (the caller adds it).
  virtual Result<SourceCheck> Check(const SourceSpec& spec) const = 0;

  // Builds the source's Backend from `spec` (its shared keys and options). No environment:
  // everything from outside comes at Backend::Start. Errors: as Check.
  virtual Result<std::unique_ptr<Backend>> Create(const SourceSpec& spec) const = 0;
};

// The source types a daemon (or a test) knows. An object, never a global: each test builds its
// own. Types are tried by Sniff in registration order.
class SourceTypeRegistry {
 public:
  // Adds a type. Errors: Code::kInvalid when its name is empty or already registered.
  Status Register(std::shared_ptr<const SourceType> type);
  // The type named `name`, or null.
  std::shared_ptr<const SourceType> Find(std::string_view name) const;
  // Registered names, in registration order ("archive, hdf5" for messages: JoinedNames()).
  std::vector<std::string> Names() const;
  std::string JoinedNames() const;

  // `--source PATH`: a spec (type, source_type and options set; name, line and shared keys at
  // their defaults) from the first type whose Sniff accepts PATH. When none does: the first
  // error that is not Code::kInvalid (PATH cannot be looked at), else Code::kInvalid with every
  // type's reason joined by "; " (one type: its message as it is). No types: Code::kInvalid.
  Result<SourceSpec> Sniff(const std::string& path) const;

 private:
  std::vector<std::shared_ptr<const SourceType>> types_;
};

}  // namespace daqfs
