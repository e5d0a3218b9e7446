#include "backends/archive/archive_source_type.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "fs/config.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

SourceTypeRegistry Types() {
  SourceTypeRegistry types;
  EXPECT_TRUE(RegisterArchiveSourceType(types).ok());
  return types;
}

Config Parse(std::string_view text) {
  Result<Config> r = ParseConfig(text, "t.ini", Types());
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  return r.ok() ? *r : Config{};
}

std::string Error(std::string_view text) {
  Result<Config> r = ParseConfig(text, "t.ini", Types());
  EXPECT_FALSE(r.ok()) << "parsed unexpectedly:\n" << text;
  return r.ok() ? "" : r.status().message();
}

const ArchiveOptions& Archive(const SourceSpec& spec) {
  return static_cast<const ArchiveOptions&>(*spec.options);
}

TEST(ArchiveSourceTypeTest, LayoutSuffixAndPath) {
  Config c = Parse(
      "[source a]\ntype = archive\npath = /a\nlayout = merged\nstrip_suffix = .zstd\n"
      "rescan = 2.5\n"
      "[source b]\nstrip_suffix =\npath = /b\ntype = archive\n"
      "[source c]\ntype = archive\npath = /c\n");
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(Archive(c.sources[0]).path, "/a");
  EXPECT_TRUE(Archive(c.sources[0]).merged);
  EXPECT_EQ(Archive(c.sources[0]).strip_suffix, ".zstd");
  EXPECT_EQ(c.sources[0].rescan, 2.5);
  EXPECT_EQ(Archive(c.sources[1]).strip_suffix, "");
  EXPECT_FALSE(Archive(c.sources[2]).merged);
  EXPECT_EQ(Archive(c.sources[2]).strip_suffix, ".zst");
  // .daqfs/config reads back to the same keys.
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("\n[source a]\ntype = archive\npath = /a\nlayout = merged\n"
                      "strip_suffix = .zstd\ncache = auto\nrescan = 2.5\n"),
            std::string::npos)
      << text;
  Config again = Parse(text);
  ASSERT_EQ(again.sources.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(again.sources[i].type, "archive");
    EXPECT_EQ(again.sources[i].rescan, c.sources[i].rescan);
    EXPECT_EQ(Types().Find("archive")->FormatKeys(*again.sources[i].options),
              Types().Find("archive")->FormatKeys(*c.sources[i].options));
  }
}

TEST(ArchiveSourceTypeTest, ErrorsAtTheirLines) {
  EXPECT_EQ(Error("[source s]\ntype = archive\npath = /p\nlayout = flat\n"),
            "t.ini:4: bad value 'flat' for layout: expected one of: per-archive, merged");
  EXPECT_EQ(Error("[source s]\ntype = archive\npath = /p\nstrip_suffix = a/b\n"),
            "t.ini:4: bad value 'a/b' for strip_suffix: must not contain '/'");
  EXPECT_EQ(Error("[source s]\ntype = archive\npath =\n"),
            "t.ini:3: bad value '' for path: must not be empty");
  EXPECT_EQ(Error("[source mwa]\ntype = archive\n"), "t.ini:1: [source mwa] needs 'path'");
  // Keys before `type` are checked by the type once the section ends, at their own lines.
  EXPECT_EQ(Error("[source s]\nlayout = flat\ntype = archive\npath = /p\n"),
            "t.ini:2: bad value 'flat' for layout: expected one of: per-archive, merged");
  EXPECT_EQ(Error("[source s]\ncolour = red\ntype = archive\npath = /p\n[source t]\n"),
            "t.ini:2: unknown key 'colour' in [source s]");
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /p\n"),
            "t.ini:2: bad value 'hdf5' for type: expected one of: archive");
}

TEST(ArchiveSourceTypeTest, ResolvePathsAndSniff) {
  Config c = Parse(
      "[source a]\ntype = archive\npath = rel/*.tar\n[source b]\ntype = archive\n"
      "path = /abs\n");
  auto type = Types().Find("archive");
  type->ResolvePaths(*c.sources[0].options, "/etc/daqfs");
  type->ResolvePaths(*c.sources[1].options, "/etc/daqfs");
  EXPECT_EQ(Archive(c.sources[0]).path, "/etc/daqfs/rel/*.tar");
  EXPECT_EQ(Archive(c.sources[1]).path, "/abs");

  daqfs::testing::TempDir temp("archive-type");  // removed with its content
  const std::string& dir = temp.path();
  std::string text = dir + "/notes.txt";
  std::ofstream(text) << "hello\n";
  std::string tar = dir + "/empty.tar";
  std::ofstream(tar, std::ios::binary) << std::string(1024, '\0');
  Result<SourceSpec> sniffed = Types().Sniff(tar);
  ASSERT_TRUE(sniffed.ok()) << sniffed.status().ToString();
  EXPECT_EQ(sniffed->type, "archive");
  EXPECT_EQ(static_cast<const ArchiveOptions&>(*sniffed->options).path, tar);
  Result<SourceSpec> wrong = Types().Sniff(text);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kInvalid);
  EXPECT_EQ(wrong.status().message(),
            text + ": not an archive: text; daqfs serves tar, .tar.zst and .tzst archives");
  Result<SourceSpec> missing = Types().Sniff(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().code(), Code::kInvalid);

  // Check: a summary for --check-config; an empty rescanned folder is only a warning.
  SourceSpec spec = *sniffed;
  Result<SourceCheck> check = type->Check(spec);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->summary, tar + ": 1 archive files");
  EXPECT_EQ(check->warning, "");
  std::string empty = dir + "/empty";
  ASSERT_EQ(mkdir(empty.c_str(), 0755), 0);
  spec.options = std::make_shared<ArchiveOptions>();
  static_cast<ArchiveOptions&>(*spec.options).path = empty;
  EXPECT_FALSE(type->Check(spec).ok());
  spec.rescan = 5;
  Result<SourceCheck> later = type->Check(spec);
  ASSERT_TRUE(later.ok());
  EXPECT_NE(later->warning.find("mounting anyway, rescanned every 5 s"), std::string::npos)
      << later->warning;
  EXPECT_EQ(later->summary, empty + ": 0 archive files");

  // Create: a backend with no environment; its archive is listed once started.
  Result<std::unique_ptr<Backend>> backend = type->Create(*sniffed);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_TRUE((*backend)->GetAttr(kRootNode).ok());
  backend->reset();
}

TEST(ArchiveSourceTypeTest, ExampleConfigParsesToTheDefaults) {
  std::string path = std::string(DAQFS_SOURCE_DIR) + "/configs/daqfs.example.ini";
  Result<Config> c = LoadConfig(path, Types());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Config defaults;
  ASSERT_EQ(c->sources.size(), 1u);
  const SourceSpec& s = c->sources[0];
  EXPECT_EQ(s.name, "mwa");
  EXPECT_EQ(Archive(s).path, "/data/mwa");
  EXPECT_FALSE(Archive(s).merged);
  EXPECT_EQ(Archive(s).strip_suffix, kDefaultStripSuffix);
  SourceSpec d;
  EXPECT_EQ(s.cache, d.cache);
  EXPECT_EQ(s.rescan, d.rescan);
  EXPECT_EQ(s.simulate_latency_ms, d.simulate_latency_ms);
  EXPECT_EQ(s.max_inflight, d.max_inflight);
  EXPECT_EQ(s.stuck_timeout, d.stuck_timeout);
  EXPECT_EQ(c->mount.threads, defaults.mount.threads);
  EXPECT_EQ(c->mount.read_ahead_kb, defaults.mount.read_ahead_kb);
  EXPECT_EQ(c->mount.entry_timeout, defaults.mount.entry_timeout);
  EXPECT_EQ(c->mount.max_background, defaults.mount.max_background);
  EXPECT_EQ(c->mount.log, defaults.mount.log);
  EXPECT_EQ(c->mount.log_level, defaults.mount.log_level);
  EXPECT_EQ(c->mount.allow_other, defaults.mount.allow_other);
  EXPECT_EQ(c->mount.list_daqfs_xattrs, defaults.mount.list_daqfs_xattrs);
  EXPECT_EQ(c->cache.disk, defaults.cache.disk);
  EXPECT_EQ(c->cache.prefetch_window, defaults.cache.prefetch_window);
  EXPECT_EQ(c->cache.prefetch_budget, defaults.cache.prefetch_budget);
  EXPECT_EQ(c->cache.decode_threads, defaults.cache.decode_threads);
}

TEST(ArchiveSourceTypeTest, ExampleConfigDocumentsEveryKey) {
  std::ifstream in(std::string(DAQFS_SOURCE_DIR) + "/configs/daqfs.example.ini");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Config all = Parse(
      "[mount]\nuid = 1\ngid = 1\nmountpoint = /m\n[cache]\ndir = /c\n"
      "[source s]\ntype = archive\npath = /p\n");
  // Every key FormatConfig writes appears in the example, set or commented out.
  std::string formatted = FormatConfig(all);
  size_t pos = 0;
  int keys = 0;
  while ((pos = formatted.find(" = ", pos)) != std::string::npos) {
    size_t start = formatted.rfind('\n', pos) + 1;
    std::string key = formatted.substr(start, pos - start);
    bool shown = text.find("\n" + key + " = ") != std::string::npos ||
                 text.find("\n; " + key + " = ") != std::string::npos;
    EXPECT_TRUE(shown) << key << " is missing from the example";
    pos += 3;
    keys++;
  }
  EXPECT_EQ(keys, 26);  // 11 [mount] + 6 [cache] + type + 3 archive + 5 shared
}

}  // namespace
}  // namespace daqfs
