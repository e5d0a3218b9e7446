// HumanBytes: "12.3 MiB" for .daqfs/stats and the command-line tools' progress bars and summaries.
#pragma once

#include <cstdio>
#include <string>

namespace daqfs {

inline std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace daqfs
