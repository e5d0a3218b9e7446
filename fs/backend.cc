#include "fs/backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace daqfs {
namespace {
std::string Octal(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m));
  return buf;
}
}  // namespace

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

Status CheckBackingFileAccess(const Caller& caller, int fd, const std::string& path) {
  if (caller.uid == 0) return Status::Ok();
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, path);
  if (!MayRead(caller, st.st_uid, st.st_gid, st.st_mode)) {
    return Status(Code::kPermission, path + ": uid " + std::to_string(caller.uid) +
                                         " may not read it (mode " + Octal(st.st_mode & 07777) +
                                         ", owner " + std::to_string(st.st_uid) + ":" +
                                         std::to_string(st.st_gid) + ")");
  }
  // Every folder on the way needs the search bit, as path resolution would ask.
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    struct stat ds;
    if (stat(dir.c_str(), &ds) != 0) return ErrnoStatus(errno, dir);
    if (!MayAccess(caller, ds.st_uid, ds.st_gid, ds.st_mode, X_OK)) {
      return Status(Code::kPermission,
                    path + ": uid " + std::to_string(caller.uid) + " may not search " + dir);
    }
  }
  struct stat root;
  if (stat("/", &root) == 0 && !MayAccess(caller, root.st_uid, root.st_gid, root.st_mode, X_OK)) {
    return Status(Code::kPermission,
                  path + ": uid " + std::to_string(caller.uid) + " may not search /");
  }
  return Status::Ok();
}

}  // namespace daqfs
