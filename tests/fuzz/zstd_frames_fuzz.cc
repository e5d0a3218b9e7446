// libFuzzer target for the zstd frame index and seek-table parser: the input is the whole
// compressed stream, served by an in-memory reader. Besides not crashing, checks the invariants
// callers rely on: frames lie inside the stream in order without overlap, a seek-table index is
// contiguous and ends at the table, and every frame of bounded size decodes (or fails cleanly)
// with DecodeZstdFrame or StreamZstdFrame.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "backends/common/zstd_frames.h"

namespace {

constexpr uint64_t kMaxDecode = 16 << 20;

void CheckIndex(const daqfs::ZstdIndex& index, const uint8_t* data, size_t size,
                const daqfs::CompressedReadFn& read) {
  uint64_t end = 0, doff = 0;
  bool all_known = true;
  for (const daqfs::ZstdFrame& f : index.frames) {
    if (f.compressed_offset < end || f.compressed_size == 0 || f.compressed_offset > size ||
        f.compressed_size > size - f.compressed_offset) {
      std::abort();
    }
    if (index.from_seek_table && f.compressed_offset != end) std::abort();
    if (all_known && f.decompressed_offset != doff) std::abort();
    end = f.compressed_offset + f.compressed_size;
    doff += f.decompressed_size;
    all_known = all_known && f.content_size_known;

    const std::span<const uint8_t> frame(data + f.compressed_offset, f.compressed_size);
    if (f.content_size_known) {
      if (f.decompressed_size > kMaxDecode) continue;
      std::vector<uint8_t> out(f.decompressed_size);
      const daqfs::Status st = daqfs::DecodeZstdFrame(
          frame, out, f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr, "fuzz");
      if (!st.ok() && st.code() != daqfs::Code::kCorrupt) std::abort();
    } else {
      uint64_t total = 0;
      const daqfs::Status st = daqfs::StreamZstdFrame(
          read, f.compressed_offset, f.compressed_size, 64 * 1024,
          [&](std::span<const uint8_t> piece) {
            if (piece.empty() || piece.size() > 64 * 1024) std::abort();
            total += piece.size();
            return total < kMaxDecode;
          },
          "fuzz");
      if (!st.ok() && st.code() != daqfs::Code::kCorrupt) std::abort();
    }
  }
  if (all_known != index.all_sizes_known) std::abort();
  if (all_known && doff != index.decompressed_size) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  daqfs::CompressedReadFn read = [&](uint64_t off,
                                     std::span<uint8_t> out) -> daqfs::Result<size_t> {
    if (off >= size) return size_t{0};
    const size_t n = std::min<uint64_t>(out.size(), size - off);
    std::memcpy(out.data(), data + off, n);
    return n;
  };
  // An in-memory reader never fails, so the only errors are kNotFound / kCorrupt.
  daqfs::Result<daqfs::ZstdIndex> table = daqfs::ReadSeekTable(read, size);
  if (!table.ok() && table.status().code() != daqfs::Code::kNotFound &&
      table.status().code() != daqfs::Code::kCorrupt) {
    std::abort();
  }
  daqfs::Result<daqfs::ZstdIndex> index = daqfs::IndexZstd(read, size, "fuzz.zst");
  if (!index.ok()) {
    if (index.status().code() != daqfs::Code::kCorrupt) std::abort();
    return 0;
  }
  if (table.ok() != index->from_seek_table) std::abort();
  CheckIndex(*index, data, size, read);
  return 0;
}
