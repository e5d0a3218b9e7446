#include "backends/hdf5/hdf5_dataset_units.h"

#include <gtest/gtest.h>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

class Hdf5DatasetUnitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    expected_ = testing::MakeHdf5Samples(dir_.path());
    ASSERT_TRUE(testing::RunPython(
        "import h5py, numpy as np\n"
        "with h5py.File('rows.h5', 'w') as f:\n"
        "  f.create_dataset('tall', data=(np.arange(10000 * 1000) % 253).astype(np.uint8)"
        ".reshape(10000, 1000), chunks=(30, 1000), compression='gzip')\n"
        "  f.create_dataset('small_frames', data=np.arange(6 * 4 * 4, dtype=np.uint16)"
        ".reshape(6, 4, 4), chunks=(1, 4, 4))\n",
        dir_.path()));
  }
  std::shared_ptr<Hdf5DatasetUnits> Units(
      const std::string& file, const std::string& path,
      Hdf5DatasetUnits::Layout layout = Hdf5DatasetUnits::Layout::kAuto) {
    auto ref = std::make_shared<Hdf5DatasetRef>();
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = pool_->Open(dir_ / file);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (!f.ok()) return nullptr;
    Result<H5DatasetInfo> info = DescribeDataset(**f, path, 4096);
    EXPECT_TRUE(info.ok());
    if (!info.ok()) return nullptr;
    ref->file_path = (*f)->path;
    ref->file_identity = (*f)->identity;
    ref->info = std::move(*info);
    ref->shown_as = file + ": " + path;
    return std::make_shared<Hdf5DatasetUnits>(pool_, ref, counters_, layout);
  }
  // Every block by ReadBlock, concatenated.
  static Result<std::string> AllBlocks(ByteSource& s) {
    std::string out;
    for (uint64_t i = 0; i < s.BlockCount(); ++i) {
      BlockRange r = s.BlockRangeOf(i);
      EXPECT_EQ(r.offset, out.size()) << i;
      EXPECT_EQ(s.BlockOf(r.offset), i);
      std::string b(r.length, '\0');
      Status st = s.ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size()));
      if (!st.ok()) return st;
      out += b;
    }
    return out;
  }
  std::string Data(const std::string& npy) {
    const std::string& all = expected_.at(npy);
    return all.substr(all.find('\n') + 1);  // the header ends with its only newline
  }

  testing::TempDir dir_{"hdf5-units"};
  std::map<std::string, std::string> expected_;
  std::shared_ptr<Hdf5FilePool> pool_ = std::make_shared<Hdf5FilePool>(8);
  std::shared_ptr<Hdf5ReadCounters> counters_ = std::make_shared<Hdf5ReadCounters>();
};

TEST_F(Hdf5DatasetUnitsTest, ImageStacksAreOneFramePerUnit) {
  auto u = Units("src/sample_data_000001.h5", "/entry/data/data");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->rows_per_unit(), 1u);
  EXPECT_EQ(u->unit_count(), 5u);
  EXPECT_EQ(u->BlockCount(), 5u);
  EXPECT_TRUE(u->IsDecoded());
  EXPECT_NE(u->Identity().find(":h5@"), std::string::npos);
  EXPECT_EQ(u->Identity().substr(u->Identity().size() - 3), ":1r");
  Result<std::string> all = AllBlocks(*u);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(*all == Data("sample_master/entry/data/data_000001.npy"));
  EXPECT_EQ(counters_->fallback_units->Get(), 5u);
  EXPECT_EQ(counters_->errors->Get(), 0u);
}

TEST_F(Hdf5DatasetUnitsTest, RowRunsAreWholeChunksOfAboutTwoMiB) {
  auto u = Units("rows.h5", "/tall");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->rows_per_unit() % 30, 0u);  // never half a chunk
  EXPECT_LE(u->rows_per_unit() * 1000, Hdf5DatasetUnits::kTargetUnitBytes);
  EXPECT_GT(u->rows_per_unit() * 1000, Hdf5DatasetUnits::kTargetUnitBytes - 30 * 1000);
  EXPECT_EQ(u->unit_count(), (10000 + u->rows_per_unit() - 1) / u->rows_per_unit());
  EXPECT_EQ(u->UnitRows(u->unit_count() - 1), 10000 - (u->unit_count() - 1) * u->rows_per_unit());
  Result<std::string> all = AllBlocks(*u);
  ASSERT_TRUE(all.ok());
  std::string want(10000 * 1000, '\0');
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<char>(i % 253);
  EXPECT_TRUE(*all == want);
  // Tiny frames are grouped unless a stack asks for one frame per unit.
  EXPECT_EQ(Units("rows.h5", "/small_frames")->unit_count(), 1u);
  auto frames = Units("rows.h5", "/small_frames", Hdf5DatasetUnits::Layout::kFrames);
  EXPECT_EQ(frames->unit_count(), 6u);
  EXPECT_NE(frames->Identity(), Units("rows.h5", "/small_frames")->Identity());
}

TEST_F(Hdf5DatasetUnitsTest, AHugeUnitIsSubBlocksOfOneRead) {
  auto u = Units("src/sample_master.h5", "/entry/onechunk");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->unit_count(), 1u);
  EXPECT_EQ(u->BlockCount(), 9u);  // 9,000,000 bytes in 1 MiB sub-blocks
  for (uint64_t i = 0; i < 9; ++i) {
    EXPECT_EQ(u->GroupOf(i).first, 0u);
    EXPECT_EQ(u->GroupOf(i).count, 9u);
  }
  const std::string want = Data("sample_master/entry/onechunk.npy");
  uint64_t before = counters_->fallback_units->Get();
  uint64_t next = 0;
  Status s = u->ReadGroup(4, [&](uint64_t index, Bytes&& bytes) {
    EXPECT_EQ(index, next++);
    BlockRange r = u->BlockRangeOf(index);
    EXPECT_TRUE(std::string(bytes.begin(), bytes.end()) == want.substr(r.offset, r.length));
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(next, 9u);
  EXPECT_EQ(counters_->fallback_units->Get(), before + 1);  // one read for the group
  // A cursor decodes the unit once for a reader without a cache.
  std::unique_ptr<GroupCursor> cursor = u->OpenGroupCursor(0);
  ASSERT_TRUE(cursor);
  for (uint64_t i = 0; i < 9; ++i) {
    BlockRange r = u->BlockRangeOf(i);
    std::string b(r.length, '\0');
    ASSERT_TRUE(cursor->Read(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size())).ok());
    EXPECT_TRUE(b == want.substr(r.offset, r.length));
  }
  EXPECT_EQ(cursor->starts(), 1u);
  EXPECT_EQ(cursor->buffered_bytes(), 9000000u);
  Result<std::string> all = AllBlocks(*u);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(*all == want);
}

TEST_F(Hdf5DatasetUnitsTest, MissingVirtualSourcesFailTheirRowsOnly) {
  auto u = Units("src/vds_missing.h5", "/data");
  ASSERT_TRUE(u);
  ASSERT_EQ(u->unit_count(), 8u);
  const std::string all = Data("vds_master/data.npy");
  for (uint64_t unit = 0; unit < 8; ++unit) {
    Bytes b(u->UnitBytes(unit));
    Status s = u->ReadBlock(unit, b);
    if (unit < 5) {
      ASSERT_TRUE(s.ok()) << unit << ": " << s.ToString();
      EXPECT_TRUE(std::string(b.begin(), b.end()) == all.substr(unit * b.size(), b.size()));
    } else {
      EXPECT_EQ(s.code(), Code::kUnavailable) << unit;
      EXPECT_NE(s.message().find("gone_data.h5"), std::string::npos) << s.message();
    }
  }
  EXPECT_EQ(counters_->errors->Get(), 3u);
}

TEST_F(Hdf5DatasetUnitsTest, AVirtualDatasetIsNamedByItsSourcesToo) {
  std::string before = Units("src/vds_master.h5", "/data")->Identity();
  EXPECT_EQ(Units("src/vds_master.h5", "/data")->Identity(), before);
  ASSERT_EQ(testing::Shell("touch -d '1 hour ago' " +
                           testing::ShellQuote(dir_ / "src/sample_data_000002.h5")),
            0);
  EXPECT_NE(Units("src/vds_master.h5", "/data")->Identity(), before);
}

TEST_F(Hdf5DatasetUnitsTest, AFileGoneOrChangedSinceItWasDescribedFails) {
  ASSERT_EQ(testing::Shell("cp " + testing::ShellQuote(dir_ / "src/sample_data_000002.h5") + " " +
                           testing::ShellQuote(dir_ / "copy.h5")),
            0);
  auto u = Units("copy.h5", "/entry/data/data");
  ASSERT_TRUE(u);
  {
    H5Lock lock;
    pool_->Clear();
  }
  ASSERT_EQ(testing::Shell("touch -d '1 hour ago' " + testing::ShellQuote(dir_ / "copy.h5")), 0);
  Bytes b(u->UnitBytes(0));
  Status changed = u->ReadBlock(0, b);
  EXPECT_EQ(changed.code(), Code::kUnavailable);
  EXPECT_NE(changed.message().find("changed"), std::string::npos) << changed.message();
  ASSERT_EQ(testing::Shell("rm " + testing::ShellQuote(dir_ / "copy.h5")), 0);
  {
    H5Lock lock;
    pool_->Clear();
  }
  EXPECT_EQ(u->ReadBlock(0, b).code(), Code::kUnavailable);
}

}  // namespace
}  // namespace daqfs
