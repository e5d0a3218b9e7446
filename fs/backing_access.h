// The access check every backend makes when a file that shows a backing file's bytes is opened:
// may `caller`, right now, open the backing file for reading as the kernel would decide it?
//
// How: a daemon running as root asks the kernel itself. The checking thread takes the caller's
// filesystem uid, gid and supplementary groups (setfsuid/setfsgid/setgroups as raw system calls,
// which change only the calling thread), opens the backing file by its canonical path without
// following any symlink (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), and switches
// back. So the kernel's discretionary rules count: owner, group and other bits, ACLs, every
// folder on the way, mount options. (An LSM such as SELinux judges the daemon, not the caller.) The
// file opened must then be the very file daqfs reads (same device and inode): an archive moved or
// replaced after indexing is refused until it is indexed again. Without the right to switch ids (a
// daemon that is not root, or one whose capability set lacks CAP_SETUID/CAP_SETGID), the same
// decision is made from the file's current owner and mode and the search bits of every folder of
// its real path (symlinks resolved); ACLs are then not seen. A caller that is the daemon's own uid
// opens as itself.
//
// Thread safety: CheckBackingFileAccess may run on many threads at once; the ids it switches are
// the calling thread's own, restored before it returns.
#pragma once

#include <string>

#include "fs/backend.h"
#include "fs/status.h"

namespace daqfs {

// Checks that `caller` may read the backing file at `path` that daqfs has open as `fd`. `path`
// must be the canonical absolute path (realpath) taken when the file was opened: the check
// follows no symlink, so a symlink put on the way since is refused rather than followed.
// Root passes at once. Errors: kPermission with a message naming the file, the uid and the
// reason (the kernel's errno, or the mode); kIo when `fd` cannot be examined.
Status CheckBackingFileAccess(const Caller& caller, int fd, const std::string& path);

// The same decision without switching ids (the fallback described above), apart for tests.
Status CheckBackingFileAccessByMode(const Caller& caller, int fd, const std::string& path);

}  // namespace daqfs
