#include "fs/backend.h"

#include <algorithm>

namespace daqfs {

std::vector<DirEntry> Backend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  bool found = false;
  Status s = ReadDir(dir, 0, [&](const DirEntry& e, uint64_t) {
    if (found) {
      if (e.attr.type == NodeType::kFile) out.push_back(e);
      return out.size() < max;
    }
    found = e.name == name;
    return true;
  });
  (void)s;  // a listing error only means no sibling prefetch
  return out;
}

}  // namespace daqfs
