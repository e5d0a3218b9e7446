// Backend: one source's tree of nodes (an archive folder, an HDF5 master set, a live stream).
//
// Nodes have stable 64-bit ids inside their backend; kRootNode is the source's top directory.
// The Vfs maps kernel inode numbers to (backend, node id), so a backend never sees FUSE. An id
// names one node for as long as the kernel may hold it: a backend that releases the ids of
// vanished nodes must not hand the same id to another node while it may still be looked up
// (merged archives add a generation to reused ids).
//
// Lifecycle: the daemon creates a backend (SourceType::Create, no environment), then the Vfs
// calls Start(env) once, after forking, before requests are served; Stop() once, after the
// FUSE loop ended and before anything in `env` is destroyed. No call but the destructor follows
// Stop().
//
// Kernel cache lifetimes: every Attr says how long the kernel may cache it (`cache_seconds`):
// kCacheForever for content that never changes while mounted (or whose changes the backend
// announces through env.invalidator), 0 for content generated per open (control files). The
// lifetime of a folder's attributes also applies to its listing and to negative lookups in it.
//
// Listing contract (ReadDir): entries are emitted in increasing cookie order; an entry's cookie
// stays valid while the folder grows or shrinks (a slot or frame number, not a vector index), so
// a listing resumed with a cookie neither repeats nor skips an entry that existed throughout;
// entries added meanwhile may or may not appear. A backend never returns an error after it
// emitted an entry in the same call (it stops and returns ok instead).
//
// Thread safety: every method may be called concurrently. Backends own no decoding threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fs/backend_env.h"
#include "fs/byte_source.h"
#include "fs/status.h"

namespace daqfs {

using NodeId = uint64_t;
inline constexpr NodeId kRootNode = 1;

// Attr::cache_seconds of content that never changes while mounted (or whose changes are
// announced through the Invalidator): the kernel keeps it for the mount's entry_timeout.
inline constexpr double kCacheForever = std::numeric_limits<double>::infinity();

enum class NodeType { kDirectory, kFile, kSymlink };

struct Attr {
  NodeType type = NodeType::kFile;
  uint64_t size = 0;  // decoded size for files, target length for symlinks
  uint32_t mode = 0;  // permission bits only (07777); the type comes from `type`
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  timespec mtime{};
  // Seconds the kernel may cache this node's attributes, its entry (and for a folder its
  // listing and negative lookups in it): kCacheForever = the mount's entry_timeout; 0 = never.
  // A file with kCacheForever has immutable content (the kernel keeps its pages across opens).
  double cache_seconds = kCacheForever;
  // Content is generated when opened (control files): read with direct I/O, size is a hint.
  bool dynamic = false;
  // A folder where a missing name may appear at any moment (a running live series): lookups of
  // missing names are not cached by the kernel, so a new entry is seen as soon as the backend
  // has it, without waiting for its announcement.
  bool uncached_misses = false;
  // Content read once, as it arrives, whose bytes the daemon holds anyway (a live stream's
  // frames, in its ring): opened with direct I/O, so the kernel keeps no second copy of them in
  // its page cache and a read is one copy from the daemon's memory into the reader's buffer.
  // A shared mapping of such a file fails (ENODEV: libfuse 3.14 cannot ask the kernel for
  // FUSE_DIRECT_IO_ALLOW_MMAP); reads and private mappings work.
  bool direct_io = false;

  // Opened with direct I/O: generated per open (dynamic) or read once as it arrives (direct_io).
  // The kernel keeps no pages of such a file.
  bool ReadsDirect() const { return dynamic || direct_io; }
};

struct DirEntry {
  std::string name;
  NodeId node = 0;
  Attr attr;
};

// Who is asking; used where a backend adds checks the kernel cannot make (read access to the
// backing file of an archive member).
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  // The request comes from a thread of the daemon itself (its access check, say, was led into
  // its own mount): such opens are refused, so nothing can make the daemon wait on itself.
  bool self = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Called once by the Vfs after the daemon has forked, before requests are served: registers
  // the backend's metrics (env.metrics, every series labelled env.source_label) and starts its
  // own background work (indexing, rescans, a stream's receiver). Lookups may wait for work
  // started here. Everything `env` points to outlives Stop(); the metrics registry also outlives
  // every ByteSource the backend opens. An error stops the daemon's start-up. Default: nothing.
  virtual Status Start(BackendEnv& env) {
    (void)env;
    return Status::Ok();
  }
  // Ends the backend's own threads (an indexer, a receiver); afterwards it calls nothing in the
  // environment and holds nothing it gave (blobs: the store may go next). Requests may still
  // arrive and must not hang (they may fail). Idempotent.
  // Default: nothing.
  virtual void Stop() {}
  // The kernel dropped its last reference to `node` (it may still be looked up again). A
  // backend may release what it keeps only for the kernel's sake. Called with the Vfs's inode
  // table locked (so it never overtakes a later Lookup's reference): quick, and no calls into
  // the Vfs or the Invalidator from here. A Lookup already running when it is called may still
  // hand `node` to the kernel afterwards, so a node that is still listed keeps answering.
  // Default: nothing.
  virtual void Forget(NodeId node) { (void)node; }

  virtual Result<NodeId> Lookup(NodeId parent, std::string_view name) = 0;
  virtual Result<Attr> GetAttr(NodeId node) = 0;

  // Lists `dir` starting at position `cookie` (0 = from the start). For every entry calls
  // emit(entry, next_cookie); stops early when emit returns false. Resumable: calling again with
  // a next_cookie continues after that entry (see the listing contract above: stable cookies,
  // increasing order, no error after an entry). "." and ".." are not emitted (the Vfs adds them).
  // Cookies are below 2^62.
  using EmitFn = std::function<bool(const DirEntry& entry, uint64_t next_cookie)>;
  virtual Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) = 0;

  // Opens a file node. The returned source stays valid after the backend drops the node.
  virtual Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) = 0;

  virtual Result<std::string> ReadLink(NodeId node) = 0;

  virtual Result<std::vector<std::string>> ListXattr(NodeId node) {
    (void)node;
    return std::vector<std::string>{};
  }
  virtual Result<std::string> GetXattr(NodeId node, const std::string& name) {
    (void)node;
    return Status(Code::kNoAttr, name);
  }

  // Up to `max` entries that follow `name` in `dir`'s listing order (sibling prefetch). The
  // default scans ReadDir; backends with sorted children override it.
  virtual std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max);

  // Totals for statfs: bytes of all files, number of nodes.
  virtual uint64_t TotalBytes() const { return 0; }
  virtual uint64_t TotalNodes() const { return 0; }
};

// The check every backend makes when a backing file's bytes are opened: fs/backing_access.h.

}  // namespace daqfs
