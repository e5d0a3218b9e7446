#include "tests/testing/hdf5_samples.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "tests/testing/files.h"

namespace daqfs::testing {
namespace {

TEST(Hdf5SamplesTest, GeneratesTheFilesAndWhatDaqfsMustShow) {
  TempDir dir;
  std::map<std::string, std::string> expected = MakeHdf5Samples(dir.path());
  // Original files byte for byte, text and .npy files at their shown paths.
  ASSERT_TRUE(expected.count("sample_master.h5"));
  EXPECT_EQ(expected.at("sample_master.h5"), Slurp(dir / "src/sample_master.h5"));
  EXPECT_EQ(expected.at("sample_master/entry/instrument/detector/beam_center_x"), "1023.5\n");
  EXPECT_EQ(expected.at("sample_master/entry/@nothing"), "");
  const std::string& npy = expected.at("sample_master/entry/data/data_000001.npy");
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(npy.size(), 128u + 5 * 64 * 80 * 2);
  EXPECT_FALSE(expected.count("sample_master/entry/data/data_000003"));
}

TEST(Hdf5SamplesTest, RunsPythonAndReportsItsFailures) {
  TempDir dir;
  EXPECT_TRUE(RunPython("open('made.txt', 'w').write('yes')\n", dir.path()));
  EXPECT_EQ(Slurp(dir / "made.txt"), "yes");
  EXPECT_NONFATAL_FAILURE(EXPECT_FALSE(RunPython("import sys\nsys.exit(3)\n", dir.path())),
                          "sys.exit(3)");
  EXPECT_EQ(ReadTree(dir.path()), (std::map<std::string, std::string>{{"made.txt", "yes"}}));
}

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST(Hdf5SamplesTest, TheRealSamplesAreThere) {
  std::string real = RealHdf5Samples();
  EXPECT_FALSE(Slurp(real + "/PROVENANCE.md").empty());
}
#endif

}  // namespace
}  // namespace daqfs::testing
