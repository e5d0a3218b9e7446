// libFuzzer target for the TIFF pages reader (DescribeTiff, TiffPageUnits: our use of libtiff
// on outside files). Input: a TIFF file, written to a memfd (libtiff reads files). Besides not
// crashing (libtiff included), every result must be ok, kCorrupt or kInvalid, and a decoded
// page must be exactly its frame size.
//
// Seeds (corpus/tiff_pages): small files written by tifffile and PIL (see
// corpus/tiff_pages/PROVENANCE.txt).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/tiff/tiff_pages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("fuzz.tif", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  daqfs::Result<daqfs::TiffLayout> l = daqfs::DescribeTiff(path);
  if (!l.ok()) {
    const daqfs::Code c = l.status().code();
    if (c != daqfs::Code::kCorrupt && c != daqfs::Code::kInvalid) std::abort();
    return 0;
  }
  if (l->FrameBytes() > (4u << 20)) return 0;  // bounded work per input
  daqfs::TiffPageUnits units(path, *l);
  std::vector<uint8_t> page(l->FrameBytes());
  for (uint64_t i = 0; i < units.BlockCount() && i < 16; ++i) {
    daqfs::Status s = units.ReadBlock(i, page);
    if (!s.ok() && s.code() != daqfs::Code::kCorrupt && s.code() != daqfs::Code::kInvalid) {
      std::abort();
    }
  }
  return 0;
}
