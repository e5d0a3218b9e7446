#include "fs/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

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
