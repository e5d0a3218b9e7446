// MemberTree: the directory tree of one archive's members (per-archive layout) or of all
// archives' members (merged layout), built once from ArchiveIndexes and then shared read-only.
//
// Building follows `tar -x`: implied directories are created, a later member of the same path
// replaces an earlier one (in the merged layout: a later archive's), hard links share their
// target's node (nlink counted), modes/owners/mtimes are as stored.
//
// Ids: a per-archive tree numbers its nodes 1, 2, ... in build order (the tree never changes).
// A merged tree is rebuilt after every rescan that changed something; its ids come from
// TreeIds, stable by path (plus the archive identity for files) across rebuilds. Ids of paths
// that vanished are released and their slot reused with the next generation (upper 32 bits), so
// the tables stay bounded by what exists and a reused slot never names the old node's id.
// Node lookups index by the low 32 bits and check the whole id.
//
// Thread safety: a finished MemberTree is immutable (shared freely). TreeIds and TreeBuilder
// are used by one thread at a time.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/archive/archive_index.h"
#include "fs/backend.h"
#include "fs/invalidator.h"

namespace daqfs {

inline constexpr uint64_t kTreeLocalMask = 0xFFFFFFFFull;

struct MemberTree {
  struct Node {
    bool valid = false;
    uint64_t id = 0;  // the whole id (generation and slot index)
    Attr attr;
    uint32_t slot = 0;    // archive slot of the member (files, symlinks, member dirs)
    int64_t member = -1;  // index into that slot's ArchiveIndex::members
    std::string path;     // path inside the tree ("" for its top)
    std::string link;
    std::vector<std::pair<std::string, uint64_t>> children;  // sorted by name: (name, id)
    std::vector<uint32_t> by_id;  // positions in `children`, ordered by child id
  };
  std::vector<Node> nodes;  // by id & kTreeLocalMask; the top has id 1
  uint64_t total_bytes = 0;
  uint64_t count = 0;  // reachable nodes

  // The valid node whose id is `id`, or null.
  const Node* Find(uint64_t id) const {
    uint64_t local = id & kTreeLocalMask;
    if (local >= nodes.size() || !nodes[local].valid || nodes[local].id != id) return nullptr;
    return &nodes[local];
  }
};

// Stable ids by key for rebuilt trees; see the file comment.
class TreeIds {
 public:
  // The id of `key` (allocating one). The first key ever asked for gets id 1.
  uint64_t IdFor(const std::string& key);
  // Releases every id not asked for since the previous EndBuild.
  void EndBuild();
  size_t live() const { return ids_.size(); }
  // Slots ever allocated (a tree's node table is at most this + 1 long).
  size_t slots() const { return gen_.size() - 1; }

 private:
  struct Entry {
    uint64_t id = 0;
    uint64_t epoch = 0;
  };
  std::unordered_map<std::string, Entry> ids_;
  std::vector<uint32_t> gen_ = {0};  // per slot index (0 unused)
  std::vector<uint32_t> free_;
  uint64_t epoch_ = 1;
};

// What a tree needs to know of an archive file.
struct TreeArchive {
  uint32_t slot = 0;
  struct stat st {};
  std::string path;
  std::string identity;
};

// Directories need the search bit wherever they have the read bit.
uint32_t DirModeFor(uint32_t file_mode);
// A folder's attributes from the archive file's (or the source folder's) stat.
Attr DirAttrOf(const struct stat& st, double cache_seconds = kCacheForever);

class TreeBuilder {
 public:
  // `ids`: stable ids by path (merged layout); null = sequential ids.
  TreeBuilder(Attr top, TreeIds* ids);
  ~TreeBuilder();
  // Adds every member of `index`; `source` names the source in log lines.
  void AddArchive(const TreeArchive& archive, const ArchiveIndex& index, const std::string& source,
                  bool merged);
  std::shared_ptr<MemberTree> Finish();

 private:
  uint64_t NewNode(const std::string& path, const Attr& attr, const std::string& id_key = "");
  MemberTree::Node& N(uint64_t id) { return tree_->nodes[id & kTreeLocalMask]; }
  std::map<std::string, uint64_t>& Kids(uint64_t id) { return kids_[id & kTreeLocalMask]; }
  void Unlink(uint64_t id);
  uint64_t DirFor(const TreeArchive& archive, const std::string& path);
  uint64_t Find(const std::string& path);
  void AddMember(const TreeArchive& archive, const ArchiveIndex& index, int64_t mi, bool merged);

  std::shared_ptr<MemberTree> tree_;
  TreeIds* ids_;
  std::vector<std::map<std::string, uint64_t>> kids_;  // by local id, while building
  uint64_t top_ = 1;
  std::string log_prefix_;
};

// Announces what changed from `before` to `after` (two builds of one merged tree): for every
// folder in both, names added, removed or now naming another node.
void AnnounceTreeChanges(const MemberTree& before, const MemberTree& after, Invalidator& inv);

}  // namespace daqfs
