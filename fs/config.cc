// The daqfs configuration schema: [mount], [cache] and the keys every [source] shares, read
// through the one INI reader (fs/ini_reader.h), which hands this schema each section and key with
// its line. A [source NAME] section's other keys are kept until the section ends (its `type` may
// come last) and then handed to the SourceType named by `type`.
#include "fs/config.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <system_error>

#include "fs/ini_reader.h"

namespace daqfs {
namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr uint64_t kMaxReadAheadKb = 1 << 20;  // 1 GiB
constexpr unsigned kMaxBackground = 65535;
constexpr uint64_t kMinPrefetchWindow = 1 << 20;          // 1 MiB
constexpr uint64_t kMaxDefaultMemoryCache = 16ull << 30;  // 16 GiB
constexpr uint64_t kUnknownRamMemoryCache = 1ull << 30;   // when sysconf cannot tell the RAM
constexpr unsigned kMaxLatencyMs = 60000;
// (uid_t)-1 means "unchanged" to chown(2) and friends; it is not a usable owner.
constexpr uint64_t kMaxId = std::numeric_limits<uint32_t>::max() - 1;
constexpr unsigned kMaxInflightLimit = 4096;
constexpr double kMaxStuckTimeout = 86400;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// "a, b, c" from one of the lists above.
template <typename T, size_t N>
std::string JoinNames(const T (&names)[N]) {
  std::string out;
  for (const T& t : names) out += (out.empty() ? "" : ", ") + std::string(t);
  return out;
}

template <typename T, size_t N>
bool IsOneOf(std::string_view v, const T (&names)[N]) {
  for (const T& t : names) {
    if (v == t) return true;
  }
  return false;
}

// Sizes as FormatConfig writes them: the largest suffix that divides exactly ("64G", "1536K").
std::string FormatSize(uint64_t n) {
  static constexpr struct {
    int shift;
    char suffix;
  } kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  if (n == 0) return "0";
  for (const auto& u : kUnits) {
    if (n % (uint64_t{1} << u.shift) == 0) return std::to_string(n >> u.shift) + u.suffix;
  }
  return std::to_string(n);
}

// `base` + "/" + `rest`, without doubling a trailing '/' of base ("/" + ".cache" is "/.cache").
std::string JoinPath(std::string_view base, std::string_view rest) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + "/" + std::string(rest);
}

bool IsAbsolute(const char* path) { return path != nullptr && path[0] == '/'; }

// The home folder of the effective uid in the password database, or "".
std::string PasswdHome() {
  std::vector<char> buf(16384);
  while (true) {
    passwd pw;
    passwd* found = nullptr;
    int err = getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found);
    if (err == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return err == 0 && found != nullptr && found->pw_dir != nullptr ? found->pw_dir : "";
  }
}

// What one [section] header opened.
enum class SectionKind { kNone, kMount, kCache, kSource };

bool IsSharedSourceKey(std::string_view key) {
  for (const char* k : kSharedSourceKeys) {
    if (key == k) return true;
  }
  return key == "type";
}

// The schema of a daqfs configuration file, driven by ReadIni.
class Schema final : public IniHandler {
 public:
  Schema(const std::string& file, const SourceTypeRegistry& types) : types_(types) {
    config_.file = file;
  }

  Result<Config> Run(std::string_view text) {
    if (Status s = ReadIni(text, config_.file, *this); !s.ok()) return s;
    if (config_.sources.empty()) {
      return Invalid(IniFileName(config_.file) + ": no [source NAME] section");
    }
    return std::move(config_);
  }

  IniCheck OpenSection(const IniSection& section) override {
    const std::string& title = section.name;
    if (title == "mount" || title == "cache") {
      int& first = title == "mount" ? mount_line_ : cache_line_;
      if (first != 0) {
        return Fail(section, "duplicate section [" + title + "] (first at line " +
                                 std::to_string(first) + ")");
      }
      first = section.line;
      kind_ = title == "mount" ? SectionKind::kMount : SectionKind::kCache;
      return std::nullopt;
    }
    if (title.substr(0, 6) == "source" && (title.size() == 6 || IsIniSpace(title[6]))) {
      std::string name(IniTrim(std::string_view(title).substr(6)));
      if (name.empty()) return Fail(section, "[source] needs a name: write [source NAME]");
      if (name.find('/') != std::string::npos) {
        return Fail(section, "source name '" + name + "' must not contain '/'");
      }
      if (name[0] == '.') {
        return Fail(section, "source name '" + name + "' must not start with '.'");
      }
      for (const SourceSpec& s : config_.sources) {
        if (s.name == name) {
          return Fail(section, "duplicate source name '" + name + "' (first at line " +
                                   std::to_string(s.line) + ")");
        }
      }
      SourceSpec source;
      source.name = name;
      source.line = section.line;
      config_.sources.push_back(std::move(source));
      kind_ = SectionKind::kSource;
      return std::nullopt;
    }
    kind_ = SectionKind::kNone;
    return Fail(section, "unknown section [" + title + "]");
  }

  IniCheck Key(const IniSection& section, const IniEntry& e) override {
    if (section.line == 0) {
      return IniError{e.line, "key '" + e.key +
                                  "' outside any section; put it under [mount], [cache] or "
                                  "[source NAME]"};
    }
    switch (kind_) {
      case SectionKind::kMount:
        return MountKey(section, e);
      case SectionKind::kCache:
        return CacheKey(section, e);
      case SectionKind::kSource:
        return SourceKey(e);
      case SectionKind::kNone:
        break;
    }
    return IniError{e.line, "internal error: key '" + e.key + "' in no section"};
  }

  // A source section is complete: its type reads its own keys.
  IniCheck CloseSection(const IniSection& section) override {
    SectionKind kind = kind_;
    kind_ = SectionKind::kNone;
    if (kind != SectionKind::kSource) return std::nullopt;
    SourceSpec& s = config_.sources.back();
    if (!s.source_type) return Fail(section, "[" + section.name + "] needs 'type'");
    std::vector<IniEntry> own;
    for (const IniEntry& e : section.entries) {
      if (!IsSharedSourceKey(e.key)) own.push_back(e);
    }
    return s.source_type->ParseKeys(section, own, &s.options);
  }

 private:
  static IniCheck Fail(const IniSection& section, std::string message) {
    return IniError{section.line, std::move(message)};
  }
  static IniCheck Bad(const IniEntry& e, std::string_view reason) {
    return IniError{e.line, BadIniValue(e.key, e.value, reason)};
  }
  static IniCheck Unknown(const IniSection& section, const IniEntry& e) {
    return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
  }
  // A size with ParseSize's syntax into *out.
  static IniCheck SizeValue(const IniEntry& e, uint64_t* out) {
    Result<uint64_t> n = ParseSize(e.value);
    if (!n.ok()) return Bad(e, n.status().message());
    *out = *n;
    return std::nullopt;
  }

  IniCheck MountKey(const IniSection& section, const IniEntry& e) {
    MountConfig& m = config_.mount;
    const std::string& key = e.key;
    std::string_view v = e.value;
    if (key == "threads") {
      auto n = ParseIniUint(v, kMaxThreads);
      if (!n) return Bad(e, "expected an integer from 0 to 1024 (0 = automatic)");
      m.threads = static_cast<unsigned>(*n);
    } else if (key == "read_ahead_kb") {
      auto n = ParseIniUint(v, kMaxReadAheadKb);
      if (!n) return Bad(e, "expected a whole number of KiB from 0 to 1048576");
      m.read_ahead_kb = *n;
    } else if (key == "drop_behind") {
      if (IniCheck bad = SizeValue(e, &m.drop_behind)) return bad;
      if (m.drop_behind != 0 && m.drop_behind < kMinDropBehind) {
        return Bad(e, "expected 0 (off) or at least 16M");
      }
    } else if (key == "readdirplus") {
      if (v == "always" || v == "auto") {
        m.readdirplus_always = v == "always";
      } else {
        return Bad(e, "expected always or auto");
      }
    } else if (key == "allow_other") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return Bad(e, b.status().message());
      m.allow_other = *b;
    } else if (key == "uid" || key == "gid") {
      auto n = ParseIniUint(v, kMaxId);
      if (!n) return Bad(e, "expected a numeric id from 0 to 4294967294");
      (key == "uid" ? m.uid : m.gid) = static_cast<uint32_t>(*n);
    } else if (key == "log_level") {
      if (!ParseLogLevel(std::string(v), &m.log_level)) {
        return Bad(e, "expected error, warn, info or debug");
      }
    } else if (key == "log") {
      if (v != "stderr" && v != "syslog" && (v.empty() || v[0] != '/')) {
        return Bad(e, "expected stderr, syslog or an absolute file path");
      }
      m.log = std::string(v);
    } else if (key == "mountpoint") {
      if (v.empty() || v[0] != '/') return Bad(e, "expected an absolute path");
      m.mountpoint = std::string(v);
    } else if (key == "list_daqfs_xattrs") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return Bad(e, b.status().message());
      m.list_daqfs_xattrs = *b;
    } else if (key == "entry_timeout") {
      auto d = ParseIniSeconds(v);
      if (!d) return Bad(e, "expected a non-negative number of seconds");
      m.entry_timeout = *d;
    } else if (key == "max_background") {
      auto n = ParseIniUint(v, kMaxBackground);
      if (!n || *n < 1) return Bad(e, "expected an integer from 1 to 65535");
      m.max_background = static_cast<unsigned>(*n);
    } else {
      return Unknown(section, e);
    }
    return std::nullopt;
  }

  IniCheck CacheKey(const IniSection& section, const IniEntry& e) {
    CacheConfig& c = config_.cache;
    const std::string& key = e.key;
    std::string_view v = e.value;
    if (key == "dir") {
      if (v.empty()) return Bad(e, "must not be empty");
      if (v[0] != '/') return Bad(e, "must be an absolute path");
      c.dir = std::string(v);
    } else if (key == "memory") {
      return SizeValue(e, &c.memory);
    } else if (key == "disk") {
      return SizeValue(e, &c.disk);
    } else if (key == "ring") {
      return SizeValue(e, &c.ring);
    } else if (key == "prefetch_window") {
      if (IniCheck bad = SizeValue(e, &c.prefetch_window)) return bad;
      if (c.prefetch_window != 0 && c.prefetch_window < kMinPrefetchWindow) {
        return Bad(e, "expected 0 (prefetch off) or a size of at least 1M");
      }
    } else if (key == "prefetch_budget") {
      return SizeValue(e, &c.prefetch_budget);
    } else if (key == "decode_threads") {
      auto n = ParseIniUint(v, kMaxThreads);
      if (!n) return Bad(e, "expected an integer from 0 to 1024 (0 = automatic)");
      c.decode_threads = static_cast<unsigned>(*n);
    } else {
      return Unknown(section, e);
    }
    return std::nullopt;
  }

  // The keys every source shares; any other key is its type's, read when the section ends.
  IniCheck SourceKey(const IniEntry& e) {
    SourceSpec& s = config_.sources.back();
    const std::string& key = e.key;
    std::string_view v = e.value;
    if (key == "type") {
      s.source_type = types_.Find(v);
      if (!s.source_type) return Bad(e, "expected one of: " + types_.JoinedNames());
      s.type = std::string(v);
    } else if (key == "cache") {
      if (!IsOneOf(v, kCacheModes)) return Bad(e, "expected one of: " + JoinNames(kCacheModes));
      s.cache = std::string(v);
    } else if (key == "simulate_latency_ms") {
      auto n = ParseIniUint(v, kMaxLatencyMs);
      if (!n) return Bad(e, "expected an integer from 0 to 60000 (milliseconds; 0 = off)");
      s.simulate_latency_ms = static_cast<unsigned>(*n);
    } else if (key == "rescan") {
      auto d = ParseIniSeconds(v);
      if (!d) return Bad(e, "expected a non-negative number of seconds (0 = off)");
      s.rescan = *d;
    } else if (key == "max_inflight") {
      auto n = ParseIniUint(v, kMaxInflightLimit);
      if (!n || *n < 1) return Bad(e, "expected an integer from 1 to 4096");
      s.max_inflight = static_cast<unsigned>(*n);
    } else if (key == "stuck_timeout") {
      auto d = ParseIniSeconds(v);
      if (!d || *d <= 0 || *d > kMaxStuckTimeout) {
        return Bad(e, "expected a number of seconds above 0, at most 86400");
      }
      s.stuck_timeout = *d;
    }
    return std::nullopt;
  }

  const SourceTypeRegistry& types_;
  Config config_;
  SectionKind kind_ = SectionKind::kNone;
  int mount_line_ = 0;  // line of [mount], 0 before it
  int cache_line_ = 0;  // line of [cache], 0 before it
};
}  // namespace

std::string DefaultCacheDirFor(bool root, const char* xdg_cache_home, const char* home) {
  if (root) return "/var/cache/daqfs";
  if (IsAbsolute(xdg_cache_home)) return JoinPath(xdg_cache_home, "daqfs");
  if (IsAbsolute(home)) return JoinPath(home, ".cache/daqfs");
  return "";
}

std::string DefaultCacheDir() {
  bool root = geteuid() == 0;
  if (root) return DefaultCacheDirFor(true, nullptr, nullptr);
  const char* home = std::getenv("HOME");
  std::string passwd_home;
  if (!IsAbsolute(home)) {
    passwd_home = PasswdHome();
    home = passwd_home.c_str();
  }
  return DefaultCacheDirFor(false, std::getenv("XDG_CACHE_HOME"), home);
}

uint64_t DefaultMemoryCacheFor(uint64_t physical_bytes) {
  if (physical_bytes == 0) return kUnknownRamMemoryCache;
  return std::min(physical_bytes / 8, kMaxDefaultMemoryCache);
}

uint64_t DefaultStreamRing() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return kUnknownRamMemoryCache;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 4;
}

uint64_t DefaultMemoryCache() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return DefaultMemoryCacheFor(0);
  return DefaultMemoryCacheFor(static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size));
}

Result<Config> ParseConfig(std::string_view text, const std::string& file,
                           const SourceTypeRegistry& types) {
  return Schema(file, types).Run(text);
}

Result<Config> LoadConfig(const std::string& path, const SourceTypeRegistry& types) {
  Result<std::string> text = ReadIniFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path, types);
}

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view s = IniTrim(text);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') digits++;
  const std::string kExpected = "expected a whole number with an optional K, M, G or T suffix";
  if (digits == 0) return Invalid(kExpected);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, n);
  if (ec == std::errc::result_out_of_range) return Invalid("too large");
  if (ec != std::errc() || end != s.data() + digits) return Invalid(kExpected);

  std::string_view suffix = IniTrim(s.substr(digits));
  int shift = 0;
  if (!suffix.empty()) {
    switch (Lower(suffix[0])) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
      case 'b':
        shift = 0;
        break;
      default:
        return Invalid(kExpected);
    }
    std::string_view unit = suffix.substr(Lower(suffix[0]) == 'b' ? 0 : 1);
    if (!(unit.empty() || EqualsNoCase(unit, "b") || (shift > 0 && EqualsNoCase(unit, "ib")))) {
      return Invalid(kExpected);
    }
  }
  if (shift > 0 && n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return Invalid("too large");
  }
  return n << shift;
}

Result<bool> ParseBool(std::string_view text) {
  std::string_view s = IniTrim(text);
  for (std::string_view t : {"true", "yes", "on", "1"}) {
    if (EqualsNoCase(s, t)) return true;
  }
  for (std::string_view f : {"false", "no", "off", "0"}) {
    if (EqualsNoCase(s, f)) return false;
  }
  return Invalid("expected true/false, yes/no, on/off or 1/0");
}

std::string FormatConfig(const Config& config) {
  const MountConfig& m = config.mount;
  const auto& kv = FormatIniLine;
  std::string out = "; daqfs effective configuration";
  out += config.file.empty() ? "\n" : " (read from " + config.file + ")\n";
  out += "[mount]\n";
  out += "threads = " + std::to_string(m.threads) + "\n";
  out += "read_ahead_kb = " + std::to_string(m.read_ahead_kb) + "\n";
  out += std::string("allow_other = ") + (m.allow_other ? "true" : "false") + "\n";
  if (m.uid) out += "uid = " + std::to_string(*m.uid) + "\n";
  if (m.gid) out += "gid = " + std::to_string(*m.gid) + "\n";
  out += std::string("log_level = ") + LogLevelName(m.log_level) + "\n";
  out += kv("log", m.log);
  out += "entry_timeout = " + FormatIniSeconds(m.entry_timeout) + "\n";
  out += "max_background = " + std::to_string(m.max_background) + "\n";
  out += "drop_behind = " + FormatSize(m.drop_behind) + "\n";
  out += std::string("readdirplus = ") + (m.readdirplus_always ? "always" : "auto") + "\n";
  out += m.mountpoint.empty() ? "; mountpoint is not set (given on the command line)\n"
                              : kv("mountpoint", m.mountpoint);
  out += std::string("list_daqfs_xattrs = ") + (m.list_daqfs_xattrs ? "true" : "false") + "\n";
  const CacheConfig& c = config.cache;
  out += "\n[cache]\n";
  // An empty dir would not read back: leave it commented out, and say why it is empty (a
  // --source mount has no config file; a config file's dir is empty only when no default could
  // be found). No " = " in these notes: they are not keys.
  if (c.dir.empty() && config.file.empty() && c.disk == 0) {
    out +=
        "; dir unset: a --source mount without --cache-dir keeps its cache in memory only"
        " (no SSD tier, archive indexes not saved)\n";
  } else if (c.dir.empty()) {
    out +=
        "; dir unset: no usable default (not root; XDG_CACHE_HOME and HOME unset or not"
        " absolute, and no home folder for uid " +
        std::to_string(geteuid()) + "): no SSD tier, archive indexes not saved\n";
  } else {
    out += kv("dir", c.dir);
    if (c.disk == 0) {
      out +=
          "; disk is 0: the SSD tier is off and dir is not used (no blocks, archive indexes"
          " or spills kept)\n";
    }
  }
  out += "memory = " + FormatSize(c.memory) + "\n";
  out += "disk = " + FormatSize(c.disk) + "\n";
  out += "ring = " + FormatSize(c.ring) + "\n";
  out += "prefetch_window = " + FormatSize(c.prefetch_window) + "\n";
  out += "prefetch_budget = " + FormatSize(c.prefetch_budget) + "\n";
  out += "decode_threads = " + std::to_string(c.decode_threads) + "\n";
  for (const SourceSpec& s : config.sources) {
    out += "\n[source " + s.name + "]\n";
    out += "type = " + s.type + "\n";
    if (s.source_type && s.options) {
      for (const auto& [key, value] : s.source_type->FormatKeys(*s.options)) out += kv(key, value);
    }
    out += "cache = " + s.cache + "\n";
    out += "rescan = " + FormatIniSeconds(s.rescan) + "\n";
    out += "simulate_latency_ms = " + std::to_string(s.simulate_latency_ms) + "\n";
    out += "max_inflight = " + std::to_string(s.max_inflight) + "\n";
    out += "stuck_timeout = " + FormatIniSeconds(s.stuck_timeout) + "\n";
  }
  return out;
}

}  // namespace daqfs
