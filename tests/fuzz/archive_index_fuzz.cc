// libFuzzer target for the archive index file parser (ParseArchiveIndex). Each input is tried
// twice: as a whole index file, and as the payload behind a valid header (magic, version,
// length and checksum computed here), so mutations reach the payload parser instead of stopping
// at the checksum. Besides not crashing, an accepted index must serialize to bytes that parse
// back to the same serialization.
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "backends/archive/archive_index.h"

namespace {

void CheckRoundTrip(const daqfs::Result<daqfs::ArchiveIndex>& parsed) {
  if (!parsed.ok()) return;
  std::string bytes = daqfs::SerializeArchiveIndex(*parsed);
  daqfs::Result<daqfs::ArchiveIndex> again = daqfs::ParseArchiveIndex(bytes);
  if (!again.ok() || daqfs::SerializeArchiveIndex(*again) != bytes) std::abort();
}

void AppendU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(daqfs::ParseArchiveIndex(input));
  // Magic and version as the writer puts them: the first 12 bytes of any serialized index.
  static const std::string kHead =
      daqfs::SerializeArchiveIndex(daqfs::ArchiveIndex{}).substr(0, 12);
  std::string file = kHead;
  AppendU64(&file, size);
  AppendU64(&file, XXH64(data, size, 0));
  file.append(input);
  CheckRoundTrip(daqfs::ParseArchiveIndex(file));
  return 0;
}
