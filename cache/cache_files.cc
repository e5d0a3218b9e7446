#include "cache/cache_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "fs/log.h"

namespace daqfs {
namespace {

// Advances an iovec array past `n` bytes.
void Advance(iovec** iov, int* count, size_t n) {
  while (*count > 0 && n >= (*iov)->iov_len) {
    n -= (*iov)->iov_len;
    ++*iov;
    --*count;
  }
  if (*count > 0 && n > 0) {
    (*iov)->iov_base = static_cast<char*>((*iov)->iov_base) + n;
    (*iov)->iov_len -= n;
  }
}

// Reads the pid a lock file's owner wrote into it; 0 if none.
long ReadLockPid(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return 0;
  char buf[32] = {};
  ssize_t n = pread(fd.get(), buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  return std::strtol(buf, nullptr, 10);
}

}  // namespace

int RemoveTree(const std::string& path) {
  if (unlink(path.c_str()) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return errno;
  std::vector<std::string> children;
  int err =
      ForEachEntry(path, [&](std::string_view n, unsigned char) { children.emplace_back(n); });
  if (err != 0) return err;
  for (const std::string& c : children) {
    if (int e = RemoveTree(path + "/" + c); e != 0) return e;
  }
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) return errno;
  return 0;
}

int MakeDirs(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0) return 0;
  if (errno == EEXIST) return 0;
  if (errno != ENOENT) return errno;
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return ENOENT;
  if (int err = MakeDirs(path.substr(0, slash), 0777); err != 0) return err;
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return 0;
  return errno;
}

int MakeDir(const std::string& path, mode_t mode, bool* created) {
  *created = mkdir(path.c_str(), mode) == 0;
  if (*created || errno == EEXIST) return 0;
  return errno;
}

ssize_t PreadvFull(int fd, iovec* iov, int count, off_t offset) {
  ssize_t done = 0;
  Advance(&iov, &count, 0);  // drops empty leading entries
  while (count > 0) {
    ssize_t n = preadv(fd, iov, count, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += n;
    Advance(&iov, &count, static_cast<size_t>(n));
  }
  return done;
}

int PwritevFull(int fd, iovec* iov, int count, off_t offset) {
  Advance(&iov, &count, 0);  // drops empty leading entries
  while (count > 0) {
    ssize_t n = pwritev(fd, iov, count, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    offset += n;
    Advance(&iov, &count, static_cast<size_t>(n));
  }
  return 0;
}

int WriteFileAtomically(const std::string& tmp, const std::string& path, const void* bytes,
                        size_t size, const char** failed_op) {
  *failed_op = "create";
  UniqueFd fd(open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno;
  iovec iov{const_cast<void*>(bytes), size};
  *failed_op = "write";
  int err = PwritevFull(fd.get(), &iov, 1);
  if (err == 0 && close(fd.Release()) != 0) err = errno;
  if (err == 0 && rename(tmp.c_str(), path.c_str()) != 0) {
    *failed_op = "rename";
    err = errno;
  }
  if (err != 0) unlink(tmp.c_str());
  return err;
}

int ReadWholeFile(const std::string& path, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out->append(buf, static_cast<size_t>(n));
  }
}

Result<UniqueFd> LockFolder(const std::string& lock_path, const std::string& what) {
  // Read-only descriptor: flock does not need write access, and an fd open for writing would
  // keep an administrator from remounting the folder read-only.
  UniqueFd fd(open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "cannot open " + lock_path);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      long owner = ReadLockPid(lock_path);
      return Status(Code::kUnavailable, "cache folder " + what +
                                            " is in use by another daqfs (pid " +
                                            (owner > 0 ? std::to_string(owner) : "unknown") + ")");
    }
    return ErrnoStatus(errno, "cannot lock " + lock_path);
  }
  UniqueFd w(open(lock_path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (w.valid()) {
    std::string text = std::to_string(getpid()) + "\n";
    if (Status s = WriteAll(w.get(), text, lock_path); !s.ok()) {
      LogDebug("disk cache: cannot write pid: " + s.ToString());
    }
  }
  return fd;
}

}  // namespace daqfs
