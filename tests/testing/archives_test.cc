// The test archives read back with the real tools: GNU tar and zstd.
#include "tests/testing/archives.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "tests/testing/files.h"

namespace daqfs::testing {
namespace {

// Number of frames in `z` (each must be a complete frame).
int CountFrames(const std::string& z) {
  int n = 0;
  size_t pos = 0;
  while (pos < z.size()) {
    size_t len = ZSTD_findFrameCompressedSize(z.data() + pos, z.size() - pos);
    if (ZSTD_isError(len)) return -1;
    pos += len;
    ++n;
  }
  return n;
}

class ArchivesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeDirs(dir_ / "src/sub");
    WriteFile(dir_ / "src/big.dat", SampleData(1, 2500000));
    WriteFile(dir_ / "src/sub/small.dat", "small\n");
    WriteFile(dir_ / "src/sub/empty.dat", "");
  }
  // Extracts `archive` with GNU tar (and zstd) and compares it with src/.
  void ExpectExtractsToSrc(const std::string& archive) {
    std::string out = dir_ / ("x-" + archive.substr(archive.rfind('/') + 1));
    MakeDirs(out);
    ASSERT_EQ(Shell("tar -xaf " + ShellQuote(archive) + " -C " + ShellQuote(out)), 0) << archive;
    EXPECT_EQ(Shell("diff -r " + ShellQuote(dir_ / "src") + " " + ShellQuote(out)), 0) << archive;
  }
  TempDir dir_{"archives"};
};

TEST_F(ArchivesTest, ZstdFramesCutTheDataIntoIndependentFrames) {
  std::string data = SampleData(3, 2500000);
  std::string z = ZstdFrames(data, 1 << 20);
  EXPECT_EQ(CountFrames(z), 3);
  EXPECT_EQ(ZSTD_getFrameContentSize(z.data(), z.size()), 1u << 20);
  WriteFile(dir_ / "d.zst", z);
  ASSERT_EQ(Shell("zstd -q -d " + ShellQuote(dir_ / "d.zst") + " -o " + ShellQuote(dir_ / "d")), 0);
  EXPECT_EQ(Slurp(dir_ / "d"), data);
  EXPECT_EQ(CountFrames(ZstdFrames("", 1 << 20)), 1);
}

TEST_F(ArchivesTest, TarAndTarZstExtractToTheSourceTree) {
  MakeTar(dir_ / "src", dir_ / "a.tar");
  ExpectExtractsToSrc(dir_ / "a.tar");
  MakeTarZst(dir_ / "src", dir_ / "a.tar.zst", 1 << 20);
  EXPECT_EQ(CountFrames(Slurp(dir_ / "a.tar.zst")), 3);  // 2.5 MB of data plus headers
  ExpectExtractsToSrc(dir_ / "a.tar.zst");
  MakeTarZstStreamed(dir_ / "src", dir_ / "s.tar.zst");
  std::string s = Slurp(dir_ / "s.tar.zst");
  EXPECT_EQ(ZSTD_getFrameContentSize(s.data(), s.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  ExpectExtractsToSrc(dir_ / "s.tar.zst");
}

TEST_F(ArchivesTest, CompressTreeReplacesEveryFileWithItsZst) {
  CompressTree(dir_ / "src", dir_ / "z", 1 << 20);
  EXPECT_EQ(CountFrames(Slurp(dir_ / "z/big.dat.zst")), 3);
  ASSERT_EQ(Shell("cd " + ShellQuote(dir_ / "z") + " && zstd -q -d --rm big.dat.zst " +
                  "sub/small.dat.zst sub/empty.dat.zst"),
            0);
  EXPECT_EQ(Shell("diff -r " + ShellQuote(dir_ / "src") + " " + ShellQuote(dir_ / "z")), 0);
}

}  // namespace
}  // namespace daqfs::testing
