#include "backends/hdf5/hdf5_sniff.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

using testing::ShellQuote;

Hdf5ReadFn FromMemory(const std::string& bytes) {
  return [&bytes](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
    if (off >= bytes.size()) return size_t{0};
    size_t n = std::min<size_t>(out.size(), bytes.size() - off);
    std::memcpy(out.data(), bytes.data() + off, n);
    return n;
  };
}

class Hdf5SniffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::RunPython(
        "import h5py, numpy as np\n"
        "for name, kw in (('latest.h5', {'libver': 'latest'}), ('earliest.h5', {'libver': "
        "'earliest'}), ('userblock.h5', {'userblock_size': 1024})):\n"
        "  with h5py.File(name, 'w', **kw) as f: f['x'] = np.arange(1000)\n"
        "open('text.txt', 'w').write('hello world, not hdf5' * 50)\n"
        "open('empty.h5', 'w').close()\n"
        "b = open('latest.h5', 'rb').read()\n"
        "open('truncated.h5', 'wb').write(b[:len(b) // 2])\n"
        "open('garbage.h5', 'wb').write(b'\\x89HDF\\r\\n\\x1a\\n' + b'\\xff' * 100)\n",
        dir_.path()));
  }
  Hdf5Kind Kind(const std::string& name) {
    Result<Hdf5Kind> k = SniffHdf5File(dir_ / name);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : Hdf5Kind::kOther;
  }
  testing::TempDir dir_{"hdf5-sniff"};
};

TEST_F(Hdf5SniffTest, KindsOfFiles) {
  EXPECT_EQ(Kind("latest.h5"), Hdf5Kind::kHdf5);
  EXPECT_EQ(Kind("earliest.h5"), Hdf5Kind::kHdf5);
  EXPECT_EQ(Kind("userblock.h5"), Hdf5Kind::kHdf5);
  EXPECT_EQ(Kind("truncated.h5"), Hdf5Kind::kTruncated);
  EXPECT_EQ(Kind("garbage.h5"), Hdf5Kind::kDamaged);
  EXPECT_EQ(Kind("text.txt"), Hdf5Kind::kOther);
  EXPECT_EQ(Kind("empty.h5"), Hdf5Kind::kOther);
  std::string ub = testing::Slurp(dir_ / "userblock.h5");
  uint64_t at = 0;
  ASSERT_EQ(*SniffHdf5(FromMemory(ub), ub.size(), &at), Hdf5Kind::kHdf5);
  EXPECT_EQ(at, 1024u);
  EXPECT_EQ(SniffHdf5File(dir_ / "nope").status().code(), Code::kNotFound);
  EXPECT_STREQ(Hdf5KindName(Hdf5Kind::kTruncated), "a truncated HDF5 file");
}

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST_F(Hdf5SniffTest, EveryRealSampleIsWhole) {
  std::string real = testing::RealHdf5Samples();
  for (const char* f :
       {"dials-data-files/dectris_eiger_master.h5", "nexusformat-exampledata/Therm_6_2.nxs",
        "dectris-h5-testfiles/datasets_different_h5ver/dataset_earliest.h5",
        "dectris-h5-testfiles/datasets_different_h5ver/dataset_v112.h5",
        "rosettasciio-arina/test_00.h5"}) {
    Result<Hdf5Kind> k = SniffHdf5File(real + "/" + f);
    ASSERT_TRUE(k.ok()) << f;
    EXPECT_EQ(*k, Hdf5Kind::kHdf5) << f;
  }
}
#endif

TEST_F(Hdf5SniffTest, MalformedSuperblocksNeverCrashAndNeverPassAsWhole) {
  std::string good = testing::Slurp(dir_ / "latest.h5");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good.substr(0, 8 + rng() % 120);
    for (size_t k = 8; k < bytes.size(); ++k) {
      if (rng() % 4 == 0) bytes[k] = static_cast<char>(rng());
    }
    ASSERT_TRUE(SniffHdf5(FromMemory(bytes), bytes.size()).ok());
  }
  // Any cut of a whole file is not whole.
  for (int i = 0; i < 300; ++i) {
    std::string cut = good.substr(0, rng() % good.size());
    Result<Hdf5Kind> k = SniffHdf5(FromMemory(cut), cut.size());
    ASSERT_TRUE(k.ok());
    EXPECT_NE(*k, Hdf5Kind::kHdf5) << cut.size() << " of " << good.size() << " bytes";
  }
  // A read error is passed on.
  Result<Hdf5Kind> err = SniffHdf5(
      [](uint64_t, std::span<uint8_t>) -> Result<size_t> { return IoError("boom"); }, 4096);
  EXPECT_EQ(err.status().code(), Code::kIo);
}

TEST_F(Hdf5SniffTest, FindsTheHdf5FilesOfAFolderOrAGlob) {
  Result<Hdf5Files> all = FindHdf5Files(dir_.path());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->hdf5, (std::vector<std::string>{dir_ / "earliest.h5", dir_ / "latest.h5",
                                                 dir_ / "userblock.h5"}));
  EXPECT_EQ(all->skipped.size(), 4u);
  EXPECT_EQ(all->skipped[0], dir_ / "empty.h5: not an HDF5 file");
  Result<Hdf5Files> glob = FindHdf5Files(dir_ / "*est.h5");
  ASSERT_TRUE(glob.ok());
  EXPECT_EQ(glob->hdf5.size(), 2u);
  EXPECT_EQ(FindHdf5Files(dir_ / "nope").status().code(), Code::kNotFound);
  EXPECT_TRUE(CheckHdf5Source(dir_.path()).ok());
  EXPECT_TRUE(CheckHdf5Source(dir_ / "latest.h5").ok());
  EXPECT_EQ(CheckHdf5Source(dir_ / "truncated.h5").message(),
            dir_ /
                "truncated.h5: a truncated HDF5 file (shorter than its superblock says: an "
                "unfinished copy?)");
  EXPECT_EQ(CheckHdf5Source(dir_ / "*.txt").message(),
            dir_ /
                "*.txt: no HDF5 file matching this pattern (1 files: text.txt (not an HDF5 "
                "file))");
  EXPECT_EQ(CheckHdf5Source(dir_ / "*.none").message(),
            dir_ / "*.none: no files matching this pattern");
}

}  // namespace
}  // namespace daqfs
