// daqfs configuration: the schema of the INI file ([mount], [cache], the keys every [source]
// shares), size and bool parsing, and the effective configuration as text.
//
// Sections: [mount], [cache] and one [source NAME] per source. The file is read by the one INI
// reader (fs/ini_reader.h: line counting, over-long lines, duplicate keys); each source's own keys
// are read by its SourceType (fs/source_type.h), found by the `type` key in the registry given.
// Every key is documented in configs/daqfs.example.ini; defaults are named in fs/defaults.h.
// Loading stops at the first unknown key, unknown section, bad value, duplicate key or over-long
// line with "file:line: message". A source's own keys are checked when its section ends (its type
// may come after them), so a syntax error later in the same section is reported first.
//
// Thread safety: plain value types and pure functions, except that DefaultCacheDir() (and so
// constructing a CacheConfig or Config) reads the environment: do not call setenv() meanwhile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/defaults.h"
#include "fs/log.h"
#include "fs/source_type.h"
#include "fs/status.h"

namespace daqfs {

struct MountConfig {
  unsigned threads = 0;  // FUSE worker threads; 0 = automatic (DefaultFuseThreads)
  uint64_t read_ahead_kb = kDefaultReadAheadKb;  // written to /sys/class/bdi/<dev>/read_ahead_kb
  bool allow_other = false;                      // let other users in (implies default_permissions)
  std::optional<uint32_t> uid;  // show every node as owned by this uid (default: as stored)
  std::optional<uint32_t> gid;  // likewise for the group
  LogLevel log_level = LogLevel::kInfo;
  std::string log = "stderr";  // "stderr", "syslog" or an absolute file path (appended to,
                               // reopened on SIGHUP)
  double entry_timeout = kDefaultEntryTimeoutSeconds;  // seconds the kernel caches entries/attrs
                                                       // of immutable content
  unsigned max_background = kDefaultMaxBackground;     // FUSE max_background (>= 1)
  // Bytes sequential readers keep behind them in the page cache (fs/drop_behind.h); 0 = off.
  uint64_t drop_behind = kDefaultDropBehind;
  // Listings carry each entry's attributes (READDIRPLUS) always, or as the kernel guesses.
  bool readdirplus_always = kDefaultReaddirplusAlways;
  std::string mountpoint;  // where to mount when the command line names no MOUNTPOINT
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
// The default [cache] ring: a quarter of the RAM (1 GiB when sysconf cannot tell).
uint64_t DefaultStreamRing();
// min(physical_bytes / 8, 16 GiB); 1 GiB if physical_bytes is 0 (unknown).
uint64_t DefaultMemoryCacheFor(uint64_t physical_bytes);

struct CacheConfig {
  std::string dir = DefaultCacheDir();     // SSD tier folder: absolute, or "" when no default
                                           // could be found (no home folder)
  uint64_t memory = DefaultMemoryCache();  // bytes of decoded blocks kept in RAM; 0 = none
  uint64_t disk = kDefaultDiskCacheBytes;  // bytes of blocks kept in dir; 0 = no SSD tier
  // Bytes of received live-stream frames kept in RAM, over all stream sources (each gets an
  // equal share); 0 = no bound.
  uint64_t ring = DefaultStreamRing();
  // Bytes read ahead of a sequential reader; 0 = off, else at least 1 MiB.
  uint64_t prefetch_window = kDefaultPrefetchWindowBytes;
  uint64_t prefetch_budget = kDefaultPrefetchBudgetBytes;  // prefetch in flight, all readers
  unsigned decode_threads = 0;  // decode pool size; 0 = automatic (DefaultDecodeThreads); <= 1024
};

struct Config {
  std::string file;  // where it was read from ("" for built-in/--source)
  MountConfig mount;
  CacheConfig cache;
  std::vector<SourceSpec> sources;  // one per [source NAME] section, in file order
};

// The keys every [source] shares, in the order FormatConfig writes them after the type's own.
inline constexpr const char* kSharedSourceKeys[] = {"cache", "rescan", "simulate_latency_ms",
                                                    "max_inflight", "stuck_timeout"};

// Reads and validates an INI file through the one INI reader (fs/ini_reader.h): [mount], [cache]
// and the shared source keys here, each source's own keys by its type from `types` (which must
// outlive nothing: specs keep their type alive). Errors: Code::kInvalid with "FILE:LINE: message"
// (LINE omitted for errors about the whole file, such as "no [source ...] section").
Result<Config> LoadConfig(const std::string& path, const SourceTypeRegistry& types);
// Same from text; `file` is the name used in messages.
Result<Config> ParseConfig(std::string_view text, const std::string& file,
                           const SourceTypeRegistry& types);

// "4096", "64K", "64M", "2G", "1T" (binary multiples, optional trailing "B" / "iB", case
// insensitive). Overflow and junk are errors.
Result<uint64_t> ParseSize(std::string_view text);
// "true/false/yes/no/on/off/1/0".
Result<bool> ParseBool(std::string_view text);

// The effective configuration as INI text (every key with its value, defaults included), served
// as .daqfs/config. Unset keys (uid, gid, an empty cache dir) are left out or commented out, so
// the text always reads back with ParseConfig. A source's own keys are formatted by its type
// (SourceType::FormatKeys), after `type` and before the shared keys.
std::string FormatConfig(const Config& config);

}  // namespace daqfs
