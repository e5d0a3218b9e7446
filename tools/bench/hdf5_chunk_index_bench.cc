// hdf5_chunk_index_bench: what finding the chunks of a dataset of many chunks costs with
// Debian's libhdf5 1.10.8, by each way daqfs could ask for them.
//
// Writes DIR/chunk_index_N.h5 (N chunks of 1x4x4 u16, as many as a long EIGER data file has
// frames; once per N and file-format version), then measures per chunk:
//   H5Dget_chunk_info_by_coord  the address and size (for pread outside the library): in 1.10.8
//                               it walks the chunk index from its start on every call, so one
//                               call costs O(N); measured on a sample spread over the dataset
//   H5Dget_chunk_storage_size   the size by an index lookup, and
//   + H5Dread_chunk             the raw chunk by an index lookup (what daqfs uses past
//                               kByCoordChunks chunks: the read happens under the library lock)
// Usage: hdf5_chunk_index_bench [--chunks N] [--dir DIR]
#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool Write(const std::string& path, hsize_t n, bool latest) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) return false;
  hsize_t dims[3] = {n, 4, 4}, chunk[3] = {1, 4, 4};
  hid_t space = H5Screate_simple(3, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 3, chunk);
  hid_t d = H5Dcreate2(f, "data", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<uint16_t> data(n * 16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint16_t>(i);
  herr_t w = H5Dwrite(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
  return w >= 0;
}

void Measure(const std::string& path, hsize_t n, const char* what) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
  // by_coord on a sample spread over the dataset (all N would take minutes).
  const hsize_t sample = n < 200 ? n : 200;
  auto t = Clock::now();
  for (hsize_t k = 0; k < sample; ++k) {
    hsize_t off[3] = {k * (n / sample), 0, 0};
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) < 0) std::exit(2);
  }
  double by_coord = Since(t) / static_cast<double>(sample);
  std::vector<uint8_t> buf(64);
  t = Clock::now();
  for (hsize_t i = 0; i < n; ++i) {
    hsize_t off[3] = {i, 0, 0};
    hsize_t size = 0;
    uint32_t filters = 0;
    if (H5Dget_chunk_storage_size(d, off, &size) < 0 || size > buf.size()) std::exit(2);
    if (H5Dread_chunk(d, H5P_DEFAULT, off, &filters, buf.data()) < 0) std::exit(2);
  }
  double read_chunk = Since(t) / static_cast<double>(n);
  std::printf("| %s | %llu | %.1f us | %.1f s | %.2f us | %.3f s |\n", what,
              static_cast<unsigned long long>(n), by_coord * 1e6, by_coord * n, read_chunk * 1e6,
              read_chunk * n);
  H5Dclose(d);
  H5Fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  hsize_t n = 100000;
  std::string dir = "/var/tmp";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--chunks") && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: hdf5_chunk_index_bench [--chunks N] [--dir DIR]\n");
      return 0;
    } else {
      std::fprintf(stderr, "hdf5_chunk_index_bench: unknown argument %s\n", argv[i]);
      return 1;
    }
  }
  if (n == 0) return 1;
  std::printf("\n### chunk lookups in one dataset of %llu chunks (libhdf5 %s)\n\n",
              static_cast<unsigned long long>(n), H5_VERS_INFO);
  std::printf(
      "| file format | chunks | by_coord per call | by_coord, all chunks | storage_size + "
      "read_chunk per chunk | all chunks |\n|---|---|---|---|---|---|\n");
  for (bool latest : {false, true}) {
    std::string path =
        dir + "/chunk_index_" + std::to_string(n) + (latest ? "_latest" : "") + ".h5";
    if (!Write(path, n, latest)) {
      std::fprintf(stderr, "hdf5_chunk_index_bench: cannot write %s\n", path.c_str());
      return 1;
    }
    Measure(path, n, latest ? "latest (fixed array index)" : "earliest (v1 B-tree, as EIGER)");
    std::remove(path.c_str());
  }
  return 0;
}
