#include "backends/hdf5/hdf5_types.h"

#include <gtest/gtest.h>

#include "backends/hdf5/hdf5_file_pool.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

class Hdf5TypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeHdf5Samples(dir_.path());
    ASSERT_TRUE(testing::RunPython(
        "import h5py, numpy as np\n"
        "with h5py.File('more.h5', 'w') as f:\n"
        "  f.create_dataset('vlen_ints', (2,), dtype=h5py.vlen_dtype(np.int32))\n"
        "  f['bits'] = np.array([1, 2], dtype='<u2')\n"
        "  f['pad'] = np.bytes_('ab')\n",
        dir_.path()));
  }
  // Classifies the stored type of dataset `path` in `file`.
  Result<H5Element> Classify(const std::string& file, const std::string& path) {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / file);
    if (!f.ok()) return f.status();
    H5Id d(H5Dopen2((*f)->id.get(), path.c_str(), H5P_DEFAULT));
    H5Id t(H5Dget_type(d.get()));
    return ClassifyType(t.get());
  }
  testing::TempDir dir_{"hdf5-types"};
  Hdf5FilePool pool_{8};
};

TEST_F(Hdf5TypesTest, SupportedTypes) {
  using Kind = H5Element::Kind;
  const std::string m = "src/sample_master.h5";
  EXPECT_EQ(Classify(m, "/entry/instrument/detector/beam_center_x")->kind, Kind::kFloat);
  EXPECT_EQ(Classify(m, "/entry/instrument/detector/frame_count")->kind, Kind::kSigned);
  EXPECT_EQ(Classify(m, "/entry/instrument/detector/is_on")->kind, Kind::kBool);
  EXPECT_EQ(Classify(m, "/entry/instrument/detector/description")->kind, Kind::kVlenString);
  Result<H5Element> e = Classify(m, "/types/enum_array");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Kind::kEnum);
  EXPECT_TRUE(e->enum_signed);
  EXPECT_EQ(e->members.size(), 2u);
  Result<H5Element> half = Classify(m, "/types/half");
  EXPECT_EQ(half->kind, Kind::kFloat);
  EXPECT_EQ(half->size, 2u);
  Result<H5Element> c = Classify(m, "/types/compound");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, Kind::kCompound);
  EXPECT_EQ(c->size, 2u + 8 + 3);  // packed
  EXPECT_EQ(c->fields[2].offset, 10u);
  EXPECT_FALSE(c->complex);
  EXPECT_TRUE(Classify(m, "/types/complex")->complex);
  Result<H5Element> a = Classify(m, "/types/array_elem");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, Kind::kArray);
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{3}));
  EXPECT_EQ(a->size, 12u);
  EXPECT_EQ(Classify(m, "/types/opaque")->kind, Kind::kOpaque);
  Result<H5Element> s = Classify("more.h5", "/pad");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, Kind::kString);
  EXPECT_EQ(s->size, 2u);
}

TEST_F(Hdf5TypesTest, UnsupportedTypesSayWhat) {
  Result<H5Element> refs = Classify("src/sample_master.h5", "/types/refs");
  ASSERT_FALSE(refs.ok());
  EXPECT_EQ(refs.status().code(), Code::kNotSupported);
  EXPECT_EQ(refs.status().message(), "references");
  Result<H5Element> vlen = Classify("more.h5", "/vlen_ints");
  ASSERT_FALSE(vlen.ok());
  EXPECT_EQ(vlen.status().message(), "variable-length sequences");
}

TEST_F(Hdf5TypesTest, MemoryTypesReadLittleEndianPackedValues) {
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / "src/sample_master.h5");
  ASSERT_TRUE(f.ok());
  for (const char* path : {"/types/big_endian", "/types/compound", "/types/half"}) {
    SCOPED_TRACE(path);
    H5Id d(H5Dopen2((*f)->id.get(), path, H5P_DEFAULT));
    H5Id t(H5Dget_type(d.get()));
    Result<H5Element> e = ClassifyType(t.get());
    ASSERT_TRUE(e.ok());
    Result<H5Id> mt = MemoryType(*e);
    ASSERT_TRUE(mt.ok()) << mt.status().ToString();
    EXPECT_EQ(H5Tget_size(mt->get()), e->size);
    std::vector<uint8_t> buf(6 * e->size);
    ASSERT_GE(H5Dread(d.get(), mt->get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), 0);
    if (std::string(path) == "/types/big_endian") {
      EXPECT_EQ(FormatValues(*e, buf.data(), 6, {2, 3}), "0 1 2\n3 4 5\n");
    } else if (std::string(path) == "/types/compound") {
      EXPECT_EQ(FormatValues(*e, buf.data(), 2, {2}), "(1, 2.5, ab) (3, -1.0, cde)\n");
    } else {
      EXPECT_EQ(FormatValues(*e, buf.data(), 3, {3}), "0.1 65500.0 -2.0\n");
    }
  }
}

}  // namespace
}  // namespace daqfs
