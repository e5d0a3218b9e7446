// The Backend side of TarBackend: answering requests from the slots and member trees.
#include "backends/archive/tar_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "backends/archive/member_sources.h"
#include "backends/archive/tar_backend_slot.h"
#include "backends/common/composed_source.h"
#include "fs/backing_access.h"
#include "fs/log.h"

namespace daqfs {

using tar_ids::LocalId;
using tar_ids::MakeId;
using tar_ids::SlotNumber;

namespace {
// An archive's own folder shows the archive file's owner and mode as they are now: a chmod of
// the archive closes its folder to others within this many seconds.
constexpr double kArchiveFolderSeconds = 1.0;
}  // namespace

Attr TarBackend::RootAttr() const {
  Attr root;
  if (root_stat_ok_) {
    root = DirAttrOf(root_st_);
  } else {
    root.type = NodeType::kDirectory;
    root.mode = 0555;
    root.nlink = 2;
  }
  // Archives that appear or go are announced: the kernel may keep the root (kCacheForever).
  return root;
}

std::shared_ptr<TarBackend::Slot> TarBackend::SlotOf(NodeId id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(SlotNumber(id));
  return it == slots_.end() ? nullptr : it->second;
}

std::shared_ptr<const MemberTree> TarBackend::MergedTree(Status* status) const {
  std::unique_lock<std::mutex> lock(merged_mu_);
  merged_cv_.wait(lock, [&] { return merged_ || stopping_; });
  if (!merged_) *status = Status(Code::kUnavailable, name_ + ": index not ready");
  return merged_;
}

// The tree holding node `id` (waiting for its index), or null with *status set.
std::shared_ptr<const MemberTree> TarBackend::TreeOf(NodeId id, Status* status) const {
  if (options_.merged) return MergedTree(status);
  std::shared_ptr<Slot> slot = SlotOf(id);
  if (!slot) {
    *status = NotFound("node " + std::to_string(id));
    return nullptr;
  }
  Status s = slot->Wait();
  if (!s.ok()) {
    *status = s;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(slot->mu);
  return slot->tree;
}

const MemberTree::Node* TarBackend::NodeIn(const MemberTree& tree, NodeId id) const {
  return tree.Find(options_.merged ? id : LocalId(id));
}

Result<TarBackend::NodeRef> TarBackend::NodeOf(NodeId id) const {
  Status s;
  std::shared_ptr<const MemberTree> tree = TreeOf(id, &s);
  if (!tree) return s;
  const MemberTree::Node* node = NodeIn(*tree, id);
  if (!node) return NotFound("node " + std::to_string(id));
  return NodeRef{std::move(tree), node};
}

Result<NodeId> TarBackend::Lookup(NodeId parent, std::string_view name) {
  if (parent == kRootNode && !options_.merged) {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return NotFound(std::string(name));
    return MakeId(it->second, 1);
  }
  Status s;
  std::shared_ptr<const MemberTree> tree = TreeOf(parent, &s);
  if (!tree) return s;
  const MemberTree::Node* pn = NodeIn(*tree, parent);
  if (!pn) return NotFound(std::string(name));
  const auto& p = *pn;
  if (p.attr.type != NodeType::kDirectory) return Status(Code::kNotDir, std::string(name));
  auto it = std::lower_bound(p.children.begin(), p.children.end(), name,
                             [](const auto& kid, std::string_view n) { return kid.first < n; });
  if (it == p.children.end() || it->first != name) return NotFound(std::string(name));
  return MakeId(options_.merged ? 0 : SlotNumber(parent), it->second);
}

Result<Attr> TarBackend::GetAttr(NodeId node) {
  if (node == kRootNode) {
    Attr a = RootAttr();
    if (options_.merged) {  // never wait for indexing just to count subfolders
      std::lock_guard<std::mutex> lock(merged_mu_);
      if (merged_) a.nlink = merged_->nodes[1].attr.nlink;
    }
    return a;
  }
  if (!options_.merged && LocalId(node) == 1) {
    // An archive's own folder: known without its index. Its owner and mode are the archive
    // file's as they are now (a chmod 600 of the archive closes its folder to others within the
    // short attribute lifetime), so the kernel's permission checks of names, attributes and
    // links inside follow the backing file as opening a member does.
    std::shared_ptr<Slot> slot = SlotOf(node);
    if (!slot) return NotFound("node " + std::to_string(node));
    struct stat now = slot->st;
    if (slot->fd) fstat(slot->fd->get(), &now);
    Attr a = DirAttrOf(now, kArchiveFolderSeconds);
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->tree) a.nlink = slot->tree->nodes[1].attr.nlink;
    return a;
  }
  Result<NodeRef> ref = NodeOf(node);
  if (!ref.ok()) return ref.status();
  return ref->node->attr;
}

Status TarBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  if (dir == kRootNode && !options_.merged) {
    // Cookie = slot number: archives found later list after the others, and a listing resumed
    // after a rescan neither repeats nor skips an archive.
    std::vector<std::shared_ptr<Slot>> list;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (auto it =
               slots_.lower_bound(static_cast<uint32_t>(std::min<uint64_t>(cookie, UINT32_MAX)));
           it != slots_.end(); ++it) {
        list.push_back(it->second);
      }
    }
    for (const auto& slot : list) {
      Result<Attr> a = GetAttr(MakeId(slot->number, 1));
      if (!a.ok()) continue;
      if (!emit(DirEntry{slot->dir_name, MakeId(slot->number, 1), *a},
                uint64_t{slot->number} + 1)) {
        break;
      }
    }
    return Status::Ok();
  }
  Status s;
  std::shared_ptr<const MemberTree> tree = TreeOf(dir, &s);
  if (!tree) return s;
  const MemberTree::Node* dn = NodeIn(*tree, dir);
  if (!dn) return NotFound("directory");
  const auto& d = *dn;
  if (d.attr.type != NodeType::kDirectory) return Status(Code::kNotDir, d.path);
  if (options_.merged) {
    // Cookie = child id (stable across rebuilds), listed in id order.
    auto it =
        std::lower_bound(d.by_id.begin(), d.by_id.end(), cookie,
                         [&](uint32_t pos, uint64_t c) { return d.children[pos].second < c; });
    for (; it != d.by_id.end(); ++it) {
      const auto& [name, id] = d.children[*it];
      const MemberTree::Node* n = tree->Find(id);
      if (!n) continue;
      if (!emit(DirEntry{name, id, n->attr}, id + 1)) break;
    }
    return Status::Ok();
  }
  // A per-archive tree never changes: the position is a stable cookie.
  uint32_t slot = SlotNumber(dir);
  for (uint64_t i = cookie; i < d.children.size(); ++i) {
    const auto& [name, id] = d.children[i];
    const MemberTree::Node* n = tree->Find(id);
    if (!n) continue;
    if (!emit(DirEntry{name, MakeId(slot, id), n->attr}, i + 1)) break;
  }
  return Status::Ok();
}

std::vector<DirEntry> TarBackend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  if (dir == kRootNode && !options_.merged) return out;
  Status s;
  std::shared_ptr<const MemberTree> tree = TreeOf(dir, &s);
  if (!tree) return out;
  const MemberTree::Node* dn = NodeIn(*tree, dir);
  if (!dn || dn->attr.type != NodeType::kDirectory) return out;
  const auto& d = *dn;
  uint32_t slot = options_.merged ? 0 : SlotNumber(dir);
  auto it = std::upper_bound(d.children.begin(), d.children.end(), name,
                             [](std::string_view n, const auto& kid) { return n < kid.first; });
  for (; it != d.children.end() && out.size() < max; ++it) {
    const MemberTree::Node* n = tree->Find(it->second);
    if (n && n->attr.type == NodeType::kFile) {
      out.push_back(DirEntry{it->first, MakeId(slot, it->second), n->attr});
    }
  }
  return out;
}

Result<std::shared_ptr<ByteSource>> TarBackend::Open(NodeId node, const Caller& caller) {
  Result<NodeRef> ref = NodeOf(node);
  if (!ref.ok()) return ref.status();
  const MemberTree::Node& n = *ref->node;
  if (n.attr.type == NodeType::kDirectory) return Status(Code::kIsDir, n.path);
  if (n.attr.type != NodeType::kFile || n.member < 0) return Invalid(n.path + ": not a file");
  std::shared_ptr<Slot> slot = SlotOf(MakeId(n.slot, 0));
  if (!slot) return Status(Code::kUnavailable, n.path + ": its archive is gone");
  if (!slot->fd) return Status(Code::kUnavailable, n.path + ": its archive cannot be opened");
  if (Status s = CheckBackingFileAccess(caller, slot->fd->get(), slot->real_path); !s.ok()) {
    return s;
  }
  std::shared_ptr<const ArchiveIndex> index;
  std::shared_ptr<ByteSource> archive_units;
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    index = slot->index;
    const bool stream = index && (index->container == ArchiveIndex::Container::kTarZst ||
                                  index->container == ArchiveIndex::Container::kTarGz ||
                                  index->container == ArchiveIndex::Container::kTarXz ||
                                  index->container == ArchiveIndex::Container::kTarBz2);
    if (stream) {
      if (slot->units_of != index) {
        // Built once per index, sharing its frame or checkpoint list (no copy; for zstd a walk
        // only to see whether some frame is huge).
        if (index->container == ArchiveIndex::Container::kTarZst) {
          slot->archive_units = std::make_shared<ZstdSliceSource>(
              slot->fd, slot->path, 0,
              std::shared_ptr<const std::vector<ZstdFrame>>(index, &index->archive_frames),
              slot->identity + ":tzst-frames");
        } else if (index->container == ArchiveIndex::Container::kTarXz) {
          slot->archive_units = std::make_shared<XzSliceSource>(
              slot->fd, slot->path,
              std::shared_ptr<const std::vector<XzBlock>>(index, &index->xz_blocks),
              slot->identity + ":txz-blocks");
        } else if (index->container == ArchiveIndex::Container::kTarBz2) {
          slot->archive_units = std::make_shared<Bz2SliceSource>(
              slot->fd, slot->path,
              std::shared_ptr<const std::vector<Bz2Block>>(index, &index->bz2_blocks),
              slot->identity + ":tbz2-blocks");
        } else {
          slot->archive_units = std::make_shared<GzipSliceSource>(
              slot->fd, slot->path,
              std::shared_ptr<const std::vector<GzipCheckpoint>>(index, &index->gzip_points),
              index->decompressed_size, slot->identity + ":tgz-checkpoints");
        }
        slot->units_of = index;
      }
      archive_units = slot->archive_units;
    }
  }
  if (!index) return Status(Code::kUnavailable, slot->path + ": not indexed");
  const ArchiveMember& m = index->members[static_cast<size_t>(n.member)];
  // The block layout depends on how the member is served: the container and zstd mode are part
  // of the cache key, so blocks cut one way are never served for another.
  std::string identity = slot->identity + ":" + std::to_string(static_cast<int>(index->container)) +
                         (m.zstd ? ":z:" : ":r:") + m.stored_path;
  std::string what = slot->path + ": " + m.stored_path;
  std::shared_ptr<ByteSource> src;
  switch (index->container) {
    case ArchiveIndex::Container::kTar:
    case ArchiveIndex::Container::kSpilled: {
      // A spill's fd keeps its bytes readable for this source's life, even once erased.
      std::shared_ptr<UniqueFd> fd =
          index->container == ArchiveIndex::Container::kTar ? slot->fd : index->spill_blob->fd();
      if (m.zstd) {
        // The member is its own units source: its frames, named by where they are stored in
        // the archive (not by the member's path), sharing the index's frame list.
        src = std::make_shared<ZstdSliceSource>(
            fd, what, m.data_offset,
            std::shared_ptr<const std::vector<ZstdFrame>>(index, &m.frames),
            slot->identity + ":" + std::to_string(static_cast<int>(index->container)) +
                ":zst-frames@" + std::to_string(m.data_offset));
      } else {
        src = std::make_shared<FileSliceSource>(
            fd, what, m.data_offset, m.size, identity,
            index->container == ArchiveIndex::Container::kSpilled);
      }
      break;
    }
    case ArchiveIndex::Container::kTarZst:
    case ArchiveIndex::Container::kTarGz:
    case ArchiveIndex::Container::kTarXz:
    case ArchiveIndex::Container::kTarBz2: {
      // A window of the archive's decoded stream: its blocks are slices of the archive's
      // frames (or checkpoint intervals), cached and decoded once for every member that
      // shares one.
      std::vector<ComposedSource::Piece> pieces(1);
      pieces[0].units = archive_units;
      pieces[0].offset = m.data_offset;
      pieces[0].length = m.size;
      src = std::make_shared<ComposedSource>(std::move(pieces), identity);
      break;
    }
  }
  return src;
}

Result<std::string> TarBackend::ReadLink(NodeId node) {
  Result<NodeRef> ref = NodeOf(node);
  if (!ref.ok()) return ref.status();
  const MemberTree::Node& n = *ref->node;
  if (n.attr.type != NodeType::kSymlink) return Status(Code::kNotLink, n.path);
  return n.link;
}

namespace {
// The member behind a tree node, if any.
const ArchiveMember* MemberOf(const MemberTree::Node& n, const ArchiveIndex* index) {
  if (!index || n.member < 0 || static_cast<size_t>(n.member) >= index->members.size())
    return nullptr;
  return &index->members[static_cast<size_t>(n.member)];
}
}  // namespace

// Every extended attribute of `node`: the member's stored ones, then daqfs's own.
Result<std::vector<std::pair<std::string, std::string>>> TarBackend::Xattrs(NodeId node) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (node == kRootNode || (!options_.merged && LocalId(node) == 1)) return out;
  Result<NodeRef> ref = NodeOf(node);
  if (!ref.ok()) return ref.status();
  const MemberTree::Node& n = *ref->node;
  std::shared_ptr<Slot> slot = SlotOf(MakeId(n.slot, 0));
  if (!slot) return out;
  std::shared_ptr<const ArchiveIndex> index;
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    index = slot->index;
  }
  const ArchiveMember* m = MemberOf(n, index.get());
  if (!m) return out;
  out = m->xattrs;
  if (n.attr.type != NodeType::kFile) return out;
  out.emplace_back("user.daqfs.archive", slot->path);
  out.emplace_back("user.daqfs.member", m->stored_path);
  out.emplace_back("user.daqfs.offset", std::to_string(m->data_offset));
  out.emplace_back("user.daqfs.stored_size", std::to_string(m->stored_size));
  if (m->zstd) {
    out.emplace_back("user.daqfs.frames", std::to_string(m->frames.size()) +
                                              (m->seek_table ? " (seek table)" : " (walked)"));
    out.emplace_back("user.daqfs.compressed_size", std::to_string(m->stored_size));
  } else if (index->container == ArchiveIndex::Container::kTarZst) {
    out.emplace_back("user.daqfs.frames",
                     std::to_string(index->archive_frames.size()) + " (whole archive)");
  } else if (index->container == ArchiveIndex::Container::kTarGz) {
    out.emplace_back("user.daqfs.checkpoints",
                     std::to_string(index->gzip_points.size()) + " (whole archive)");
  } else if (index->container == ArchiveIndex::Container::kTarXz) {
    out.emplace_back("user.daqfs.blocks",
                     std::to_string(index->xz_blocks.size()) + " (whole archive)");
  } else if (index->container == ArchiveIndex::Container::kTarBz2) {
    out.emplace_back("user.daqfs.blocks",
                     std::to_string(index->bz2_blocks.size()) + " (whole archive)");
  }
  return out;
}

Result<std::vector<std::string>> TarBackend::ListXattr(NodeId node) {
  Result<std::vector<std::pair<std::string, std::string>>> all = Xattrs(node);
  if (!all.ok()) return all.status();
  std::vector<std::string> names;
  for (const auto& [k, v] : *all) names.push_back(k);
  return names;
}

Result<std::string> TarBackend::GetXattr(NodeId node, const std::string& name) {
  Result<std::vector<std::pair<std::string, std::string>>> all = Xattrs(node);
  if (!all.ok()) return all.status();
  for (const auto& [k, v] : *all) {
    if (k == name) return v;
  }
  return Status(Code::kNoAttr, name);
}

namespace {
// Sums `field` of every archive's tree.
template <typename Field>
uint64_t SumTrees(const std::map<uint32_t, std::shared_ptr<TarBackend::Slot>>& slots, Field field) {
  uint64_t total = 0;
  for (auto& [n, slot] : slots) {
    std::lock_guard<std::mutex> sl(slot->mu);
    if (slot->tree) total += field(*slot->tree);
  }
  return total;
}
}  // namespace

uint64_t TarBackend::TotalBytes() const {
  if (options_.merged) {
    std::lock_guard<std::mutex> lock(merged_mu_);
    return merged_ ? merged_->total_bytes : 0;
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  return SumTrees(slots_, [](const MemberTree& t) { return t.total_bytes; });
}

uint64_t TarBackend::TotalNodes() const {
  if (options_.merged) {
    std::lock_guard<std::mutex> lock(merged_mu_);
    return merged_ ? merged_->count : 0;
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  return SumTrees(slots_, [](const MemberTree& t) { return t.count; });
}

size_t TarBackend::archive_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slots_.size();
}

}  // namespace daqfs
