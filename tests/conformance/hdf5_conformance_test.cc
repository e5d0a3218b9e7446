// The backend conformance suite on the HDF5 backend: a generated NXmx-like master with external
// links to data files of 1 MiB frames, virtual datasets, text files, attribute files (one of
// them empty), .npy files of every supported type, a contiguous dataset of several MiB and one
// chunk of 9 MiB (sub-blocks), beside the original files; and the image-stack views: the master's
// data.npy and frames/NNNNNN.tif over its data files, a 3-D dataset's cube.stack/ (a computed
// folder in a computed folder). The expected bytes come from h5py and numpy.save
// (tests/testing/make_hdf5_samples.py) and, for the TIFFs, from libtiff writing h5py's pixels;
// never from daqfs.
#include <dirent.h>

#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "backends/hdf5/hdf5_backend.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/conformance/libtiff_frame.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs::testing {
namespace {

// What libtiff writes for a 2-D frame given as .npy bytes ('<u2' or '<i2', shape (H, W)): the
// tags of tiff_header.h, the pixels as one strip. "" (and a test failure) for anything else.
std::string NpyLibtiffFrame(const std::string& npy, const std::string& scratch) {
  if (npy.size() < 10) return "";
  const size_t header = 10 + static_cast<uint8_t>(npy[8]) + 256u * static_cast<uint8_t>(npy[9]);
  const std::string dict = npy.substr(10, header - 10);
  unsigned h = 0, w = 0;
  char descr[8] = {0};
  if (std::sscanf(dict.c_str(), "{'descr': '%7[^']', 'fortran_order': False, 'shape': (%u, %u)",
                  descr, &h, &w) != 3 ||
      (std::string(descr) != "<u2" && std::string(descr) != "<i2")) {
    ADD_FAILURE() << "unexpected frame header " << dict;
    return "";
  }
  const PixelType type{descr[1] == 'i' ? PixelKind::kSigned : PixelKind::kUnsigned, 2};
  return LibtiffFrame(npy.substr(header), w, h, type, scratch);
}

class Hdf5Flavour final : public ConformanceFlavour {
 public:
  std::string Name() const override { return "Hdf5NxmxMaster"; }

  std::map<std::string, std::string> MakeData(const std::string& dir) override {
    std::map<std::string, std::string> expected = MakeHdf5Samples(dir, /*big=*/true);
    // The frames' TIFFs: make_hdf5_samples.py wrote their pixels as .npy, named by path.
    std::map<std::string, std::string> frames = ReadTree(dir + "/frames");
    EXPECT_EQ(frames.size(), 8u + 4u);
    for (const auto& [name, npy] : frames) {
      std::string path = name;
      for (char& c : path) c = c == '%' ? '/' : c;
      expected[path] = NpyLibtiffFrame(npy, dir + "/scratch.tif");
    }
    return expected;
  }

  Result<std::unique_ptr<Backend>> MakeBackend(const std::string& dir, bool rescan) override {
    Hdf5SourceOptions o;
    o.background = rescan;  // rescans run on the scanning thread
    o.rescan_seconds = rescan ? 0.05 : 0;
    o.stable_seconds = 0;
    Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create("conformance", dir + "/src", o);
    if (!b.ok()) return b.status();
    return std::unique_ptr<Backend>(std::move(*b));
  }

  // A new HDF5 file whose name sorts before every entry; written beside the folder and moved
  // in whole, so a rescan never sees half a file.
  std::string Grow(const std::string& dir, int n) override {
    std::string name = "0-grow" + std::to_string(n) + ".h5";
    RunPython(
        "import h5py, os\n"
        "with h5py.File('staged.h5', 'w') as f:\n"
        "  f['value'] = " +
            std::to_string(n) +
            "\n"
            "os.rename('staged.h5', 'src/" +
            name + "')\n",
        dir);
    return name;
  }
};

INSTANTIATE_TEST_SUITE_P(Hdf5, BackendConformanceTest,
                         ::testing::Values(std::make_shared<Hdf5Flavour>()), FlavourName);

}  // namespace
}  // namespace daqfs::testing
