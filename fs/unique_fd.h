// UniqueFd: RAII owner of a POSIX file descriptor, plus read/write/stat helpers that return
// Status (the one place that loops over short reads and writes and EINTR).
//
// Thread safety: a UniqueFd may be used for concurrent PreadFull / PwriteAll calls (no shared
// offset); WriteAll calls on one descriptor must not overlap unless the file is O_APPEND and
// each call's bytes may land apart; moving or resetting it concurrently is not allowed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

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

// Writes all of `data` at the descriptor's file offset, retrying on EINTR and short writes (a
// pipe or socket may take less per call). Errors: the failing write's errno as a Status naming
// `what` ("write <what>: ..."); a write that takes nothing is kIo. On error, part of `data` may
// have been written.
Status WriteAll(int fd, std::span<const uint8_t> data, const std::string& what);
Status WriteAll(int fd, std::string_view text, const std::string& what);

// Writes all of `data` at `offset` (pwrite: the file offset is neither used nor moved), retrying
// on EINTR and short writes. Errors as WriteAll, naming the offset that failed.
Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> data, const std::string& what);

// A random-access reader of `fd` (PreadFull at any offset), the form the tar and zstd index
// parsers read through. `fd` must stay open while the reader is used.
std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> PreadReader(
    int fd, std::string what);

// Stable identity of a file's content: device, inode, size, mtime and ctime in nanoseconds.
std::string FileIdentity(const struct stat& st);

}  // namespace daqfs
