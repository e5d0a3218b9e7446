#include "fs/unique_fd.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "fs/blocking.h"

namespace daqfs {

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> OpenReadOnly(const std::string& path) {
  // O_NONBLOCK: a FIFO put where a file was expected must not hang the caller.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, "open " + path);
  return UniqueFd(fd);
}

Result<size_t> PreadFull(int fd, uint64_t offset, std::span<uint8_t> out, const std::string& what) {
  size_t done = 0;
  // On a pool's worker, what the page cache holds is copied without blocking (RWF_NOWAIT);
  // only a read that must wait for storage opens a BlockingScope, so that the pool runs another
  // worker meanwhile (waking one for a read that takes microseconds would cost more than it
  // gains). Filesystems without RWF_NOWAIT answer EOPNOTSUPP: every read counts as blocking.
  if (BlockingObserved()) {
    while (done < out.size()) {
      iovec v{out.data() + done, out.size() - done};
      ssize_t n = ::preadv2(fd, &v, 1, static_cast<off_t>(offset + done), RWF_NOWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return done;  // end of file
      if (n < 0) break;         // not cached (EAGAIN), not supported, or an error: the loop below
      done += static_cast<size_t>(n);
    }
    if (done == out.size()) return done;
  }
  BlockingScope blocking;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read " + what + " at offset " + std::to_string(offset + done));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteAll(int fd, std::span<const uint8_t> data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write " + what);
    }
    if (n == 0) return IoError("write " + what + ": no progress");
    data = data.subspan(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view text, const std::string& what) {
  return WriteAll(fd, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), what);
}

Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> data, const std::string& what) {
  uint64_t at = offset;
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write " + what + " at offset " + std::to_string(at));
    }
    if (n == 0)
      return IoError("write " + what + " at offset " + std::to_string(at) + ": no progress");
    data = data.subspan(static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

std::function<Result<size_t>(uint64_t, std::span<uint8_t>)> PreadReader(int fd, std::string what) {
  return [fd, what = std::move(what)](uint64_t offset, std::span<uint8_t> out) {
    return PreadFull(fd, offset, out, what);
  };
}

std::string FileIdentity(const struct stat& st) {
  char buf[160];
  std::snprintf(
      buf, sizeof buf, "%llx:%llx:%llu:%lld.%09ld:%lld.%09ld",
      static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
      static_cast<unsigned long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
      st.st_mtim.tv_nsec, static_cast<long long>(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  return buf;
}

}  // namespace daqfs
