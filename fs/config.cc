// The INI loader: inih parses key = value lines, a reader of our own feeds it one line at a time.
//
// Debian's inih (r55) is built with INI_MAX_LINE 200 (longer lines are cut silently), multi-line
// values on (an indented line after a key continues that key's value, even across blank lines and
// comments), inline comments on (';' after whitespace ends a value: "a ;b" gives "a", "a;b" stays
// "a;b"; '#' is a comment only at the start of a line), section names cut at 49 bytes, no handler
// call for a section header and no line number in the handler. So the reader does the line-level
// work before inih sees each line: it counts lines, rejects over-long lines and NUL bytes,
// recognises section headers (with inih's own rule) and opens or closes sections there, and
// rejects every indented line that is not a comment, so a multi-line value or an indented key is
// an error ("remove the indentation") rather than a value with "b = 2" inside. The handler then
// checks and stores each key. A key given twice in a section is "duplicate key"; the handler also
// reports a continuation that got past the reader that way. Both callbacks share one Parser; the
// first error is kept and the reader returns NULL so inih stops.
//
// inih calls the handler for line N before it asks the reader for line N + 1, so the line count
// kept by the reader is the line the handler is working on, and a section is complete when the
// reader sees the next header or the end of the text.
#include "fs/config.h"

#include <ini.h>
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

namespace daqfs {
namespace {

constexpr std::string_view kSpace = " \t\r\n\v\f";  // what inih's isspace() strips
constexpr size_t kMaxSectionBytes = 49;             // inih's MAX_SECTION (50) minus the NUL
constexpr size_t kMaxLineBytes = 199;               // inih's INI_MAX_LINE (200) minus the NUL
constexpr uint64_t kMaxFileBytes = 1 << 20;         // a config this big is a mistake
constexpr unsigned kMaxThreads = 1024;
constexpr uint64_t kMaxReadAheadKb = 1 << 20;  // 1 GiB
constexpr unsigned kMaxBackground = 65535;
constexpr uint64_t kMinPrefetchWindow = 1 << 20;          // 1 MiB
constexpr uint64_t kMaxDefaultMemoryCache = 16ull << 30;  // 16 GiB
constexpr uint64_t kUnknownRamMemoryCache = 1ull << 30;   // when sysconf cannot tell the RAM
constexpr unsigned kMaxLatencyMs = 60000;
// (uid_t)-1 means "unchanged" to chown(2) and friends; it is not a usable owner.
constexpr uint64_t kMaxId = std::numeric_limits<uint32_t>::max() - 1;
constexpr const char* kSourceTypes[] = {"archive"};
constexpr const char* kCacheModes[] = {"auto", "none", "memory", "disk"};

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

bool IsSpace(char c) { return kSpace.find(c) != std::string_view::npos; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// A decimal integer of digits only (no sign, no spaces), at most `max`.
std::optional<uint64_t> ParseUint(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

// Non-negative decimal seconds: "3600", "0.5", ".5", "1e3". No sign, inf or nan.
std::optional<double> ParseSeconds(std::string_view s) {
  if (s.empty() || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return v;
}

// "a, b, c" from one of the lists above.
template <size_t N>
std::string JoinNames(const char* const (&names)[N]) {
  std::string out;
  for (const char* t : names) out += (out.empty() ? "" : ", ") + std::string(t);
  return out;
}

template <size_t N>
bool IsOneOf(std::string_view v, const char* const (&names)[N]) {
  for (const char* t : names) {
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

class Parser {
 public:
  Parser(std::string_view text, const std::string& file) : text_(text) {
    config_.file = file;
    name_ = file.empty() ? "<config>" : file;
    // inih skips a UTF-8 byte order mark on line 1; do it here so both sides see the same line.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  Result<Config> Run() {
    int rc = ini_parse_stream(&Parser::ReadCallback, this, &Parser::HandlerCallback, this);
    if (!error_.empty()) return Invalid(error_);
    // The reader checks every line that inih would refuse, so these are only a safety net.
    if (rc == -2) return Status(Code::kNoMemory, name_ + ": out of memory in inih");
    if (rc != 0) return Invalid(name_ + ":" + std::to_string(rc) + ": syntax error");
    if (config_.sources.empty()) return Invalid(name_ + ": no [source NAME] section");
    return std::move(config_);
  }

 private:
  static char* ReadCallback(char* buf, int num, void* stream) {
    auto* p = static_cast<Parser*>(stream);
    try {
      return p->NextLine(buf, num);
    } catch (const std::exception& e) {  // never unwind through inih's C frames
      p->Fail(std::string("internal error: ") + e.what());
      return nullptr;
    }
  }

  static int HandlerCallback(void* user, const char* section, const char* name, const char* value) {
    auto* p = static_cast<Parser*>(user);
    try {
      return p->Handle(section ? section : "", name ? name : "", value ? value : "") ? 1 : 0;
    } catch (const std::exception& e) {
      p->Fail(std::string("internal error: ") + e.what());
      return 0;
    }
  }

  // Copies the next line (without "\n" or "\r\n") into inih's buffer of `num` bytes after checking
  // it. Returns NULL at the end of the text or after an error, which ends ini_parse_stream.
  char* NextLine(char* buf, int num) {
    if (!error_.empty()) return nullptr;
    if (pos_ >= text_.size()) {
      CloseSection();
      return nullptr;
    }
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    std::string_view line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    line_++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    size_t max = num > 1 ? static_cast<size_t>(num - 1) : 0;
    if (line.size() > max) {
      Fail("line longer than " + std::to_string(max) + " bytes");
      return nullptr;
    }
    if (line.find('\0') != std::string_view::npos) {
      Fail("NUL byte in line");
      return nullptr;
    }
    if (!CheckLine(line)) return nullptr;

    std::memcpy(buf, line.data(), line.size());
    buf[line.size()] = '\0';
    return buf;
  }

  // Classifies a line the way inih r55 does and handles what inih does not tell the handler.
  bool CheckLine(std::string_view line) {
    std::string_view start = Trim(line);
    if (start.empty() || start[0] == ';' || start[0] == '#') return true;  // blank or comment
    if (start.data() != line.data()) {
      if (key_since_header_) {
        return Fail("indented line continues the value of '" + last_key_ +
                    "' (multi-line values are not supported); remove the indentation");
      }
      return Fail(
          "indented line (inih reads an indented line after a key as part of that "
          "key's value); remove the indentation");
    }
    if (start[0] == '[') return OpenSection(start);
    // A key line: inih looks for '=' or ':' and stops early at an inline comment.
    size_t i = FindCharsOrComment(start, 0, "=:");
    if (i == start.size() || (start[i] != '=' && start[i] != ':')) {
      return Fail("expected '[section]', 'key = value' or a comment, got '" + std::string(start) +
                  "'");
    }
    key_since_header_ = true;
    return true;
  }

  // inih's find_chars_or_comment(): the first of `chars`, or ';' after whitespace.
  static size_t FindCharsOrComment(std::string_view s, size_t from, std::string_view chars) {
    bool was_space = false;
    size_t i = from;
    for (; i < s.size(); i++) {
      if (chars.find(s[i]) != std::string_view::npos) break;
      if (was_space && s[i] == ';') break;
      was_space = IsSpace(s[i]);
    }
    return i;
  }

  // `header` is the trimmed line, starting with '['.
  bool OpenSection(std::string_view header) {
    size_t close = FindCharsOrComment(header, 1, "]");
    if (close == header.size() || header[close] != ']') {
      return Fail("missing ']' in section header '" + std::string(header) + "'");
    }
    std::string_view rest = Trim(header.substr(close + 1));
    if (!rest.empty() && rest[0] != ';') {
      return Fail("unexpected text after ']': '" + std::string(rest) + "'");
    }
    std::string_view raw = header.substr(1, close - 1);
    if (raw.size() > kMaxSectionBytes) {
      return Fail("section name longer than " + std::to_string(kMaxSectionBytes) + " bytes");
    }
    if (!CloseSection()) return false;

    raw_section_ = std::string(raw);
    std::string_view title = Trim(raw);
    section_ = std::string(title);
    section_line_ = line_;
    keys_.clear();
    key_since_header_ = false;
    last_key_.clear();

    if (title == "mount" || title == "cache") {
      int& first = title == "mount" ? mount_line_ : cache_line_;
      if (first != 0) {
        return Fail("duplicate section [" + section_ + "] (first at line " + std::to_string(first) +
                    ")");
      }
      first = line_;
      kind_ = title == "mount" ? SectionKind::kMount : SectionKind::kCache;
      return true;
    }
    if (title.substr(0, 6) == "source" && (title.size() == 6 || IsSpace(title[6]))) {
      std::string name(Trim(title.substr(6)));
      if (name.empty()) return Fail("[source] needs a name: write [source NAME]");
      if (name.find('/') != std::string::npos) {
        return Fail("source name '" + name + "' must not contain '/'");
      }
      if (name[0] == '.') return Fail("source name '" + name + "' must not start with '.'");
      for (const SourceConfig& s : config_.sources) {
        if (s.name == name) {
          return Fail("duplicate source name '" + name + "' (first at line " +
                      std::to_string(s.line) + ")");
        }
      }
      SourceConfig source;
      source.name = name;
      source.line = line_;
      config_.sources.push_back(std::move(source));
      kind_ = SectionKind::kSource;
      return true;
    }
    return Fail("unknown section [" + section_ + "]");
  }

  // Checks that the section that just ended has its required keys.
  bool CloseSection() {
    if (kind_ == SectionKind::kSource) {
      for (const char* key : {"type", "path"}) {
        if (!keys_.count(key)) {
          return FailAt(section_line_, "[" + section_ + "] needs '" + key + "'");
        }
      }
    }
    kind_ = SectionKind::kNone;
    return true;
  }

  bool Handle(std::string_view section, const std::string& key, std::string_view value) {
    if (!error_.empty()) return false;
    if (kind_ == SectionKind::kNone) {
      return Fail("key '" + key +
                  "' outside any section; put it under [mount], [cache] or [source NAME]");
    }
    if (section != raw_section_) {  // the reader and inih disagree: a bug here, not in the file
      return Fail("internal error: inih reports section [" + std::string(section) +
                  "], the reader [" + raw_section_ + "]");
    }
    if (key.empty()) return Fail("missing key name before '='");
    if (!keys_.insert(key).second) {
      return Fail("duplicate key '" + key + "' in [" + section_ + "]");
    }
    last_key_ = key;
    value = Trim(value);  // inih trims already; keep the contract independent of it
    // "key =;x" gives ";x", but written back as "key = ;x" (as .daqfs/config does) the ';'
    // after a space starts a comment: such a value would not mean the same twice.
    if (!value.empty() && value[0] == ';') {
      return Fail("value of '" + key + "' starts with ';', which reads as a comment after a space");
    }
    switch (kind_) {
      case SectionKind::kMount:
        return MountKey(key, value);
      case SectionKind::kCache:
        return CacheKey(key, value);
      case SectionKind::kSource:
        return SourceKey(key, value);
      case SectionKind::kNone:
        break;
    }
    return Fail("internal error: key '" + key + "' in no section");
  }

  bool MountKey(const std::string& key, std::string_view v) {
    MountConfig& m = config_.mount;
    if (key == "threads") {
      auto n = ParseUint(v, kMaxThreads);
      if (!n) return BadValue(key, v, "expected an integer from 0 to 1024 (0 = automatic)");
      m.threads = static_cast<unsigned>(*n);
    } else if (key == "read_ahead_kb") {
      auto n = ParseUint(v, kMaxReadAheadKb);
      if (!n) return BadValue(key, v, "expected a whole number of KiB from 0 to 1048576");
      m.read_ahead_kb = *n;
    } else if (key == "allow_other") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return BadValue(key, v, b.status().message());
      m.allow_other = *b;
    } else if (key == "uid" || key == "gid") {
      auto n = ParseUint(v, kMaxId);
      if (!n) return BadValue(key, v, "expected a numeric id from 0 to 4294967294");
      (key == "uid" ? m.uid : m.gid) = static_cast<uint32_t>(*n);
    } else if (key == "log_level") {
      if (!ParseLogLevel(std::string(v), &m.log_level)) {
        return BadValue(key, v, "expected error, warn, info or debug");
      }
    } else if (key == "log") {
      if (v != "stderr" && v != "syslog" && (v.empty() || v[0] != '/')) {
        return BadValue(key, v, "expected stderr, syslog or an absolute file path");
      }
      m.log = std::string(v);
    } else if (key == "mountpoint") {
      if (v.empty() || v[0] != '/') return BadValue(key, v, "expected an absolute path");
      m.mountpoint = std::string(v);
    } else if (key == "list_daqfs_xattrs") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return BadValue(key, v, b.status().message());
      m.list_daqfs_xattrs = *b;
    } else if (key == "entry_timeout") {
      auto d = ParseSeconds(v);
      if (!d) return BadValue(key, v, "expected a non-negative number of seconds");
      m.entry_timeout = *d;
    } else if (key == "max_background") {
      auto n = ParseUint(v, kMaxBackground);
      if (!n || *n < 1) return BadValue(key, v, "expected an integer from 1 to 65535");
      m.max_background = static_cast<unsigned>(*n);
    } else {
      return Fail("unknown key '" + key + "' in [mount]");
    }
    return true;
  }

  bool CacheKey(const std::string& key, std::string_view v) {
    CacheConfig& c = config_.cache;
    if (key == "dir") {
      if (v.empty()) return BadValue(key, v, "must not be empty");
      if (v[0] != '/') return BadValue(key, v, "must be an absolute path");
      c.dir = std::string(v);
    } else if (key == "memory") {
      return SizeValue(key, v, &c.memory);
    } else if (key == "disk") {
      return SizeValue(key, v, &c.disk);
    } else if (key == "prefetch_window") {
      if (!SizeValue(key, v, &c.prefetch_window)) return false;
      if (c.prefetch_window != 0 && c.prefetch_window < kMinPrefetchWindow) {
        return BadValue(key, v, "expected 0 (prefetch off) or a size of at least 1M");
      }
    } else if (key == "prefetch_budget") {
      return SizeValue(key, v, &c.prefetch_budget);
    } else if (key == "decode_threads") {
      auto n = ParseUint(v, kMaxThreads);
      if (!n) return BadValue(key, v, "expected an integer from 0 to 1024 (0 = automatic)");
      c.decode_threads = static_cast<unsigned>(*n);
    } else {
      return Fail("unknown key '" + key + "' in [cache]");
    }
    return true;
  }

  bool SourceKey(const std::string& key, std::string_view v) {
    SourceConfig& s = config_.sources.back();
    if (key == "type") {
      if (!IsOneOf(v, kSourceTypes)) {
        return BadValue(key, v, "expected one of: " + JoinNames(kSourceTypes));
      }
      s.type = std::string(v);
    } else if (key == "path") {
      if (v.empty()) return BadValue(key, v, "must not be empty");
      s.path = std::string(v);
    } else if (key == "cache") {
      if (!IsOneOf(v, kCacheModes)) {
        return BadValue(key, v, "expected one of: " + JoinNames(kCacheModes));
      }
      s.cache = std::string(v);
    } else if (key == "simulate_latency_ms") {
      auto n = ParseUint(v, kMaxLatencyMs);
      if (!n) {
        return BadValue(key, v, "expected an integer from 0 to 60000 (milliseconds; 0 = off)");
      }
      s.simulate_latency_ms = static_cast<unsigned>(*n);
    } else if (key == "layout") {
      if (v != "per-archive" && v != "merged") {
        return BadValue(key, v, "expected one of: per-archive, merged");
      }
      s.layout = std::string(v);
    } else if (key == "strip_suffix") {
      if (v.find('/') != std::string_view::npos) return BadValue(key, v, "must not contain '/'");
      s.strip_suffix = std::string(v);
    } else if (key == "rescan") {
      auto d = ParseSeconds(v);
      if (!d) return BadValue(key, v, "expected a non-negative number of seconds (0 = off)");
      s.rescan = *d;
    } else {
      return Fail("unknown key '" + key + "' in [" + section_ + "]");
    }
    return true;
  }

  // A size with ParseSize's syntax into *out.
  bool SizeValue(const std::string& key, std::string_view v, uint64_t* out) {
    Result<uint64_t> n = ParseSize(v);
    if (!n.ok()) return BadValue(key, v, n.status().message());
    *out = *n;
    return true;
  }

  bool BadValue(const std::string& key, std::string_view value, const std::string& reason) {
    return Fail("bad value '" + std::string(value) + "' for " + key + ": " + reason);
  }

  // Records the first error ("FILE:LINE: message") and returns false.
  bool Fail(const std::string& message) { return FailAt(line_, message); }
  bool FailAt(int line, const std::string& message) {
    if (error_.empty()) error_ = name_ + ":" + std::to_string(line) + ": " + message;
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 0;       // the line last handed to inih (1-based)
  std::string name_;   // file name for messages
  std::string error_;  // first error, complete with "FILE:LINE: "
  Config config_;

  SectionKind kind_ = SectionKind::kNone;
  std::string raw_section_;  // the text between the brackets, as inih passes it
  std::string section_;      // trimmed, for messages: "mount", "source mwa"
  int section_line_ = 0;
  int mount_line_ = 0;          // line of [mount], 0 before it
  int cache_line_ = 0;          // line of [cache], 0 before it
  std::set<std::string> keys_;  // keys seen in the current section
  bool key_since_header_ = false;
  std::string last_key_;
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

uint64_t DefaultMemoryCache() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return DefaultMemoryCacheFor(0);
  return DefaultMemoryCacheFor(static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size));
}

Result<Config> ParseConfig(std::string_view text, const std::string& file) {
  return Parser(text, file).Run();
}

Result<Config> LoadConfig(const std::string& path) {
  struct Closer {
    void operator()(FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<FILE, Closer> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Invalid(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[16384];
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, f.get());
    if (n < sizeof buf && std::ferror(f.get())) {
      int err = errno;  // e.g. EISDIR: fopen() opens a directory, fread() fails
      return Invalid(path + ": cannot read: " + std::strerror(err));
    }
    text.append(buf, n);
    if (text.size() > kMaxFileBytes) {
      return Invalid(path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
    }
    if (n < sizeof buf) break;
  }
  return ParseConfig(text, path);
}

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view s = Trim(text);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') digits++;
  const std::string kExpected = "expected a whole number with an optional K, M, G or T suffix";
  if (digits == 0) return Invalid(kExpected);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, n);
  if (ec == std::errc::result_out_of_range) return Invalid("too large");
  if (ec != std::errc() || end != s.data() + digits) return Invalid(kExpected);

  std::string_view suffix = Trim(s.substr(digits));
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
  std::string_view s = Trim(text);
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
  // Shortest text that reads back as the same double ("3600", "0.25", "1e+20").
  char seconds[64];
  auto tc = std::to_chars(seconds, seconds + sizeof seconds, m.entry_timeout);
  // "key = value", or "key=value" where the spaces would make the line too long to read back.
  auto kv = [](const std::string& key, const std::string& value) {
    std::string line = key + " = " + value;
    if (line.size() > kMaxLineBytes) line = key + "=" + value;
    return line + "\n";
  };
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
  out += "entry_timeout = " + std::string(seconds, tc.ptr) + "\n";
  out += "max_background = " + std::to_string(m.max_background) + "\n";
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
  out += "prefetch_window = " + FormatSize(c.prefetch_window) + "\n";
  out += "prefetch_budget = " + FormatSize(c.prefetch_budget) + "\n";
  out += "decode_threads = " + std::to_string(c.decode_threads) + "\n";
  for (const SourceConfig& s : config.sources) {
    out += "\n[source " + s.name + "]\n";
    out += "type = " + s.type + "\n";
    out += kv("path", s.path);
    out += "cache = " + s.cache + "\n";
    out += "simulate_latency_ms = " + std::to_string(s.simulate_latency_ms) + "\n";
    out += "layout = " + s.layout + "\n";
    out += kv("strip_suffix", s.strip_suffix);
    char rescan[64];
    auto rc = std::to_chars(rescan, rescan + sizeof rescan, s.rescan);
    out += "rescan = " + std::string(rescan, rc.ptr) + "\n";
  }
  return out;
}

}  // namespace daqfs
