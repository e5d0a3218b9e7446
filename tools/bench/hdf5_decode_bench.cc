// hdf5_decode_bench: our chunk decoders in-process on the chunks of EIGER data files, on every
// core: the ceiling of the decode itself, without FUSE, the cache or the page cache.
//
// Reads every raw chunk of /entry/data/data of each file given into memory first
// (H5Dread_chunk), then decodes all of them REPEAT times on `--threads` threads (default: the
// cores), each thread taking the next frame, and prints the best pass:
//   "<frames/s> frames/s (<GB/s> GB/s decoded, <filters>, <threads> threads, <frames> frames)".
// Usage: hdf5_decode_bench [--threads N] [--repeat N] DATAFILE.h5...
#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/common/chunk_pipeline.h"

namespace {

struct Chunk {
  std::vector<uint8_t> bytes;
  size_t out_bytes = 0;
  uint32_t mask = 0;
};

bool Load(const char* path, std::vector<Chunk>* chunks,
          std::optional<daqfs::ChunkPipeline>* pipelines) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return false;
  hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
  if (d < 0) return false;
  hid_t space = H5Dget_space(d), type = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
  hsize_t dims[3] = {0, 0, 0};
  if (H5Sget_simple_extent_ndims(space) != 3) return false;
  H5Sget_simple_extent_dims(space, dims, nullptr);
  const int n = H5Pget_nfilters(dcpl);
  std::vector<daqfs::Hdf5Filter> filters;
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, cd[16];
    size_t ncd = 16;
    const int id =
        H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &ncd, cd, 0, nullptr, nullptr);
    filters.push_back(
        daqfs::Hdf5Filter{id, std::vector<unsigned>(cd, cd + std::min<size_t>(ncd, 16))});
  }
  auto pipeline = daqfs::ChunkPipeline::From(filters, static_cast<uint32_t>(H5Tget_size(type)));
  if (!pipeline || (*pipelines && (*pipelines)->Name() != pipeline->Name())) return false;
  if (!*pipelines) *pipelines = pipeline;
  size_t frame = dims[1] * dims[2] * H5Tget_size(type);
  for (hsize_t i = 0; i < dims[0]; ++i) {
    hsize_t off[3] = {i, 0, 0}, size = 0;
    uint32_t mask = 0;
    if (H5Dget_chunk_storage_size(d, off, &size) < 0) return false;
    Chunk c{std::vector<uint8_t>(size), frame, 0};
    if (H5Dread_chunk(d, H5P_DEFAULT, off, &mask, c.bytes.data()) < 0) return false;
    c.mask = mask;
    chunks->push_back(std::move(c));
  }
  H5Pclose(dcpl);
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  int repeat = 3;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: hdf5_decode_bench [--threads N] [--repeat N] DATAFILE.h5...\n");
      return 0;
    } else {
      files.push_back(argv[i]);
    }
  }
  if (files.empty() || threads == 0 || repeat < 1) {
    std::fprintf(stderr, "usage: hdf5_decode_bench [--threads N] [--repeat N] DATAFILE.h5...\n");
    return 1;
  }
  std::vector<Chunk> chunks;
  std::optional<daqfs::ChunkPipeline> pipeline;
  for (const char* f : files) {
    if (!Load(f, &chunks, &pipeline)) {
      std::fprintf(stderr,
                   "hdf5_decode_bench: %s: not an EIGER-like data file (/entry/data/data, one "
                   "chunk per frame) whose filters daqfs decodes, or filters unlike the "
                   "others'\n",
                   f);
      return 1;
    }
  }
  double best = 1e300;
  uint64_t bytes = 0;
  for (const Chunk& c : chunks) bytes += c.out_bytes;
  for (int r = 0; r < repeat; ++r) {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto t = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned k = 0; k < threads; ++k) {
      pool.emplace_back([&] {
        std::vector<uint8_t> out;
        for (size_t i; (i = next.fetch_add(1)) < chunks.size();) {
          const Chunk& c = chunks[i];
          out.resize(c.out_bytes);
          if (!pipeline->Decode(c.bytes, c.mask, out).ok()) failed = true;
        }
      });
    }
    for (std::thread& th : pool) th.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    if (failed) {
      std::fprintf(stderr, "hdf5_decode_bench: a chunk did not decode\n");
      return 1;
    }
    best = std::min(best, s);
  }
  std::printf("%.1f frames/s (%.2f GB/s decoded, %s, %u threads, %zu frames)\n",
              static_cast<double>(chunks.size()) / best, static_cast<double>(bytes) / best / 1e9,
              pipeline->Name().c_str(), threads, chunks.size());
  return 0;
}
