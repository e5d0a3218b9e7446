#include "backends/archive/archive_source_type.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
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
            text +
                ": not an archive: text; daqfs serves tar, .tar.zst, .tzst, .tar.gz, .tgz, "
                ".tar.xz, .tar.bz2 and .tar.lz4 archives");
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

// The example configuration (every type's keys) is tested in tools/source_types_test.cc, where
// every source type is registered.

}  // namespace
}  // namespace daqfs
