// daqfs-cache: look after a daqfs SSD cache folder, and warm it through a mount.
//   daqfs-cache stats [--dir DIR | --config FILE]
//   daqfs-cache clear [--dir DIR | --config FILE]
//   daqfs-cache warm PATH...
#include <dirent.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/archive/archive_source_type.h"
#include "cache/blob_store.h"
#include "fs/config.h"
#include "fs/human_bytes.h"
#include "fs/status.h"
#include "tools/daqfs_cache_args.h"

namespace daqfs {
namespace {

// What a cache folder holds, by kind: files and apparent bytes (st_size; symlinks count their
// own size, folders nothing), so the total equals the sum `du -sb --apparent-size` takes over
// the folder's files.
struct FolderCount {
  const char* kind;
  uint64_t files = 0, bytes = 0;
};
enum Kind { kBlocks, kBlobs, kState, kTemp, kLru, kLock, kOther, kKinds };

Kind KindOf(const std::string& rel) {
  auto under = [&](const char* prefix) { return rel.rfind(prefix, 0) == 0; };
  if (under("v1/blocks/")) return kBlocks;
  if (under("v1/tmp/") || under("blobs-v1/tmp/")) return kTemp;
  if (rel == "v1/lru" || rel == "v1/lru.tmp") return kLru;
  if (rel == "v1/lock") return kLock;
  if (under("blobs-v1/ns/")) return kBlobs;
  if (under("state-v1/")) return kState;
  // Folders of daqfs before the blob store (archive indexes and spills): blobs by another name.
  if (under("index-v1/") || under("spill-v1/")) return kBlobs;
  return kOther;
}

int Stats(const std::string& dir) {
  namespace fs = std::filesystem;
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "daqfs-cache: no daqfs cache folder at %s\n", dir.c_str());
    return 3;
  }
  FolderCount counts[kKinds] = {{"blocks"}, {"blobs"}, {"state"}, {"temp files"},
                                {"lru"},    {"lock"},  {"other"}};
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::error_code ec;
  // Symlinks are not followed: they count as files of their own size, folders count nothing.
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat fst;
    if (lstat(it->path().c_str(), &fst) != 0 || S_ISDIR(fst.st_mode)) continue;
    FolderCount& c = counts[KindOf(it->path().lexically_relative(root).string())];
    c.files++;
    c.bytes += static_cast<uint64_t>(fst.st_size);
  }
  if (ec) {
    std::fprintf(stderr, "daqfs-cache: cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
    return 3;
  }
  std::printf("folder      %s\nformat      %s/v1\n", dir.c_str(), root.c_str());
  FolderCount total{"total"};
  auto row = [](const FolderCount& c) {
    std::printf("%-12s%llu files, %llu bytes (%s)\n", c.kind,
                static_cast<unsigned long long>(c.files), static_cast<unsigned long long>(c.bytes),
                HumanBytes(static_cast<double>(c.bytes)).c_str());
  };
  for (const FolderCount& c : counts) {
    row(c);
    total.files += c.files;
    total.bytes += c.bytes;
  }
  row(total);
  // Blobs by owner (the source whose namespace holds them).
  if (Result<BlobSummary> blobs = SummarizeBlobs(root); blobs.ok()) {
    for (const auto& [ns, count] : blobs->by_namespace) {
      std::printf("  blobs of %s: %llu files, %llu bytes (%s)\n", ns.c_str(),
                  static_cast<unsigned long long>(count.first),
                  static_cast<unsigned long long>(count.second),
                  HumanBytes(static_cast<double>(count.second)).c_str());
    }
  }
  return 0;
}

// Removes everything below `path` (not `path` itself). Returns files removed.
uint64_t RemoveBelow(const std::string& path) {
  uint64_t n = 0;
  DIR* d = opendir(path.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string full = path + "/" + name;
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      n += RemoveBelow(full);
      rmdir(full.c_str());
    } else if (unlink(full.c_str()) == 0) {
      ++n;
    }
  }
  closedir(d);
  return n;
}

int Clear(const std::string& dir) {
  std::string v1 = dir + "/v1";
  int fd = open((v1 + "/lock").c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {0};
      ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
      (void)n;
      std::fprintf(stderr, "daqfs-cache: %s is in use by daqfs (pid %s); unmount it first\n",
                   dir.c_str(), pid[0] ? pid : "?");
      close(fd);
      return 3;
    }
  } else if (access(dir.c_str(), F_OK) != 0) {
    std::fprintf(stderr, "daqfs-cache: %s: %s\n", dir.c_str(), std::strerror(errno));
    return 3;
  }
  // Blocks, blobs, their temp files, the sources' state (and the index/spill folders of older
  // versions).
  uint64_t removed = RemoveBelow(v1 + "/blocks") + RemoveBelow(v1 + "/tmp") +
                     RemoveBelow(dir + "/blobs-v1/ns") + RemoveBelow(dir + "/blobs-v1/tmp") +
                     RemoveBelow(dir + "/state-v1") + RemoveBelow(dir + "/index-v1") +
                     RemoveBelow(dir + "/spill-v1");
  unlink((v1 + "/lru").c_str());
  if (fd >= 0) close(fd);
  std::printf("removed %llu files from %s\n", static_cast<unsigned long long>(removed),
              dir.c_str());
  return 0;
}

struct WarmState {
  std::vector<std::pair<std::string, uint64_t>> files;
  uint64_t total = 0, done = 0, failed = 0;
  std::chrono::steady_clock::time_point start, last_draw;
};

// Files below `path`, in name order. Symlinks inside are not followed (a member linking to
// /usr/share/doc, or to "..", would lead out of the mount or round in circles), and nothing on
// another filesystem than `path`'s own is entered.
void Collect(const std::string& path, WarmState* w, bool top = true, dev_t dev = 0) {
  struct stat st;
  if ((top ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0) {
    std::fprintf(stderr, "daqfs-cache: %s: %s\n", path.c_str(), std::strerror(errno));
    w->failed++;
    return;
  }
  if (top) dev = st.st_dev;
  if (st.st_dev != dev) return;
  if (S_ISREG(st.st_mode)) {
    w->files.emplace_back(path, st.st_size);
    w->total += st.st_size;
  } else if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && n != ".daqfs") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) Collect(path + "/" + n, w, false, dev);
  }
}

// Progress on stderr, only when it is a terminal (into a pipe or a log, only the summary).
void Draw(WarmState* w, bool final) {
  auto now = std::chrono::steady_clock::now();
  if (!final && now - w->last_draw < std::chrono::milliseconds(200)) return;
  w->last_draw = now;
  double secs = std::chrono::duration<double>(now - w->start).count();
  double frac = w->total ? static_cast<double>(w->done) / w->total : 1.0;
  int bar = static_cast<int>(frac * 30);
  std::fprintf(stderr, "\r[%-30s] %5.1f%% %s / %s  %.0f MB/s", std::string(bar, '#').c_str(),
               frac * 100, HumanBytes(w->done).c_str(), HumanBytes(w->total).c_str(),
               secs > 0 ? w->done / secs / 1e6 : 0.0);
  if (final) std::fprintf(stderr, "\n");
}

// The daqfs mount that holds `path` (its mount point), or an error naming what it is instead.
// Looks the path up in /proc/self/mountinfo through libmount: the innermost mount whose target
// is the path or one of its parents, and its type must be fuse.daqfs.
Result<std::string> DaqfsMountOf(const std::string& path) {
  char real[PATH_MAX];
  if (!realpath(path.c_str(), real)) return ErrnoStatus(errno, path);
  struct libmnt_table* tb = mnt_new_table_from_file("/proc/self/mountinfo");
  if (!tb) return Status(Code::kIo, "cannot read /proc/self/mountinfo");
  struct libmnt_fs* fs = mnt_table_find_mountpoint(tb, real, MNT_ITER_BACKWARD);
  std::string target = fs && mnt_fs_get_target(fs) ? mnt_fs_get_target(fs) : "";
  std::string type = fs && mnt_fs_get_fstype(fs) ? mnt_fs_get_fstype(fs) : "";
  mnt_unref_table(tb);
  if (type != "fuse.daqfs") {
    return Invalid(path + " is not inside a daqfs mount (it is on " +
                   (target.empty() ? "an unknown mount" : target) +
                   (type.empty() ? "" : ", type " + type) + ")");
  }
  return target;
}

int Warm(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    Result<std::string> mount = DaqfsMountOf(p);
    if (!mount.ok()) {
      std::fprintf(stderr, "daqfs-cache: warm: %s\n", mount.status().message().c_str());
      return 1;
    }
  }
  WarmState w;
  for (const std::string& p : paths) Collect(p, &w);
  w.start = w.last_draw = std::chrono::steady_clock::now();
  std::vector<char> buf(1 << 20);
  bool tty = isatty(2);
  const char* nl = tty ? "\n" : "";  // leave the progress line before a message
  for (const auto& [path, size] : w.files) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "%sdaqfs-cache: %s: %s\n", nl, path.c_str(), std::strerror(errno));
      w.failed++;
      continue;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::fprintf(stderr, "%sdaqfs-cache: %s: %s\n", nl, path.c_str(), std::strerror(errno));
        w.failed++;
        break;
      }
      if (n == 0) break;
      w.done += n;
      if (tty) Draw(&w, false);
    }
    close(fd);
  }
  if (tty) Draw(&w, true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - w.start).count();
  std::printf("warmed %zu files, %s in %.1f s (%.0f MB/s), %llu failed\n", w.files.size(),
              HumanBytes(w.done).c_str(), secs, secs > 0 ? w.done / secs / 1e6 : 0.0,
              static_cast<unsigned long long>(w.failed));
  return w.failed ? 4 : 0;
}

int Main(int argc, char** argv) {
  CacheArgs args;
  if (int rc = ReportOutcome(ParseCacheArgs(argc, argv, &args)); rc >= 0) return rc;
  if (args.command == "warm") return Warm(args.paths);
  std::string dir = args.dir, config = args.config;
  if (dir.empty() && !config.empty()) {
    SourceTypeRegistry types;  // the file's [source] sections are checked as the daemon does
    if (Status s = RegisterArchiveSourceType(types); !s.ok()) {
      std::fprintf(stderr, "daqfs-cache: %s\n", s.message().c_str());
      return 2;
    }
    Result<Config> c = LoadConfig(config, types);
    if (!c.ok()) {
      std::fprintf(stderr, "daqfs-cache: %s\n", c.status().message().c_str());
      return 2;
    }
    dir = c->cache.dir;
  }
  if (dir.empty()) dir = DefaultCacheDir();
  return args.command == "stats" ? Stats(dir) : Clear(dir);
}

}  // namespace
}  // namespace daqfs

int main(int argc, char** argv) { return daqfs::Main(argc, argv); }
