// File helpers of the cache folder (SSD tier and blob store): folder walking and creation,
// whole-iovec reads and writes, the folder lock.
//
// Every function returns 0 or an errno (or a Status) and never throws; none keeps state.
//
// Thread safety: reentrant (they touch only the paths and descriptors given).
#pragma once

#include <dirent.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

// Calls fn(name, d_type) for every entry of `path` except "." and "..". Returns 0 or an errno.
template <typename Fn>
int ForEachEntry(const std::string& path, Fn fn) {
  UniqueDir dir(opendir(path.c_str()));
  if (!dir) return errno;
  for (;;) {
    errno = 0;
    dirent* e = readdir(dir.get());
    if (e == nullptr) return errno;
    std::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    fn(name, e->d_type);
  }
}

// Removes a file or a whole tree. Returns 0 (also when it did not exist) or an errno.
int RemoveTree(const std::string& path);

// mkdir -p: missing parents get 0777 (less umask), `path` itself `mode`. Existing folders keep
// their mode. Returns 0 or an errno.
int MakeDirs(const std::string& path, mode_t mode);

// mkdir that tells whether it created the folder. Returns 0 or an errno.
int MakeDir(const std::string& path, mode_t mode, bool* created);

// preadv until the iovecs are full or end of file. Returns the bytes read or -1 (errno set).
// The iovecs are consumed (modified).
ssize_t PreadvFull(int fd, iovec* iov, int count, off_t offset);

// pwritev everything at `offset`. Returns 0 or an errno. The iovecs are consumed.
int PwritevFull(int fd, iovec* iov, int count, off_t offset = 0);

// Writes `bytes` to a new file `tmp` (O_EXCL, 0600) and renames it to `path`. On failure the
// temp file is removed and `*failed_op` names the step ("create", "write", "rename").
// Returns 0 or an errno.
int WriteFileAtomically(const std::string& tmp, const std::string& path, const void* bytes,
                        size_t size, const char** failed_op);

// Reads a whole (small) file. Returns 0 or an errno.
int ReadWholeFile(const std::string& path, std::string* out);

// Takes an exclusive flock on `lock_path` (created 0600) and writes our pid into it. `what`
// names the guarded folder in the message when another process holds it (kUnavailable, naming
// that pid).
Result<UniqueFd> LockFolder(const std::string& lock_path, const std::string& what);

}  // namespace daqfs
