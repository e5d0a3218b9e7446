// The backend conformance suite on the HDF5 backend: a generated NXmx-like master with external
// links to data files of 1 MiB frames, virtual datasets, text files, attribute files (one of
// them empty), .npy files of every supported type, a contiguous dataset of several MiB and one
// chunk of 9 MiB (sub-blocks), beside the original files. The expected bytes come from h5py and
// numpy.save (tests/testing/make_hdf5_samples.py), never from daqfs.
#include <map>
#include <memory>
#include <string>

#include "backends/hdf5/hdf5_backend.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs::testing {
namespace {

class Hdf5Flavour final : public ConformanceFlavour {
 public:
  std::string Name() const override { return "Hdf5NxmxMaster"; }

  std::map<std::string, std::string> MakeData(const std::string& dir) override {
    return MakeHdf5Samples(dir, /*big=*/true);
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
