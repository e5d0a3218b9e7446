#include "backends/hdf5/hdf5_datasets.h"

#include <gtest/gtest.h>

#include "fs/byte_source.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

class Hdf5DatasetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    expected_ = testing::MakeHdf5Samples(dir_.path());
    ASSERT_TRUE(
        testing::RunPython("import h5py, numpy as np\n"
                           "with h5py.File('attrs.h5', 'w') as f:\n"
                           "  f['d'] = 1\n"
                           "  f['d'].attrs['ref'] = f['d'].ref\n"
                           "  f['d'].attrs['ok'] = 'fine'\n"
                           "  f['d'].attrs['empty'] = np.zeros((0,))\n"
                           "  f.create_dataset('null', data=h5py.Empty('f4'))\n",
                           dir_.path()));
  }
  Result<H5DatasetInfo> Describe(const std::string& file, const std::string& path,
                                 uint64_t text_max = 4096) {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / file);
    if (!f.ok()) return f.status();
    return DescribeDataset(**f, path, text_max);
  }
  testing::TempDir dir_{"hdf5-datasets"};
  std::map<std::string, std::string> expected_;
  Hdf5FilePool pool_{8};
};

TEST_F(Hdf5DatasetsTest, DescribesTextNpyAndHiddenDatasets) {
  const std::string m = "src/sample_master.h5";
  Result<H5DatasetInfo> bcx = Describe(m, "/entry/instrument/detector/beam_center_x");
  ASSERT_TRUE(bcx.ok()) << bcx.status().ToString();
  ASSERT_TRUE(bcx->text.has_value());
  EXPECT_EQ(*bcx->text, "1023.5\n");
  EXPECT_TRUE(bcx->dims.empty());
  Result<H5DatasetInfo> mask =
      Describe(m, "/entry/instrument/detector/detectorSpecific/pixel_mask");
  ASSERT_TRUE(mask.ok());
  EXPECT_FALSE(mask->text.has_value());
  EXPECT_EQ(mask->descr, "<u4");
  EXPECT_EQ(mask->shape, (std::vector<uint64_t>{40, 30}));
  EXPECT_EQ(mask->data_bytes, 40u * 30 * 4);
  EXPECT_EQ(mask->row_bytes(), 120u);
  EXPECT_EQ(mask->layout, H5D_CONTIGUOUS);
  Result<H5DatasetInfo> flat = Describe(m, "/entry/instrument/detector/detectorSpecific/flatfield");
  EXPECT_EQ(flat->layout, H5D_CHUNKED);
  EXPECT_EQ(flat->chunk, (std::vector<uint64_t>{8, 30}));
  Result<H5DatasetInfo> arr = Describe(m, "/types/array_elem");
  EXPECT_EQ(arr->shape, (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(arr->dims, (std::vector<uint64_t>{4}));
  EXPECT_EQ(arr->descr, "<f4");
  EXPECT_EQ(arr->row_bytes(), 12u);
  EXPECT_EQ(Describe(m, "/types/empty")->data_bytes, 0u);
  EXPECT_EQ(*Describe(m, "/types/strings_fixed")->text, "one\ntwo\nthree\n");
  EXPECT_EQ(Describe(m, "/types/long_fixed")->descr, "|S3000");
  EXPECT_NE(Describe(m, "/types/long_vlen")->hidden_because.find("text_max"), std::string::npos);
  EXPECT_NE(Describe(m, "/types/refs")->hidden_because.find("references"), std::string::npos);
  EXPECT_NE(Describe("attrs.h5", "/null")->hidden_because.find("null dataspace"),
            std::string::npos);
  // With a tiny text_max, strings are .npy (fixed) or hidden (variable length).
  EXPECT_EQ(Describe(m, "/types/strings_fixed", 4)->descr, "|S5");
  EXPECT_FALSE(Describe(m, "/types/strings_vlen", 4)->hidden_because.empty());
}

TEST_F(Hdf5DatasetsTest, VirtualDatasetMappings) {
  Result<H5DatasetInfo> v = Describe("src/vds_missing.h5", "/data");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->layout, H5D_VIRTUAL);
  ASSERT_EQ(v->vds.size(), 2u);
  EXPECT_EQ(v->vds[0].file, "sample_data_000001.h5");
  EXPECT_EQ(v->vds[0].dataset, "/entry/data/data");
  EXPECT_EQ(v->vds[0].row_begin, 0u);
  EXPECT_EQ(v->vds[0].row_end, 5u);
  EXPECT_EQ(v->vds[1].file, "gone_data.h5");
  EXPECT_EQ(v->vds[1].row_begin, 5u);
  EXPECT_EQ(v->vds[1].row_end, 8u);
  EXPECT_FALSE(v->vds[1].printf_names);
}

TEST_F(Hdf5DatasetsTest, AttributesAsTextAndWhatIsLeftOut) {
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / "attrs.h5");
  ASSERT_TRUE(f.ok());
  std::vector<std::string> skipped;
  Result<std::vector<H5AttrText>> attrs = ReadAttributeTexts(**f, "/d", &skipped);
  ASSERT_TRUE(attrs.ok()) << attrs.status().ToString();
  ASSERT_EQ(attrs->size(), 2u);
  EXPECT_EQ((*attrs)[0].name, "empty");
  EXPECT_EQ((*attrs)[0].text, "");
  EXPECT_EQ((*attrs)[1].name, "ok");
  EXPECT_EQ((*attrs)[1].text, "fine\n");
  EXPECT_EQ(skipped, (std::vector<std::string>{"ref: references"}));
}

TEST_F(Hdf5DatasetsTest, ReadsRowsAsTheNpyDataHasThem) {
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / "src/sample_master.h5");
  ASSERT_TRUE(f.ok());
  const char* path = "/entry/instrument/detector/detectorSpecific/flatfield";
  Result<H5DatasetInfo> info = DescribeDataset(**f, path, 4096);
  ASSERT_TRUE(info.ok());
  std::string want =
      expected_.at("sample_master/entry/instrument/detector/detectorSpecific/flatfield.npy");
  uint64_t header = want.size() - info->data_bytes;
  Bytes rows(10 * info->row_bytes());
  ASSERT_TRUE(ReadRows(**f, *info, 13, 10, rows).ok());
  EXPECT_TRUE(std::string(rows.begin(), rows.end()) ==
              want.substr(header + 13 * info->row_bytes(), rows.size()));
  Bytes wrong(7);
  EXPECT_EQ(ReadRows(**f, *info, 0, 1, wrong).code(), Code::kInvalid);
  Result<H5DatasetInfo> scalar = DescribeDataset(**f, "/types/scalar_compound", 4096);
  ASSERT_TRUE(scalar.ok());
  Bytes one(scalar->data_bytes);
  ASSERT_TRUE(ReadRows(**f, *scalar, 0, 1, one).ok());
  EXPECT_EQ(FormatValues(scalar->element, one.data(), 1, {}), "(7, 0.5)\n");
}

}  // namespace
}  // namespace daqfs
