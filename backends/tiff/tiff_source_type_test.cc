// The tiff source type: its keys read back and their errors at their lines, relative paths,
// --source sniffing of a TIFF file, folder and glob (and clear refusals of what holds none),
// the start-up check and the backend it creates.
#include "backends/tiff/tiff_source_type.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "fs/config.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/test_env.h"

namespace daqfs {
namespace {

SourceTypeRegistry Types() {
  SourceTypeRegistry types;
  EXPECT_TRUE(RegisterTiffSourceType(types).ok());
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

const TiffOptions& Tiff(const SourceSpec& spec) {
  return static_cast<const TiffOptions&>(*spec.options);
}

TEST(TiffSourceTypeTest, KeysReadBack) {
  Config c = Parse(
      "[source a]\ntype = tiff\npath = /a\nrescan = 2\n"
      "[source b]\npath = /b/proj_*.tif\ntype = tiff\nraw = yes\n");
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(Tiff(c.sources[0]).path, "/a");
  EXPECT_FALSE(Tiff(c.sources[0]).raw);
  EXPECT_EQ(Tiff(c.sources[1]).path, "/b/proj_*.tif");
  EXPECT_TRUE(Tiff(c.sources[1]).raw);
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("\n[source a]\ntype = tiff\npath = /a\nraw = false\ncache = auto\n"
                      "rescan = 2\n"),
            std::string::npos)
      << text;
  Config again = Parse(text);
  ASSERT_EQ(again.sources.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(Types().Find("tiff")->FormatKeys(*again.sources[i].options),
              Types().Find("tiff")->FormatKeys(*c.sources[i].options));
  }
}

TEST(TiffSourceTypeTest, ErrorsAtTheirLines) {
  EXPECT_EQ(Error("[source s]\ntype = tiff\npath =\n"),
            "t.ini:3: bad value '' for path: must not be empty");
  EXPECT_EQ(Error("[source tomo]\ntype = tiff\n"), "t.ini:1: [source tomo] needs 'path'");
  EXPECT_EQ(Error("[source s]\ntype = tiff\npath = /p\n\nraw = sometimes\n"),
            "t.ini:5: bad value 'sometimes' for raw: expected true/false, yes/no, on/off or 1/0");
  EXPECT_EQ(Error("[source s]\ntype = tiff\npath = /p\ntext_max = 4K\n"),
            "t.ini:4: unknown key 'text_max' in [source s]");
}

TEST(TiffSourceTypeTest, ResolvePathsSniffCheckAndCreate) {
  Config c =
      Parse("[source a]\ntype = tiff\npath = rel/*.tif\n[source b]\ntype = tiff\npath = /x\n");
  auto type = Types().Find("tiff");
  type->ResolvePaths(*c.sources[0].options, "/etc/daqfs");
  type->ResolvePaths(*c.sources[1].options, "/etc/daqfs");
  EXPECT_EQ(Tiff(c.sources[0]).path, "/etc/daqfs/rel/*.tif");
  EXPECT_EQ(Tiff(c.sources[1]).path, "/x");

  testing::TempDir temp("tiff-type");
  const std::string& dir = temp.path();
  testing::MakeDirs(dir + "/scan");
  ASSERT_TRUE(testing::RunPython(
      "import numpy as np, tifffile\n"
      "for i in range(3): tifffile.imwrite('scan/p_%d.tif' % i, np.full((8, 9), i, 'u2'))\n"
      "tifffile.imwrite('stack.dat', np.zeros((4, 8, 9), 'u1'), photometric='minisblack')\n",
      dir));
  std::ofstream(dir + "/scan/log.txt") << "exposure 0.1 s\n";
  std::ofstream(dir + "/fake.tif") << "not a tiff\n";
  for (const std::string& p : {dir + "/scan", dir + "/scan/p_*.tif", dir + "/stack.dat"}) {
    Result<SourceSpec> s = Types().Sniff(p);
    ASSERT_TRUE(s.ok()) << p << ": " << s.status().ToString();
    EXPECT_EQ(s->type, "tiff");
    EXPECT_EQ(Tiff(*s).path, p);
  }
  Result<SourceSpec> fake = Types().Sniff(dir + "/fake.tif");
  EXPECT_EQ(fake.status().code(), Code::kInvalid);
  EXPECT_EQ(fake.status().message(), dir + "/fake.tif: not a TIFF file");
  testing::MakeDirs(dir + "/none");
  std::ofstream(dir + "/none/a.txt") << "x\n";
  EXPECT_EQ(Types().Sniff(dir + "/none").status().message(),
            dir + "/none: no TIFF files (*.tif, *.tiff) in this folder");
  testing::MakeDirs(dir + "/fakes");
  std::ofstream(dir + "/fakes/a.tif") << "x\n";
  EXPECT_EQ(Types().Sniff(dir + "/fakes").status().message(),
            dir +
                "/fakes: no TIFF files in this folder (1 named .tif or .tiff, none with a TIFF "
                "signature)");
  EXPECT_NE(Types().Sniff(dir + "/nope").status().code(), Code::kInvalid);

  Result<SourceSpec> scan = Types().Sniff(dir + "/scan");
  Result<SourceCheck> check = type->Check(*scan);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->summary, dir + "/scan: 3 TIFF files");
  SourceSpec empty = *scan;
  empty.options = std::make_shared<TiffOptions>();
  static_cast<TiffOptions&>(*empty.options).path = dir + "/none";
  EXPECT_FALSE(type->Check(empty).ok());
  empty.rescan = 5;
  Result<SourceCheck> later = type->Check(empty);
  ASSERT_TRUE(later.ok());
  EXPECT_NE(later->warning.find("mounting anyway, rescanned every 5 s"), std::string::npos);

  testing::TestBackendEnv env;
  Result<std::unique_ptr<Backend>> backend = type->Create(*scan);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  ASSERT_TRUE((*backend)->Start(env.env).ok());
  Result<NodeId> frames = (*backend)->Lookup(kRootNode, "frames");  // waits for the first scan
  ASSERT_TRUE(frames.ok()) << frames.status().ToString();
  EXPECT_TRUE((*backend)->Lookup(*frames, "000002.tif").ok());
  (*backend)->Stop();
}

}  // namespace
}  // namespace daqfs
