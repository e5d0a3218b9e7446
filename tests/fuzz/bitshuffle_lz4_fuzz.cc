// libFuzzer target for the filter-32008 (bitshuffle + LZ4) chunk decoder. Input: one byte that
// picks the element size, then the chunk. The decoded size is what the chunk's header claims
// (bounded), and also one element more (a size mismatch). Besides not crashing or touching
// memory outside the chunk and the output (ASan), checks that every result is ok or kCorrupt
// and that the scalar and AVX2 unshuffle paths agree exactly, status and bytes.
//
// Seeds (corpus/bitshuffle_lz4): chunks written by libhdf5 + Debian's bitshuffle plugin through
// h5py (compression=32008, compression_opts=(block, 2)) for u8/u16/u32/u64/f32 data with
// remainders, fewer than 8 elements and explicit blocks; and two real detector chunks (see
// corpus/bitshuffle_lz4/PROVENANCE.txt).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "backends/common/lz4_chunks.h"

namespace {

constexpr uint64_t kMaxDecode = 8 << 20;
constexpr uint32_t kElemSizes[8] = {1, 2, 4, 8, 3, 12, 16, 5};

// Decodes on every available path; aborts when the paths disagree or the status is unexpected.
void DecodeEverywhere(std::span<const uint8_t> chunk, uint32_t es, size_t size) {
  std::vector<uint8_t> first(size), other(size);
  const daqfs::Status a =
      daqfs::DecodeBitshuffleLz4Chunk(chunk, es, first, daqfs::SimdLevel::kScalar);
  if (!a.ok() && a.code() != daqfs::Code::kCorrupt) std::abort();
  if (!daqfs::SimdSupported(daqfs::SimdLevel::kAvx2)) return;
  const daqfs::Status b =
      daqfs::DecodeBitshuffleLz4Chunk(chunk, es, other, daqfs::SimdLevel::kAvx2);
  if (a.code() != b.code() || a.message() != b.message()) std::abort();
  if (a.ok() && first != other) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint32_t es = kElemSizes[data[0] & 7];
  const std::span<const uint8_t> chunk(data + 1, size - 1);
  daqfs::Result<daqfs::Lz4ChunkHeader> header = daqfs::PeekLz4ChunkHeader(chunk);
  if (!header.ok()) {
    if (header.status().code() != daqfs::Code::kCorrupt) std::abort();
    DecodeEverywhere(chunk, es, 64);  // must fail cleanly too
    return 0;
  }
  const uint64_t claimed = header->decoded_size;
  if (claimed <= kMaxDecode) {
    DecodeEverywhere(chunk, es, claimed);
    // A buffer one element larger never matches the header: always kCorrupt.
    std::vector<uint8_t> out(claimed + es);
    if (daqfs::DecodeBitshuffleLz4Chunk(chunk, es, out).code() != daqfs::Code::kCorrupt) {
      std::abort();
    }
  } else {
    DecodeEverywhere(chunk, es, 4096);  // a huge claim: a mismatch, never an allocation
  }
  return 0;
}
