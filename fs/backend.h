// Backend: one source's tree of nodes (an archive folder, an HDF5 master set, a live stream).
//
// Nodes have stable 64-bit ids inside their backend; kRootNode is the source's top directory.
// The Vfs maps kernel inode numbers to (backend, node id), so a backend never sees FUSE.
//
// Thread safety: every method may be called concurrently. Backends own no decoding threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fs/byte_source.h"
#include "fs/metrics.h"
#include "fs/status.h"

namespace daqfs {

using NodeId = uint64_t;
inline constexpr NodeId kRootNode = 1;

enum class NodeType { kDirectory, kFile, kSymlink };

struct Attr {
  NodeType type = NodeType::kFile;
  uint64_t size = 0;  // decoded size for files, target length for symlinks
  uint32_t mode = 0;  // permission bits only (07777); the type comes from `type`
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  timespec mtime{};
  // Content never changes while mounted: the kernel may cache attributes, entries and pages.
  bool immutable = true;
  // Content is generated when opened (control files): read with direct I/O, size is a hint.
  bool dynamic = false;
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

  // Starts the backend's own background work (indexing, rescans, a stream's receiver), after
  // the daemon has forked. Lookups may wait for work started here. Default: nothing.
  virtual void Start() {}

  // Registers the backend's own metrics (index errors, rejected index files ...) in `metrics`,
  // every series labelled with `source_label` (`source="NAME"`). Called once by the Vfs before
  // Start(), before requests are served. The registry outlives the backend and every ByteSource
  // it opens, so references into it may be kept. Default: none.
  virtual void RegisterMetrics(Metrics& metrics, const std::string& source_label) {
    (void)metrics;
    (void)source_label;
  }

  virtual Result<NodeId> Lookup(NodeId parent, std::string_view name) = 0;
  virtual Result<Attr> GetAttr(NodeId node) = 0;

  // Lists `dir` starting at position `cookie` (0 = from the start). For every entry calls
  // emit(entry, next_cookie); stops early when emit returns false. Resumable: calling again with
  // a next_cookie continues after that entry. "." and ".." are not emitted (the Vfs adds them).
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
