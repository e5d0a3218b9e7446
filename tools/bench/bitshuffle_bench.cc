// Micro-benchmark of the chunk decoders against Debian's HDF5 filter plugins, on one core.
//
// Reads every raw chunk of one dataset (filter 32008 bitshuffle+LZ4 or 32004 HDF5 LZ4) into
// memory with H5Dread_chunk, checks that every method gives the same bytes, then times each
// method decoding all chunks, in interleaved runs (the order rotates every run), and prints the
// median, min and max GB/s of decoded bytes and the ratio of medians to the plugin.
//
// Methods:
//   plugin        Debian's plugin itself: libh5bshuf.so / libh5lz4.so dlopened from the HDF5
//                 plugin folder, its H5Z_class2_t from H5PLget_plugin_info, its filter function
//                 called with H5Z_FLAG_REVERSE as libhdf5 calls it (a malloc'd copy of the chunk
//                 in, a buffer the plugin mallocs out, freed after each chunk).
//   libhdf5       H5Dread of each chunk's region (library, plugin and all; what h5py does).
//   ours-scalar   DecodeBitshuffleLz4Chunk with the scalar unshuffle (32008 only).
//   ours-avx2     the same with the AVX2 unshuffle (32008, when the CPU has AVX2).
//   ours          DecodeHdf5Lz4Chunk (32004 only).
//   ours-fresh    the best of ours into a newly allocated output buffer per chunk (page faults
//                 included, as a cache that allocates each decoded unit pays them); the other
//                 "ours" rows reuse one output buffer.
//
// Usage: bitshuffle_bench FILE DATASET [--runs N] [--plugin-dir DIR] [--only METHOD]
//   --only times just METHOD (and the plugin, the baseline), e.g. under perf.
#include <dlfcn.h>
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/lz4_chunks.h"

namespace {

using Bytes = std::vector<uint8_t>;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bitshuffle_bench: %s\n", message.c_str());
  std::exit(1);
}

// Owns one hid_t; `close` is the matching H5*close.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct Chunks {
  int filter = 0;
  std::vector<unsigned> cd;  // the dataset's cd_values for that filter
  uint32_t elem_size = 0;
  size_t chunk_bytes = 0;  // decoded
  std::vector<Bytes> raw;
  std::vector<std::vector<hsize_t>> offsets;
  std::vector<hsize_t> chunk_dims;
};

Chunks ReadChunks(hid_t dset) {
  Chunks c;
  const Hid dcpl_owner(H5Dget_create_plist(dset), H5Pclose);
  const hid_t dcpl = dcpl_owner.get();
  if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_nfilters(dcpl) != 1) {
    Die("the dataset is not chunked with exactly one filter");
  }
  unsigned flags = 0, cd[16] = {};
  size_t ncd = 16;
  c.filter = H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, nullptr, nullptr);
  c.cd.assign(cd, cd + ncd);
  c.elem_size = static_cast<uint32_t>(H5Tget_size(Hid(H5Dget_type(dset), H5Tclose).get()));
  const Hid space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank), grid(rank), offset(rank);
  c.chunk_dims.resize(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  H5Pget_chunk(dcpl, rank, c.chunk_dims.data());
  size_t elems = 1, n = 1;
  for (int d = 0; d < rank; ++d) {
    elems *= c.chunk_dims[d];
    grid[d] = (dims[d] + c.chunk_dims[d] - 1) / c.chunk_dims[d];
    n *= grid[d];
    if (dims[d] % c.chunk_dims[d] != 0) Die("partial edge chunks: use a dataset without them");
  }
  c.chunk_bytes = elems * c.elem_size;
  for (size_t i = 0; i < n; ++i) {
    size_t rest = i;
    for (int d = rank - 1; d >= 0; --d) {
      offset[d] = rest % grid[d] * c.chunk_dims[d];
      rest /= grid[d];
    }
    hsize_t stored = 0;
    if (H5Dget_chunk_storage_size(dset, offset.data(), &stored) < 0 || stored == 0) continue;
    Bytes raw(stored);
    uint32_t mask = 0;
    if (H5Dread_chunk(dset, H5P_DEFAULT, offset.data(), &mask, raw.data()) < 0 || mask != 0) {
      Die("H5Dread_chunk failed");
    }
    c.raw.push_back(std::move(raw));
    c.offsets.push_back(offset);
  }
  if (c.raw.empty()) Die("the dataset has no stored chunks");
  return c;
}

// The plugin's filter function, as libhdf5 would call it.
using FilterFn = size_t (*)(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                            size_t nbytes, size_t* buf_size, void** buf);

FilterFn LoadPlugin(const std::string& dir, int filter) {
  const std::string lib =
      dir + (filter == daqfs::kHdf5FilterBitshuffle ? "/libh5bshuf.so" : "/libh5lz4.so");
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept for the process's life
  if (!handle) Die(std::string("dlopen: ") + dlerror());
  using InfoFn = const void* (*)();
  auto info = reinterpret_cast<InfoFn>(dlsym(handle, "H5PLget_plugin_info"));
  if (!info) Die(lib + " has no H5PLget_plugin_info");
  const auto* cls = static_cast<const H5Z_class2_t*>(info());
  if (!cls || cls->id != filter) Die(lib + " is not filter " + std::to_string(filter));
  return reinterpret_cast<FilterFn>(cls->filter);
}

struct Method {
  std::string name;
  // Decodes chunk i into `out` (chunk_bytes), or checks nothing and just decodes when out is
  // null. Returns false on a failure.
  std::function<bool(size_t i, uint8_t* out)> decode;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bitshuffle_bench FILE DATASET [--runs N] [--plugin-dir DIR] "
                 "[--only METHOD]\n");
    return 2;
  }
  int runs = 7;
  std::string plugin_dir = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins";
  std::string only;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) {
      runs = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--plugin-dir") == 0) {
      plugin_dir = argv[i + 1];
    } else if (std::strcmp(argv[i], "--only") == 0) {
      only = argv[i + 1];
    } else {
      Die(std::string("unknown option ") + argv[i]);
    }
  }
  const Hid file(H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) Die(std::string("cannot open ") + argv[1]);
  const Hid dset_owner(H5Dopen2(file.get(), argv[2], H5P_DEFAULT), H5Dclose);
  const hid_t dset = dset_owner.get();
  if (dset < 0) Die(std::string("no dataset ") + argv[2]);
  const Chunks c = ReadChunks(dset);
  const bool bshuf = c.filter == daqfs::kHdf5FilterBitshuffle;
  if (!bshuf && c.filter != daqfs::kHdf5FilterLz4) Die("filter is neither 32008 nor 32004");
  if (bshuf &&
      (c.cd.size() < 5 || c.cd[4] != static_cast<unsigned>(daqfs::BitshuffleCompression::kLz4))) {
    Die("32008 without LZ4 compression");
  }
  const FilterFn plugin = LoadPlugin(plugin_dir, c.filter);

  std::vector<Method> methods;
  methods.push_back({"plugin", [&](size_t i, uint8_t* out) {
                       const Bytes& raw = c.raw[i];
                       void* buf = std::malloc(raw.size());
                       std::memcpy(buf, raw.data(), raw.size());
                       size_t buf_size = raw.size();
                       const size_t n = plugin(H5Z_FLAG_REVERSE, c.cd.size(), c.cd.data(),
                                               raw.size(), &buf_size, &buf);
                       const bool ok = n == c.chunk_bytes;
                       if (ok && out) std::memcpy(out, buf, n);
                       std::free(buf);
                       return ok;
                     }});
  const Hid type(H5Dget_type(dset), H5Tclose);
  const Hid file_space(H5Dget_space(dset), H5Sclose);
  const Hid mem_space(
      H5Screate_simple(static_cast<int>(c.chunk_dims.size()), c.chunk_dims.data(), nullptr),
      H5Sclose);
  Bytes lib_buf(c.chunk_bytes);
  methods.push_back({"libhdf5", [&](size_t i, uint8_t* out) {
                       H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, c.offsets[i].data(),
                                           nullptr, c.chunk_dims.data(), nullptr);
                       uint8_t* dst = out ? out : lib_buf.data();
                       return H5Dread(dset, type.get(), mem_space.get(), file_space.get(),
                                      H5P_DEFAULT, dst) >= 0;
                     }});
  Bytes reuse(c.chunk_bytes);
  std::vector<daqfs::SimdLevel> levels;
  if (bshuf) {
    levels.push_back(daqfs::SimdLevel::kScalar);
    if (daqfs::SimdSupported(daqfs::SimdLevel::kAvx2)) levels.push_back(daqfs::SimdLevel::kAvx2);
    for (daqfs::SimdLevel level : levels) {
      methods.push_back(
          {std::string("ours-") + daqfs::SimdLevelName(level), [&, level](size_t i, uint8_t* out) {
             std::span<uint8_t> dst(out ? out : reuse.data(), c.chunk_bytes);
             return daqfs::DecodeBitshuffleLz4Chunk(c.raw[i], c.elem_size, dst, level).ok();
           }});
    }
  } else {
    methods.push_back({"ours", [&](size_t i, uint8_t* out) {
                         std::span<uint8_t> dst(out ? out : reuse.data(), c.chunk_bytes);
                         return daqfs::DecodeHdf5Lz4Chunk(c.raw[i], c.elem_size, dst).ok();
                       }});
  }
  methods.push_back({"ours-fresh", [&](size_t i, uint8_t* out) {
                       std::unique_ptr<uint8_t[]> fresh(new uint8_t[c.chunk_bytes]);
                       std::span<uint8_t> dst(out ? out : fresh.get(), c.chunk_bytes);
                       return (bshuf ? daqfs::DecodeBitshuffleLz4Chunk(c.raw[i], c.elem_size, dst)
                                     : daqfs::DecodeHdf5Lz4Chunk(c.raw[i], c.elem_size, dst))
                           .ok();
                     }});

  // Every method must give the plugin's bytes for every chunk.
  Bytes want(c.chunk_bytes), got(c.chunk_bytes);
  for (size_t i = 0; i < c.raw.size(); ++i) {
    if (!methods[0].decode(i, want.data())) Die("the plugin failed on chunk " + std::to_string(i));
    for (size_t m = 1; m < methods.size(); ++m) {
      std::fill(got.begin(), got.end(), 0xA5);
      if (!methods[m].decode(i, got.data()) || got != want) {
        Die(methods[m].name + " differs from the plugin on chunk " + std::to_string(i));
      }
    }
  }

  if (!only.empty()) {
    std::erase_if(methods, [&](const Method& m) { return m.name != "plugin" && m.name != only; });
    if (methods.size() != 2) Die("no method " + only);
  }

  size_t stored = 0;
  for (const Bytes& r : c.raw) stored += r.size();
  const double decoded = double(c.chunk_bytes) * c.raw.size();
  std::printf(
      "%s %s: filter %d, %zu chunks of %zu bytes (elem %u), stored/decoded %.3f; "
      "all methods byte-identical\n",
      argv[1], argv[2], c.filter, c.raw.size(), c.chunk_bytes, c.elem_size, stored / decoded);
  std::vector<std::vector<double>> gbps(methods.size());
  for (int r = 0; r < runs; ++r) {
    for (size_t k = 0; k < methods.size(); ++k) {
      const size_t m = (k + r) % methods.size();  // rotate the order: no method always first
      const auto t0 = std::chrono::steady_clock::now();
      for (size_t i = 0; i < c.raw.size(); ++i) {
        if (!methods[m].decode(i, nullptr)) Die(methods[m].name + " failed");
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      gbps[m].push_back(decoded / s / 1e9);
    }
  }
  const double base = Median(gbps[0]);
  std::printf("%-12s %10s %8s %8s %9s %10s\n", "method", "median", "min", "max", "x plugin",
              "frames/s");
  for (size_t m = 0; m < methods.size(); ++m) {
    const double med = Median(gbps[m]);
    std::printf("%-12s %7.3f GB/s %8.3f %8.3f %8.2fx %10.0f\n", methods[m].name.c_str(), med,
                *std::min_element(gbps[m].begin(), gbps[m].end()),
                *std::max_element(gbps[m].begin(), gbps[m].end()), med / base,
                med * 1e9 / c.chunk_bytes);
  }
  return 0;
}
