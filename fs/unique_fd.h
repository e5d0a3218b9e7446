// UniqueFd: RAII owner of a POSIX file descriptor, plus pread/stat helpers that return Status.
//
// Thread safety: a UniqueFd may be used for concurrent PreadFull calls (pread has no shared
// offset); moving or resetting it concurrently is not allowed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "fs/status.h"

namespace daqfs {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// Opens `path` read-only with O_CLOEXEC.
Result<UniqueFd> OpenReadOnly(const std::string& path);

// Reads up to out.size() bytes at `offset`, retrying on EINTR and short reads. Returns the number
// of bytes read, which is smaller than requested only at end of file.
Result<size_t> PreadFull(int fd, uint64_t offset, std::span<uint8_t> out, const std::string& what);

// A random-access reader of `fd` (PreadFull at any offset), the form the tar and zstd index
// parsers read through. `fd` must stay open while the reader is used.
std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> PreadReader(
    int fd, std::string what);

// Stable identity of a file's content: device, inode, size, mtime and ctime in nanoseconds.
std::string FileIdentity(const struct stat& st);

}  // namespace daqfs
