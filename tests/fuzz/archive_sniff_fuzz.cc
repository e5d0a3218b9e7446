// libFuzzer target for the archive sniffer: the input is a file's first bytes (and, from its
// first byte, a claimed file size). Besides not crashing: an archive is never described as
// something else, and a description is never empty.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "backends/archive/archive_sniff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> head(data, size < 512 ? size : 512);
  const uint64_t claimed = uint64_t{size} + uint64_t{size ? data[0] : 0u} * 4096;
  for (uint64_t file_size : {uint64_t{size}, claimed}) {
    bool archive = daqfs::LooksLikeArchive(head, file_size);
    std::string what = daqfs::DescribeFileHead(head, file_size);
    if (what.empty()) std::abort();
    bool says_archive = what == "a tar archive" || what == "zstd-compressed data";
    if (file_size > 0 && archive != says_archive) std::abort();
  }
  return 0;
}
