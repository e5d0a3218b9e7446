// libFuzzer target for the xz block index (ReadXzBlocks: liblzma's file info decoder over our
// reads, then our checks that the blocks fit the file) and the block decoder (DecodeXzBlock:
// our parse of what the index says, then liblzma's block header and block decoders). Input: an
// xz file. Besides not crashing, every result must be ok or kCorrupt.
//
// Seeds (corpus/xz_blocks): small files written by xz (see corpus/xz_blocks/PROVENANCE.txt).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backends/archive/xz_blocks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  daqfs::CompressedReadFn read = [data, size](uint64_t off,
                                              std::span<uint8_t> out) -> daqfs::Result<size_t> {
    if (off >= size) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), size - off);
    std::memcpy(out.data(), data + off, n);
    return n;
  };
  daqfs::Result<std::vector<daqfs::XzBlock>> blocks = daqfs::ReadXzBlocks(read, size, "fuzz.xz");
  if (!blocks.ok()) {
    if (blocks.status().code() != daqfs::Code::kCorrupt) std::abort();
    return 0;
  }
  for (const daqfs::XzBlock& b : *blocks) {
    if (b.uncompressed_size > (4u << 20)) continue;  // bounded work per input
    std::vector<uint8_t> out(b.uncompressed_size);
    daqfs::Status s = daqfs::DecodeXzBlock(read, b, out, "fuzz.xz");
    if (!s.ok() && s.code() != daqfs::Code::kCorrupt) std::abort();
  }
  return 0;
}
