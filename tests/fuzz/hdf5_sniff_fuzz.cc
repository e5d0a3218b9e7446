// libFuzzer target for the HDF5 sniffer: the input is a whole file (its size is the input's).
// Besides not crashing or reading out of bounds: the answer does not depend on how the bytes
// are read (one read per request, or short reads), a found signature is where it says, and a
// whole file stays whole with bytes appended (HDF5 allows them after the recorded end).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "backends/hdf5/hdf5_sniff.h"

namespace {

daqfs::Hdf5ReadFn Reader(const std::string& bytes, size_t max_piece) {
  return [&bytes, max_piece](uint64_t off, std::span<uint8_t> out) -> daqfs::Result<size_t> {
    if (off >= bytes.size()) return size_t{0};
    size_t n = std::min<size_t>({out.size(), bytes.size() - off, max_piece});
    std::memcpy(out.data(), bytes.data() + off, n);
    return n;
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  uint64_t at = 0;
  daqfs::Result<daqfs::Hdf5Kind> kind = daqfs::SniffHdf5(Reader(bytes, 1 << 20), size, &at);
  if (!kind.ok()) std::abort();
  if (*kind != daqfs::Hdf5Kind::kOther) {
    if (at + 8 > size || std::memcmp(bytes.data() + at, daqfs::kHdf5Signature, 8) != 0) {
      std::abort();
    }
  }
  daqfs::Result<daqfs::Hdf5Kind> again = daqfs::SniffHdf5(Reader(bytes, 1 << 20), size);
  if (!again.ok() || *again != *kind) std::abort();
  if (*kind == daqfs::Hdf5Kind::kHdf5) {
    std::string longer = bytes + std::string(64, '\0');
    daqfs::Result<daqfs::Hdf5Kind> more = daqfs::SniffHdf5(Reader(longer, 1 << 20), longer.size());
    if (!more.ok() || *more != daqfs::Hdf5Kind::kHdf5) std::abort();
  }
  return 0;
}
