// libFuzzer target for the tar header parser: the input is the whole archive, served by an
// in-memory reader. Besides not crashing, checks the invariants callers rely on: every member
// lies inside the archive, has a normalized non-empty path, and end_offset never passes the end.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "backends/archive/tar_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  daqfs::TarReadFn read = [&](uint64_t off, std::span<uint8_t> out) -> daqfs::Result<size_t> {
    if (off >= size) return size_t{0};
    const size_t n = std::min<uint64_t>(out.size(), size - off);
    std::memcpy(out.data(), data + off, n);
    return n;
  };
  daqfs::Result<daqfs::TarIndex> index = daqfs::IndexTar(read, size, "fuzz.tar");
  if (!index.ok()) std::abort();  // an in-memory reader never fails
  if (index->end_offset > size) std::abort();
  for (const daqfs::TarMember& m : index->members) {
    std::string normalized;
    if (!daqfs::NormalizeMemberPath(m.path, &normalized) || normalized != m.path) std::abort();
    if (m.data_offset < m.header_offset + 512 || m.data_offset > size ||
        m.size > size - m.data_offset) {
      std::abort();
    }
    if (m.mode > 07777 || m.mtime.tv_nsec < 0 || m.mtime.tv_nsec >= 1000000000) std::abort();
  }
  return 0;
}
