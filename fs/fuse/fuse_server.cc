#define FUSE_USE_VERSION 312
#include "fs/fuse/fuse_server.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <sstream>
#include <thread>

#include "fs/fuse/mount_point.h"
#include "fs/log.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

FuseServer* Self(fuse_req_t req) { return static_cast<FuseServer*>(fuse_req_userdata(req)); }
Vfs& V(fuse_req_t req) { return Self(req)->vfs(); }

struct stat ToStat(uint64_t ino, const Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = ino;
  switch (a.type) {
    case NodeType::kDirectory:
      st.st_mode = S_IFDIR;
      break;
    case NodeType::kSymlink:
      st.st_mode = S_IFLNK;
      break;
    case NodeType::kFile:
      st.st_mode = S_IFREG;
      break;
  }
  st.st_mode |= a.mode & 07777;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  // The size tools allocate their read buffer by (cat, cp: at least 128 KiB). Through the page
  // cache, larger buffers only cost a tool that reads many files (cat frames/*.tif maps and
  // faults in a fresh buffer per file): the kernel's read-ahead, not the read size, sets how
  // much is asked of daqfs. A direct-I/O file is asked for exactly what the tool reads: there
  // the largest request the kernel sends (1 MiB) saves round trips (32 of 33 for a 4 MiB frame).
  st.st_blksize = a.type != NodeType::kFile ? 4096 : a.ReadsDirect() ? (1 << 20) : (128 << 10);
  st.st_mtim = a.mtime;
  st.st_ctim = a.mtime;
  st.st_atim = a.mtime;
  return st;
}

// The kernel cache lifetime of a node: its own, at most the mount's entry_timeout.
double TimeoutFor(fuse_req_t req, const Attr& a) {
  double longest = Self(req)->options().entry_timeout;
  return std::isinf(a.cache_seconds) ? longest : std::clamp(a.cache_seconds, 0.0, longest);
}
// Content that never changes while mounted: the kernel keeps its pages (or listing).
bool Immutable(const Attr& a) { return a.cache_seconds == kCacheForever; }

void ReplyStatus(fuse_req_t req, const Status& s) { fuse_reply_err(req, s.ToErrno()); }

// Runs a handler body with the catch-all every request needs; `op` is counted in the stats.
template <typename Fn>
void Guard(fuse_req_t req, Op op, bool replies, Fn&& body) {
  Vfs& vfs = V(req);  // the request is freed by its reply: read it before
  auto start = std::chrono::steady_clock::now();
  bool error = false;
  try {
    error = !body();
  } catch (const std::bad_alloc&) {
    LogError(std::string(OpName(op)) + ": out of memory");
    error = true;
    if (replies) fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    LogError(std::string(OpName(op)) + ": unexpected exception: " + e.what());
    error = true;
    if (replies) fuse_reply_err(req, EIO);
  } catch (...) {
    LogError(std::string(OpName(op)) + ": unexpected exception");
    error = true;
    if (replies) fuse_reply_err(req, EIO);
  }
  vfs.stats().Count(
      op, error, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void OpInit(void* userdata, struct fuse_conn_info* conn) {
  auto* self = static_cast<FuseServer*>(userdata);
  conn->max_background = self->options().max_background;
  conn->congestion_threshold = self->options().max_background * 3 / 4;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
  // libfuse 3.16 and later: files read with direct I/O (Attr::direct_io) may be mapped shared
  // too (Linux 6.6+). Debian 12's libfuse 3.14 cannot ask for it: such mappings fail there.
  if (conn->capable & FUSE_CAP_DIRECT_IO_ALLOW_MMAP) conn->want |= FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
#endif
  // Every listing carries its entries' attributes (READDIRPLUS): a tool that lists a folder and
  // then opens each file (`cat frames/*.tif`, a numpy loop over a glob) needs no lookup round
  // trip per file; the kernel's own choice (READDIRPLUS_AUTO) uses it only for the first batch
  // of a listing unless lookups came in between, as they do not after a shell's glob (2000
  // frames: 1816 lookups; `cat` of them 10% faster with every batch plus). The price: the
  // kernel keeps an inode per listed entry until it forgets it.
  if (self->options().readdirplus_always) conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, Op::kLookup, true, [&] {
    Result<Vfs::Entry> e = V(req).Lookup(parent, name);
    if (!e.ok()) {
      if (e.status().code() == Code::kNotFound) {
        // Negative entries live as long as the folder's listing may be cached (an added name
        // is announced through the Invalidator).
        Result<Attr> pa = V(req).GetAttr(parent);
        if (pa.ok() && !pa->uncached_misses && TimeoutFor(req, *pa) > 0) {
          fuse_entry_param ne;
          std::memset(&ne, 0, sizeof ne);
          ne.entry_timeout = TimeoutFor(req, *pa);
          fuse_reply_entry(req, &ne);
          return false;
        }
      }
      ReplyStatus(req, e.status());
      return false;
    }
    fuse_entry_param ep;
    std::memset(&ep, 0, sizeof ep);
    ep.ino = e->ino;
    ep.generation = 1;
    ep.attr = ToStat(e->ino, e->attr);
    ep.attr_timeout = TimeoutFor(req, e->attr);
    ep.entry_timeout = ep.attr_timeout;
    Vfs& vfs = V(req);
    if (fuse_reply_entry(req, &ep) != 0) vfs.Forget(e->ino, 1);  // request was interrupted
    return true;
  });
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Guard(req, Op::kForget, false, [&] {
    V(req).Forget(ino, nlookup);
    fuse_reply_none(req);
    return true;
  });
}

void OpForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  Guard(req, Op::kForget, false, [&] {
    for (size_t i = 0; i < count; ++i) V(req).Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
    return true;
  });
}

void OpGetAttr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guard(req, Op::kGetAttr, true, [&] {
    Result<Attr> a = V(req).GetAttr(ino);
    if (!a.ok()) {
      ReplyStatus(req, a.status());
      return false;
    }
    struct stat st = ToStat(ino, *a);
    fuse_reply_attr(req, &st, TimeoutFor(req, *a));
    return true;
  });
}

void OpRefuse(fuse_req_t req) {
  Guard(req, Op::kWrite, true, [&] {
    fuse_reply_err(req, EROFS);
    return false;
  });
}

void OpSetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, struct fuse_file_info*) {
  OpRefuse(req);
}
void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { OpRefuse(req); }
void OpMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { OpRefuse(req); }
void OpUnlink(fuse_req_t req, fuse_ino_t, const char*) { OpRefuse(req); }
void OpSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { OpRefuse(req); }
void OpRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned int) {
  OpRefuse(req);
}
void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { OpRefuse(req); }
void OpWrite(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, struct fuse_file_info*) {
  OpRefuse(req);
}
void OpCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, struct fuse_file_info*) {
  OpRefuse(req);
}
void OpSetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  OpRefuse(req);
}
void OpRemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { OpRefuse(req); }
void OpFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, struct fuse_file_info*) {
  OpRefuse(req);
}

void OpAccess(fuse_req_t req, fuse_ino_t ino, int mask) {
  Guard(req, Op::kAccess, true, [&] {
    Result<Attr> a = V(req).GetAttr(ino);
    if (!a.ok()) {
      ReplyStatus(req, a.status());
      return false;
    }
    fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
    return (mask & W_OK) == 0;
  });
}

void OpReadLink(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, Op::kReadLink, true, [&] {
    Result<std::string> t = V(req).ReadLink(ino);
    if (!t.ok()) {
      ReplyStatus(req, t.status());
      return false;
    }
    fuse_reply_readlink(req, t->c_str());
    return true;
  });
}

void OpOpenDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, Op::kOpenDir, true, [&] {
    Result<Attr> a = V(req).GetAttr(ino);
    if (!a.ok()) {
      ReplyStatus(req, a.status());
      return false;
    }
    if (a->type != NodeType::kDirectory) {
      fuse_reply_err(req, ENOTDIR);
      return false;
    }
    fi->fh = 0;
    fi->cache_readdir = Immutable(*a);
    fi->keep_cache = Immutable(*a);
    fuse_reply_open(req, fi);
    return true;
  });
}

void DoReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  Guard(req, Op::kReadDir, true, [&] {
    Vfs& vfs = V(req);
    std::vector<char> buf(size);
    size_t used = 0;
    std::vector<uint64_t> referenced;  // readdirplus entries that carry a lookup reference
    Status s =
        vfs.ReadDir(ino, static_cast<uint64_t>(off), plus,
                    [&](std::string_view name, uint64_t child, const Attr& attr, uint64_t next) {
                      std::string n(name);
                      struct stat st = ToStat(child, attr);
                      size_t need;
                      bool dot = (n == "." || n == "..");
                      if (plus) {
                        fuse_entry_param ep;
                        std::memset(&ep, 0, sizeof ep);
                        ep.ino = dot ? 0 : child;  // "." and ".." carry no lookup reference
                        ep.generation = 1;
                        ep.attr = st;
                        ep.attr_timeout = dot ? 0 : TimeoutFor(req, attr);
                        ep.entry_timeout = ep.attr_timeout;
                        if (dot) ep.attr.st_ino = child;
                        need = fuse_add_direntry_plus(req, buf.data() + used, size - used,
                                                      n.c_str(), &ep, static_cast<off_t>(next));
                      } else {
                        need = fuse_add_direntry(req, buf.data() + used, size - used, n.c_str(),
                                                 &st, static_cast<off_t>(next));
                      }
                      if (need > size - used) return false;
                      used += need;
                      if (plus && !dot) referenced.push_back(child);
                      return true;
                    });
    // Never an error after entries went into the buffer (passthrough_hp.cc does the same): the
    // Vfs already ends a failing listing early with success; this is the last guard.
    if (!s.ok() && used == 0) {
      ReplyStatus(req, s);
      return false;
    }
    if (fuse_reply_buf(req, buf.data(), used) != 0) {
      // Interrupted: the kernel took none of the entries, nor their references.
      for (uint64_t child : referenced) vfs.Forget(child, 1);
    }
    return true;
  });
}

void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info*) {
  DoReadDir(req, ino, size, off, false);
}
void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info*) {
  DoReadDir(req, ino, size, off, true);
}
void OpReleaseDir(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  Guard(req, Op::kReleaseDir, true, [&] {
    fuse_reply_err(req, 0);
    return true;
  });
}

Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller c;
  c.uid = ctx->uid;
  c.gid = ctx->gid;
  // A thread of this very process (tgkill with signal 0 only checks that the thread exists in
  // our thread group).
  c.self = ctx->pid > 0 && syscall(SYS_tgkill, getpid(), ctx->pid, 0) == 0;
  if (c.uid != 0) {
    gid_t groups[64];
    int n = fuse_req_getgroups(req, 64, groups);
    if (n > 64) {
      c.groups.resize(n);
      n = fuse_req_getgroups(req, n, c.groups.data());
      c.groups.resize(n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), c.groups.size()));
    } else if (n > 0) {
      c.groups.assign(groups, groups + n);
    }
  }
  return c;
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  std::function<void()> after_open;
  bool answered = false;  // opened and told so
  Guard(req, Op::kOpen, true, [&] {
    Result<std::unique_ptr<OpenFile>> f = V(req).Open(ino, fi->flags, CallerOf(req), &after_open);
    if (!f.ok()) {
      ReplyStatus(req, f.status());
      return false;
    }
    fi->keep_cache = Immutable((*f)->attr);
    fi->direct_io = (*f)->attr.ReadsDirect();
    fi->noflush = 1;
    OpenFile* raw = f->release();
    fi->fh = reinterpret_cast<uint64_t>(raw);
    Self(req)->Opened(raw);
    if (fuse_reply_open(req, fi) != 0) {
      Self(req)->Released(raw);  // interrupted: no release will come
    } else {
      answered = true;
    }
    return true;
  });
  // The reader goes on at once; this thread then queues the prefetch of the files after it.
  if (!after_open || !answered) return;
  try {
    after_open();
  } catch (const std::exception& e) {
    LogError(std::string("open: prefetch after the answer: ") + e.what());
  } catch (...) {
    LogError("open: prefetch after the answer: unexpected exception");
  }
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  Guard(req, Op::kRead, true, [&] {
    auto* file = reinterpret_cast<OpenFile*>(fi->fh);
    // Pages of content the kernel caches (not of files read with direct I/O).
    DropBehind* drop = file->attr.ReadsDirect() ? nullptr : Self(req)->drop_behind();
    // The answer's pieces point into cached blocks: the kernel copies them straight from there.
    Result<std::vector<ReadPiece>> pieces =
        V(req).ReadPieces(*file, static_cast<uint64_t>(off), size);
    if (!pieces.ok()) {
      ReplyStatus(req, pieces.status());
      return false;
    }
    // libfuse writes the answer with one writev, header first: past IOV_MAX - 1 pieces (a 1 MiB
    // read of data.npy over thousands of small frames) writev fails and the kernel would wait
    // for the answer forever, so the pieces are copied into one buffer then.
    if (pieces->size() >= IOV_MAX) {
      thread_local std::vector<char> joined;
      joined.clear();
      for (const ReadPiece& p : *pieces) {
        joined.insert(joined.end(), p.data, p.data + p.size);
      }
      // Before the reply: once it is sent, a release may delete `file` on another thread.
      if (drop) drop->Read(fi->fh, ino, static_cast<uint64_t>(off), joined.size(), file->attr.size);
      fuse_reply_buf(req, joined.data(), joined.size());
      return true;
    }
    thread_local std::vector<iovec> iov;
    iov.clear();
    uint64_t bytes = 0;
    for (const ReadPiece& p : *pieces) {
      iov.push_back(iovec{const_cast<uint8_t*>(p.data), p.size});
      bytes += p.size;
    }
    // Before the reply: once it is sent, a release may delete `file` on another thread.
    if (drop) drop->Read(fi->fh, ino, static_cast<uint64_t>(off), bytes, file->attr.size);
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
    return true;
  });
}

void OpRelease(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  Guard(req, Op::kRelease, true, [&] {
    if (DropBehind* drop = Self(req)->drop_behind()) drop->Closed(fi->fh);
    Self(req)->Released(reinterpret_cast<OpenFile*>(fi->fh));
    fuse_reply_err(req, 0);
    return true;
  });
}

void OpStatFs(fuse_req_t req, fuse_ino_t) {
  Guard(req, Op::kStatFs, true, [&] {
    Vfs::FsStat t = V(req).StatFs();
    struct statvfs sv;
    std::memset(&sv, 0, sizeof sv);
    sv.f_bsize = t.block_size;
    sv.f_frsize = t.block_size;
    sv.f_blocks = t.blocks;
    sv.f_bfree = t.blocks_free;
    sv.f_bavail = t.blocks_free;
    sv.f_files = t.files;
    sv.f_ffree = t.files_free;
    sv.f_favail = t.files_free;
    sv.f_namemax = 255;
    sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
    fuse_reply_statfs(req, &sv);
    return true;
  });
}

void OpGetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Guard(req, Op::kGetXattr, true, [&] {
    Result<std::string> v = V(req).GetXattr(ino, name);
    if (!v.ok()) {
      ReplyStatus(req, v.status());
      // A missing attribute or an unsupported namespace is no error of ours.
      return v.status().code() == Code::kNoAttr || v.status().code() == Code::kNotSupported;
    }
    if (size == 0) {
      fuse_reply_xattr(req, v->size());
    } else if (size < v->size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, v->data(), v->size());
    }
    return true;
  });
}

void OpListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Guard(req, Op::kListXattr, true, [&] {
    Result<std::vector<std::string>> names = V(req).ListXattr(ino);
    if (!names.ok()) {
      ReplyStatus(req, names.status());
      return false;
    }
    std::string all;
    for (const std::string& n : *names) {
      all += n;
      all.push_back('\0');
    }
    if (size == 0) {
      fuse_reply_xattr(req, all.size());
    } else if (size < all.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, all.data(), all.size());
    }
    return true;
  });
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetAttr;
  ops.setattr = OpSetAttr;
  ops.readlink = OpReadLink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpUnlink;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.release = OpRelease;
  ops.opendir = OpOpenDir;
  ops.readdir = OpReadDir;
  ops.readdirplus = OpReadDirPlus;
  ops.releasedir = OpReleaseDir;
  ops.statfs = OpStatFs;
  ops.setxattr = OpSetXattr;
  ops.getxattr = OpGetXattr;
  ops.listxattr = OpListXattr;
  ops.removexattr = OpRemoveXattr;
  ops.access = OpAccess;
  ops.create = OpCreate;
  ops.fallocate = OpFallocate;
  return ops;
}();

}  // namespace

FuseServer::FuseServer(Vfs& vfs, FuseOptions options) : vfs_(vfs), options_(std::move(options)) {}

void FuseServer::Opened(OpenFile* file) {
  std::lock_guard<std::mutex> lock(open_mu_);
  open_files_.insert(file);
}

void FuseServer::Released(OpenFile* file) {
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    open_files_.erase(file);
  }
  delete file;
}

FuseServer::~FuseServer() {
  StopNotifier();
  for (OpenFile* f : open_files_) delete f;  // only when Run() did not end normally
  open_files_.clear();
  if (se_) {
    if (signals_set_) fuse_remove_signal_handlers(se_);
    if (mounted_) fuse_session_unmount(se_);
    fuse_session_destroy(se_);
  }
}

Status FuseServer::Mount() {
  char real[PATH_MAX];
  if (!realpath(options_.mountpoint.c_str(), real)) {
    return ErrnoStatus(errno, "mount point " + options_.mountpoint);
  }
  options_.mountpoint = real;

  // Always nosuid,nodev: mount.fuse3 adds "dev,suid" to every mount root makes (fstab, mount -t
  // fuse.daqfs), and a setuid program inside an archive must never run with its owner's rights.
  // The options are dropped, not refused, so such fstab lines keep working.
  std::string opts = "fsname=daqfs,subtype=daqfs,nosuid,nodev";
  bool allow_other = options_.allow_other;
  std::string dropped;
  for (const std::string& o : options_.mount_options) {
    if (o.empty() || o == "nosuid" || o == "nodev") continue;
    if (o == "suid" || o == "dev") {
      dropped += (dropped.empty() ? "" : ",") + o;
    } else if (o == "allow_other") {
      allow_other = true;
    } else {
      opts += "," + o;
    }
  }
  if (!dropped.empty()) {
    LogInfo("mount option " + dropped + " ignored: daqfs always mounts nosuid,nodev");
  }
  if (allow_other) opts += ",allow_other,default_permissions";
  std::vector<std::string> argv_s = {"daqfs", "-o", opts};
  if (options_.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  se_ = fuse_session_new(&args, &kOps, sizeof kOps, this);
  fuse_opt_free_args(&args);
  if (!se_) return Status(Code::kUnavailable, "cannot create FUSE session (bad -o option?)");
  if (fuse_session_mount(se_, options_.mountpoint.c_str()) != 0) {
    return Status(Code::kUnavailable, "cannot mount on " + options_.mountpoint);
  }
  mounted_ = true;
  bdi_ = FindBdi();
  return Status::Ok();
}

namespace {
// Aborts the FUSE connection of the mount whose device is `bdi` ("major:minor"): every request
// still waiting in the kernel fails with ENOTCONN. Nothing happens when it is already gone.
void AbortConnection(const std::string& bdi) {
  size_t colon = bdi.find(':');
  if (colon == std::string::npos || bdi.compare(0, colon, "0") != 0) return;
  std::string path = "/sys/fs/fuse/connections/" + bdi.substr(colon + 1) + "/abort";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)WriteAll(fd, "1", path);
  close(fd);
}
}  // namespace

void FuseServer::StopNotifier() {
  if (!notifier_) return;
  vfs_.SetNotifier(nullptr);  // no new events; the Vfs no longer points at it
  notifier_->Stop();
  notifier_.reset();
}

std::string FuseServer::FindBdi() const {
  std::optional<MountEntry> m = FindMount(options_.mountpoint);
  if (!m || m->fstype.rfind("fuse", 0) != 0) return "";
  return std::to_string(major(m->devno)) + ":" + std::to_string(minor(m->devno));
}

void FuseServer::SetReadAhead(const std::string& bdi) const {
  if (options_.read_ahead_kb == 0) return;
  if (bdi.empty()) {
    LogWarn("cannot find the mount's device in /proc/self/mountinfo; read-ahead left as is");
    return;
  }
  std::string path = "/sys/class/bdi/" + bdi + "/read_ahead_kb";
  std::ofstream out(path);
  out << options_.read_ahead_kb << "\n";
  out.flush();
  if (!out) {
    LogWarn("cannot write " + path + " (not root?); kernel read-ahead stays at its default");
  } else {
    LogInfo("read-ahead of " + options_.mountpoint + " set to " +
            std::to_string(options_.read_ahead_kb) + " KiB (" + path + ")");
  }
}

namespace {
// Write end of the pipe that carries SIGHUP to the hangup thread (a signal handler can only
// write to a file descriptor); -1 when no loop runs.
std::atomic<int> g_hangup_fd{-1};

// SIGINT and SIGTERM while the loop runs: libfuse's handler (saved), then the signal is sent on
// to the thread that waits for the loop, if it landed elsewhere (see the header).
constexpr int kEndSignals[] = {SIGINT, SIGTERM};
struct sigaction g_libfuse_handler[std::size(kEndSignals)];
pthread_t g_loop_thread;
std::atomic<bool> g_loop_thread_set{false};

void OnEndSignal(int sig) {
  int saved = errno;
  for (size_t i = 0; i < std::size(kEndSignals); ++i) {
    void (*h)(int) = g_libfuse_handler[i].sa_handler;
    if (kEndSignals[i] == sig && h != SIG_DFL && h != SIG_IGN) h(sig);
  }
  if (g_loop_thread_set.load() && !pthread_equal(pthread_self(), g_loop_thread)) {
    pthread_kill(g_loop_thread, sig);  // async-signal-safe
  }
  errno = saved;
}

void OnHangup(int) {
  int saved = errno;
  int fd = g_hangup_fd.load();
  if (fd >= 0) {
    char c = 'h';
    ssize_t n = write(fd, &c, 1);
    (void)n;
  }
  errno = saved;
}
}  // namespace

Status FuseServer::Run(const std::function<void()>& ready) {
  if (fuse_set_signal_handlers(se_) != 0) return Status(Code::kUnavailable, "signal handlers");
  signals_set_ = true;
  g_loop_thread = pthread_self();
  g_loop_thread_set = true;
  for (size_t i = 0; i < std::size(kEndSignals); ++i) {
    struct sigaction forward;
    sigaction(kEndSignals[i], nullptr, &g_libfuse_handler[i]);
    forward = g_libfuse_handler[i];
    forward.sa_handler = OnEndSignal;
    forward.sa_flags &= ~SA_SIGINFO;
    sigaction(kEndSignals[i], &forward, nullptr);
  }

  // SIGHUP reopens the log instead of unmounting (libfuse's handler would end the loop).
  int hup[2];
  if (pipe2(hup, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus(errno, "pipe");
  g_hangup_fd = hup[1];
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnHangup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  std::thread hangups([fd = hup[0], this] {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, -1) < 0 && errno != EINTR) return;
      char buf[16];
      ssize_t n = read(fd, buf, sizeof buf);
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == 'q') return;
        if (options_.on_hangup) options_.on_hangup();
      }
    }
  });

  std::thread waiter([this, ready] {
    // Blocks until the loop has answered INIT; then the read-ahead sticks.
    struct stat st;
    if (stat(options_.mountpoint.c_str(), &st) != 0) {
      LogWarn("mount point not ready: " + std::string(std::strerror(errno)));
      return;
    }
    SetReadAhead(bdi_);
    if (ready) ready();
  });

  // Kernel invalidations from the backends, sent by a thread of their own (fuse_notifier.h).
  notifier_ = std::make_unique<FuseNotifier>(
      se_, [&vfs = vfs_](uint64_t ino) { return vfs.inodes().Resolve(ino).has_value(); });
  if (options_.drop_behind > 0) {
    long page = sysconf(_SC_PAGESIZE);
    Metrics& m = vfs_.stats().metrics();
    // Read-ahead fetches up to about twice read_ahead_kb ahead of a reader: pages dropped
    // before the reader got to them would be read twice.
    uint64_t keep = std::max<uint64_t>(options_.drop_behind, options_.read_ahead_kb * 4096);
    if (keep > options_.drop_behind) {
      LogInfo("drop_behind raised to " + std::to_string(keep >> 20) +
              " MiB: 4 x read_ahead_kb (read-ahead must not outrun it)");
    }
    drop_behind_ = std::make_unique<DropBehind>(
        keep, page > 0 ? static_cast<uint64_t>(page) : 4096,
        [n = notifier_.get()](uint64_t ino, uint64_t offset, uint64_t length) {
          n->NotifyInvalRange(ino, offset, length);
        },
        &m.AddCounter("daqfs_page_cache_dropped_bytes_total",
                      "Bytes of the kernel's page cache dropped behind sequential readers "
                      "([mount] drop_behind)"),
        &m.AddCounter("daqfs_page_cache_kept_files_total",
                      "Files read again after their pages were dropped (kept in the page cache "
                      "since)"));
  }
  // Bytes handed to the kernel ahead of a folder scan's reader count as read by it (each store
  // as a reader of its own that reads the file from its start), so they are dropped behind too.
  notifier_->OnStored([this, next = std::make_shared<std::atomic<uint64_t>>(1ull << 63)](
                          uint64_t ino, uint64_t offset, uint64_t length) {
    if (!drop_behind_) return;
    uint64_t handle = next->fetch_add(1);
    drop_behind_->Read(handle, ino, offset, length, offset + length);
    drop_behind_->Closed(handle);
  });
  notifier_->Start();
  vfs_.SetNotifier(notifier_.get());

  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options_.threads);
  fuse_loop_cfg_set_idle_threads(cfg, options_.threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  int rc = fuse_session_loop_mt(se_, cfg);
  fuse_loop_cfg_destroy(cfg);
  // Teardown order: no new kernel notices; unmount (ends a stat still waiting in `waiter`);
  // abort the connection, so that a notice the notifier thread is sending cannot wait for a
  // folder lock held by a request the finished loop will never answer; then join the notifier.
  vfs_.SetNotifier(nullptr);
  fuse_session_unmount(se_);
  mounted_ = false;
  AbortConnection(bdi_);
  StopNotifier();        // before the session goes; joins the thread that reports stores
  drop_behind_.reset();  // which DropBehind counts (no reads come any more either)
  waiter.join();
  {
    // Handles whose release the unmount overtook (no request runs any more).
    std::unordered_set<OpenFile*> left;
    {
      std::lock_guard<std::mutex> lock(open_mu_);
      left.swap(open_files_);
    }
    for (OpenFile* f : left) delete f;
  }
  // Ignored, not default: a reload racing with the end must not kill the daemon mid-teardown.
  signal(SIGHUP, SIG_IGN);
  g_hangup_fd = -1;
  char quit = 'q';
  while (write(hup[1], &quit, 1) < 0 && errno == EINTR) {
  }
  hangups.join();
  close(hup[0]);
  close(hup[1]);
  // libfuse's own handlers back, so that it recognises and removes them.
  g_loop_thread_set = false;
  for (size_t i = 0; i < std::size(kEndSignals); ++i) {
    sigaction(kEndSignals[i], &g_libfuse_handler[i], nullptr);
  }
  fuse_remove_signal_handlers(se_);
  signals_set_ = false;
  if (rc < 0) return Status(Code::kIo, std::string("FUSE loop failed: ") + std::strerror(-rc));
  if (rc > 0) LogInfo("signal " + std::to_string(rc) + " received; unmounted");
  return Status::Ok();
}

}  // namespace daqfs
