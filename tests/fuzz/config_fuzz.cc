// libFuzzer target for the INI configuration reader (inih plus daqfs's line-counting reader and
// key validation). Besides not crashing: an error names the file and, where it is about a line,
// a line that exists; a configuration that parses formats (FormatConfig, as .daqfs/config shows
// it) into text that parses again to the same sources (names and the type's own keys).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "backends/archive/archive_source_type.h"
#include "backends/stream/stream_source_type.h"
#include "backends/tiff/tiff_source_type.h"
#include "fs/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The archive, tiff and stream types read their source keys, as in the daemon.
  daqfs::SourceTypeRegistry types;
  if (!daqfs::RegisterArchiveSourceType(types).ok()) std::abort();
  if (!daqfs::RegisterStreamSourceType(types).ok()) std::abort();
  if (!daqfs::RegisterTiffSourceType(types).ok()) std::abort();
  daqfs::Result<daqfs::Config> c = daqfs::ParseConfig(text, "fuzz.ini", types);
  if (!c.ok()) {
    const std::string& m = c.status().message();
    if (m.rfind("fuzz.ini", 0) != 0) std::abort();
    if (m.size() > 9 && m[8] == ':' && m[9] >= '0' && m[9] <= '9') {
      size_t line = std::strtoull(m.c_str() + 9, nullptr, 10);
      size_t lines = 1;
      for (char ch : text) lines += ch == '\n';
      if (line == 0 || line > lines) std::abort();
    }
    return 0;
  }
  std::string formatted = daqfs::FormatConfig(*c);
  daqfs::Result<daqfs::Config> again = daqfs::ParseConfig(formatted, "formatted.ini", types);
  if (!again.ok() || again->sources.size() != c->sources.size()) std::abort();
  for (size_t i = 0; i < c->sources.size(); ++i) {
    if (again->sources[i].name != c->sources[i].name ||
        again->sources[i].source_type->FormatKeys(*again->sources[i].options) !=
            c->sources[i].source_type->FormatKeys(*c->sources[i].options)) {
      std::abort();
    }
  }
  return 0;
}
