// A TIFF series as one image stack: data.npy and the frame TIFFs of files written by tifffile
// (multi-page and single-page, deflate and uncompressed) equal the arrays concatenated in file
// order; a broken file is skipped and reported; a file of another shape fails the whole series,
// naming both files.
#include "backends/tiff/tiff_stack.h"

#include <gtest/gtest.h>

#include <string>

#include "backends/common/stack_views.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

using testing::Slurp;

constexpr const char* kWrite = R"PY(
import numpy as np, tifffile
rng = np.random.default_rng(4)
a = rng.poisson(4.0, (3, 50, 70)).astype('u2')
b = rng.poisson(4.0, (1, 50, 70)).astype('u2')
c = rng.poisson(4.0, (2, 50, 70)).astype('u2')
tifffile.imwrite('scan_000.tif', a, compression='zlib', photometric='minisblack')
tifffile.imwrite('scan_001.tif', b[0])
tifffile.imwrite('scan_002.tif', c, compression='zlib', predictor=True, photometric='minisblack')
np.concatenate([a, b, c]).tofile('all.bin')
open('scan_broken.tif', 'wb').write(b'II*\x00' + b'\xff' * 20)
tifffile.imwrite('other_shape.tif', rng.poisson(4.0, (60, 70)).astype('u2'))
)PY";

// All bytes of a source, read block by block.
Result<std::string> ReadAll(ByteSource& s) {
  std::string out(s.Size(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    Result<size_t> n =
        s.ReadAt(done, std::span(reinterpret_cast<uint8_t*>(out.data()) + done, out.size() - done));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    done += *n;
  }
  out.resize(done);
  return out;
}

class TiffStackTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testing::RunPython(kWrite, dir_.path())); }
  testing::TempDir dir_{"tiff-stack"};
};

TEST_F(TiffStackTest, FilesInOrderAreOneStackBrokenOnesSkipped) {
  Result<TiffStack> t = BuildTiffStack({dir_ / "scan_000.tif", dir_ / "scan_001.tif",
                                        dir_ / "scan_broken.tif", dir_ / "scan_002.tif"},
                                       "test:scan");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->skipped.size(), 1u);
  EXPECT_NE(t->skipped[0].find("scan_broken.tif"), std::string::npos) << t->skipped[0];
  const ImageStack& s = *t->stack;
  EXPECT_EQ(s.frames(), 6u);
  EXPECT_EQ(s.NumberOfIndex(5), 5);
  std::shared_ptr<ByteSource> npy = MakeNpy(s);
  Result<std::string> bytes = ReadAll(*npy);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  ASSERT_GT(bytes->size(), 10u);
  const size_t header = 10 + (static_cast<uint8_t>((*bytes)[8]) |
                              static_cast<size_t>(static_cast<uint8_t>((*bytes)[9])) << 8);
  EXPECT_NE(bytes->find("'shape': (6, 50, 70)"), std::string::npos) << bytes->substr(0, header);
  EXPECT_TRUE(bytes->substr(header) == Slurp(dir_ / "all.bin"));
  // A frame file of the third file's second page (frame 5) holds that page's pixels.
  std::shared_ptr<ByteSource> tif = MakeTiffFrame(s, 5);
  Result<std::string> frame = ReadAll(*tif);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const std::string all = Slurp(dir_ / "all.bin");
  EXPECT_NE(frame->find(all.substr(5 * 50 * 70 * 2, 50 * 70 * 2)), std::string::npos);
}

TEST_F(TiffStackTest, AnotherShapeIsAnErrorNamingBothFilesNoFileIsNotFound) {
  Result<TiffStack> t =
      BuildTiffStack({dir_ / "scan_000.tif", dir_ / "other_shape.tif"}, "test:mixed");
  EXPECT_EQ(t.status().code(), Code::kInvalid) << t.status().ToString();
  EXPECT_NE(t.status().message().find("other_shape.tif: 70x60x1 of <u2, but"), std::string::npos)
      << t.status().message();
  EXPECT_NE(t.status().message().find("scan_000.tif: 70x50x1 of <u2: not one stack"),
            std::string::npos)
      << t.status().message();
  Result<TiffStack> none = BuildTiffStack({dir_ / "scan_broken.tif"}, "test:none");
  EXPECT_EQ(none.status().code(), Code::kNotFound) << none.status().ToString();
}

}  // namespace
}  // namespace daqfs
