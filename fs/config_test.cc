#include "fs/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

// fs/ cannot use a backend's type, so these tests register a stand-in under the name "archive"
// with one key of its own, `path` (required, not empty), as the archive type has. The archive
// type's own keys are tested in backends/archive/archive_source_type_test.cc.
struct PathOptions final : SourceOptions {
  std::string path;
};

class PathOnlyType final : public SourceType {
 public:
  std::string_view Name() const override { return "archive"; }
  IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                     std::shared_ptr<SourceOptions>* options) const override {
    auto o = std::make_shared<PathOptions>();
    bool has_path = false;
    for (const IniEntry& e : keys) {
      if (e.key != "path") {
        return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
      }
      if (e.value.empty())
        return IniError{e.line, BadIniValue(e.key, e.value, "must not be empty")};
      o->path = e.value;
      has_path = true;
    }
    if (!has_path) return IniError{section.line, "[" + section.name + "] needs 'path'"};
    *options = std::move(o);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const override {
    return {{"path", static_cast<const PathOptions&>(options).path}};
  }
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override {
    return Invalid(path + ": not sniffed in this test");
  }
  Result<SourceCheck> Check(const SourceSpec&) const override { return SourceCheck{}; }
  Result<std::unique_ptr<Backend>> Create(const SourceSpec&) const override {
    return Invalid("not created in this test");
  }
};

SourceTypeRegistry Types() {
  SourceTypeRegistry types;
  EXPECT_TRUE(types.Register(std::make_shared<PathOnlyType>()).ok());
  return types;
}

const std::string& PathOf(const SourceSpec& spec) {
  return static_cast<const PathOptions&>(*spec.options).path;
}

using testing::TempDir;

// Writes `text` to `name` in `dir`; returns its path.
std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  testing::WriteFile(dir / name, text);
  return dir / name;
}

// A minimal valid source section, for tests about [mount].
constexpr const char* kSource = "[source s]\ntype = archive\npath = /data\n";

// The message of a config that must fail; fails the test if it parses.
std::string Error(std::string_view text, const std::string& file = "t.ini") {
  Result<Config> r = ParseConfig(text, file, Types());
  EXPECT_FALSE(r.ok()) << "parsed unexpectedly:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  return r.status().message();
}

Config Parse(std::string_view text) {
  Result<Config> r = ParseConfig(text, "t.ini", Types());
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  return r.ok() ? *r : Config{};
}

std::string MountError(const std::string& mount_body) {
  return Error("[mount]\n" + mount_body + "\n" + kSource);
}

std::string CacheError(const std::string& cache_body) {
  return Error("[cache]\n" + cache_body + "\n" + kSource);
}

// An error about a key on line 4, after kSource's three lines.
std::string SourceError(const std::string& key_line) {
  return Error(std::string(kSource) + key_line + "\n");
}

void ExpectSameCacheValues(const CacheConfig& a, const CacheConfig& b) {
  EXPECT_EQ(a.dir, b.dir);
  EXPECT_EQ(a.memory, b.memory);
  EXPECT_EQ(a.disk, b.disk);
  EXPECT_EQ(a.prefetch_window, b.prefetch_window);
  EXPECT_EQ(a.prefetch_budget, b.prefetch_budget);
  EXPECT_EQ(a.decode_threads, b.decode_threads);
}

void ExpectSameValues(const Config& a, const Config& b) {
  EXPECT_EQ(a.mount.threads, b.mount.threads);
  EXPECT_EQ(a.mount.read_ahead_kb, b.mount.read_ahead_kb);
  EXPECT_EQ(a.mount.allow_other, b.mount.allow_other);
  EXPECT_EQ(a.mount.uid, b.mount.uid);
  EXPECT_EQ(a.mount.gid, b.mount.gid);
  EXPECT_EQ(a.mount.log_level, b.mount.log_level);
  EXPECT_EQ(a.mount.log, b.mount.log);
  EXPECT_EQ(a.mount.entry_timeout, b.mount.entry_timeout);  // exact: must round-trip
  EXPECT_EQ(a.mount.max_background, b.mount.max_background);
  EXPECT_EQ(a.mount.drop_behind, b.mount.drop_behind);
  EXPECT_EQ(a.mount.readdirplus_always, b.mount.readdirplus_always);
  EXPECT_EQ(a.mount.mountpoint, b.mount.mountpoint);
  EXPECT_EQ(a.mount.list_daqfs_xattrs, b.mount.list_daqfs_xattrs);
  ExpectSameCacheValues(a.cache, b.cache);
  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (size_t i = 0; i < a.sources.size(); i++) {
    EXPECT_EQ(a.sources[i].name, b.sources[i].name);
    EXPECT_EQ(a.sources[i].type, b.sources[i].type);
    EXPECT_EQ(PathOf(a.sources[i]), PathOf(b.sources[i]));
    EXPECT_EQ(a.sources[i].cache, b.sources[i].cache);
    EXPECT_EQ(a.sources[i].simulate_latency_ms, b.sources[i].simulate_latency_ms);
    EXPECT_EQ(a.sources[i].rescan, b.sources[i].rescan);
    EXPECT_EQ(a.sources[i].max_inflight, b.sources[i].max_inflight);
    EXPECT_EQ(a.sources[i].stuck_timeout, b.sources[i].stuck_timeout);
  }
}

// Sets an environment variable for one scope (nullptr: unsets it), then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old) old_ = old;
    Set(value);
  }
  ~ScopedEnv() { Set(old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void Set(const char* value) {
    if (value) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(ConfigTest, FullValidConfig) {
  Config c = Parse(
      "; daqfs\n"
      "[mount]\n"
      "threads = 8\n"
      "read_ahead_kb = 1024\n"
      "allow_other = yes\n"
      "uid = 1000\n"
      "gid = 100\n"
      "log_level = debug\n"
      "log = syslog\n"
      "entry_timeout = 0.5\n"
      "max_background = 128\n"
      "drop_behind = 1G\n"
      "readdirplus = auto\n"
      "\n"
      "[source mwa]\n"
      "type = archive\n"
      "path = /data/mwa/*.tar\n"
      "[source  other data ]\n"
      "path: /srv/x\n"
      "type=archive\n");
  EXPECT_EQ(c.file, "t.ini");
  EXPECT_EQ(c.mount.threads, 8u);
  EXPECT_EQ(c.mount.read_ahead_kb, 1024u);
  EXPECT_TRUE(c.mount.allow_other);
  EXPECT_EQ(c.mount.uid, 1000u);
  EXPECT_EQ(c.mount.gid, 100u);
  EXPECT_EQ(c.mount.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.mount.log, "syslog");
  EXPECT_EQ(c.mount.entry_timeout, 0.5);
  EXPECT_EQ(c.mount.max_background, 128u);
  EXPECT_EQ(c.mount.drop_behind, 1ull << 30);
  EXPECT_FALSE(c.mount.readdirplus_always);
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(c.sources[0].name, "mwa");
  EXPECT_EQ(c.sources[0].type, "archive");
  EXPECT_EQ(PathOf(c.sources[0]), "/data/mwa/*.tar");
  EXPECT_EQ(c.sources[0].line, 15);
  EXPECT_EQ(c.sources[1].name, "other data");
  EXPECT_EQ(PathOf(c.sources[1]), "/srv/x");
  EXPECT_EQ(c.sources[1].line, 18);
}

TEST(ConfigTest, DefaultsWithoutMountSection) {
  Config c = Parse(kSource);
  MountConfig d;
  EXPECT_EQ(c.mount.threads, d.threads);
  EXPECT_EQ(c.mount.read_ahead_kb, 4096u);
  EXPECT_FALSE(c.mount.allow_other);
  EXPECT_FALSE(c.mount.uid.has_value());
  EXPECT_FALSE(c.mount.gid.has_value());
  EXPECT_EQ(c.mount.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.mount.log, "stderr");
  EXPECT_EQ(c.mount.entry_timeout, 3600);
  EXPECT_EQ(c.mount.max_background, 64u);
  EXPECT_EQ(c.mount.drop_behind, 512ull << 20);
  EXPECT_TRUE(c.mount.readdirplus_always);
  EXPECT_EQ(c.mount.mountpoint, "");
  EXPECT_FALSE(c.mount.list_daqfs_xattrs);
}

TEST(ConfigTest, CacheSection) {
  Config c = Parse(
      "[mount]\nthreads = 2\n"
      "[cache]\n"
      "dir = /ssd/daqfs cache\n"
      "memory = 8G\n"
      "disk = 2T\n"
      "prefetch_window = 128M\n"
      "prefetch_budget = 1GiB\n"
      "decode_threads = 16\n" +
      std::string(kSource));
  EXPECT_EQ(c.mount.threads, 2u);
  EXPECT_EQ(c.cache.dir, "/ssd/daqfs cache");
  EXPECT_EQ(c.cache.memory, 8ull << 30);
  EXPECT_EQ(c.cache.disk, 2ull << 40);
  EXPECT_EQ(c.cache.prefetch_window, 128ull << 20);
  EXPECT_EQ(c.cache.prefetch_budget, 1ull << 30);
  EXPECT_EQ(c.cache.decode_threads, 16u);
  // Any order of sections; sizes in plain bytes.
  Config d = Parse(std::string(kSource) + "[cache]\nmemory = 1000000\nprefetch_budget = 5K\n");
  EXPECT_EQ(d.cache.memory, 1000000u);
  EXPECT_EQ(d.cache.prefetch_budget, 5120u);
}

TEST(ConfigTest, CacheRangeLimitsAccepted) {
  Config c = Parse(
      "[cache]\ndir = /\nmemory = 0\ndisk = 0\nprefetch_window = 1M\nprefetch_budget = 0\n"
      "decode_threads = 1024\n" +
      std::string(kSource));
  EXPECT_EQ(c.cache.dir, "/");
  EXPECT_EQ(c.cache.memory, 0u);
  EXPECT_EQ(c.cache.disk, 0u);
  EXPECT_EQ(c.cache.prefetch_window, 1u << 20);
  EXPECT_EQ(c.cache.prefetch_budget, 0u);
  EXPECT_EQ(c.cache.decode_threads, 1024u);
  Config d = Parse(
      "[cache]\nmemory = 18446744073709551615\ndisk = 16777215T\nprefetch_window = 0\n"
      "prefetch_budget = 1048576\ndecode_threads = 0\n" +
      std::string(kSource));
  EXPECT_EQ(d.cache.memory, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(d.cache.disk, 16777215ull << 40);
  EXPECT_EQ(d.cache.prefetch_window, 0u);  // prefetch off
  EXPECT_EQ(d.cache.prefetch_budget, 1u << 20);
  EXPECT_EQ(d.cache.decode_threads, 0u);
  EXPECT_EQ(
      Parse("[cache]\nprefetch_window = 1048576\n" + std::string(kSource)).cache.prefetch_window,
      1u << 20);
}

TEST(ConfigTest, CacheDefaults) {
  Config c = Parse(kSource);
  EXPECT_EQ(c.cache.dir, DefaultCacheDir());
  EXPECT_EQ(c.cache.memory, DefaultMemoryCache());
  EXPECT_EQ(c.cache.disk, 64ull << 30);
  EXPECT_EQ(c.cache.prefetch_window, 64ull << 20);
  EXPECT_EQ(c.cache.prefetch_budget, 256ull << 20);
  EXPECT_EQ(c.cache.decode_threads, 0u);
  // An empty [cache] section changes nothing.
  ExpectSameCacheValues(Parse("[cache]\n; nothing\n" + std::string(kSource)).cache, c.cache);
  // Keys not given keep their defaults.
  Config d = Parse("[cache]\ndisk = 0\n" + std::string(kSource));
  EXPECT_EQ(d.cache.disk, 0u);
  EXPECT_EQ(d.cache.dir, DefaultCacheDir());
  EXPECT_EQ(d.cache.prefetch_window, 64ull << 20);
}

TEST(ConfigTest, DefaultCacheDirFor) {
  EXPECT_EQ(DefaultCacheDirFor(true, "/x", "/home/u"), "/var/cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(true, nullptr, nullptr), "/var/cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, "/x/cache", "/home/u"), "/x/cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, "/x/cache/", "/home/u"), "/x/cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, nullptr, "/home/u"), "/home/u/.cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, "", "/home/u"), "/home/u/.cache/daqfs");
  // The XDG spec ignores a relative XDG_CACHE_HOME.
  EXPECT_EQ(DefaultCacheDirFor(false, "rel/cache", "/home/u"), "/home/u/.cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, nullptr, "/"), "/.cache/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, "/", "/home/u"), "/daqfs");
  EXPECT_EQ(DefaultCacheDirFor(false, nullptr, nullptr), "");
  EXPECT_EQ(DefaultCacheDirFor(false, nullptr, ""), "");
  EXPECT_EQ(DefaultCacheDirFor(false, "rel", "home/u"), "");
}

TEST(ConfigTest, DefaultCacheDirReadsTheEnvironment) {
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg/cache");
  ScopedEnv home("HOME", "/home/someone");
  if (geteuid() == 0) {
    EXPECT_EQ(DefaultCacheDir(), "/var/cache/daqfs");
    EXPECT_EQ(CacheConfig().dir, "/var/cache/daqfs");
    return;
  }
  EXPECT_EQ(DefaultCacheDir(), "/xdg/cache/daqfs");
  EXPECT_EQ(CacheConfig().dir, "/xdg/cache/daqfs");
  xdg.Set(nullptr);
  EXPECT_EQ(DefaultCacheDir(), "/home/someone/.cache/daqfs");
  xdg.Set("relative");
  EXPECT_EQ(DefaultCacheDir(), "/home/someone/.cache/daqfs");
  // Without a usable $HOME the password database's home folder is used (if there is one).
  home.Set(nullptr);
  std::string d = DefaultCacheDir();
  EXPECT_TRUE(d.empty() ||
              (d[0] == '/' && d.size() > 13 && d.substr(d.size() - 13) == "/.cache/daqfs"))
      << d;
}

TEST(ConfigTest, DefaultMemoryCache) {
  EXPECT_EQ(DefaultMemoryCacheFor(8ull << 30), 1ull << 30);
  EXPECT_EQ(DefaultMemoryCacheFor(1000), 125u);
  EXPECT_EQ(DefaultMemoryCacheFor(128ull << 30), 16ull << 30);
  EXPECT_EQ(DefaultMemoryCacheFor(4ull << 40), 16ull << 30);
  EXPECT_EQ(DefaultMemoryCacheFor(std::numeric_limits<uint64_t>::max()), 16ull << 30);
  EXPECT_EQ(DefaultMemoryCacheFor(0), 1ull << 30);  // RAM unknown
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  ASSERT_GT(pages, 0);
  ASSERT_GT(page_size, 0);
  uint64_t ram = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  EXPECT_EQ(DefaultMemoryCache(), std::min<uint64_t>(ram / 8, 16ull << 30));
  EXPECT_EQ(CacheConfig().memory, DefaultMemoryCache());
}

TEST(ConfigTest, SourceCacheAndSimulatedLatency) {
  Config c = Parse(
      "[source a]\ntype = archive\npath = /a\ncache = none\nsimulate_latency_ms = 25\n"
      "[source b]\ntype = archive\npath = /b\ncache = memory\n"
      "[source c]\ncache = disk\nsimulate_latency_ms = 60000\ntype = archive\npath = /c\n"
      "[source d]\ntype = archive\npath = /d\ncache = auto\nsimulate_latency_ms = 0\n"
      "[source e]\ntype = archive\npath = /e\n");
  ASSERT_EQ(c.sources.size(), 5u);
  EXPECT_EQ(c.sources[0].cache, "none");
  EXPECT_EQ(c.sources[0].simulate_latency_ms, 25u);
  EXPECT_EQ(c.sources[1].cache, "memory");
  EXPECT_EQ(c.sources[1].simulate_latency_ms, 0u);
  EXPECT_EQ(c.sources[2].cache, "disk");
  EXPECT_EQ(c.sources[2].simulate_latency_ms, 60000u);
  EXPECT_EQ(c.sources[3].cache, "auto");
  EXPECT_EQ(c.sources[3].simulate_latency_ms, 0u);
  // Defaults.
  EXPECT_EQ(c.sources[4].cache, "auto");
  EXPECT_EQ(c.sources[4].simulate_latency_ms, 0u);
  SourceSpec d;
  EXPECT_EQ(d.cache, "auto");
  EXPECT_EQ(d.simulate_latency_ms, 0u);
}

TEST(ConfigTest, SharedRescanAndInflightKeys) {
  Config c = Parse(
      "[source a]\ntype = archive\npath = /a\nrescan = 2.5\nmax_inflight = 4\n"
      "stuck_timeout = 0.25\n"
      "[source b]\nrescan = 0\nmax_inflight = 4096\nstuck_timeout = 86400\ntype = archive\n"
      "path = /b\n"
      "[source c]\ntype = archive\npath = /c\n");
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(c.sources[0].rescan, 2.5);
  EXPECT_EQ(c.sources[0].max_inflight, 4u);
  EXPECT_EQ(c.sources[0].stuck_timeout, 0.25);
  EXPECT_EQ(c.sources[1].rescan, 0);
  EXPECT_EQ(c.sources[1].max_inflight, 4096u);
  EXPECT_EQ(c.sources[1].stuck_timeout, 86400);
  EXPECT_EQ(c.sources[2].rescan, 0);
  EXPECT_EQ(c.sources[2].max_inflight, kDefaultMaxInflight);
  EXPECT_EQ(c.sources[2].stuck_timeout, kDefaultStuckTimeoutSeconds);
  ExpectSameValues(c, Parse(FormatConfig(c)));
  EXPECT_EQ(Error("[source s]\ntype = archive\npath = /p\nrescan = -1\n"),
            "t.ini:4: bad value '-1' for rescan: expected a non-negative number of seconds "
            "(0 = off)");
  for (const char* v : {"0", "4097", "-1", "", "2.5"}) {
    EXPECT_EQ(SourceError(std::string("max_inflight = ") + v),
              std::string("t.ini:4: bad value '") + v +
                  "' for max_inflight: expected an integer from 1 to 4096");
  }
  for (const char* v : {"0", "86401", "-1", "", "inf", "1s"}) {
    EXPECT_EQ(SourceError(std::string("stuck_timeout = ") + v),
              std::string("t.ini:4: bad value '") + v +
                  "' for stuck_timeout: expected a number of seconds above 0, at most 86400");
  }
}

TEST(ConfigTest, RangeLimitsAccepted) {
  Config c = Parse(
      "[mount]\nthreads = 1024\nread_ahead_kb = 1048576\nuid = 4294967294\ngid = 0\n"
      "entry_timeout = 0\nmax_background = 65535\n" +
      std::string(kSource));
  EXPECT_EQ(c.mount.threads, 1024u);
  EXPECT_EQ(c.mount.read_ahead_kb, 1048576u);
  EXPECT_EQ(c.mount.uid, 4294967294u);
  EXPECT_EQ(c.mount.gid, 0u);
  EXPECT_EQ(c.mount.entry_timeout, 0);
  EXPECT_EQ(c.mount.max_background, 65535u);
  EXPECT_EQ(Parse("[mount]\nmax_background = 1\n" + std::string(kSource)).mount.max_background, 1u);
  EXPECT_EQ(Parse("[mount]\nentry_timeout = 1e3\n" + std::string(kSource)).mount.entry_timeout,
            1000);
  EXPECT_EQ(Parse("[mount]\nlog_level = warning\n" + std::string(kSource)).mount.log_level,
            LogLevel::kWarn);
}

struct BadValueCase {
  const char* key;
  const char* value;
  const char* reason;
};

TEST(ConfigTest, EveryMountKeyRejectsBadValues) {
  const BadValueCase cases[] = {
      {"threads", "-1", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"threads", "1025", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"threads", "4x", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"threads", "", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"threads", "99999999999999999999", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"read_ahead_kb", "1048577", "expected a whole number of KiB from 0 to 1048576"},
      {"read_ahead_kb", "4M", "expected a whole number of KiB from 0 to 1048576"},
      {"read_ahead_kb", "+4", "expected a whole number of KiB from 0 to 1048576"},
      {"allow_other", "maybe", "expected true/false, yes/no, on/off or 1/0"},
      {"allow_other", "", "expected true/false, yes/no, on/off or 1/0"},
      {"uid", "root", "expected a numeric id from 0 to 4294967294"},
      {"uid", "4294967295", "expected a numeric id from 0 to 4294967294"},
      {"uid", "-1", "expected a numeric id from 0 to 4294967294"},
      {"gid", "4294967296", "expected a numeric id from 0 to 4294967294"},
      {"gid", "1.5", "expected a numeric id from 0 to 4294967294"},
      {"log_level", "verbose", "expected error, warn, info or debug"},
      {"log_level", "INFO", "expected error, warn, info or debug"},
      {"log", "file", "expected stderr, syslog or an absolute file path"},
      {"mountpoint", "mnt", "expected an absolute path"},
      {"list_daqfs_xattrs", "maybe", "expected true/false, yes/no, on/off or 1/0"},
      {"entry_timeout", "-1", "expected a non-negative number of seconds"},
      {"entry_timeout", "inf", "expected a non-negative number of seconds"},
      {"entry_timeout", "nan", "expected a non-negative number of seconds"},
      {"entry_timeout", "1e999", "expected a non-negative number of seconds"},
      {"entry_timeout", "10s", "expected a non-negative number of seconds"},
      {"entry_timeout", "0x10", "expected a non-negative number of seconds"},
      {"max_background", "0", "expected an integer from 1 to 65535"},
      {"max_background", "65536", "expected an integer from 1 to 65535"},
      {"drop_behind", "15M", "expected 0 (off) or at least 16M"},
      {"drop_behind", "1", "expected 0 (off) or at least 16M"},
      {"readdirplus", "yes", "expected always or auto"},
      {"readdirplus", "", "expected always or auto"},
      {"readdirplus", "Always", "expected always or auto"},
  };
  for (const BadValueCase& c : cases) {
    EXPECT_EQ(MountError(std::string(c.key) + " = " + c.value),
              std::string("t.ini:2: bad value '") + c.value + "' for " + c.key + ": " + c.reason);
  }
}

TEST(ConfigTest, FormatConfigKeepsLongValuesWithinALine) {
  // Found by the config fuzzer: a 199-byte "path=..." line must not come back as 201 bytes.
  std::string path = "/" + std::string(193, 'p');
  Config c = Parse("[source s]\ntype = archive\npath=" + path + "\n");
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("\npath=" + path + "\n"), std::string::npos) << text;
  Result<Config> again = ParseConfig(text, "formatted", Types());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(PathOf(again->sources[0]), path);
}

TEST(ConfigTest, AValueStartingWithASemicolonIsRefused) {
  // Found by the config fuzzer: it would not survive being written back by FormatConfig.
  EXPECT_EQ(
      MountError("mountpoint =;/mnt"),
      "t.ini:2: value of 'mountpoint' starts with ';', which reads as a comment after a space");
}

TEST(ConfigTest, EveryCacheKeyRejectsBadValues) {
  const std::string kSize = "expected a whole number with an optional K, M, G or T suffix";
  const BadValueCase cases[] = {
      {"dir", "", "must not be empty"},
      {"dir", "var/cache/daqfs", "must be an absolute path"},
      {"dir", "~/.cache/daqfs", "must be an absolute path"},
      {"dir", "$HOME/.cache", "must be an absolute path"},
      {"dir", "./cache", "must be an absolute path"},
      {"memory", "", kSize.c_str()},
      {"memory", "-1", kSize.c_str()},
      {"memory", "1.5G", kSize.c_str()},
      {"memory", "4P", kSize.c_str()},
      {"memory", "lots", kSize.c_str()},
      {"memory", "16777216T", "too large"},
      {"disk", "64 GB x", kSize.c_str()},
      {"disk", "18446744073709551616", "too large"},
      {"prefetch_window", "1048575", "expected 0 (prefetch off) or a size of at least 1M"},
      {"prefetch_window", "1023K", "expected 0 (prefetch off) or a size of at least 1M"},
      {"prefetch_window", "1", "expected 0 (prefetch off) or a size of at least 1M"},
      {"prefetch_window", "off", kSize.c_str()},
      {"prefetch_window", "99999999999999999999", "too large"},
      {"prefetch_budget", "-256M", kSize.c_str()},
      {"prefetch_budget", "256X", kSize.c_str()},
      {"decode_threads", "1025", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"decode_threads", "-1", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"decode_threads", "auto", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"decode_threads", "4K", "expected an integer from 0 to 1024 (0 = automatic)"},
      {"decode_threads", "", "expected an integer from 0 to 1024 (0 = automatic)"},
  };
  for (const BadValueCase& c : cases) {
    EXPECT_EQ(CacheError(std::string(c.key) + " = " + c.value),
              std::string("t.ini:2: bad value '") + c.value + "' for " + c.key + ": " + c.reason);
  }
  // The line of the bad key, not of the section.
  EXPECT_EQ(Error(std::string(kSource) + "\n[cache]\nmemory = 1G\n; c\n\ndir = rel\n"),
            "t.ini:9: bad value 'rel' for dir: must be an absolute path");
}

TEST(ConfigTest, SourceKeysRejectBadValues) {
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /d\n"),
            "t.ini:2: bad value 'hdf5' for type: expected one of: archive");
  EXPECT_EQ(Error("[source s]\ntype = \npath = /d\n"),
            "t.ini:2: bad value '' for type: expected one of: archive");
  EXPECT_EQ(Error("[source s]\ntype = archive\npath =\n"),
            "t.ini:3: bad value '' for path: must not be empty");
  const std::string kModes = "expected one of: auto, none, memory, disk";
  for (const char* v : {"", "ssd", "Auto", "DISK", "memory,disk", "off", "0"}) {
    EXPECT_EQ(SourceError(std::string("cache = ") + v),
              std::string("t.ini:4: bad value '") + v + "' for cache: " + kModes);
  }
  const std::string kLatency = "expected an integer from 0 to 60000 (milliseconds; 0 = off)";
  for (const char* v : {"", "60001", "-1", "10ms", "0.5", "1e3", "99999999999999999999"}) {
    EXPECT_EQ(SourceError(std::string("simulate_latency_ms = ") + v),
              std::string("t.ini:4: bad value '") + v + "' for simulate_latency_ms: " + kLatency);
  }
  // Checked in every source, on the line of the key.
  std::string second = "[source t]\ntype = archive\nsimulate_latency_ms = 5\ncache = tape\n";
  EXPECT_EQ(Error(std::string(kSource) + "cache = none\n" + second + "path = /t\n"),
            "t.ini:8: bad value 'tape' for cache: " + kModes);
}

TEST(ConfigTest, ValuesAreTrimmed) {
  Config c = Parse(
      "[mount]\nthreads =   7   \t\nlog=  syslog\n[source s]\ntype=archive\n"
      "path =   /a b/c  \n");
  EXPECT_EQ(c.mount.threads, 7u);
  EXPECT_EQ(c.mount.log, "syslog");
  EXPECT_EQ(PathOf(c.sources[0]), "/a b/c");
}

TEST(ConfigTest, UnknownKeyAndSectionWithExactLines) {
  EXPECT_EQ(Error("; comment\n\n# another\n[mount]\n\n  ; indented comment\nthreads = 2\n"
                  "colour = blue\n" +
                  std::string(kSource)),
            "t.ini:8: unknown key 'colour' in [mount]");
  EXPECT_EQ(Error(std::string(kSource) + "\n; c\ncolour = blue\n"),
            "t.ini:6: unknown key 'colour' in [source s]");
  EXPECT_EQ(Error(std::string(kSource) + "\n\n[caches]\n"), "t.ini:6: unknown section [caches]");
  EXPECT_EQ(Error("[Cache]\n" + std::string(kSource)), "t.ini:1: unknown section [Cache]");
  EXPECT_EQ(Error("[cache]\nmemory = 1G\nsize = 2G\n" + std::string(kSource)),
            "t.ini:3: unknown key 'size' in [cache]");
  // Each section takes only its own keys.
  EXPECT_EQ(Error("[cache]\nthreads = 2\n" + std::string(kSource)),
            "t.ini:2: unknown key 'threads' in [cache]");
  EXPECT_EQ(Error("[cache]\ncache = none\n" + std::string(kSource)),
            "t.ini:2: unknown key 'cache' in [cache]");
  EXPECT_EQ(MountError("decode_threads = 2"), "t.ini:2: unknown key 'decode_threads' in [mount]");
  EXPECT_EQ(SourceError("memory = 1G"), "t.ini:4: unknown key 'memory' in [source s]");
  // An empty unknown section is found too (inih does not call the handler for headers).
  EXPECT_EQ(Error("[Mount]\n" + std::string(kSource)), "t.ini:1: unknown section [Mount]");
  EXPECT_EQ(Error("[sources x]\n"), "t.ini:1: unknown section [sources x]");
  // CRLF line ends count once.
  EXPECT_EQ(Error("[mount]\r\n\r\nbogus = 1\r\n"), "t.ini:3: unknown key 'bogus' in [mount]");
}

TEST(ConfigTest, MultiLineValuesAreRejected) {
  // inih continues a value on an indented line, even after blank lines and comments.
  EXPECT_EQ(MountError("threads = 4\n\n; c\n  8"),
            "t.ini:5: indented line continues the value of 'threads' (multi-line values are "
            "not supported); remove the indentation");
  // An indented key after a key would become part of the first key's value.
  EXPECT_EQ(Error("[source s]\n    type = archive\n    path = /d\n"),
            "t.ini:2: indented line (inih reads an indented line after a key as part of that "
            "key's value); remove the indentation");
  EXPECT_EQ(Error("[mount]\nthreads = 1\n\t[source s]\n"),
            "t.ini:3: indented line continues the value of 'threads' (multi-line values are "
            "not supported); remove the indentation");
}

TEST(ConfigTest, DuplicateKeysAndSections) {
  EXPECT_EQ(MountError("threads = 1\nlog = stderr\nthreads = 2"),
            "t.ini:4: duplicate key 'threads' in [mount]");
  EXPECT_EQ(Error("[source s]\ntype = archive\npath = /a\npath = /b\n"),
            "t.ini:4: duplicate key 'path' in [source s]");
  EXPECT_EQ(Error("[mount]\n[mount]\n" + std::string(kSource)),
            "t.ini:2: duplicate section [mount] (first at line 1)");
  EXPECT_EQ(Error("[mount]\n[cache]\ndisk = 0\n" + std::string(kSource) + "[cache]\n"),
            "t.ini:7: duplicate section [cache] (first at line 2)");
  EXPECT_EQ(CacheError("disk = 1G\nmemory = 1G\ndisk = 2G"),
            "t.ini:4: duplicate key 'disk' in [cache]");
  EXPECT_EQ(SourceError("cache = none\ncache = disk"),
            "t.ini:5: duplicate key 'cache' in [source s]");
  EXPECT_EQ(SourceError("simulate_latency_ms = 1\nsimulate_latency_ms = 1"),
            "t.ini:5: duplicate key 'simulate_latency_ms' in [source s]");
  EXPECT_EQ(Error(std::string(kSource) + "[source s]\ntype = archive\npath = /b\n"),
            "t.ini:4: duplicate source name 's' (first at line 1)");
  EXPECT_EQ(Error(std::string(kSource) + "[source  s ]\n"),
            "t.ini:4: duplicate source name 's' (first at line 1)");
}

TEST(ConfigTest, SourceNames) {
  EXPECT_EQ(Error("[source]\ntype = archive\n"),
            "t.ini:1: [source] needs a name: write [source NAME]");
  EXPECT_EQ(Error("[source   ]\n"), "t.ini:1: [source] needs a name: write [source NAME]");
  EXPECT_EQ(Error("[source a/b]\n"), "t.ini:1: source name 'a/b' must not contain '/'");
  EXPECT_EQ(Error("[source .hidden]\n"), "t.ini:1: source name '.hidden' must not start with '.'");
  EXPECT_EQ(Error("[source ..]\n"), "t.ini:1: source name '..' must not start with '.'");
  EXPECT_EQ(Parse("[source a.b-c_d]\ntype=archive\npath=/x\n").sources[0].name, "a.b-c_d");
}

TEST(ConfigTest, MissingRequiredKeysNameTheHeaderLine) {
  EXPECT_EQ(Error("[mount]\n\n[source mwa]\npath = /d\n\n[source b]\ntype = archive\npath = /e\n"),
            "t.ini:3: [source mwa] needs 'type'");
  EXPECT_EQ(Error("[source mwa]\ntype = archive\n"), "t.ini:1: [source mwa] needs 'path'");
  EXPECT_EQ(Error(std::string(kSource) + "[source empty]\n; nothing\n"),
            "t.ini:4: [source empty] needs 'type'");
}

TEST(ConfigTest, NoSource) {
  EXPECT_EQ(Error("[mount]\nthreads = 2\n"), "t.ini: no [source NAME] section");
  EXPECT_EQ(Error(""), "t.ini: no [source NAME] section");
  EXPECT_EQ(Error("; only a comment\n", ""), "<config>: no [source NAME] section");
}

TEST(ConfigTest, SyntaxErrors) {
  EXPECT_EQ(Error("threads = 2\n" + std::string(kSource)),
            "t.ini:1: key 'threads' outside any section; put it under [mount], [cache] or "
            "[source NAME]");
  EXPECT_EQ(Error("[mount]\nthreads\n"),
            "t.ini:2: expected '[section]', 'key = value' or a comment, got 'threads'");
  EXPECT_EQ(Error("[mount]\n= 4\n"), "t.ini:2: missing key name before '='");
  EXPECT_EQ(Error("[mount\n"), "t.ini:1: missing ']' in section header '[mount'");
  // ';' after whitespace starts a comment inside a header too, hiding the ']'.
  EXPECT_EQ(Error("[source a ;x]\n"), "t.ini:1: missing ']' in section header '[source a ;x]'");
  EXPECT_EQ(Error("[mount] threads = 1\n"), "t.ini:1: unexpected text after ']': 'threads = 1'");
  // inih would end the line at a NUL byte and read "threads = 1".
  EXPECT_EQ(Error(std::string_view("[mount]\nthreads = 1\0 2\n", 23)), "t.ini:2: NUL byte in line");
}

TEST(ConfigTest, SectionNameLimit) {
  std::string name49(49 - 7, 'n');  // "source " + 42 = 49 bytes
  Config c = Parse("[source " + name49 + "]\ntype = archive\npath = /d\n");
  EXPECT_EQ(c.sources[0].name, name49);
  // inih would cut a longer section name to 49 bytes without a word.
  EXPECT_EQ(Error("[source " + name49 + "x]\ntype = archive\npath = /d\n"),
            "t.ini:1: section name longer than 49 bytes");
}

TEST(ConfigTest, InlineComments) {
  Config c = Parse(
      "[mount] ; the mount\n"
      "threads = 3 ; three\n"
      "log = syslog\t; tab before ';' counts as whitespace\n"
      "[source s]\n"
      "type = archive\n"
      "path = /data/a;b\n");
  EXPECT_EQ(c.mount.threads, 3u);
  EXPECT_EQ(c.mount.log, "syslog");
  EXPECT_EQ(PathOf(c.sources[0]), "/data/a;b");  // ';' without whitespace before it is data
  EXPECT_EQ(PathOf(Parse("[source s]\ntype = archive\npath = /x ; note\n").sources[0]), "/x");
  // '#' is a comment only at the start of a line.
  EXPECT_EQ(MountError("threads = 4 # four"),
            "t.ini:2: bad value '4 # four' for threads: expected an integer from 0 to 1024 "
            "(0 = automatic)");
  // A value that is only a comment is empty.
  EXPECT_EQ(Error("[source s]\ntype = archive\npath = ; none\n"),
            "t.ini:3: bad value '' for path: must not be empty");
}

TEST(ConfigTest, ColonSeparatorAndByteOrderMark) {
  Config c = Parse("\xEF\xBB\xBF[mount]\nthreads: 5\n[source s]\ntype = archive\npath = C:/x=y\n");
  EXPECT_EQ(c.mount.threads, 5u);
  EXPECT_EQ(PathOf(c.sources[0]), "C:/x=y");
  EXPECT_EQ(Error("\xEF\xBB\xBF[mount]\nx = 1\n"), "t.ini:2: unknown key 'x' in [mount]");
}

TEST(ConfigTest, OverLongLine) {
  std::string pad = "path = /";
  std::string ok = pad + std::string(199 - pad.size(), 'p');
  ASSERT_EQ(ok.size(), 199u);
  Config c = Parse("[source s]\ntype = archive\n" + ok + "\n");
  EXPECT_EQ(PathOf(c.sources[0]).size(), 199u - 7u);
  EXPECT_EQ(Error("[source s]\ntype = archive\n" + ok + "p\n"),
            "t.ini:3: line longer than 199 bytes");
  // The "\r" of a CRLF line end does not count; a long comment is still too long.
  EXPECT_TRUE(ParseConfig("[source s]\r\ntype = archive\r\n" + ok + "\r\n", "t.ini", Types()).ok());
  EXPECT_EQ(Error("[source s]\n; " + std::string(300, 'c') + "\n"),
            "t.ini:2: line longer than 199 bytes");
  // The last line without a newline is checked as well.
  EXPECT_EQ(Error("[source s]\ntype = archive\n" + ok + "p"),
            "t.ini:3: line longer than 199 bytes");
}

TEST(ConfigTest, LoadConfigReadsFiles) {
  TempDir dir;
  std::string p = Write(dir, "daqfs.ini", "[mount]\nthreads = 2\n" + std::string(kSource));
  Result<Config> c = LoadConfig(p, Types());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->file, p);
  EXPECT_EQ(c->mount.threads, 2u);

  std::string bad = Write(dir, "bad.ini", "[mount]\nthreads = x\n");
  Result<Config> b = LoadConfig(bad, Types());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(
      b.status().message(),
      bad + ":2: bad value 'x' for threads: expected an integer from 0 to 1024 (0 = automatic)");
}

TEST(ConfigTest, LoadConfigMissingFileOrDirectory) {
  TempDir dir;
  std::string missing = dir.path() + "/nope.ini";
  Result<Config> r = LoadConfig(missing, Types());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().message(), missing + ": cannot read: No such file or directory");
  Result<Config> d = LoadConfig(dir.path(), Types());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), dir.path() + ": cannot read: Is a directory");
}

TEST(ConfigTest, FormatConfigRoundTrip) {
  Config c = Parse(
      "[mount]\nthreads = 12\nread_ahead_kb = 0\nallow_other = on\nuid = 0\ngid = 4294967294\n"
      "log_level = error\nlog = /var/log/daqfs;x.log\nentry_timeout = 0.1\nmax_background = 9\n"
      "drop_behind = 0\nmountpoint = /mnt/daq;1\nlist_daqfs_xattrs = yes\n"
      "[cache]\ndir = /ssd/c;d\nmemory = 12345\ndisk = 1536K\nprefetch_window = 1T\n"
      "prefetch_budget = 18446744073709551615\ndecode_threads = 1024\n"
      "[source a]\ntype = archive\npath = /x/*.tar\ncache = disk\nsimulate_latency_ms = 60000\n"
      "[source b c]\ntype = archive\npath = /y;z\ncache = none\n");
  std::string text = FormatConfig(c);
  Result<Config> again = ParseConfig(text, "formatted", Types());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << text;
  ExpectSameValues(c, *again);

  // Defaults: every key is written except uid/gid, which are unset.
  Config d = Parse(kSource);
  std::string dt = FormatConfig(d);
  EXPECT_NE(dt.find("\nthreads = 0\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nread_ahead_kb = 4096\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nallow_other = false\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nlog_level = info\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nlog = stderr\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nentry_timeout = 3600\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nmax_background = 64\n"), std::string::npos) << dt;
  // [cache] follows [mount], before the sources; sizes use the largest exact suffix.
  size_t cache_at = dt.find("\n[cache]\n");
  EXPECT_NE(cache_at, std::string::npos) << dt;
  EXPECT_LT(dt.find("\n[mount]\n"), cache_at) << dt;
  EXPECT_LT(cache_at, dt.find("\n[source s]\n")) << dt;
  EXPECT_NE(dt.find("\ndir = " + DefaultCacheDir() + "\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nmemory = "), std::string::npos) << dt;
  EXPECT_NE(dt.find("\ndisk = 64G\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nprefetch_window = 64M\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\nprefetch_budget = 256M\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\ndecode_threads = 0\n"), std::string::npos) << dt;
  EXPECT_NE(dt.find("\ntype = archive\npath = /data\ncache = auto\nrescan = 0\n"
                    "simulate_latency_ms = 0\nmax_inflight = 16\nstuck_timeout = 30\n"),
            std::string::npos)
      << dt;
  EXPECT_EQ(dt.find("uid"), std::string::npos) << dt;
  EXPECT_EQ(dt.find("gid"), std::string::npos) << dt;
  Result<Config> d2 = ParseConfig(dt, "formatted", Types());
  ASSERT_TRUE(d2.ok()) << d2.status().ToString();
  ExpectSameValues(d, *d2);

  // Sizes: a suffix only where it is exact.
  Config s = d;
  s.cache.memory = 3ull << 30;
  s.cache.disk = (1ull << 40) + (1ull << 30);
  s.cache.prefetch_window = (1ull << 20) + 1;
  s.cache.prefetch_budget = 0;
  std::string st = FormatConfig(s);
  EXPECT_NE(st.find("\nmemory = 3G\n"), std::string::npos) << st;
  EXPECT_NE(st.find("\ndisk = 1025G\n"), std::string::npos) << st;
  EXPECT_NE(st.find("\nprefetch_window = 1048577\n"), std::string::npos) << st;
  EXPECT_NE(st.find("\nprefetch_budget = 0\n"), std::string::npos) << st;
  Result<Config> s2 = ParseConfig(st, "formatted", Types());
  ASSERT_TRUE(s2.ok()) << s2.status().ToString() << "\n" << st;
  ExpectSameValues(s, *s2);

  // No default dir (no home folder): commented out, so the text still reads back.
  Config e = d;
  e.cache.dir.clear();
  std::string et = FormatConfig(e);
  EXPECT_EQ(et.find("dir ="), std::string::npos) << et;
  EXPECT_NE(et.find("\n; dir unset: no usable default (not root; XDG_CACHE_HOME and HOME unset"),
            std::string::npos)
      << et;
  Result<Config> e2 = ParseConfig(et, "formatted", Types());
  ASSERT_TRUE(e2.ok()) << e2.status().ToString() << "\n" << et;
  EXPECT_EQ(e2->cache.dir, DefaultCacheDir());
  EXPECT_EQ(e2->cache.memory, e.cache.memory);

  // A --source mount (no config file) without --cache-dir: memory only, and it says so.
  Config q = d;
  q.file.clear();
  q.cache.dir.clear();
  q.cache.disk = 0;
  std::string qt = FormatConfig(q);
  EXPECT_NE(qt.find("\n; dir unset: a --source mount without --cache-dir keeps its cache in "
                    "memory only"),
            std::string::npos)
      << qt;
  EXPECT_EQ(qt.find("no usable default"), std::string::npos) << qt;
  ASSERT_TRUE(ParseConfig(qt, "formatted", Types()).ok()) << qt;

  // A dir with the SSD tier off: the dir is shown, with a note that it is not used.
  Config o = d;
  o.cache.dir = "/ssd/daqfs";
  o.cache.disk = 0;
  std::string ot = FormatConfig(o);
  EXPECT_NE(ot.find("\ndir = /ssd/daqfs\n; disk is 0: the SSD tier is off"), std::string::npos)
      << ot;
  Result<Config> o2 = ParseConfig(ot, "formatted", Types());
  ASSERT_TRUE(o2.ok()) << o2.status().ToString() << "\n" << ot;
  ExpectSameValues(o, *o2);
  EXPECT_EQ(FormatConfig(d).find("SSD tier is off"), std::string::npos);

  // Awkward doubles still read back exactly.
  for (double t : {1.0 / 3.0, 1e-7, 1e20, 0.0, 123456.789}) {
    Config x = d;
    x.mount.entry_timeout = t;
    Result<Config> y = ParseConfig(FormatConfig(x), "formatted", Types());
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->mount.entry_timeout, t);
  }
}

TEST(ParseSizeTest, Valid) {
  struct Case {
    const char* text;
    uint64_t value;
  } cases[] = {
      {"0", 0},
      {"4096", 4096},
      {"7B", 7},
      {"7b", 7},
      {"64K", 64ull << 10},
      {"64k", 64ull << 10},
      {"64KB", 64ull << 10},
      {"64KiB", 64ull << 10},
      {"64kib", 64ull << 10},
      {"64 KiB", 64ull << 10},
      {" 64M ", 64ull << 20},
      {"64MiB", 64ull << 20},
      {"2G", 2ull << 30},
      {"2gb", 2ull << 30},
      {"1T", 1ull << 40},
      {"1TiB", 1ull << 40},
      {"18446744073709551615", std::numeric_limits<uint64_t>::max()},
      {"16777215T", 16777215ull << 40},
      {"17179869183G", 17179869183ull << 30},
  };
  for (const Case& c : cases) {
    Result<uint64_t> r = ParseSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.value) << c.text;
  }
}

TEST(ParseSizeTest, Overflow) {
  for (const char* t : {"18446744073709551616", "99999999999999999999999", "16777216T",
                        "17179869184G", "17592186044416M", "18014398509481984K"}) {
    Result<uint64_t> r = ParseSize(t);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.status().code(), Code::kInvalid);
    EXPECT_EQ(r.status().message(), "too large") << t;
  }
}

TEST(ParseSizeTest, Junk) {
  for (const char* t : {"", " ", "K", "-1", "+1", "1.5G", "0x10", "10 X", "10KK", "10iB", "10Bi",
                        "10KiBs", "10 K B", "10P", "10E", "ten", "1,000"}) {
    Result<uint64_t> r = ParseSize(t);
    ASSERT_FALSE(r.ok()) << "'" << t << "' parsed as " << *r;
    EXPECT_EQ(r.status().message(), "expected a whole number with an optional K, M, G or T suffix")
        << t;
  }
}

TEST(ParseBoolTest, Values) {
  for (const char* t : {"true", "TRUE", "True", "yes", "Yes", "on", "ON", "1", " true "}) {
    Result<bool> r = ParseBool(t);
    ASSERT_TRUE(r.ok()) << t;
    EXPECT_TRUE(*r) << t;
  }
  for (const char* t : {"false", "FALSE", "no", "NO", "off", "Off", "0"}) {
    Result<bool> r = ParseBool(t);
    ASSERT_TRUE(r.ok()) << t;
    EXPECT_FALSE(*r) << t;
  }
  for (const char* t : {"", "2", "y", "n", "t", "f", "enable", "00", "truee"}) {
    Result<bool> r = ParseBool(t);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.status().message(), "expected true/false, yes/no, on/off or 1/0");
  }
}

}  // namespace
}  // namespace daqfs
