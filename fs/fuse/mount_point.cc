#include "fs/fuse/mount_point.h"

#include <dirent.h>
#include <libmount.h>
#include <limits.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "fs/log.h"

namespace daqfs {
namespace {

struct TableDeleter {
  void operator()(libmnt_table* t) const { mnt_unref_table(t); }
};

// Runs fusermount3 -u -z PATH (a non-root daemon cannot umount2 itself); true on exit 0.
bool LazyFusermount(const std::string& path) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", "--", path.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Names of up to three entries of folder `path` and their count; -1 if it cannot be listed.
long ListSome(const std::string& path, std::string* names) {
  DIR* d = opendir(path.c_str());
  if (!d) return -1;
  long n = 0;
  while (dirent* e = readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    if (n < 3) *names += std::string(n ? ", " : "") + e->d_name;
    ++n;
  }
  closedir(d);
  if (n > 3) *names += ", ...";
  return n;
}

enum class Answer { kLive, kDead, kSilent };

// Asks statfs of `path` in a child process and waits at most `limit`.
Answer ProbeStatfs(const std::string& path,
                   std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  pid_t pid = fork();
  if (pid < 0) return Answer::kLive;  // cannot tell: treat as a live mount (refused)
  if (pid == 0) {
    struct statfs sfs;
    int rc = statfs(path.c_str(), &sfs);
    _exit(rc == 0 ? 0 : (errno == ENOTCONN || errno == ECONNABORTED) ? 1 : 2);
  }
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return WIFEXITED(status) && WEXITSTATUS(status) == 1 ? Answer::kDead : Answer::kLive;
    if (r < 0 && errno != EINTR) return Answer::kLive;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return Answer::kSilent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::optional<MountEntry> FindMount(const std::string& canonical_path) {
  std::unique_ptr<libmnt_table, TableDeleter> table(
      mnt_new_table_from_file("/proc/self/mountinfo"));
  if (!table) return std::nullopt;
  // Without a path cache libmount compares targets as strings and never stats them (a dead
  // FUSE mount would fail every stat).
  libmnt_fs* fs = mnt_table_find_target(table.get(), canonical_path.c_str(), MNT_ITER_BACKWARD);
  if (!fs) return std::nullopt;
  MountEntry m;
  m.target = canonical_path;
  if (const char* t = mnt_fs_get_fstype(fs)) m.fstype = t;
  if (const char* s = mnt_fs_get_source(fs)) m.source = s;
  m.devno = mnt_fs_get_devno(fs);
  return m;
}

bool IsDaqfsMount(const MountEntry& m) { return m.fstype == "fuse.daqfs"; }

Result<std::string> CanonicalMountPoint(const std::string& path) {
  std::string abs = path;
  if (abs.empty()) return Status(Code::kUnavailable, "empty mount point");
  if (abs[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return ErrnoStatus(errno, "working directory");
    abs = std::string(cwd) + "/" + abs;
  }
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  size_t slash = abs.find_last_of('/');
  std::string parent = slash == 0 ? "/" : abs.substr(0, slash);
  std::string base = abs.substr(slash + 1);
  if (base.empty()) return std::string("/");
  if (base == "." || base == "..") {
    char real[PATH_MAX];
    if (!realpath(abs.c_str(), real)) return ErrnoStatus(errno, "mount point " + path);
    return std::string(real);
  }
  char real[PATH_MAX];
  if (!realpath(parent.c_str(), real)) return ErrnoStatus(errno, "mount point " + path);
  std::string r = real;
  std::string candidate = (r == "/" ? "" : r) + "/" + base;
  // A symlink as mount point: the kernel mounts on its target. (A mount point is never a symlink,
  // and is not examined: a stuck FUSE daemon would never answer.)
  struct stat lst;
  if (!FindMount(candidate) && lstat(candidate.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    if (!realpath(candidate.c_str(), real)) return ErrnoStatus(errno, "mount point " + path);
    return std::string(real);
  }
  return candidate;
}

Result<std::string> PrepareMountPoint(const std::string& path, bool allow_nonempty) {
  Result<std::string> canon = CanonicalMountPoint(path);
  if (!canon.ok()) return Status(Code::kUnavailable, canon.status().message());
  const std::string& mnt = *canon;
  std::optional<MountEntry> existing = FindMount(mnt);
  // statfs always reaches a FUSE daemon (stat may be answered from the kernel's attribute
  // cache even after the daemon died), so it tells a dead mount from a live one; it is asked
  // from a child with a time limit, as a stuck daemon or server would never answer.
  Answer answer = existing ? ProbeStatfs(mnt) : Answer::kLive;
  if (answer == Answer::kSilent) {
    return Status(Code::kUnavailable,
                  "mount point " + mnt + " holds a " + existing->fstype +
                      " mount that does not answer (its daemon is stuck); end it with: echo 1 > "
                      "/sys/fs/fuse/connections/" +
                      std::to_string(minor(existing->devno)) + "/abort; fusermount3 -u -z " + mnt);
  }
  if (answer == Answer::kDead) {
    if (!IsDaqfsMount(*existing)) {
      return Status(Code::kUnavailable,
                    "mount point " + mnt + " holds a dead " + existing->fstype +
                        " mount (Transport endpoint is not connected) that daqfs did not make; "
                        "remove it with: fusermount3 -u " +
                        mnt);
    }
    std::string why;
    if (geteuid() == 0) {
      if (umount2(mnt.c_str(), MNT_DETACH) != 0) why = std::strerror(errno);
    } else if (!LazyFusermount(mnt)) {
      why = "fusermount3 -u -z failed";
    }
    if (!why.empty()) {
      return Status(Code::kUnavailable, "mount point " + mnt +
                                            " holds a dead daqfs mount that cannot be removed (" +
                                            why + "); try: fusermount3 -u -z " + mnt);
    }
    LogWarn("mount point " + mnt +
            " held a dead daqfs mount (its daemon was killed); detached it and mounting anew");
    existing = FindMount(mnt);
  }
  struct stat st;
  int rc = stat(mnt.c_str(), &st);
  int err = errno;
  if (rc != 0) return Status(Code::kUnavailable, "mount point " + mnt + ": " + std::strerror(err));
  if (!S_ISDIR(st.st_mode)) {
    return Status(Code::kUnavailable, "mount point " + mnt + " is not a folder");
  }
  if (existing) {
    return Status(Code::kUnavailable,
                  "mount point " + mnt + " is already a mount point (" + existing->fstype +
                      " from " + existing->source + "); daqfs does not stack mounts: unmount it " +
                      "first (fusermount3 -u " + mnt + ") or choose another folder");
  }
  if (!allow_nonempty) {
    std::string names;
    long n = ListSome(mnt, &names);
    if (n > 0) {
      return Status(Code::kUnavailable, "mount point " + mnt + " is not empty (" +
                                            std::to_string(n) + " entries: " + names +
                                            "); the mount would hide them. Choose an empty " +
                                            "folder, or mount over them with -o nonempty");
    }
  }
  return mnt;
}

}  // namespace daqfs
