// daqfs configuration: the INI file (read with inih), its defaults, and size parsing.
//
// Sections: [mount], [cache] and one [source NAME] per source.
// Every key is documented in configs/daqfs.example.ini. Loading stops at the first unknown key,
// unknown section, bad value, duplicate key or over-long line with "file:line: message".
// Debian's inih cuts lines at 200 bytes silently and does not pass line numbers to the handler,
// so the file is fed through ini_parse_stream by a reader that counts lines and rejects long ones.
//
// Thread safety: plain value types and pure functions, except that DefaultCacheDir() (and so
// constructing a CacheConfig or Config) reads the environment: do not call setenv() meanwhile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/log.h"
#include "fs/status.h"

namespace daqfs {

struct MountConfig {
  unsigned threads = 0;           // FUSE worker threads; 0 = automatic (max(4, 2 * cores))
  uint64_t read_ahead_kb = 4096;  // written to /sys/class/bdi/<dev>/read_ahead_kb after mount
  bool allow_other = false;       // let other users in (implies default_permissions)
  std::optional<uint32_t> uid;    // show every node as owned by this uid (default: as stored)
  std::optional<uint32_t> gid;    // likewise for the group
  LogLevel log_level = LogLevel::kInfo;
  std::string log = "stderr";    // "stderr", "syslog" or an absolute file path (appended to,
                                 // reopened on SIGHUP)
  double entry_timeout = 3600;   // seconds the kernel caches entries/attrs of immutable content
  unsigned max_background = 64;  // FUSE max_background (>= 1)
  std::string mountpoint;        // where to mount when the command line names no MOUNTPOINT
  // List daqfs's own user.daqfs.* attributes in listxattr (they are always readable by name).
  bool list_daqfs_xattrs = false;
};

// The default [cache] dir: DefaultCacheDirFor(geteuid() == 0, $XDG_CACHE_HOME, home), where home
// is $HOME if that is an absolute path, else the home folder of the effective uid in the
// password database.
std::string DefaultCacheDir();
// The rule behind DefaultCacheDir(), apart for tests: "/var/cache/daqfs" for root, else
// "XDG_CACHE_HOME/daqfs" if xdg_cache_home is an absolute path (the XDG spec ignores a relative
// one), else "HOME/.cache/daqfs" if home is an absolute path, else "" (no usable default: the
// disk tier then needs an explicit dir). Null pointers count as unset.
std::string DefaultCacheDirFor(bool root, const char* xdg_cache_home, const char* home);
// The default [cache] memory: DefaultMemoryCacheFor(sysconf(_SC_PHYS_PAGES) *
// sysconf(_SC_PAGESIZE)), or DefaultMemoryCacheFor(0) if sysconf cannot tell. Container memory
// limits (cgroups) are not taken into account.
uint64_t DefaultMemoryCache();
// min(physical_bytes / 8, 16 GiB); 1 GiB if physical_bytes is 0 (unknown).
uint64_t DefaultMemoryCacheFor(uint64_t physical_bytes);

struct CacheConfig {
  std::string dir = DefaultCacheDir();      // SSD tier folder: absolute, or "" when no default
                                            // could be found (no home folder)
  uint64_t memory = DefaultMemoryCache();   // bytes of decoded blocks kept in RAM; 0 = none
  uint64_t disk = 64ull << 30;              // bytes of blocks kept in dir; 0 = no SSD tier
  uint64_t prefetch_window = 64ull << 20;   // bytes read ahead of a sequential reader; 0 = off,
                                            // else at least 1 MiB
  uint64_t prefetch_budget = 256ull << 20;  // bytes of prefetch in flight over all readers
  unsigned decode_threads = 0;              // decode pool size; 0 = max(16, 2 x cores); <= 1024
};

struct SourceConfig {
  std::string name;  // the INI section's NAME; the directory at the mount root
  std::string type;  // "archive" (later: "hdf5", "stream")
  std::string path;  // archive: a tar file, a folder of them, or a glob
  int line = 0;      // line of the [source NAME] header, for messages
  // Cache tiers for this source's blocks: "auto" (plain byte ranges skip the SSD tier, decoded
  // data uses every tier), "none", "memory" (RAM only) or "disk" (RAM and SSD for everything).
  std::string cache = "auto";
  // FOR BENCHMARKS AND TESTS ONLY: every block read of this source first sleeps this many
  // milliseconds (0..60000), simulating a slow parallel filesystem. 0 = off (the default).
  unsigned simulate_latency_ms = 0;
  // archive: "per-archive" (a folder per archive) or "merged" (one tree of all members).
  std::string layout = "per-archive";
  // archive: a member NAME + strip_suffix stored zstd-compressed is shown as NAME, decompressed.
  // "" = show compressed members as stored.
  std::string strip_suffix = ".zst";
  // Seconds between looks at the folder or glob for new, changed or removed archives; 0 = off.
  double rescan = 0;
};

struct Config {
  std::string file;  // where it was read from ("" for built-in/--source)
  MountConfig mount;
  CacheConfig cache;
  std::vector<SourceConfig> sources;
};

// Reads and validates an INI file. Errors: Code::kInvalid with "FILE:LINE: message" (LINE
// omitted for errors about the whole file, such as "no [source ...] section").
Result<Config> LoadConfig(const std::string& path);
// Same from text; `file` is the name used in messages.
Result<Config> ParseConfig(std::string_view text, const std::string& file);

// "4096", "64K", "64M", "2G", "1T" (binary multiples, optional trailing "B" / "iB", case
// insensitive). Overflow and junk are errors.
Result<uint64_t> ParseSize(std::string_view text);
// "true/false/yes/no/on/off/1/0".
Result<bool> ParseBool(std::string_view text);

// The effective configuration as INI text (every key with its value, defaults included), served
// as .daqfs/config. Unset keys (uid, gid, an empty cache dir) are left out or commented out, so
// the text always reads back with ParseConfig.
std::string FormatConfig(const Config& config);

}  // namespace daqfs
