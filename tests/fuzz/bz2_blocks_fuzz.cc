// libFuzzer target for bzip2 blocks (Bz2StreamIndexer: our scan for block and end-of-stream
// magics at any bit, the one-block streams we make of them and libbz2's decoder over those, the
// stream headers of concatenated streams) and for decoding each block found again alone
// (DecodeBz2Block). Input: a bzip2 file. Besides not crashing, every result must be ok or
// kCorrupt, and a block decoded alone must equal what the indexer decoded.
//
// Seeds (corpus/bz2_blocks): small files written by bzip2 (see corpus/bz2_blocks/PROVENANCE.txt).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backends/archive/bz2_blocks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  daqfs::CompressedReadFn read = [data, size](uint64_t off,
                                              std::span<uint8_t> out) -> daqfs::Result<size_t> {
    if (off >= size) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), size - off);
    std::memcpy(out.data(), data + off, n);
    return n;
  };
  daqfs::Bz2StreamIndexer ix(read, size, "fuzz.bz2");
  std::vector<uint8_t> all;
  std::vector<uint8_t> piece(65536);
  for (;;) {
    daqfs::Result<size_t> n = ix.Read(all.size(), piece);
    if (!n.ok()) {
      if (n.status().code() != daqfs::Code::kCorrupt) std::abort();
      break;
    }
    if (*n == 0) break;
    all.insert(all.end(), piece.begin(), piece.begin() + static_cast<long>(*n));
    if (all.size() > (16u << 20)) break;  // bounded work per input
  }
  daqfs::Status s = ix.Drain();
  if (!s.ok() && s.code() != daqfs::Code::kCorrupt) std::abort();
  for (const daqfs::Bz2Block& b : ix.blocks()) {
    std::vector<uint8_t> out(b.uncompressed_size);
    daqfs::Status d = daqfs::DecodeBz2Block(read, b, out, "fuzz.bz2");
    if (!d.ok()) std::abort();  // it decoded once, from the same bytes
    if (b.uncompressed_offset + b.uncompressed_size <= all.size() &&
        std::memcmp(out.data(), all.data() + b.uncompressed_offset, out.size()) != 0) {
      std::abort();
    }
  }
  return 0;
}
