#include "fs/backing_access.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "fs/log.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

std::string Octal(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m));
  return buf;
}

std::string Who(const Caller& c) { return "uid " + std::to_string(c.uid); }

// The kernel's mode-bit rule for R_OK/W_OK/X_OK in `mask` (every asked bit must be granted):
// root passes; owner bits, else group bits when the file's group is one of the caller's, else
// other bits. Only the fallback decides this way; ACLs are not seen.
bool MayAccess(const Caller& caller, uid_t file_uid, gid_t file_gid, mode_t file_mode, int mask) {
  if (caller.uid == 0) return true;
  mode_t want = static_cast<mode_t>(mask & 07);
  if (caller.uid == file_uid) return ((file_mode >> 6) & want) == want;
  bool in_group = caller.gid == file_gid || std::find(caller.groups.begin(), caller.groups.end(),
                                                      file_gid) != caller.groups.end();
  if (in_group) return ((file_mode >> 3) & want) == want;
  return (file_mode & want) == want;
}

// Takes the caller's filesystem ids and groups for this thread only, and gives them back. The
// raw system calls matter: glibc's setgroups() would change every thread of the process.
class ThreadCredentials {
 public:
  explicit ThreadCredentials(const Caller& c) {
    saved_uid_ = static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1)));
    saved_gid_ = static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1)));
    int n = getgroups(0, nullptr);
    if (n < 0) return;
    saved_groups_.resize(static_cast<size_t>(n));
    if (n > 0 && getgroups(n, saved_groups_.data()) != n) return;
    if (syscall(SYS_setgroups, c.groups.size(), c.groups.data()) != 0) return;
    groups_set_ = true;
    setfsgid(c.gid);
    setfsuid(c.uid);
    // setfsuid/setfsgid report no errors: read the ids back.
    active_ = static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) == c.uid &&
              static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) == c.gid;
  }
  ~ThreadCredentials() {
    setfsuid(saved_uid_);
    setfsgid(saved_gid_);
    // A worker thread that kept a user's ids would serve later requests with them: a broken
    // invariant, not an error to carry on from.
    if (groups_set_ && syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data()) != 0) {
      std::abort();
    }
    if (static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) != saved_uid_ ||
        static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) != saved_gid_) {
      std::abort();
    }
  }
  ThreadCredentials(const ThreadCredentials&) = delete;
  ThreadCredentials& operator=(const ThreadCredentials&) = delete;
  bool active() const { return active_; }

 private:
  std::vector<gid_t> saved_groups_;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
  bool groups_set_ = false;
  bool active_ = false;
};

// The file at `path` must be the one open as `fd`.
Status SameFile(const struct stat& opened, const struct stat& ours, const std::string& path) {
  if (opened.st_dev != ours.st_dev || opened.st_ino != ours.st_ino) {
    return Status(Code::kPermission, path +
                                         " is no longer the file daqfs indexed (moved or "
                                         "replaced since); refused until it is indexed again");
  }
  return Status::Ok();
}

}  // namespace

Status CheckBackingFileAccessByMode(const Caller& caller, int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, path);
  // The canonical path as recorded: every part must still be what it was (no symlink now), and
  // the file there must be ours.
  std::string r = path;
  for (size_t slash = r.find('/', 1);; slash = r.find('/', slash + 1)) {
    std::string part = slash == std::string::npos ? r : r.substr(0, slash);
    struct stat ps;
    if (lstat(part.c_str(), &ps) != 0) {
      return Status(Code::kPermission, path + ": " + std::strerror(errno));
    }
    if (S_ISLNK(ps.st_mode)) {
      return Status(Code::kPermission, path +
                                           " has a symlink on its way now (changed since it "
                                           "was indexed); refused until it is indexed again");
    }
    if (slash == std::string::npos) {
      if (Status s = SameFile(ps, st, path); !s.ok()) return s;
      break;
    }
  }
  if (!MayAccess(caller, st.st_uid, st.st_gid, st.st_mode, R_OK)) {
    return Status(Code::kPermission, path + ": " + Who(caller) + " may not read it (mode " +
                                         Octal(st.st_mode & 07777) + ", owner " +
                                         std::to_string(st.st_uid) + ":" +
                                         std::to_string(st.st_gid) + ")");
  }
  for (size_t slash = 0; slash != std::string::npos; slash = r.find('/', slash + 1)) {
    std::string dir = slash == 0 ? "/" : r.substr(0, slash);
    struct stat ds;
    if (lstat(dir.c_str(), &ds) != 0) return ErrnoStatus(errno, dir);
    if (!MayAccess(caller, ds.st_uid, ds.st_gid, ds.st_mode, X_OK)) {
      return Status(Code::kPermission, path + ": " + Who(caller) + " may not search " + dir);
    }
  }
  return Status::Ok();
}

Status CheckBackingFileAccess(const Caller& caller, int fd, const std::string& path) {
  if (caller.uid == 0) return Status::Ok();
  struct stat ours;
  if (fstat(fd, &ours) != 0) return ErrnoStatus(errno, path);
  bool as_caller = caller.uid == geteuid();
  std::optional<ThreadCredentials> creds;
  if (!as_caller && geteuid() == 0) {
    creds.emplace(caller);
    as_caller = creds->active();
    if (!as_caller) {
      creds.reset();
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true)) {
        LogWarn(
            "cannot take a caller's ids to check access (no CAP_SETUID/CAP_SETGID?); "
            "deciding by mode bits instead (ACLs are not seen)");
      }
    }
  }
  if (!as_caller) return CheckBackingFileAccessByMode(caller, fd, path);
  // No symlink (and no /proc magic link) is followed: `path` was made canonical when the file
  // was opened, so a symlink on the way now means the path was changed since, and must not lead
  // the check elsewhere (into another user's file by /proc/self/fd, or into a mount that never
  // answers).
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd check(static_cast<int>(syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how)));
  int err = errno;
  creds.reset();  // our own ids again before anything else
  if (!check.valid()) {
    if (err == ELOOP) {
      return Status(Code::kPermission, path +
                                           " has a symlink on its way now (changed since it "
                                           "was indexed); refused until it is indexed again");
    }
    return Status(Code::kPermission,
                  path + ": " + Who(caller) + " may not open it: " + std::strerror(err));
  }
  struct stat opened;
  if (fstat(check.get(), &opened) != 0) return ErrnoStatus(errno, path);
  return SameFile(opened, ours, path);
}

}  // namespace daqfs
