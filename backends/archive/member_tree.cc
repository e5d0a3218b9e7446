#include "backends/archive/member_tree.h"

#include <algorithm>

#include "fs/log.h"

namespace daqfs {

uint64_t TreeIds::IdFor(const std::string& key) {
  auto [it, fresh] = ids_.try_emplace(key);
  if (fresh) {
    uint64_t local;
    if (!free_.empty()) {
      local = free_.back();
      free_.pop_back();
    } else {
      local = gen_.size();
      gen_.push_back(0);
    }
    it->second.id = (static_cast<uint64_t>(gen_[local]) << 32) | local;
  }
  it->second.epoch = epoch_;
  return it->second.id;
}

void TreeIds::EndBuild() {
  for (auto it = ids_.begin(); it != ids_.end();) {
    if (it->second.epoch == epoch_) {
      ++it;
      continue;
    }
    uint64_t local = it->second.id & kTreeLocalMask;
    // The next generation: a reused slot never repeats an id the kernel may still hold.
    // Generations stay below 2^29 so that ids (and listing cookies) stay below 2^61.
    gen_[local] = (gen_[local] + 1) & ((1u << 29) - 1);
    free_.push_back(static_cast<uint32_t>(local));
    it = ids_.erase(it);
  }
  ++epoch_;
}

uint32_t DirModeFor(uint32_t file_mode) {
  uint32_t m = file_mode & 0777;
  return m | ((m & 0444) >> 2);
}

Attr DirAttrOf(const struct stat& st, double cache_seconds) {
  Attr a;
  a.cache_seconds = cache_seconds;
  a.type = NodeType::kDirectory;
  a.mode = DirModeFor(st.st_mode);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.mtime = st.st_mtim;
  a.nlink = 2;
  return a;
}

TreeBuilder::TreeBuilder(Attr top, TreeIds* ids)
    : tree_(std::make_shared<MemberTree>()), ids_(ids) {
  top_ = NewNode("", top);  // id 1
}

TreeBuilder::~TreeBuilder() = default;

void TreeBuilder::AddArchive(const TreeArchive& archive, const ArchiveIndex& index,
                             const std::string& source, bool merged) {
  log_prefix_ = source + ": " + archive.path + ": ";
  for (size_t i = 0; i < index.members.size(); ++i) {
    AddMember(archive, index, static_cast<int64_t>(i), merged);
  }
}

std::shared_ptr<MemberTree> TreeBuilder::Finish() {
  auto& nodes = tree_->nodes;
  for (size_t local = 1; local < nodes.size(); ++local) {
    auto& n = nodes[local];
    if (!n.valid || n.attr.type != NodeType::kDirectory) continue;
    uint32_t subdirs = 0;
    auto& kids = kids_[local];
    n.children.assign(kids.begin(), kids.end());
    for (auto& [name, child] : kids) {
      if (N(child).attr.type == NodeType::kDirectory) ++subdirs;
    }
    n.attr.nlink = 2 + subdirs;
    n.by_id.resize(n.children.size());
    for (uint32_t i = 0; i < n.by_id.size(); ++i) n.by_id[i] = i;
    std::sort(n.by_id.begin(), n.by_id.end(),
              [&](uint32_t a, uint32_t b) { return n.children[a].second < n.children[b].second; });
  }
  // Count what is reachable (replaced members are not).
  std::vector<uint64_t> stack = {top_};
  std::vector<bool> seen(nodes.size());
  while (!stack.empty()) {
    uint64_t local = stack.back() & kTreeLocalMask;
    stack.pop_back();
    if (seen[local]) continue;
    seen[local] = true;
    tree_->count++;
    if (nodes[local].attr.type == NodeType::kFile) tree_->total_bytes += nodes[local].attr.size;
    for (auto& [name, child] : nodes[local].children) stack.push_back(child);
  }
  kids_.clear();
  return std::move(tree_);
}

// `id_key` names the node for stable ids (merged layout): its path, plus the archive's identity
// for files, so a file from a changed or different archive is a new inode.
uint64_t TreeBuilder::NewNode(const std::string& path, const Attr& attr,
                              const std::string& id_key) {
  uint64_t id = ids_ ? ids_->IdFor(id_key.empty() ? path : id_key)
                     : (tree_->nodes.empty() ? 1 : tree_->nodes.size());
  uint64_t local = id & kTreeLocalMask;
  if (tree_->nodes.size() <= local) tree_->nodes.resize(local + 1);
  if (kids_.size() <= local) kids_.resize(local + 1);
  auto& n = tree_->nodes[local];
  n = MemberTree::Node();
  n.valid = true;
  n.id = id;
  n.attr = attr;
  n.path = path;
  kids_[local].clear();
  return id;
}

void TreeBuilder::Unlink(uint64_t id) {
  auto& n = N(id);
  if (n.attr.type != NodeType::kDirectory && n.attr.nlink > 0) n.attr.nlink--;
}

uint64_t TreeBuilder::DirFor(const TreeArchive& archive, const std::string& path) {
  uint64_t cur = top_;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string comp = path.substr(pos, slash - pos);
    auto it = Kids(cur).find(comp);
    if (it != Kids(cur).end() && N(it->second).attr.type == NodeType::kDirectory) {
      cur = it->second;
    } else {
      uint64_t replaced = it != Kids(cur).end() ? it->second : 0;
      Attr a = DirAttrOf(archive.st);
      a.mode = 0755;
      uint64_t d = NewNode(path.substr(0, slash), a);  // may reallocate kids_
      N(d).slot = archive.slot;
      if (replaced) Unlink(replaced);
      Kids(cur)[comp] = d;
      cur = d;
    }
    pos = slash + 1;
  }
  return cur;
}

uint64_t TreeBuilder::Find(const std::string& path) {
  uint64_t cur = top_;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    auto it = Kids(cur).find(path.substr(pos, slash - pos));
    if (it == Kids(cur).end()) return 0;
    cur = it->second;
    pos = slash + 1;
  }
  return cur;
}

void TreeBuilder::AddMember(const TreeArchive& slot, const ArchiveIndex& index, int64_t mi,
                            bool merged) {
  const ArchiveMember& m = index.members[static_cast<size_t>(mi)];
  size_t slash = m.path.find_last_of('/');
  std::string parent_path = slash == std::string::npos ? "" : m.path.substr(0, slash);
  std::string leaf = slash == std::string::npos ? m.path : m.path.substr(slash + 1);
  uint64_t parent = DirFor(slot, parent_path);
  auto existing = Kids(parent).find(leaf);
  uint64_t replaced = existing != Kids(parent).end() ? existing->second : 0;

  if (m.kind == TarMember::Kind::kHardLink) {
    uint64_t target = Find(m.link_target);
    if (target == 0 || N(target).attr.type == NodeType::kDirectory) {
      LogWarn(log_prefix_ + "hard link " + m.path + " -> " + m.link_target +
              ": target not found earlier in the archive; skipped");
      return;
    }
    if (replaced == target) return;
    if (replaced) Unlink(replaced);
    N(target).attr.nlink++;
    Kids(parent)[leaf] = target;
    return;
  }
  Attr a;
  a.mode = m.mode & 07777;
  a.uid = m.uid;
  a.gid = m.gid;
  a.mtime = m.mtime;
  if (m.kind == TarMember::Kind::kDirectory) {
    a.type = NodeType::kDirectory;
    if (replaced && N(replaced).attr.type == NodeType::kDirectory) {
      auto& d = N(replaced);
      d.attr.mode = a.mode;
      d.attr.uid = a.uid;
      d.attr.gid = a.gid;
      d.attr.mtime = a.mtime;
      d.slot = slot.slot;
      d.member = mi;
      return;
    }
  } else if (m.kind == TarMember::Kind::kSymlink) {
    a.type = NodeType::kSymlink;
    a.size = m.link_target.size();
  } else {
    a.type = NodeType::kFile;
    a.size = m.size;
  }
  if (replaced) {
    const auto& old = N(replaced);
    if (merged && old.slot != slot.slot) {
      LogInfo(log_prefix_ + m.path + " is also in an earlier archive; this later one is shown");
    } else {
      LogDebug(log_prefix_ + m.path + " appears again; the later member wins");
    }
    Unlink(replaced);
    if (ids_) Kids(parent).erase(leaf);
  }
  std::string id_key = a.type == NodeType::kDirectory ? "" : m.path + '\n' + slot.identity;
  uint64_t id = NewNode(m.path, a, id_key);
  auto& n = N(id);
  n.slot = slot.slot;
  n.member = mi;
  if (m.kind == TarMember::Kind::kSymlink) n.link = m.link_target;
  Kids(parent)[leaf] = id;
}

void AnnounceTreeChanges(const MemberTree& before, const MemberTree& after, Invalidator& inv) {
  for (const MemberTree::Node& old : before.nodes) {
    if (!old.valid || old.attr.type != NodeType::kDirectory) continue;
    const MemberTree::Node* now = after.Find(old.id);
    if (!now || now->attr.type != NodeType::kDirectory) continue;  // its parent announces it
    // Both child lists are sorted by name: one merge walk.
    auto a = old.children.begin(), b = now->children.begin();
    while (a != old.children.end() || b != now->children.end()) {
      if (b == now->children.end() || (a != old.children.end() && a->first < b->first)) {
        inv.EntryRemoved(old.id, a->first);
        ++a;
      } else if (a == old.children.end() || b->first < a->first) {
        inv.EntryAdded(old.id, b->first);
        ++b;
      } else {
        if (a->second != b->second) inv.EntryRemoved(old.id, a->first);  // another node now
        ++a;
        ++b;
      }
    }
  }
}

}  // namespace daqfs
