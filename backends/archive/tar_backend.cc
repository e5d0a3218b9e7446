#include "backends/archive/tar_backend.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "backends/archive/tar_index.h"
#include "fs/log.h"

namespace daqfs {
namespace {

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Directories need the search bit wherever they have the read bit.
uint32_t DirModeFor(uint32_t file_mode) {
  uint32_t m = file_mode & 0777;
  return m | ((m & 0444) >> 2);
}

// Reads one member's bytes straight from the archive with pread.
class TarMemberSource final : public ByteSource {
 public:
  TarMemberSource(std::shared_ptr<UniqueFd> fd, std::string archive, uint64_t offset,
                  uint64_t size, std::string identity)
      : fd_(std::move(fd)), archive_(std::move(archive)), offset_(offset), size_(size),
        identity_(std::move(identity)) {}

  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }

  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= size_) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
    Result<size_t> n = PreadFull(fd_->get(), offset_ + offset, out.first(want), archive_);
    if (!n.ok()) return n;
    if (*n != want) {
      return Corrupt(archive_ + ": archive ends inside member data at offset " +
                     std::to_string(offset_ + offset + *n));
    }
    return n;
  }

  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override {
    BlockRange r = BlockRangeOf(index);
    if (out.size() != r.length) return Invalid("block buffer size mismatch");
    Result<size_t> n = ReadAt(r.offset, out);
    return n.ok() ? Status::Ok() : n.status();
  }

 private:
  std::shared_ptr<UniqueFd> fd_;
  std::string archive_;
  uint64_t offset_;
  uint64_t size_;
  std::string identity_;
};

}  // namespace

Result<std::vector<std::string>> FindArchives(const std::string& path) {
  std::vector<std::string> out;
  if (HasGlobChars(path)) {
    glob_t g{};
    int rc = glob(path.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) out.emplace_back(g.gl_pathv[i]);
      }
    }
    globfree(&g);
    if (rc != 0 && rc != GLOB_NOMATCH) return IoError("glob " + path + " failed");
  } else {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, path);
    if (S_ISREG(st.st_mode)) {
      out.push_back(path);
    } else if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(path.c_str());
      if (!d) return ErrnoStatus(errno, "open folder " + path);
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (!EndsWith(name, ".tar")) continue;
        std::string full = path + (EndsWith(path, "/") ? "" : "/") + name;
        struct stat fst;
        if (stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) out.push_back(full);
      }
      closedir(d);
    } else {
      return Invalid(path + ": not a file or folder");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Builds the node tree; children are kept in maps while building and flattened at the end.
class TarBackend::Builder {
 public:
  explicit Builder(TarBackend* b) : b_(b) {}

  NodeId NewNode(const Attr& attr, uint32_t archive, std::string member_path) {
    Node n;
    n.attr = attr;
    n.archive = archive;
    n.member_path = std::move(member_path);
    b_->nodes_.push_back(std::move(n));
    kids_.emplace_back();
    return b_->nodes_.size() - 1;
  }

  // Adds archive `ai` under the root and all its members under that directory.
  void AddArchive(uint32_t ai, const TarIndex& index) {
    const Archive& ar = b_->archives_[ai];
    std::string dir_name = BaseName(ar.path);
    if (kids_[kRootNode].count(dir_name)) {
      LogWarn(b_->name_ + ": " + ar.path + ": another archive is already named " + dir_name +
              "; skipped");
      return;
    }
    Attr dir = ArchiveDirAttr(ar.st);
    NodeId top = NewNode(dir, ai, "");
    kids_[kRootNode][dir_name] = top;
    for (const TarMember& m : index.members) AddMember(ai, top, m);
  }

  void Finish() {
    for (size_t id = 1; id < b_->nodes_.size(); ++id) {
      Node& n = b_->nodes_[id];
      if (n.attr.type != NodeType::kDirectory) continue;
      uint32_t subdirs = 0;
      n.children.reserve(kids_[id].size());
      for (auto& [name, child] : kids_[id]) {
        n.children.emplace_back(name, child);
        if (b_->nodes_[child].attr.type == NodeType::kDirectory) ++subdirs;
      }
      n.attr.nlink = 2 + subdirs;
    }
    for (const Node& n : b_->nodes_) {
      if (n.attr.type == NodeType::kFile) b_->total_bytes_ += n.attr.size;
    }
  }

  static Attr ArchiveDirAttr(const struct stat& st) {
    Attr a;
    a.type = NodeType::kDirectory;
    a.mode = DirModeFor(st.st_mode);
    a.uid = st.st_uid;
    a.gid = st.st_gid;
    a.mtime = st.st_mtim;
    return a;
  }

 private:
  // The directory node for `path` under `top`, creating implied directories on the way. A
  // non-directory in the way is replaced, as `tar -x` replaces it.
  NodeId DirFor(uint32_t ai, NodeId top, std::string_view path) {
    NodeId cur = top;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string_view::npos) slash = path.size();
      std::string comp(path.substr(pos, slash - pos));
      auto it = kids_[cur].find(comp);
      if (it != kids_[cur].end() && b_->nodes_[it->second].attr.type == NodeType::kDirectory) {
        cur = it->second;
      } else {
        NodeId replaced = it != kids_[cur].end() ? it->second : 0;
        Attr a = ArchiveDirAttr(b_->archives_[ai].st);
        a.mode = 0755;
        NodeId d = NewNode(a, ai, std::string(path.substr(0, slash)));  // invalidates `it`
        if (replaced) Unlink(replaced);
        kids_[cur][comp] = d;
        cur = d;
      }
      pos = slash + 1;
    }
    return cur;
  }

  void Unlink(NodeId id) {
    Node& n = b_->nodes_[id];
    if (n.attr.nlink > 0 && n.attr.type != NodeType::kDirectory) n.attr.nlink--;
  }

  // Finds an existing node by its path inside the archive (for hard links).
  NodeId Find(NodeId top, std::string_view path) {
    NodeId cur = top;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string_view::npos) slash = path.size();
      auto it = kids_[cur].find(std::string(path.substr(pos, slash - pos)));
      if (it == kids_[cur].end()) return 0;
      cur = it->second;
      pos = slash + 1;
    }
    return cur;
  }

  void AddMember(uint32_t ai, NodeId top, const TarMember& m) {
    const std::string& ap = b_->archives_[ai].path;
    size_t slash = m.path.find_last_of('/');
    std::string parent_path = slash == std::string::npos ? "" : m.path.substr(0, slash);
    std::string leaf = slash == std::string::npos ? m.path : m.path.substr(slash + 1);
    NodeId parent = DirFor(ai, top, parent_path);
    auto existing = kids_[parent].find(leaf);

    if (m.kind == TarMember::Kind::kHardLink) {
      NodeId target = Find(top, m.link_target);
      if (target == 0 || b_->nodes_[target].attr.type == NodeType::kDirectory) {
        LogWarn(b_->name_ + ": " + ap + ": hard link " + m.path + " -> " + m.link_target +
                ": target not found earlier in the archive; skipped");
        return;
      }
      if (existing != kids_[parent].end()) {
        if (existing->second == target) return;
        Unlink(existing->second);
      }
      b_->nodes_[target].attr.nlink++;
      kids_[parent][leaf] = target;
      return;
    }

    Attr a;
    a.mode = m.mode & 07777;
    a.uid = m.uid;
    a.gid = m.gid;
    a.mtime = m.mtime;
    if (m.kind == TarMember::Kind::kDirectory) {
      a.type = NodeType::kDirectory;
      if (existing != kids_[parent].end() &&
          b_->nodes_[existing->second].attr.type == NodeType::kDirectory) {
        // An explicit entry for a directory that exists (implied or repeated): take its attrs.
        Node& d = b_->nodes_[existing->second];
        d.attr.mode = a.mode;
        d.attr.uid = a.uid;
        d.attr.gid = a.gid;
        d.attr.mtime = a.mtime;
        d.xattrs = m.xattrs;
        return;
      }
    } else if (m.kind == TarMember::Kind::kSymlink) {
      a.type = NodeType::kSymlink;
      a.size = m.link_target.size();
    } else {
      a.type = NodeType::kFile;
      a.size = m.size;
    }
    NodeId replaced = existing != kids_[parent].end() ? existing->second : 0;
    NodeId id = NewNode(a, ai, m.path);  // invalidates `existing`
    Node& n = b_->nodes_[id];
    n.data_offset = m.data_offset;
    n.xattrs = m.xattrs;
    if (m.kind == TarMember::Kind::kSymlink) n.link = m.link_target;
    if (replaced) {
      LogDebug(b_->name_ + ": " + ap + ": " + m.path + " appears again; the later member wins");
      Unlink(replaced);
    }
    kids_[parent][leaf] = id;
  }

  TarBackend* b_;
  std::vector<std::map<std::string, NodeId>> kids_;  // per node id, while building
};

Result<std::unique_ptr<TarBackend>> TarBackend::Create(const std::string& source_name,
                                                       const std::string& path) {
  Result<std::vector<std::string>> files = FindArchives(path);
  if (!files.ok()) return Status(files.status().code(), "source " + source_name + ": " +
                                                            files.status().message());
  std::unique_ptr<TarBackend> b(new TarBackend());
  b->name_ = source_name;
  Builder builder(b.get());
  builder.NewNode(Attr{}, 0, "");  // id 0: unused
  Attr root;
  root.type = NodeType::kDirectory;
  root.mode = 0555;
  struct stat pst;
  if (!HasGlobChars(path) && stat(path.c_str(), &pst) == 0) root = Builder::ArchiveDirAttr(pst);
  builder.NewNode(root, 0, "");  // id 1: the source root

  for (const std::string& file : *files) {
    Result<UniqueFd> fd = OpenReadOnly(file);
    if (!fd.ok()) {
      LogError(source_name + ": " + fd.status().message() + "; archive skipped");
      continue;
    }
    Archive ar;
    ar.path = file;
    ar.fd = std::make_shared<UniqueFd>(std::move(*fd));
    if (fstat(ar.fd->get(), &ar.st) != 0) {
      LogError(source_name + ": stat " + file + ": " + std::strerror(errno) + "; skipped");
      continue;
    }
    ar.identity = FileIdentity(ar.st);
    int rawfd = ar.fd->get();
    TarReadFn read = [rawfd, &file](uint64_t off, std::span<uint8_t> out) {
      return PreadFull(rawfd, off, out, file);
    };
    Result<TarIndex> index = IndexTar(read, static_cast<uint64_t>(ar.st.st_size), file);
    if (!index.ok()) {
      LogError(source_name + ": " + index.status().ToString() + "; archive skipped");
      continue;
    }
    for (const std::string& w : index->warnings) LogWarn(source_name + ": " + file + ": " + w);
    if (!index->damage.ok()) {
      LogError(source_name + ": " + index->damage.message() + " (kept " +
               std::to_string(index->members.size()) + " members before the damage)");
    }
    b->archives_.push_back(std::move(ar));
    builder.AddArchive(static_cast<uint32_t>(b->archives_.size() - 1), *index);
  }
  builder.Finish();
  LogInfo(source_name + ": " + std::to_string(b->archives_.size()) + " archives, " +
          std::to_string(b->nodes_.size() - 2) + " entries");
  return b;
}

const TarBackend::Node* TarBackend::Get(NodeId id) const {
  if (id == 0 || id >= nodes_.size()) return nullptr;
  return &nodes_[id];
}

Result<NodeId> TarBackend::Lookup(NodeId parent, std::string_view name) {
  const Node* p = Get(parent);
  if (!p) return NotFound(std::string(name));
  if (p->attr.type != NodeType::kDirectory) return Status(Code::kNotDir, std::string(name));
  auto it = std::lower_bound(p->children.begin(), p->children.end(), name,
                             [](const auto& kid, std::string_view n) { return kid.first < n; });
  if (it == p->children.end() || it->first != name) return NotFound(std::string(name));
  return it->second;
}

Result<Attr> TarBackend::GetAttr(NodeId node) {
  const Node* n = Get(node);
  if (!n) return NotFound("node " + std::to_string(node));
  return n->attr;
}

Status TarBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  const Node* d = Get(dir);
  if (!d) return NotFound("node " + std::to_string(dir));
  if (d->attr.type != NodeType::kDirectory) return Status(Code::kNotDir, d->member_path);
  for (uint64_t i = cookie; i < d->children.size(); ++i) {
    const auto& [name, id] = d->children[i];
    if (!emit(DirEntry{name, id, nodes_[id].attr}, i + 1)) break;
  }
  return Status::Ok();
}

std::vector<DirEntry> TarBackend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  const Node* d = Get(dir);
  if (!d || d->attr.type != NodeType::kDirectory) return out;
  auto it = std::upper_bound(d->children.begin(), d->children.end(), name,
                             [](std::string_view n, const auto& kid) { return n < kid.first; });
  for (; it != d->children.end() && out.size() < max; ++it) {
    const Attr& a = nodes_[it->second].attr;
    if (a.type == NodeType::kFile) out.push_back(DirEntry{it->first, it->second, a});
  }
  return out;
}

Result<std::shared_ptr<ByteSource>> TarBackend::Open(NodeId node, const Caller& caller) {
  const Node* n = Get(node);
  if (!n) return NotFound("node " + std::to_string(node));
  if (n->attr.type == NodeType::kDirectory) return Status(Code::kIsDir, n->member_path);
  if (n->attr.type != NodeType::kFile) return Invalid(n->member_path + ": not a regular file");
  const Archive& ar = archives_[n->archive];
  if (!MayRead(caller, ar.st.st_uid, ar.st.st_gid, ar.st.st_mode)) {
    return Status(Code::kPermission, ar.path + ": caller may not read the archive");
  }
  return std::shared_ptr<ByteSource>(std::make_shared<TarMemberSource>(
      ar.fd, ar.path, n->data_offset, n->attr.size, ar.identity + ":" + n->member_path));
}

Result<std::string> TarBackend::ReadLink(NodeId node) {
  const Node* n = Get(node);
  if (!n) return NotFound("node " + std::to_string(node));
  if (n->attr.type != NodeType::kSymlink) return Status(Code::kNotLink, n->member_path);
  return n->link;
}

Result<std::vector<std::string>> TarBackend::ListXattr(NodeId node) {
  const Node* n = Get(node);
  if (!n) return NotFound("node " + std::to_string(node));
  std::vector<std::string> names;
  for (const auto& [k, v] : n->xattrs) names.push_back(k);
  if (n->attr.type == NodeType::kFile) {
    names.push_back("user.daqfs.archive");
    names.push_back("user.daqfs.offset");
  }
  return names;
}

Result<std::string> TarBackend::GetXattr(NodeId node, const std::string& name) {
  const Node* n = Get(node);
  if (!n) return NotFound("node " + std::to_string(node));
  for (const auto& [k, v] : n->xattrs) {
    if (k == name) return v;
  }
  if (n->attr.type == NodeType::kFile) {
    if (name == "user.daqfs.archive") return archives_[n->archive].path;
    if (name == "user.daqfs.offset") return std::to_string(n->data_offset);
  }
  return Status(Code::kNoAttr, name);
}

}  // namespace daqfs
