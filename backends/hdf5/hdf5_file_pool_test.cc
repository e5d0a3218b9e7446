#include "backends/hdf5/hdf5_file_pool.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

class Hdf5FilePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        testing::RunPython("import h5py\n"
                           "for i in range(5):\n"
                           "  with h5py.File('f%d.h5' % i, 'w') as f: f['x'] = i\n"
                           "open('text.txt', 'w').write('hello')\n",
                           dir_.path()));
  }
  std::string F(int i) const { return dir_ / ("f" + std::to_string(i) + ".h5"); }
  testing::TempDir dir_{"hdf5-pool"};
};

TEST_F(Hdf5FilePoolTest, KeepsFilesOpenUpToItsBoundAndReusesThem) {
  Hdf5FilePool pool(2);
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> a = pool.Open(F(0));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)->path, F(0));
  EXPECT_FALSE((*a)->identity.empty());
  Result<std::shared_ptr<const Hdf5File>> again = pool.Open(F(0));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), a->get());
  EXPECT_EQ(pool.opens(), 1u);
  a = Status(Code::kIo, "let go");
  again = Status(Code::kIo, "let go");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pool.Open(F(i)).ok());
    EXPECT_LE(pool.open_files(), 2u);
  }
  EXPECT_EQ(pool.opens(), 5u);
  // f0 was evicted: opened again.
  ASSERT_TRUE(pool.Open(F(0)).ok());
  EXPECT_EQ(pool.opens(), 6u);
  // The most recently used ones are still open.
  ASSERT_TRUE(pool.Open(F(4)).ok());
  EXPECT_EQ(pool.opens(), 6u);
}

TEST_F(Hdf5FilePoolTest, FilesInUseStayOpenBeyondTheBound) {
  Hdf5FilePool pool(2);
  H5Lock lock;
  std::vector<std::shared_ptr<const Hdf5File>> held;
  for (int i = 0; i < 4; ++i) {
    Result<std::shared_ptr<const Hdf5File>> f = pool.Open(F(i));
    ASSERT_TRUE(f.ok());
    held.push_back(*f);
  }
  EXPECT_EQ(pool.open_files(), 4u);
  for (const auto& f : held) EXPECT_GT(H5Iis_valid(f->id.get()), 0);
  held.clear();
  ASSERT_TRUE(pool.Open(F(4)).ok());  // evicts down to the bound
  EXPECT_EQ(pool.open_files(), 2u);
  pool.Clear();
  EXPECT_EQ(pool.open_files(), 0u);
}

TEST_F(Hdf5FilePoolTest, MissingAndNonHdf5FilesFail) {
  Hdf5FilePool pool(2);
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> missing = pool.Open(dir_ / "nope.h5");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kUnavailable);
  EXPECT_EQ(missing.status().message(), dir_ / "nope.h5: missing");
  Result<std::shared_ptr<const Hdf5File>> text = pool.Open(dir_ / "text.txt");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kCorrupt);
  EXPECT_NE(text.status().message().find("not a readable HDF5 file"), std::string::npos);
  EXPECT_EQ(pool.open_files(), 0u);
}

}  // namespace
}  // namespace daqfs
