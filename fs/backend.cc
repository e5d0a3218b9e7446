#include "fs/backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

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

bool MayAccess(const Caller& caller, uid_t file_uid, gid_t file_gid, mode_t file_mode, int mask) {
  if (caller.uid == 0) return true;
  mode_t want = static_cast<mode_t>(mask & 07);
  if (caller.uid == file_uid) return ((file_mode >> 6) & want) == want;
  bool in_group = caller.gid == file_gid || std::find(caller.groups.begin(), caller.groups.end(),
                                                      file_gid) != caller.groups.end();
  if (in_group) return ((file_mode >> 3) & want) == want;
  return (file_mode & want) == want;
}

bool MayRead(const Caller& caller, uid_t file_uid, gid_t file_gid, mode_t file_mode) {
  return MayAccess(caller, file_uid, file_gid, file_mode, R_OK);
}

}  // namespace daqfs
