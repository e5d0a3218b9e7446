// libFuzzer target for the filter-32004 (HDF5 LZ4) chunk decoder. Input: the chunk. The decoded
// size is what the chunk's header claims (bounded), and also one byte more (a size mismatch).
// Besides not crashing or touching memory outside the chunk and the output (ASan), checks that
// every result is ok or kCorrupt.
//
// Seeds (corpus/hdf5_lz4): chunks written by libhdf5 + Debian's hdf5-filter-plugin through h5py
// (compression=32004, compression_opts=(block,) or none) with compressed and raw-stored blocks,
// and one real chunk (see corpus/hdf5_lz4/PROVENANCE.txt).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "backends/common/lz4_chunks.h"

namespace {

constexpr uint64_t kMaxDecode = 8 << 20;

void Decode(std::span<const uint8_t> chunk, size_t size, bool must_fail) {
  std::vector<uint8_t> out(size);
  const daqfs::Status st = daqfs::DecodeHdf5Lz4Chunk(chunk, 2, out);
  if (!st.ok() && st.code() != daqfs::Code::kCorrupt) std::abort();
  if (must_fail && st.ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> chunk(data, size);
  daqfs::Result<daqfs::Lz4ChunkHeader> header = daqfs::PeekLz4ChunkHeader(chunk);
  if (!header.ok()) {
    if (header.status().code() != daqfs::Code::kCorrupt) std::abort();
    Decode(chunk, 16, true);
    return 0;
  }
  if (header->decoded_size <= kMaxDecode) {
    Decode(chunk, header->decoded_size, false);
    Decode(chunk, header->decoded_size + 1, true);
  } else {
    Decode(chunk, 4096, true);  // a huge claim: a mismatch, never an allocation
  }
  return 0;
}
