// The backend conformance suite on the TIFF backend: a folder of TIFF files written by tifffile
// (single-page uncompressed, deflate with predictor, a multi-page file, names whose numbers sort
// by value, not byte order) plus a text file that is no frame, shown with .raw frames as
// data.npy, frames/NNNNNN.tif and frames/NNNNNN.raw; the series grows by files inserted ahead. The
// expected bytes come from numpy.save (data.npy), the arrays themselves (.raw) and libtiff writing
// them (.tif); never from daqfs.
#include <map>
#include <memory>
#include <string>

#include "backends/common/image_stack.h"
#include "backends/tiff/tiff_backend.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/conformance/libtiff_frame.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs::testing {
namespace {

constexpr uint32_t kHeight = 512;
constexpr uint32_t kWidth = 600;

class TiffFlavour final : public ConformanceFlavour {
 public:
  std::string Name() const override { return "TiffSeries"; }

  std::map<std::string, std::string> MakeData(const std::string& dir) override {
    MakeDirs(dir + "/src");
    EXPECT_TRUE(RunPython(
        "import numpy as np, tifffile\n"
        "rng = np.random.default_rng(11)\n"
        "f = rng.poisson(30.0, (9, 512, 600)).astype('u2')\n"
        "tifffile.imwrite('src/scan_9.tif', f[0])\n"
        "tifffile.imwrite('src/scan_10.tif', f[1:5], compression='zlib', predictor=True,\n"
        "                 photometric='minisblack')\n"
        "tifffile.imwrite('src/scan_11.tif', f[5], compression='zlib')\n"
        "tifffile.imwrite('src/scan_100.tif', f[6:9], photometric='minisblack', tile=(256, 256))\n"
        "open('src/scan.log', 'w').write('exposure 0.1 s\\n')\n"
        "np.save('expected.npy', f)\n"
        "f.tofile('pixels.bin')\n",
        dir));
    std::map<std::string, std::string> expected;
    expected["data.npy"] = Slurp(dir + "/expected.npy");
    const std::string pixels = Slurp(dir + "/pixels.bin");
    const size_t frame = size_t{kHeight} * kWidth * 2;
    EXPECT_EQ(pixels.size(), 9 * frame);
    for (size_t i = 0; i < 9; ++i) {
      const std::string p = pixels.substr(i * frame, frame);
      const std::string name = "frames/" + FrameFileName(static_cast<int64_t>(i), "");
      expected[name + "tif"] =
          LibtiffFrame(p, kWidth, kHeight, {PixelKind::kUnsigned, 2}, dir + "/scratch.tif");
      expected[name + "raw"] = p;
    }
    return expected;
  }

  Result<std::unique_ptr<Backend>> MakeBackend(const std::string& dir, bool rescan) override {
    TiffSourceOptions o;
    o.raw_frames = true;
    o.background = rescan;
    o.rescan_seconds = rescan ? 0.05 : 0;
    o.stable_seconds = 0;
    Result<std::unique_ptr<TiffBackend>> b = TiffBackend::Create("conformance", dir + "/src", o);
    if (!b.ok()) return b.status();
    return std::unique_ptr<Backend>(std::move(*b));
  }

  // A file inserted ahead of the others (scan_1.tif .. scan_3.tif sort before scan_9.tif by
  // value), written beside the folder and moved in whole: every frame name moves up by one and
  // the last name is new. Names are positions, so a listing resumed at a cookie still lists each
  // name once.
  std::string Grow(const std::string& dir, int n) override {
    EXPECT_TRUE(
        RunPython("import numpy as np, os, tifffile\n"
                  "tifffile.imwrite('staged.tif', np.full((512, 600), " +
                      std::to_string(n) +
                      ", 'u2'))\n"
                      "os.rename('staged.tif', 'src/scan_" +
                      std::to_string(1000 + n) + ".tif')\n",
                  dir));
    return FrameFileName(8 + n, "tif");
  }
  std::string GrowFolder() const override { return "frames"; }
};

INSTANTIATE_TEST_SUITE_P(Tiff, BackendConformanceTest,
                         ::testing::Values(std::make_shared<TiffFlavour>()), FlavourName);

}  // namespace
}  // namespace daqfs::testing
