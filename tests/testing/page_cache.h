// Page-cache facts of the machine a test runs on, found by the test itself (not by the code
// under test), so that expectations follow the machine: tmpfs has O_DIRECT only from Linux 6.6
// and keeps its pages whatever one advises; Linux before 6.5 has no cachestat.
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace daqfs::testing {

// `path` is on a local disk filesystem (ext2/3/4, XFS, Btrfs, F2FS).
inline bool OnLocalDisk(const std::string& path) {
  struct statfs sf {};
  if (statfs(path.c_str(), &sf) != 0) return false;
  auto t = static_cast<unsigned long>(sf.f_type);
  return t == EXT4_SUPER_MAGIC || t == XFS_SUPER_MAGIC || t == BTRFS_SUPER_MAGIC ||
         t == F2FS_SUPER_MAGIC;
}

// The file at `path` can be opened with O_DIRECT.
inline bool DirectIoWorks(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// The kernel has cachestat(2) (Linux 6.5): EBADF for a descriptor that cannot be valid.
inline bool HasCachestat() {
  struct {
    uint64_t off, len;
  } range{0, 1};
  uint64_t cs[5] = {};
  errno = 0;
  return syscall(451, -1, &range, cs, 0) != 0 && errno == EBADF;
}

// Writes the file at `path` back and drops its pages from the page cache (clean pages go).
inline bool EvictFromPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

}  // namespace daqfs::testing
