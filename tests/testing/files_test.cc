#include "tests/testing/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace daqfs::testing {
namespace {

TEST(FilesTest, TempDirIsFreshAndRemovedWithItsContent) {
  std::string path;
  {
    TempDir a("files"), b("files");
    path = a.path();
    EXPECT_NE(a.path(), b.path());
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    MakeDirs(a / "x/y");
    WriteFile(a / "x/y/f", "data");
    EXPECT_EQ(a / "x", path + "/x");
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(FilesTest, WriteFileAndSlurpRoundTripBinaryBytes) {
  TempDir d("files");
  std::string bytes("a\0b\xff", 4);
  WriteFile(d / "f", bytes);
  EXPECT_EQ(Slurp(d / "f"), bytes);
  const uint8_t raw[] = {0, 1, 2, 255};
  WriteFile(d / "g", std::span<const uint8_t>(raw));
  EXPECT_EQ(SlurpBytes(d / "g"), std::vector<uint8_t>(raw, raw + 4));
  WriteFile(d / "f", "shorter");
  EXPECT_EQ(Slurp(d / "f"), "shorter");
}

TEST(FilesTest, ShellQuotesAndReportsExitCodes) {
  EXPECT_EQ(Shell("exit 3"), 3);
  TempDir d("files");
  std::string odd = d / "it's a file";
  EXPECT_EQ(Shell("printf x > " + ShellQuote(odd)), 0);
  EXPECT_EQ(Slurp(odd), "x");
  EXPECT_TRUE(HaveTool("bash"));
  EXPECT_FALSE(HaveTool("no-such-tool-daqfs"));
}

TEST(FilesTest, SampleDataIsDeterministicTwelveBitSamples) {
  std::string a = SampleData(7, 1001), b = SampleData(7, 1001), c = SampleData(8, 1001);
  EXPECT_EQ(a.size(), 1001u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (size_t i = 1; i < 1000; i += 2) EXPECT_EQ(static_cast<uint8_t>(a[i]) & 0xf0, 0) << i;
}

}  // namespace
}  // namespace daqfs::testing
