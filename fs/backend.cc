#include "fs/backend.h"

#include <algorithm>

namespace daqfs {

bool MayRead(const Caller& caller, uid_t file_uid, gid_t file_gid, mode_t file_mode) {
  if (caller.uid == 0) return true;
  if (caller.uid == file_uid) return (file_mode & 0400) != 0;
  bool in_group = caller.gid == file_gid ||
                  std::find(caller.groups.begin(), caller.groups.end(), file_gid) !=
                      caller.groups.end();
  if (in_group) return (file_mode & 0040) != 0;
  return (file_mode & 0004) != 0;
}

}  // namespace daqfs
