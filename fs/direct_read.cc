#include "fs/direct_read.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "fs/blocking.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451  // x86-64, arm64 and the other unified-table ABIs (Linux 6.5)
#endif

namespace daqfs {
namespace {

constexpr uint64_t kAlign = 4096;  // offsets, lengths and memory: any disk's logical block
// A thread keeps a buffer up to this size between reads.
constexpr size_t kKeptBytes = 16u << 20;

// Linux's struct cachestat_range and struct cachestat (include/uapi/linux/mman.h, 6.5).
struct CacheStatRange {
  uint64_t off;
  uint64_t len;
};
struct CacheStat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

// Whether the kernel has cachestat(2) (Linux 6.5): asked once, with a descriptor that cannot be
// valid (EBADF: it has; ENOSYS: it has not).
bool HasCachestat() {
  static const bool has = [] {
    CacheStatRange range{0, 1};
    CacheStat cs{};
    return syscall(__NR_cachestat, -1, &range, &cs, 0) != 0 && errno == EBADF;
  }();
  return has;
}

bool LocalDiskFs(int fd) {
  struct statfs sf {};
  if (fstatfs(fd, &sf) != 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

struct ThreadBuffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  ~ThreadBuffer() { std::free(data); }
  bool Reserve(size_t want) {
    if (size >= want && (size <= kKeptBytes || want > kKeptBytes)) return true;
    std::free(data);
    data = nullptr;
    size = 0;
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, want) != 0) return false;
    data = static_cast<uint8_t*>(p);
    size = want;
    return true;
  }
};

}  // namespace

bool ParseDirectReads(const std::string& text, DirectReads* out) {
  if (text == "auto") {
    *out = DirectReads::kAuto;
  } else if (text == "always") {
    *out = DirectReads::kAlways;
  } else if (text == "never") {
    *out = DirectReads::kNever;
  } else {
    return false;
  }
  return true;
}

const char* DirectReadsName(DirectReads mode) {
  switch (mode) {
    case DirectReads::kAuto:
      return "auto";
    case DirectReads::kAlways:
      return "always";
    case DirectReads::kNever:
      return "never";
  }
  return "auto";
}

UniqueFd OpenDirect(const std::string& path, const struct stat& st, DirectReads mode) {
  if (mode == DirectReads::kNever) return UniqueFd();
  if (mode == DirectReads::kAuto && !HasCachestat()) return UniqueFd();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return UniqueFd();  // EINVAL: the filesystem has no direct I/O
  struct stat now {};
  if (fstat(fd.get(), &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino ||
      !S_ISREG(now.st_mode)) {
    return UniqueFd();
  }
  if (mode == DirectReads::kAuto && !LocalDiskFs(fd.get())) return UniqueFd();
  return fd;
}

bool WantDirectRead(int fd, uint64_t offset, uint64_t length, DirectReads mode) {
  if (mode == DirectReads::kNever || length < kMinDirectRead) return false;
  if (mode == DirectReads::kAlways) return true;
  if (!HasCachestat()) return false;
  CacheStatRange range{offset, length};
  CacheStat cs{};
  if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0) return false;
  // Not all of it: pages the kernel's read-ahead brought in around other reads (HDF5 metadata
  // near a chunk) must not send every chunk after them through the page cache.
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t pages = (offset + length + page - 1) / page - offset / page;
  return cs.nr_cache < pages;
}

Result<std::span<const uint8_t>> DirectRead(int direct_fd, uint64_t offset, size_t length,
                                            const std::string& what) {
  thread_local ThreadBuffer buf;
  const uint64_t lo = offset & ~(kAlign - 1);
  const uint64_t hi = (offset + length + kAlign - 1) & ~(kAlign - 1);
  const size_t want = static_cast<size_t>(hi - lo);
  if (!buf.Reserve(want)) return Status(Code::kNoMemory, "direct read of " + what);
  BlockingScope blocking;
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(direct_fd, buf.data + done, want - done, static_cast<off_t>(lo + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        return Status(Code::kNotSupported, what + ": no direct I/O");
      }
      return ErrnoStatus(errno, "read " + what + " at offset " + std::to_string(lo + done));
    }
    done += static_cast<size_t>(n);
    // A short read is the end of the file (the next offset would not be aligned anyway).
    if (n == 0 || static_cast<size_t>(n) % kAlign != 0) break;
  }
  const size_t skip = static_cast<size_t>(offset - lo);
  const size_t got = done > skip ? std::min(done - skip, length) : 0;
  return std::span<const uint8_t>(buf.data + skip, got);
}

}  // namespace daqfs
