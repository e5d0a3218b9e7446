// Vfs: the FUSE-free filesystem facade. The FUSE adapter turns each kernel request into one Vfs
// call; unit tests drive the same calls directly.
//
// The mount root lists one directory per source (the config's section names). The `.daqfs/`
// control folder is reachable by name at the root but never listed, and daqfs's own `user.daqfs.*`
// attributes are readable by name but listed only on request (VfsOptions::list_daqfs_xattrs), so
// `tar`, `cp -a`, `rsync -a` and `find` at the root see only data. With a single source
// (`--source PATH`) the root is that source's own root, with `.daqfs/` reachable in it.
//
// Nodes are never shown setuid or setgid (the mount is also nosuid,nodev: see fs/fuse/). Kernel
// inode numbers map to (backend, node) through the InodeTable; backend 0 is the control backend,
// backends 1..N the sources in config order.
//
// Directory offsets: 0 -> ".", 1 -> "..", then the backend's cookies shifted by 2 (at a root,
// offset 2 is reserved for the unlisted `.daqfs` and the backend's cookies are shifted by 3).
//
// Metrics: the constructor registers each source in Stats (label source="NAME"; ".daqfs" for the
// control folder); each backend registers its own at Start through its BackendEnv, so the Vfs's
// registry outlives every backend and every source they open.
//
// Lifecycle: Start(env) gives every backend its BackendEnv (state folder, blob store, its own
// Invalidator, metrics, clock) and starts it; Stop() stops every backend (their threads end)
// and is called after the FUSE loop ended, before the caches and blob stores are destroyed
// (the destructor calls it too).
//
// Kernel notifications: each source's Invalidator (given at Start) maps (source, node) to the
// inode numbers the kernel holds (InodeTable; nodes the kernel never got need no notice) and
// passes them to the KernelNotifier set with SetNotifier (none set: dropped). An added or
// removed name invalidates the folder's entry for it and the folder's inode (its listing).
//
// Listings: an error from a backend after entries were emitted ends the listing early with
// success (the kernel already holds those entries' lookup references); a readdirplus entry the
// caller did not take gives its reference back. When the kernel forgets an inode's last
// reference the backend hears of it (Backend::Forget).
//
// Thread safety: every method is thread-safe; no lock is held while a backend works.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/backend.h"
#include "fs/control_backend.h"
#include "fs/inode_table.h"
#include "fs/kernel_notifier.h"
#include "fs/log.h"
#include "fs/metrics.h"
#include "fs/read_path.h"
#include "fs/stats.h"

namespace daqfs {

// Space that statfs reports: the cache's (CernVM-FS reports its cache quota the same way), so
// `df` shows how full the node-local cache is rather than a read-only filesystem at 100%.
struct FsSpace {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
};

// What the daemon gives every backend at Vfs::Start, beyond the Vfs's own metrics.
struct VfsEnv {
  // The blob store of a source (by name); null function or null result = no SSD tier.
  std::function<BlobStore*(const std::string& source_name)> blobs;
  // Each source gets <state_root>/<name>/ (created 0700) as BackendEnv::state_dir; "" = none.
  std::string state_root;
  const Clock* clock = nullptr;  // null = the system clock
  // Each source's BackendEnv::ring_bytes (by name); null = 0 for every source.
  std::function<uint64_t(const std::string& source_name)> ring_bytes;
};

struct VfsOptions {
  bool single_source = false;   // root = the only source's root
  std::optional<uint32_t> uid;  // report every node as owned by this uid
  std::optional<uint32_t> gid;
  bool list_daqfs_xattrs = false;  // list user.daqfs.* attributes (always readable by name)
};

// One open file: what a FUSE file handle points to.
struct OpenFile {
  std::shared_ptr<ByteSource> source;
  std::unique_ptr<FileReader> reader;  // the cache path; null = read `source` directly
  Attr attr;
  uint32_t backend = 0;  // which source it belongs to (0 = the control folder), for Stats
};

class Vfs {
 public:
  struct Source {
    std::string name;
    std::unique_ptr<Backend> backend;
  };
  struct Entry {
    uint64_t ino = 0;
    Attr attr;
  };
  // Emits one directory entry; returns false when the caller's buffer is full (the entry was not
  // taken). `ino` is a live inode only when ReadDir was called with plus = true.
  using DirEmit = std::function<bool(std::string_view name, uint64_t ino, const Attr& attr,
                                     uint64_t next_offset)>;
  struct FsTotals {
    uint64_t bytes = 0;
    uint64_t nodes = 0;
  };
  // statfs figures in 4 KiB blocks; f_files and f_ffree are never zero.
  struct FsStat {
    uint64_t block_size = 4096;
    uint64_t blocks = 0, blocks_free = 0;
    uint64_t files = 0, files_free = 0;
  };

  Vfs(std::vector<Source> sources, VfsOptions options);

  // Sets the read path (cache + prefetcher) used by every later Open; not owned. Call before
  // serving requests.
  void SetReadPath(ReadPath* read_path) { read_path_ = read_path; }
  // Sets where statfs's sizes come from (called per statfs, from request threads: must be
  // thread-safe and cheap); unset = the total size of the content, all of it free. Call before
  // serving requests.
  void SetSpace(std::function<FsSpace()> space) { space_ = std::move(space); }

  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;
  ~Vfs();

  // Builds each source's BackendEnv and starts it (Backend::Start), in config order. Call once,
  // after forking, before serving. The first failing backend's error is returned (prefixed with
  // its source name); backends started before it are stopped again.
  Status Start(VfsEnv env = {});
  // Stops every started backend (Backend::Stop), last first. Idempotent.
  void Stop();
  // Where kernel invalidations go (null = dropped); not owned. The FUSE adapter sets it while
  // its notifier runs and clears it before the notifier is destroyed.
  void SetNotifier(KernelNotifier* notifier);

  ControlBackend& control() { return *control_; }
  Stats& stats() { return stats_; }
  const InodeTable& inodes() const { return inodes_; }

  // Looks `name` up in directory `parent` and adds one kernel lookup reference to the result.
  Result<Entry> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t nlookup);
  Result<Attr> GetAttr(uint64_t ino);
  // Lists directory `ino` from `offset`. With plus = true every entry the caller takes gets one
  // lookup reference (readdirplus semantics).
  Status ReadDir(uint64_t ino, uint64_t offset, bool plus, const DirEmit& emit);
  // Opens a file read-only. Any write access mode gives kReadOnly. Work the caller need not
  // wait for goes to `*after_open` when that is not null (see ReadPath::Open): run it once the
  // open is answered.
  Result<std::unique_ptr<OpenFile>> Open(uint64_t ino, int flags, const Caller& caller,
                                         std::function<void()>* after_open = nullptr);
  Result<size_t> Read(OpenFile& file, uint64_t offset, std::span<uint8_t> out);
  // The same, as pieces the caller can send without copying (see ReadPiece).
  Result<std::vector<ReadPiece>> ReadPieces(OpenFile& file, uint64_t offset, size_t size);
  Result<std::string> ReadLink(uint64_t ino);
  Result<std::vector<std::string>> ListXattr(uint64_t ino);
  Result<std::string> GetXattr(uint64_t ino, const std::string& name);
  FsTotals Totals() const;
  FsStat StatFs() const;

 private:
  static constexpr uint32_t kControl = 0;
  static constexpr uint32_t kVirtualRoot = 0xFFFFFFFFu;

  Result<InodeKey> Resolve(uint64_t ino) const;
  Backend* BackendOf(uint32_t index) const;
  Result<Attr> AttrOf(InodeKey key);
  Attr RootAttr() const;
  // What every node shows: the configured owner, and never a setuid or setgid bit.
  void Present(Attr* attr) const;
  // Resolves `name` under `parent` to a key, without touching lookup counts.
  Result<InodeKey> Child(InodeKey parent, std::string_view name);
  uint64_t ReaddirIno(InodeKey key, bool plus, InodeKey parent, std::string_view name);
  // Counts a read of `file` in Stats: `bytes` returned, or `error` (null = success).
  void CountRead(const OpenFile& file, uint64_t bytes, const Status* error);
  // Drops lookups of `ino`; tells the backend when the last one went.
  void Drop(uint64_t ino, uint64_t nlookup);

  class SourceInvalidator;
  friend class SourceInvalidator;
  // Maps a backend's event to the kernel's inode numbers and passes it on.
  void Invalidate(uint32_t backend, NodeId node, const std::string_view* name);

  VfsOptions options_;
  std::unique_ptr<ControlBackend> control_;
  std::vector<Source> sources_;  // index i is backend i + 1
  InodeTable inodes_;
  ReadPath* read_path_ = nullptr;
  std::function<FsSpace()> space_;
  Stats stats_;
  RateLimitedLog denied_log_;   // opens refused for lack of access to the backing file
  RateLimitedLog listing_log_;  // listings cut short by a backend error
  timespec start_{};
  SystemClock system_clock_;
  std::vector<std::unique_ptr<SourceInvalidator>> invalidators_;  // per source, from Start
  std::vector<BackendEnv> envs_;                                  // per source, from Start
  size_t started_ = 0;  // sources started (Stop stops these); guarded by lifecycle_mu_
  std::mutex lifecycle_mu_;
  std::mutex notifier_mu_;  // guards notifier_; held while an event is queued (never blocks)
  KernelNotifier* notifier_ = nullptr;
};

}  // namespace daqfs
