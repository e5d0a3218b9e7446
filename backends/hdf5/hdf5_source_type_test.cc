#include "backends/hdf5/hdf5_source_type.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "fs/config.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

SourceTypeRegistry Types() {
  SourceTypeRegistry types;
  EXPECT_TRUE(RegisterHdf5SourceType(types).ok());
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

const Hdf5Options& Hdf5(const SourceSpec& spec) {
  return static_cast<const Hdf5Options&>(*spec.options);
}

TEST(Hdf5SourceTypeTest, PathAndTextMaxReadBack) {
  Config c = Parse(
      "[source a]\ntype = hdf5\npath = /a\ntext_max = 64K\nrescan = 2\n"
      "[source b]\ntext_max = 0\npath = /b/*_master.h5\ntype = hdf5\nraw = yes\n"
      "[source c]\ntype = hdf5\npath = /c\nraw = false\ndirect_reads = never\n");
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(Hdf5(c.sources[0]).path, "/a");
  EXPECT_EQ(Hdf5(c.sources[0]).text_max, 64u << 10);
  EXPECT_EQ(Hdf5(c.sources[1]).text_max, 0u);
  EXPECT_EQ(Hdf5(c.sources[2]).text_max, kDefaultHdf5TextMax);
  EXPECT_FALSE(Hdf5(c.sources[0]).raw);
  EXPECT_TRUE(Hdf5(c.sources[1]).raw);
  EXPECT_FALSE(Hdf5(c.sources[2]).raw);
  EXPECT_EQ(Hdf5(c.sources[0]).direct_reads, DirectReads::kAuto);
  EXPECT_EQ(Hdf5(c.sources[2]).direct_reads, DirectReads::kNever);
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("\n[source a]\ntype = hdf5\npath = /a\ntext_max = 65536\nraw = false\n"
                      "direct_reads = auto\ncache = auto\nrescan = 2\n"),
            std::string::npos)
      << text;
  Config again = Parse(text);
  ASSERT_EQ(again.sources.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Types().Find("hdf5")->FormatKeys(*again.sources[i].options),
              Types().Find("hdf5")->FormatKeys(*c.sources[i].options));
  }
}

TEST(Hdf5SourceTypeTest, ErrorsAtTheirLines) {
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /p\ntext_max = lots\n"),
            "t.ini:4: bad value 'lots' for text_max: expected a whole number with an optional "
            "K, M, G or T suffix");
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /p\ntext_max = 17M\n"),
            "t.ini:4: bad value '17M' for text_max: at most 16M");
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath =\n"),
            "t.ini:3: bad value '' for path: must not be empty");
  EXPECT_EQ(Error("[source eiger]\ntype = hdf5\n"), "t.ini:1: [source eiger] needs 'path'");
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /p\n\nraw = sometimes\n"),
            "t.ini:5: bad value 'sometimes' for raw: expected true/false, yes/no, on/off or 1/0");
  EXPECT_EQ(Error("[source s]\ntype = hdf5\npath = /p\ndirect_reads = sometimes\n"),
            "t.ini:4: bad value 'sometimes' for direct_reads: must be auto, always or never");
  EXPECT_EQ(Error("[source s]\nlayout = merged\ntype = hdf5\npath = /p\n"),
            "t.ini:2: unknown key 'layout' in [source s]");
}

TEST(Hdf5SourceTypeTest, ResolvePathsSniffCheckAndCreate) {
  Config c =
      Parse("[source a]\ntype = hdf5\npath = rel/*.nxs\n[source b]\ntype = hdf5\npath = /x\n");
  auto type = Types().Find("hdf5");
  type->ResolvePaths(*c.sources[0].options, "/etc/daqfs");
  type->ResolvePaths(*c.sources[1].options, "/etc/daqfs");
  EXPECT_EQ(Hdf5(c.sources[0]).path, "/etc/daqfs/rel/*.nxs");
  EXPECT_EQ(Hdf5(c.sources[1]).path, "/x");

  testing::TempDir temp("hdf5-type");
  const std::string& dir = temp.path();
  ASSERT_TRUE(testing::RunPython(
      "import h5py\nwith h5py.File('m_master.h5', 'w') as f: f['x'] = 1\n", dir));
  std::ofstream(dir + "/notes.txt") << "hello\n";
  Result<SourceSpec> sniffed = Types().Sniff(dir + "/m_master.h5");
  ASSERT_TRUE(sniffed.ok()) << sniffed.status().ToString();
  EXPECT_EQ(sniffed->type, "hdf5");
  EXPECT_EQ(Hdf5(*sniffed).path, dir + "/m_master.h5");
  Result<SourceSpec> folder = Types().Sniff(dir);
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  Result<SourceSpec> wrong = Types().Sniff(dir + "/notes.txt");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kInvalid);
  EXPECT_EQ(wrong.status().message(), dir + "/notes.txt: not an HDF5 file");
  Result<SourceSpec> missing = Types().Sniff(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().code(), Code::kInvalid);

  Result<SourceCheck> check = type->Check(*folder);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->summary, dir + ": 1 HDF5 files");
  EXPECT_EQ(check->warning, "");
  // A folder without HDF5 files: an error, or with rescan a warning (files arrive later).
  testing::MakeDirs(dir + "/empty");
  std::ofstream(dir + "/empty/a.txt") << "x\n";
  SourceSpec spec = *folder;
  spec.options = std::make_shared<Hdf5Options>();
  static_cast<Hdf5Options&>(*spec.options).path = dir + "/empty";
  Result<SourceCheck> bad = type->Check(spec);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            dir + "/empty: no HDF5 file in this folder (1 files: a.txt (not an HDF5 file))");
  spec.rescan = 5;
  Result<SourceCheck> later = type->Check(spec);
  ASSERT_TRUE(later.ok());
  EXPECT_NE(later->warning.find("mounting anyway, rescanned every 5 s"), std::string::npos);

  Result<std::unique_ptr<Backend>> backend = type->Create(*sniffed);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_TRUE((*backend)->GetAttr(kRootNode).ok());
}

}  // namespace
}  // namespace daqfs
