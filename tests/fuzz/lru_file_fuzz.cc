// libFuzzer target for the SSD tier's saved LRU order (v1/lru) and the block file names found
// by readdir at start-up: arbitrary bytes never crash the parsers, the LRU parse is exact
// (size / 8 entries, re-encoding gives the input without its partial tail), and a file name
// that parses is the canonical name of what it parsed to.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "cache/disk_block_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint64_t> order = daqfs::ParseLruFile(std::span<const uint8_t>(data, size));
  if (order.size() != size / 8) std::abort();
  std::vector<uint8_t> again = daqfs::EncodeLruFile(order);
  if (again.size() != size / 8 * 8 ||
      (size >= 8 && std::memcmp(again.data(), data, again.size()))) {
    std::abort();
  }
  std::string_view name(reinterpret_cast<const char*>(data), size);
  uint64_t hash, len;
  if (daqfs::ParseBlockFileName(name, &hash, &len) && daqfs::BlockFileName(hash, len) != name) {
    std::abort();
  }
  unsigned shard;
  if (daqfs::ParseShardName(name, &shard) && daqfs::ShardName(shard) != name) std::abort();
  return 0;
}
