#include <xxhash.h>

#include "cache/block_cache.h"

namespace daqfs {

std::string BlockKey::Serialize() const { return source + "\n" + std::to_string(index); }

uint64_t BlockKey::Hash() const {
  std::string s = Serialize();
  return XXH3_64bits(s.data(), s.size());
}

}  // namespace daqfs
