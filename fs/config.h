// daqfs configuration: the INI file (read with inih), its defaults, and size parsing.
//
// Sections: [mount], [cache] (added with the cache issue), and one [source NAME] per source.
// Every key is documented in configs/daqfs.example.ini. Loading stops at the first unknown key,
// unknown section, bad value, duplicate key or over-long line with "file:line: message".
// Debian's inih cuts lines at 200 bytes silently and does not pass line numbers to the handler,
// so the file is fed through ini_parse_stream by a reader that counts lines and rejects long ones.
//
// Thread safety: plain value types and pure functions.
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
  std::string log = "stderr";     // "stderr" or "syslog"
  double entry_timeout = 3600;    // seconds the kernel caches entries/attrs of immutable content
  unsigned max_background = 64;   // FUSE max_background (>= 1)
};

struct SourceConfig {
  std::string name;               // the INI section's NAME; the directory at the mount root
  std::string type;               // "archive" (later: "hdf5", "stream")
  std::string path;               // archive: a tar file, a folder of them, or a glob
  int line = 0;                   // line of the [source NAME] header, for messages
};

struct Config {
  std::string file;               // where it was read from ("" for built-in/--source)
  MountConfig mount;
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
// as .daqfs/config.
std::string FormatConfig(const Config& config);

}  // namespace daqfs
