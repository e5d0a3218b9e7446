// libFuzzer target for ChunkPipeline (HDF5 filter pipelines: deflate, shuffle, fletcher32,
// zstd, bitshuffle with zstd/LZ4/none, HDF5 LZ4, in the orders files use). Input: a pipeline
// index, an element-size index, the decoded size (4 bytes little endian, bounded), the chunk's
// filter mask, then the chunk. Besides not crashing or touching memory outside the chunk and
// the output (ASan), checks that every result is ok or kCorrupt, and that a decode into a
// buffer one byte larger never succeeds where the pipeline fixes the size.
//
// Seeds (corpus/chunk_pipeline): one valid chunk per pipeline, written by
// tests/fuzz/make_chunk_pipeline_seeds.py with Python's zlib, numpy, python3-zstandard and
// Debian's bitshuffle module (see corpus/chunk_pipeline/PROVENANCE.txt).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "backends/common/chunk_pipeline.h"

namespace {

using daqfs::Hdf5Filter;

constexpr uint64_t kMaxDecode = 4 << 20;
constexpr uint32_t kElemSizes[4] = {1, 2, 4, 8};

std::vector<Hdf5Filter> PipelineFor(unsigned index, uint32_t es) {
  const Hdf5Filter deflate{daqfs::kHdf5FilterDeflate, {6}},
      shuffle{daqfs::kHdf5FilterShuffle, {es}}, fletcher{daqfs::kHdf5FilterFletcher32, {}},
      zstd{daqfs::kHdf5FilterZstd, {3}}, lz4{daqfs::kHdf5FilterLz4, {}};
  auto bs = [es](unsigned compression) {
    return Hdf5Filter{daqfs::kHdf5FilterBitshuffle, {0, 4, es, 0, compression}};
  };
  switch (index) {
    case 0:
      return {deflate};
    case 1:
      return {shuffle, deflate};
    case 2:
      return {zstd};
    case 3:
      return {shuffle, zstd};
    case 4:
      return {bs(3)};
    case 5:
      return {bs(0)};
    case 6:
      return {fletcher};
    case 7:
      return {shuffle, deflate, fletcher};
    case 8:
      return {fletcher, shuffle, deflate};
    case 9:
      return {bs(2), fletcher};
    case 10:
      return {lz4};
    default:
      return {shuffle};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 7) return 0;
  const uint32_t es = kElemSizes[data[1] & 3];
  const std::vector<Hdf5Filter> filters = PipelineFor(data[0] % 12, es);
  const uint64_t decoded = (uint32_t{data[2]} | uint32_t{data[3]} << 8 | uint32_t{data[4]} << 16 |
                            uint32_t{data[5]} << 24) %
                           kMaxDecode;
  const uint32_t mask = data[6] & 7;
  const std::span<const uint8_t> chunk(data + 7, size - 7);
  std::optional<daqfs::ChunkPipeline> p = daqfs::ChunkPipeline::From(filters, es);
  if (!p) std::abort();  // every pipeline of the table is one daqfs decodes
  std::vector<uint8_t> out(decoded);
  const daqfs::Status s = p->Decode(chunk, mask, out);
  if (!s.ok() && s.code() != daqfs::Code::kCorrupt) std::abort();
  const unsigned index = data[0] % 12;
  const bool lone_compressor = index == 0 || index == 2 || index == 4 || index == 10;
  if (s.ok() && lone_compressor && mask % 2 == 0) {
    // A lone compressor decodes to exactly one size: one byte more never matches.
    std::vector<uint8_t> more(decoded + 1);
    const daqfs::Status t = p->Decode(chunk, mask, more);
    if (t.ok() || t.code() != daqfs::Code::kCorrupt) std::abort();
  }
  return 0;
}
