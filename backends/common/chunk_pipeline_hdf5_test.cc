// The chunk decoders against the reference: libhdf5 with its own filters (deflate, shuffle,
// fletcher32) and Debian's filter plugins (bitshuffle 0.3.5 for 32008 with LZ4 or no
// compression, hdf5-filter-plugin for 32004). Files are written here through libhdf5 and the
// plugins (u8/u16/u32/u64/i16/f32/f64, single filters and pipelines in several orders, chunks
// with partial edge chunks, fewer than 8 elements, partial last blocks, default and explicit
// block sizes); every raw chunk is read with H5Dread_chunk, decoded by ChunkPipeline (and, for
// bitshuffle/LZ4, on every unshuffle path) and compared with what H5Dread returns for the same
// region. With the real sample files present (DAQFS_HDF5_SAMPLES, set by CMake only when the
// folder exists), every chunk of every sample dataset whose filters daqfs decodes is checked
// the same way. (zstd and bitshuffle/zstd have no Debian plugin: chunk_pipeline_test.cc and the
// HDF5 backend's tests cover them against known arrays.)
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/common/chunk_pipeline.h"
#include "backends/common/chunk_test_encoders.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

using Bytes = std::vector<uint8_t>;

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
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class Hdf5Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are checked, not printed
  }
};

std::vector<SimdLevel> Levels() { return testing::SimdLevels(); }

// The pipeline of a chunked dataset whose filters ChunkPipeline decodes, and whether it is
// exactly bitshuffle/LZ4 (then every unshuffle path is checked too).
struct Codec {
  ChunkPipeline pipeline;
  bool bitshuffle_lz4 = false;
  uint32_t elem_size = 0;
};
std::optional<Codec> CodecOf(hid_t dset) {
  Hid dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return std::nullopt;
  std::vector<Hdf5Filter> filters;
  const int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, cd[16] = {};
    size_t ncd = 16;
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &ncd, cd, 0, nullptr, nullptr);
    filters.push_back(Hdf5Filter{id, std::vector<unsigned>(cd, cd + std::min<size_t>(ncd, 16))});
  }
  Hid type(H5Dget_type(dset), H5Tclose);
  std::optional<ChunkPipeline> p =
      ChunkPipeline::From(filters, static_cast<uint32_t>(H5Tget_size(type.get())));
  if (!p) return std::nullopt;
  Codec c{*p, false, 0};
  if (filters.size() == 1 && filters[0].id == kHdf5FilterBitshuffle &&
      filters[0].cd_values.size() > 4 && filters[0].cd_values[4] == 2) {
    c.bitshuffle_lz4 = true;
    c.elem_size = filters[0].cd_values[2];
  }
  return c;
}

// Checks every chunk of `dset`: our decode (each path) equals H5Dread of the chunk's region.
// Returns the number of chunks checked (the caller asserts it is what it expects).
size_t CheckEveryChunk(hid_t dset, const std::string& what) {
  const std::optional<Codec> codec = CodecOf(dset);
  EXPECT_TRUE(codec) << what << ": not a chunked dataset whose filters daqfs decodes";
  if (!codec) return 0;
  Hid type(H5Dget_type(dset), H5Tclose);
  const size_t es = H5Tget_size(type.get());
  if (codec->bitshuffle_lz4) {
    EXPECT_EQ(codec->elem_size, es) << what;
  }
  Hid space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank), chunk_dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Hid dcpl(H5Dget_create_plist(dset), H5Pclose);
  H5Pget_chunk(dcpl.get(), rank, chunk_dims.data());
  size_t chunk_elems = 1;
  for (hsize_t d : chunk_dims) chunk_elems *= d;
  const size_t chunk_bytes = chunk_elems * es;

  // libhdf5's reading of the whole dataset (memory type = file type: the bytes as stored).
  size_t total_elems = 1;
  for (hsize_t d : dims) total_elems *= d;
  Bytes full(total_elems * es);
  EXPECT_GE(H5Dread(dset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, full.data()), 0)
      << what << ": H5Dread failed (is the filter plugin installed?)";

  // Walks the chunk grid and reads each chunk by its coordinates (H5Dget_chunk_info walks the
  // index from its start on every call, and H5Dget_chunk_info_by_coord costs ~0.4 ms per call
  // on the 5000-chunk sample sets; the storage size and H5Dread_chunk are cheap).
  std::vector<hsize_t> grid(rank), offset(rank, 0);
  hsize_t grid_chunks = 1;
  for (int d = 0; d < rank; ++d) {
    grid[d] = (dims[d] + chunk_dims[d] - 1) / chunk_dims[d];
    grid_chunks *= grid[d];
  }
  size_t checked = 0;
  for (hsize_t i = 0; i < grid_chunks; ++i) {
    hsize_t rest = i;
    for (int d = rank - 1; d >= 0; --d) {
      offset[d] = rest % grid[d] * chunk_dims[d];
      rest /= grid[d];
    }
    hsize_t stored = 0;
    EXPECT_GE(H5Dget_chunk_storage_size(dset, offset.data(), &stored), 0) << what;
    if (stored == 0) continue;  // never written (the caller compares the count)
    Bytes raw(stored);
    uint32_t filters = 0;
    EXPECT_GE(H5Dread_chunk(dset, H5P_DEFAULT, offset.data(), &filters, raw.data()), 0) << what;
    EXPECT_EQ(filters, 0u) << what << ": chunk " << i << " skipped a filter";

    Bytes ours(chunk_bytes);
    std::vector<Bytes> per_level;
    {
      Bytes out(chunk_bytes, 0xA5);
      const Status st = codec->pipeline.Decode(raw, filters, out);
      EXPECT_TRUE(st.ok()) << what << " (" << codec->pipeline.Name() << ") chunk " << i << ": "
                           << st.ToString();
      per_level.push_back(std::move(out));
    }
    if (codec->bitshuffle_lz4) {
      Result<Lz4ChunkHeader> header = PeekLz4ChunkHeader(raw);
      EXPECT_TRUE(header.ok() && header->decoded_size == chunk_bytes) << what << " chunk " << i;
      for (SimdLevel level : Levels()) {
        Bytes out(chunk_bytes, 0xA5);
        const Status st = DecodeBitshuffleLz4Chunk(raw, codec->elem_size, out, level);
        EXPECT_TRUE(st.ok()) << what << " chunk " << i << ": " << st.ToString();
        per_level.push_back(std::move(out));
      }
    }
    ours = per_level[0];
    for (size_t l = 1; l < per_level.size(); ++l) {
      EXPECT_EQ(per_level[l], ours) << what << " chunk " << i << ": unshuffle paths differ";
    }

    // The reference: libhdf5's bytes of the chunk's region (clipped at the dataset's edge),
    // run by run along the last dimension; bytes of an edge chunk outside the dataset are not
    // data and are not compared.
    std::vector<hsize_t> count(rank), at(rank, 0);
    size_t region_elems = 1;
    for (int d = 0; d < rank; ++d) {
      count[d] = std::min(chunk_dims[d], dims[d] - offset[d]);
      region_elems *= count[d];
    }
    const size_t run = count[rank - 1] * es;
    bool same = true;
    for (size_t r = 0; same && r < region_elems / count[rank - 1]; ++r) {
      size_t rest = r, in_chunk = 0, in_data = 0;
      for (int d = rank - 2; d >= 0; --d) {
        at[d] = rest % count[d];
        rest /= count[d];
      }
      for (int d = 0; d < rank; ++d) {
        const hsize_t pos = d == rank - 1 ? 0 : at[d];
        in_chunk = in_chunk * chunk_dims[d] + pos;
        in_data = in_data * dims[d] + offset[d] + pos;
      }
      same = std::memcmp(ours.data() + in_chunk * es, full.data() + in_data * es, run) == 0;
    }
    EXPECT_TRUE(same) << what << " (" << codec->pipeline.Name() << ") chunk " << i
                      << " differs from libhdf5";
    if (!same) break;  // one report per dataset is enough
    ++checked;
  }
  return checked;
}

// ---- files written here through libhdf5 + the plugins ----

struct Case {
  std::string name;
  hid_t type;                 // a native type: the file stores it little endian as given
  std::vector<hsize_t> dims;  // dataset
  std::vector<hsize_t> chunk;
  // Each filter with the user's cd_values (32008: {block elems, 2 or 0}; 32004: {block};
  // deflate: {level}), in the order they are applied.
  std::vector<std::pair<int, std::vector<unsigned>>> filters;
};

// Poisson-like counts (plus a few hot pixels and, for floats, fractions; for signed types
// negative values), written as `type`.
Bytes Values(const Case& c, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::poisson_distribution<int> poisson(2.0);
  const size_t es = H5Tget_size(c.type);
  Bytes out(n * es);
  for (size_t i = 0; i < n; ++i) {
    const double v = (rng() % 1009 == 0 ? double(rng() % 60000) : poisson(rng)) *
                     (H5Tget_sign(c.type) == H5T_SGN_2 && rng() % 3 == 0 ? -1.0 : 1.0);
    uint8_t* p = out.data() + i * es;
    if (H5Tequal(c.type, H5T_NATIVE_FLOAT) > 0) {
      const float f = static_cast<float>(v) + 0.25f;
      std::memcpy(p, &f, 4);
    } else if (H5Tequal(c.type, H5T_NATIVE_DOUBLE) > 0) {
      const double d = v / 3.0;
      std::memcpy(p, &d, 8);
    } else {
      const int64_t x = static_cast<int64_t>(v);
      std::memcpy(p, &x, es);  // little endian: the low bytes
    }
  }
  return out;
}

void WriteCase(hid_t file, const Case& c, uint32_t seed) {
  const int rank = static_cast<int>(c.dims.size());
  Hid space(H5Screate_simple(rank, c.dims.data(), nullptr), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  ASSERT_GE(H5Pset_chunk(dcpl.get(), rank, c.chunk.data()), 0);
  for (const auto& [id, cd] : c.filters) {
    ASSERT_GE(H5Pset_filter(dcpl.get(), id, H5Z_FLAG_MANDATORY, cd.size(), cd.data()), 0) << c.name;
  }
  Hid dset(
      H5Dcreate2(file, c.name.c_str(), c.type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose);
  ASSERT_TRUE(dset.ok()) << c.name << ": H5Dcreate2 failed (filter plugin missing?)";
  size_t n = 1;
  for (hsize_t d : c.dims) n *= d;
  const Bytes values = Values(c, n, seed);
  ASSERT_GE(H5Dwrite(dset.get(), c.type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0)
      << c.name;
}

TEST_F(Hdf5Reference, PluginsAreAvailable) {
  EXPECT_GT(H5Zfilter_avail(kHdf5FilterBitshuffle), 0) << "Debian package bitshuffle missing";
  EXPECT_GT(H5Zfilter_avail(kHdf5FilterLz4), 0) << "Debian package hdf5-filter-plugin missing";
}

TEST_F(Hdf5Reference, GeneratedFilesDecodeAsLibhdf5Reads) {
  using F = std::vector<std::pair<int, std::vector<unsigned>>>;
  auto bs = [](unsigned block, unsigned compression = 2) {
    return F{{kHdf5FilterBitshuffle, {block, compression}}};
  };
  auto lz = [](std::vector<unsigned> cd) { return F{{kHdf5FilterLz4, cd}}; };
  const std::pair<int, std::vector<unsigned>> deflate{kHdf5FilterDeflate, {6}},
      shuffle{kHdf5FilterShuffle, {}}, fletcher{kHdf5FilterFletcher32, {}};
  const std::vector<Case> cases = {
      // EIGER-like frames: 37 x 29 = 1073 elements = 1 raw element after 134 groups of 8.
      {"u16_frames", H5T_NATIVE_UINT16, {3, 37, 29}, {1, 37, 29}, bs(0)},
      // Several default blocks, a partial last block and a partial edge chunk.
      {"u8_edge", H5T_NATIVE_UINT8, {100003}, {65536}, bs(0)},
      {"u32_edge_2d", H5T_NATIVE_UINT32, {50, 333}, {7, 333}, bs(0)},
      {"u64_odd", H5T_NATIVE_UINT64, {5000}, {999}, bs(0)},
      {"i16_block64", H5T_NATIVE_INT16, {64, 64}, {64, 64}, bs(64)},
      {"f32_default", H5T_NATIVE_FLOAT, {10007}, {10007}, bs(0)},
      {"f64_block24", H5T_NATIVE_DOUBLE, {3001}, {3001}, bs(24)},
      {"u16_block_bigger_than_chunk", H5T_NATIVE_UINT16, {4000}, {4000}, bs(100000)},
      // Chunks of fewer than 8 elements: header plus raw bytes only.
      {"u16_one_element_chunks", H5T_NATIVE_UINT16, {5}, {1}, bs(0)},
      {"u32_seven_element_chunks", H5T_NATIVE_UINT32, {21}, {7}, bs(0)},
      {"u8_nine_element_chunks", H5T_NATIVE_UINT8, {27}, {9}, bs(0)},
      // Bitshuffle without compression: no header, the blocks as shuffled.
      {"bs_plain_u16", H5T_NATIVE_UINT16, {3, 37, 29}, {1, 37, 29}, bs(0, 0)},
      {"bs_plain_u32_block16", H5T_NATIVE_UINT32, {1003}, {1003}, bs(16, 0)},
      // HDF5 LZ4: the plugin's default block (1 GiB: one block), 8 KiB as EIGER2 writes, odd.
      {"lz4_u16_frames", H5T_NATIVE_UINT16, {3, 37, 29}, {1, 37, 29}, lz({})},
      {"lz4_u8_edge_8k", H5T_NATIVE_UINT8, {100003}, {65536}, lz({8192})},
      {"lz4_i16_odd_block", H5T_NATIVE_INT16, {4099}, {4099}, lz({1001})},
      {"lz4_f64_one_element", H5T_NATIVE_DOUBLE, {3}, {1}, lz({})},
      // libhdf5's own filters, alone and as h5py combines them (shuffle, compression,
      // fletcher32), and in other orders.
      {"deflate_u16", H5T_NATIVE_UINT16, {4, 37, 29}, {1, 37, 29}, F{deflate}},
      {"deflate_u8_edge", H5T_NATIVE_UINT8, {100003}, {65536}, F{{kHdf5FilterDeflate, {1}}}},
      {"shuffle_deflate_u32", H5T_NATIVE_UINT32, {50, 333}, {7, 333}, F{shuffle, deflate}},
      {"shuffle_deflate_f64", H5T_NATIVE_DOUBLE, {3001}, {1000}, F{shuffle, deflate}},
      {"shuffle_only_i16", H5T_NATIVE_INT16, {64, 64}, {64, 64}, F{shuffle}},
      {"fletcher_only_u8_odd", H5T_NATIVE_UINT8, {1001}, {333}, F{fletcher}},
      {"fletcher_only_u16", H5T_NATIVE_UINT16, {3, 37, 29}, {1, 37, 29}, F{fletcher}},
      {"shuffle_deflate_fletcher_u16",
       H5T_NATIVE_UINT16,
       {3, 37, 29},
       {1, 37, 29},
       F{shuffle, deflate, fletcher}},
      {"fletcher_shuffle_deflate_u32",
       H5T_NATIVE_UINT32,
       {2000},
       {999},
       F{fletcher, shuffle, deflate}},
      {"bslz4_fletcher_u32",
       H5T_NATIVE_UINT32,
       {3, 37, 29},
       {1, 37, 29},
       F{{kHdf5FilterBitshuffle, {0, 2}}, fletcher}},
      {"shuffle_lz4_u64", H5T_NATIVE_UINT64, {5000}, {999}, F{shuffle, {kHdf5FilterLz4, {}}}},
  };
  testing::TempDir dir("chunk-pipeline");
  const std::string path = dir / "generated.h5";
  {
    Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(file.ok());
    uint32_t seed = 1;
    for (const Case& c : cases) WriteCase(file.get(), c, seed++);
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  ASSERT_TRUE(file.ok());
  for (const Case& c : cases) {
    Hid dset(H5Dopen2(file.get(), c.name.c_str(), H5P_DEFAULT), H5Dclose);
    ASSERT_TRUE(dset.ok()) << c.name;
    size_t expected = 1;
    for (size_t d = 0; d < c.dims.size(); ++d)
      expected *= (c.dims[d] + c.chunk[d] - 1) / c.chunk[d];
    EXPECT_EQ(CheckEveryChunk(dset.get(), c.name), expected) << c.name;
  }
}

// ---- the real sample files ----

#ifdef DAQFS_HDF5_SAMPLES
// Checks every supported chunked dataset in `path`; returns chunks checked per dataset.
std::map<std::string, size_t> CheckFile(const std::string& path) {
  std::map<std::string, size_t> checked;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  EXPECT_TRUE(file.ok()) << path;
  if (!file.ok()) return checked;
  std::vector<std::string> names;
  H5Ovisit2(
      file.get(), H5_INDEX_NAME, H5_ITER_NATIVE,
      [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
        if (info->type == H5O_TYPE_DATASET)
          static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names, H5O_INFO_BASIC);
  for (const std::string& name : names) {
    Hid dset(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dset.ok() || !CodecOf(dset.get())) continue;
    hsize_t nchunks = 0;
    Hid space(H5Dget_space(dset.get()), H5Sclose);
    H5Dget_num_chunks(dset.get(), space.get(), &nchunks);
    const size_t n = CheckEveryChunk(dset.get(), path + "//" + name);
    EXPECT_EQ(n, nchunks) << path << "//" << name;
    checked[name] = n;
  }
  return checked;
}

TEST_F(Hdf5Reference, EverySampleChunkDecodesAsLibhdf5Reads) {
  namespace stdfs = std::filesystem;
  const std::string root = DAQFS_HDF5_SAMPLES;
  size_t bslz4_files = 0, lz4_files = 0, total = 0;
  for (const auto& entry : stdfs::recursive_directory_iterator(root)) {
    const std::string p = entry.path().string();
    if (!entry.is_regular_file() ||
        (entry.path().extension() != ".h5" && entry.path().extension() != ".nxs")) {
      continue;
    }
    // The 1000 identical data files of the large artificial set: the first stands for all.
    if (p.find("dataset_artificial_large_001/test_data_") != std::string::npos &&
        p.find("test_data_000001.h5") == std::string::npos) {
      continue;
    }
    for (const auto& [name, n] : CheckFile(p)) {
      total += n;
      if (p.find("bslz4") != std::string::npos) ++bslz4_files;
      if (p.find("_lz4_") != std::string::npos) ++lz4_files;
    }
  }
  // eiger1 and eiger2: 2 + 6 bslz4 data files, 2 + 2 lz4; ARINA and the h5ver files on top.
  EXPECT_EQ(bslz4_files, 8u);
  EXPECT_EQ(lz4_files, 4u);
  EXPECT_GE(total, 20000u);  // the four h5ver files hold 5026 bslz4 chunks each
}

TEST_F(Hdf5Reference, EigerFramesHaveTheExpectedShapes) {
  // Pin a few known facts so the sweep above cannot pass on an empty folder.
  const std::string d = std::string(DAQFS_HDF5_SAMPLES) + "/dectris-h5-testfiles/";
  const auto eiger1 =
      CheckFile(d + "datasets_eiger1/eiger1_testmode10_2datafiles_4images_bslz4_data_000001.h5");
  ASSERT_EQ(eiger1.count("entry/data/data"), 1u);
  EXPECT_EQ(eiger1.at("entry/data/data"), 2u);
  const auto eiger2 = CheckFile(
      d + "datasets_eiger2/eiger2_simread7_2datafiles_4images_bslz4_uint32_data_000002.h5");
  ASSERT_EQ(eiger2.count("entry/data/data"), 1u);
  EXPECT_EQ(eiger2.at("entry/data/data"), 2u);
  const auto lz4 =
      CheckFile(d + "datasets_eiger2/eiger2_simread7_2datafiles_4images_lz4_data_000001.h5");
  ASSERT_EQ(lz4.count("entry/data/data"), 1u);
  EXPECT_EQ(lz4.at("entry/data/data"), 2u);
}
#endif  // DAQFS_HDF5_SAMPLES

}  // namespace
}  // namespace daqfs
