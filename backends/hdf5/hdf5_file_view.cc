#include "backends/hdf5/hdf5_file_view.h"

#include <algorithm>
#include <map>
#include <optional>

#include "backends/common/npy_header.h"
#include "backends/hdf5/hdf5_datasets.h"
#include "backends/hdf5/hdf5_links.h"
#include "fs/log.h"
#include "fs/unique_fd.h"

namespace daqfs {

struct Hdf5FileView::Folder {
  std::mutex mu;  // held while loading
  bool loaded = false;
  Status error;
  // Links and attribute files, sorted by name.
  std::vector<std::pair<std::string, uint64_t>> children;
  std::vector<std::pair<std::string, std::string>> xattrs;
  // Extra entries (Hdf5Views), asked for on first need: guarded by extras_mu.
  std::mutex extras_mu;
  bool extras_loaded = false;
  std::optional<Hdf5FolderContext> context;  // what to ask with (set by loading, with views)
  std::vector<std::pair<std::string, uint64_t>> all;  // children and extras, sorted by name
};

namespace {

constexpr uint64_t kIndexBits = 27;
constexpr uint64_t kIndexMask = (1ull << kIndexBits) - 1;
constexpr uint64_t kMaxExtraDirs = 1ull << 16;

std::string CleanH5Path(const std::string& path) {
  std::string out;
  for (const std::string& c : SplitH5Path(path)) out += "/" + c;
  return out.empty() ? "/" : out;
}

// The relative path from folder `from` to `to` (both from the file's folder).
std::string Relative(const std::vector<std::string>& from, const std::vector<std::string>& to) {
  size_t k = 0;
  while (k < from.size() && k < to.size() && from[k] == to[k]) ++k;
  std::string out;
  for (size_t i = k; i < from.size(); ++i) out += out.empty() ? ".." : "/..";
  for (size_t i = k; i < to.size(); ++i) out += (out.empty() ? "" : "/") + to[i];
  return out.empty() ? "." : out;
}

std::string ObjectKey(const std::string& identity, haddr_t addr) {
  return identity + "@" + std::to_string(addr);
}

// An extended attribute's value: the text without its final newline.
std::string XattrValue(const std::string& text) {
  if (!text.empty() && text.back() == '\n') return text.substr(0, text.size() - 1);
  return text;
}

// Names a folder entry may not have.
bool BadName(const std::string& name) {
  return name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
         name.find('\0') != std::string::npos || name.size() > 255;
}

}  // namespace

Hdf5FileView::Hdf5FileView(std::shared_ptr<const Env> env, std::string file, const struct stat& st)
    : env_(std::move(env)), file_(std::move(file)), identity_(FileIdentity(st)), st_(st) {
  nodes_.resize(2);
  folders_.resize(2);
  auto root = std::make_shared<Node>();
  root->local = kFolder;
  root->kind = Kind::kFolder;
  root->attr = DirAttr(st);
  root->file = file_;
  root->path = "/";
  root->file_identity = identity_;
  root->anchor_path = "/";
  root->anchor_node = kFolder;
  {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = env_->pool->Open(file_);
    if (f.ok()) {
      Result<H5Location> loc = ObjectAt(*f, "/");
      if (loc.ok()) root->addr = loc->addr;
    }
  }
  nodes_[kFolder] = std::move(root);
  folders_[kFolder] = std::make_shared<Folder>();
}

Hdf5FileView::~Hdf5FileView() = default;

Attr Hdf5FileView::FileAttr(const struct stat& st, uint64_t size) const {
  Attr a;
  a.type = NodeType::kFile;
  a.size = size;
  a.mode = st.st_mode & 0777;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.mtime = st.st_mtim;
  a.nlink = 1;
  return a;
}

Attr Hdf5FileView::DirAttr(const struct stat& st) const {
  Attr a = FileAttr(st, 0);
  a.type = NodeType::kDirectory;
  // The search bit wherever the file has the read bit.
  a.mode = (st.st_mode & 0777) | ((st.st_mode & 0444) >> 2);
  // Subfolders are not counted before a group is read: 1 says "unknown" (find -noleaf).
  a.nlink = 1;
  return a;
}

void Hdf5FileView::LogOnce(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(logged_mu_);
    if (!logged_.insert(message).second) return;
  }
  LogWarn(env_->source + ": " + message);
}

std::shared_ptr<const Hdf5FileView::Node> Hdf5FileView::Find(uint64_t local) const {
  std::shared_lock<std::shared_mutex> lock(nodes_mu_);
  if (local >= nodes_.size()) return nullptr;
  return nodes_[local];
}

Result<std::shared_ptr<const Hdf5FileView::Node>> Hdf5FileView::ExtraChild(uint64_t local) const {
  uint64_t seq = (local & ~kExtraChildBit) >> kIndexBits;
  uint64_t index = local & kIndexMask;
  std::shared_ptr<const Node> dir;
  {
    std::shared_lock<std::shared_mutex> lock(nodes_mu_);
    if (seq >= extra_dirs_.size()) return NotFound("node " + std::to_string(local));
    dir = nodes_[extra_dirs_[seq]];
  }
  if (!dir || !dir->extra.dir || index >= dir->extra.dir->Count()) {
    return NotFound("node " + std::to_string(local));
  }
  Hdf5ExtraEntry e = dir->extra.dir->At(index);
  // A folder entry has a node of its own (NestedExtraDir): no computed id stands for it.
  if (e.attr.type == NodeType::kDirectory && e.dir)
    return NotFound("node " + std::to_string(local));
  auto n = std::make_shared<Node>();
  n->local = local;
  n->parent = dir->local;
  n->kind = Kind::kExtraFile;
  n->extra = std::move(e);
  n->name = n->extra.name;
  n->attr = n->extra.attr;
  n->attr.type = NodeType::kFile;
  return std::shared_ptr<const Node>(std::move(n));
}

Result<std::shared_ptr<const Hdf5FileView::Node>> Hdf5FileView::NodeOf(uint64_t local) const {
  if (local & kExtraChildBit) return ExtraChild(local);
  std::shared_ptr<const Node> n = Find(local);
  if (!n) return NotFound("node " + std::to_string(local));
  return n;
}

std::shared_ptr<Hdf5FileView::Node> Hdf5FileView::NewNode(Kind kind, uint64_t parent,
                                                          const std::string& name) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->parent = parent;
  n->name = name;
  return n;
}

uint64_t Hdf5FileView::Add(std::shared_ptr<Node> node) {
  std::unique_lock<std::shared_mutex> lock(nodes_mu_);
  return AddLocked(std::move(node));
}

uint64_t Hdf5FileView::AddLocked(std::shared_ptr<Node> node) {
  uint64_t local = nodes_.size();
  node->local = local;
  if (node->kind == Kind::kFolder && node->anchor_node == 0) node->anchor_node = local;
  if (node->kind == Kind::kExtraDir) {
    if (extra_dirs_.size() >= kMaxExtraDirs) return 0;
    node->extra_seq = extra_dirs_.size();
    extra_dirs_.push_back(local);
  }
  folders_.push_back(node->kind == Kind::kFolder ? std::make_shared<Folder>() : nullptr);
  nodes_.push_back(std::move(node));
  return local;
}

std::vector<std::string> Hdf5FileView::ViewPath(uint64_t local) const {
  std::vector<std::string> rev;
  std::shared_lock<std::shared_mutex> lock(nodes_mu_);
  while (local > kFolder && local < nodes_.size()) {
    rev.push_back(nodes_[local]->name);
    local = nodes_[local]->parent;
  }
  return std::vector<std::string>(rev.rbegin(), rev.rend());
}

Result<std::shared_ptr<Hdf5FileView::Folder>> Hdf5FileView::Load(uint64_t dir) {
  std::shared_ptr<Node> node;
  std::shared_ptr<Folder> folder;
  {
    std::shared_lock<std::shared_mutex> lock(nodes_mu_);
    if (dir >= nodes_.size()) return NotFound("node " + std::to_string(dir));
    node = nodes_[dir];
    folder = folders_[dir];
  }
  if (node->kind != Kind::kFolder || !folder) return Status(Code::kNotDir, node->name);
  std::lock_guard<std::mutex> lock(folder->mu);
  if (!folder->loaded) {
    folder->error = LoadInto(*node, *folder);
    folder->loaded = true;
  }
  if (!folder->error.ok()) return folder->error;
  return folder;
}

Status Hdf5FileView::LoadInto(const Node& dir, Folder& out) {
  std::vector<std::string> view_path = ViewPath(dir.local);
  std::set<std::string> ancestors;
  {
    std::shared_lock<std::shared_mutex> lock(nodes_mu_);
    for (uint64_t l = dir.local; l >= kFolder && l < nodes_.size(); l = nodes_[l]->parent) {
      const Node& n = *nodes_[l];
      if (n.kind == Kind::kFolder) ancestors.insert(ObjectKey(n.file_identity, n.addr));
      if (l == kFolder) break;
    }
  }
  std::vector<H5LinkEntry> links;
  std::vector<H5AttrText> attrs;
  std::vector<std::string> skipped;
  struct stat file_st {};
  {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = env_->pool->Open(dir.file);
    if (!file.ok()) return file.status();
    if ((*file)->identity != dir.file_identity) {
      return Status(Code::kUnavailable, dir.file + ": changed since it was found");
    }
    file_st = (*file)->st;
    Result<std::vector<H5LinkEntry>> l = ListLinks(**file, dir.path);
    if (!l.ok()) return l.status();
    links = std::move(*l);
    Result<std::vector<H5AttrText>> a = ReadAttributeTexts(**file, dir.path, &skipped);
    if (a.ok()) attrs = std::move(*a);
    if (!a.ok()) skipped.push_back("attributes: " + a.status().message());
  }
  for (const std::string& s : skipped) {
    LogOnce(dir.file + ": " + dir.path + ": attribute " + s + "; left out");
  }
  std::vector<Made> made, dataset_attrs;
  const std::vector<std::string> anchor_view = ViewPath(dir.anchor_node);
  for (const H5LinkEntry& link : links) {
    std::vector<std::string> logs;  // written once H5Lock is let go
    MakeEntries(dir, view_path, anchor_view, ancestors, link, &made, &dataset_attrs, &logs);
    for (const std::string& m : logs) LogOnce(m);
  }
  for (Made& m : dataset_attrs) made.push_back(std::move(m));
  for (const H5AttrText& a : attrs) {
    out.xattrs.emplace_back("user." + a.name, XattrValue(a.text));
    auto n = NewNode(Kind::kText, dir.local, "@" + a.name);
    n->content = a.text;
    n->attr = FileAttr(file_st, a.text.size());
    n->file = dir.file;
    n->path = dir.path;
    n->file_identity = dir.file_identity;
    made.push_back(Made{n->name, std::move(n)});
  }
  if (env_->views) {
    // Extra entries are asked for on first need (AllChildren), not now: a lookup of a link
    // walks through without them.
    Hdf5FolderContext ctx;
    ctx.source_file = file_;
    ctx.file = dir.file;
    ctx.group_path = dir.path;
    ctx.file_root = dir.local == kFolder;
    ctx.folder_attr = dir.attr;
    ctx.pool = env_->pool;
    ctx.units = env_->units;
    ctx.source = env_->source;
    ctx.text_max = env_->text_max;
    for (const Made& m : made) {
      if (m.node->kind == Kind::kNpy) {
        ctx.datasets.emplace_back(m.name.substr(0, m.name.size() - 4), m.node->dataset);
      }
    }
    out.context = std::move(ctx);
  }
  // First come, first served: links, then attribute files (extra entries come last).
  std::map<std::string, uint64_t> children;
  for (Made& m : made) {
    if (BadName(m.name)) {
      LogOnce(dir.file + ": " + dir.path + ": '" + m.name + "' cannot be a file name; left out");
      continue;
    }
    if (children.count(m.name)) {
      LogOnce(dir.file + ": " + dir.path + ": '" + m.name +
              "' is there twice (a link and an attribute file?); the first is shown");
      continue;
    }
    uint64_t local = Add(std::move(m.node));
    if (local != 0) children.emplace(m.name, local);
  }
  out.children.assign(children.begin(), children.end());
  return Status::Ok();
}

const std::vector<std::pair<std::string, uint64_t>>& Hdf5FileView::AllChildren(const Node& dir,
                                                                               Folder& folder) {
  std::lock_guard<std::mutex> lock(folder.extras_mu);
  if (folder.extras_loaded) return folder.all;
  folder.all = folder.children;
  if (folder.context && env_->views) {
    std::map<std::string, uint64_t> names(folder.children.begin(), folder.children.end());
    for (Hdf5ExtraEntry& e : env_->views->ForFolder(*folder.context)) {
      if (BadName(e.name)) {
        LogOnce(dir.file + ": " + dir.path + ": '" + e.name + "' cannot be a file name; left out");
        continue;
      }
      if (names.count(e.name)) {
        LogOnce(dir.file + ": " + dir.path + ": '" + e.name +
                "' is a link or attribute file there already; the view's entry is not shown");
        continue;
      }
      bool dir_entry = e.attr.type == NodeType::kDirectory && e.dir;
      auto n = NewNode(dir_entry ? Kind::kExtraDir : Kind::kExtraFile, dir.local, e.name);
      n->attr = e.attr;
      n->attr.type = dir_entry ? NodeType::kDirectory : NodeType::kFile;
      std::string name = e.name;
      n->extra = std::move(e);
      uint64_t local = Add(std::move(n));
      if (local != 0) names.emplace(std::move(name), local);
    }
    folder.all.assign(names.begin(), names.end());
  }
  folder.context.reset();
  folder.extras_loaded = true;
  return folder.all;
}

uint64_t Hdf5FileView::NestedExtraDir(const Node& dir, uint64_t index, Hdf5ExtraEntry entry) {
  std::unique_lock<std::shared_mutex> lock(nodes_mu_);
  auto key = std::make_pair(dir.local, index);
  if (auto it = nested_dirs_.find(key); it != nested_dirs_.end()) return it->second;
  auto n = NewNode(Kind::kExtraDir, dir.local, entry.name);
  n->attr = entry.attr;
  n->attr.type = NodeType::kDirectory;
  n->extra = std::move(entry);
  uint64_t local = AddLocked(std::move(n));
  if (local != 0) nested_dirs_.emplace(key, local);
  return local;
}

namespace {

bool IsFolderEntry(const Hdf5ExtraEntry& e) {
  return e.attr.type == NodeType::kDirectory && e.dir != nullptr;
}

}  // namespace

void Hdf5FileView::MakeEntries(const Node& dir, const std::vector<std::string>& view_path,
                               const std::vector<std::string>& anchor_view,
                               const std::set<std::string>& ancestors, const H5LinkEntry& link,
                               std::vector<Made>* out, std::vector<Made>* attr_out,
                               std::vector<std::string>* logs) {
  const std::string lp = JoinH5Path(dir.path, link.name);
  const std::string where = dir.file + ": " + lp;
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> file = env_->pool->Open(dir.file);
  if (!file.ok()) {
    logs->push_back(where + ": " + file.status().message());
    return;
  }
  Result<H5Location> loc = Status(Code::kNotFound, "");
  bool new_anchor = false;
  switch (link.type) {
    case H5L_TYPE_HARD:
      loc = ObjectAt(*file, lp);
      break;
    case H5L_TYPE_SOFT: {
      std::string abs = CleanH5Path(!link.value.empty() && link.value[0] == '/'
                                        ? link.value
                                        : JoinH5Path(dir.path, link.value));
      const std::string& a = dir.anchor_path;
      if (a == "/" || abs == a || abs.rfind(a + "/", 0) == 0) {
        // Inside what this folder shows: a relative symlink to where the target is shown.
        std::vector<std::string> rel = SplitH5Path(abs.substr(a == "/" ? 0 : a.size()));
        if (!rel.empty()) {
          Result<H5Location> target = ResolvePath(*env_->pool, *file, abs);
          if (target.ok() && target->type == H5O_TYPE_DATASET) {
            Result<H5DatasetInfo> info =
                DescribeDataset(*target->file, target->path, env_->text_max);
            if (info.ok() && !info->text && info->hidden_because.empty()) rel.back() += ".npy";
          }
          H5ErrorText();
        }
        std::vector<std::string> to = anchor_view;
        to.insert(to.end(), rel.begin(), rel.end());
        auto n = NewNode(Kind::kSymlink, dir.local, link.name);
        n->content = Relative(view_path, to);
        n->attr = FileAttr((*file)->st, n->content.size());
        n->attr.type = NodeType::kSymlink;
        n->attr.mode = 0777;
        out->push_back(Made{link.name, std::move(n)});
        return;
      }
      loc = ResolvePath(*env_->pool, *file, abs);
      new_anchor = true;
      break;
    }
    case H5L_TYPE_EXTERNAL:
      loc = FollowLink(*env_->pool, *file, dir.path, link);
      new_anchor = true;
      break;
    default:
      logs->push_back(where + ": a user-defined link; left out");
      return;
  }
  if (!loc.ok()) {
    // The listing stays as the file promises: a file whose reads fail.
    std::string why = link.type == H5L_TYPE_EXTERNAL
                          ? "external link to " + link.file + ":" + link.value + ": "
                      : link.type == H5L_TYPE_SOFT ? "soft link to " + link.value + ": "
                                                   : "";
    auto n = NewNode(Kind::kBroken, dir.local, link.name);
    n->content = where + ": " + why + loc.status().message();
    n->attr = FileAttr((*file)->st, 0);
    n->file = dir.file;
    n->path = lp;
    logs->push_back(n->content + " (shown as a file that cannot be read)");
    out->push_back(Made{link.name, std::move(n)});
    return;
  }
  const H5Location& l = *loc;
  if (l.type == H5O_TYPE_GROUP) {
    if (ancestors.count(ObjectKey(l.file->identity, l.addr))) {
      logs->push_back(where + ": leads back to a folder above it (a link loop); not shown again");
      return;
    }
    auto n = NewNode(Kind::kFolder, dir.local, link.name);
    n->attr = DirAttr(l.file->st);
    n->file = l.file->path;
    n->path = l.path;
    n->file_identity = l.file->identity;
    n->addr = l.addr;
    if (new_anchor) {
      n->anchor_path = l.path;
      n->anchor_node = 0;  // itself
    } else {
      n->anchor_path = dir.anchor_path;
      n->anchor_node = dir.anchor_node;
    }
    out->push_back(Made{link.name, std::move(n)});
    return;
  }
  if (l.type != H5O_TYPE_DATASET) return;  // committed datatypes hold no data
  Result<H5DatasetInfo> info = DescribeDataset(*l.file, l.path, env_->text_max);
  if (!info.ok()) {
    auto n = NewNode(Kind::kBroken, dir.local, link.name);
    n->content = where + ": " + info.status().message();
    n->attr = FileAttr(l.file->st, 0);
    n->file = l.file->path;
    n->path = l.path;
    logs->push_back(n->content + " (shown as a file that cannot be read)");
    out->push_back(Made{link.name, std::move(n)});
    return;
  }
  if (!info->hidden_because.empty()) {
    logs->push_back(where + ": not shown: " + info->hidden_because);
    return;
  }
  std::vector<std::string> skipped;
  Result<std::vector<H5AttrText>> attrs = ReadAttributeTexts(*l.file, l.path, &skipped);
  for (const std::string& s : skipped) logs->push_back(where + ": attribute " + s + "; left out");
  std::shared_ptr<Node> n;
  if (info->text) {
    n = NewNode(Kind::kText, dir.local, link.name);
    n->content = *info->text;
    n->attr = FileAttr(l.file->st, n->content.size());
  } else {
    n = NewNode(Kind::kNpy, dir.local, link.name + ".npy");
    auto ref = std::make_shared<Hdf5DatasetRef>();
    ref->file_path = l.file->path;
    ref->file_identity = l.file->identity;
    std::string shown;
    for (const std::string& part : view_path) shown += part + "/";
    ref->shown_as = file_ + ": " + shown + n->name;
    ref->info = std::move(*info);
    n->npy_header = std::make_shared<const Bytes>(NpyHeader(ref->info.descr, ref->info.shape));
    n->attr = FileAttr(l.file->st, n->npy_header->size() + ref->info.data_bytes);
    n->dataset = std::move(ref);
  }
  n->file = l.file->path;
  n->path = l.path;
  n->file_identity = l.file->identity;
  n->addr = l.addr;
  std::vector<Made> attr_files;
  if (attrs.ok()) {
    for (const H5AttrText& a : *attrs) {
      n->xattrs.emplace_back("user." + a.name, XattrValue(a.text));
      auto an = NewNode(Kind::kText, dir.local, link.name + "@" + a.name);
      an->content = a.text;
      an->attr = FileAttr(l.file->st, a.text.size());
      an->file = l.file->path;
      an->path = l.path;
      an->file_identity = l.file->identity;
      attr_files.push_back(Made{an->name, std::move(an)});
    }
  }
  out->push_back(Made{n->name, std::move(n)});
  for (Made& m : attr_files) attr_out->push_back(std::move(m));
}

Result<uint64_t> Hdf5FileView::Lookup(uint64_t dir, std::string_view name) {
  if (dir & kExtraChildBit) return Status(Code::kNotDir, std::string(name));
  std::shared_ptr<const Node> d = Find(dir);
  if (!d) return NotFound(std::string(name));
  if (d->kind == Kind::kExtraDir) {
    std::optional<uint64_t> i = d->extra.dir->Find(name);
    if (!i || *i > kIndexMask) return NotFound(std::string(name));
    Hdf5ExtraEntry e = d->extra.dir->At(*i);
    if (IsFolderEntry(e)) {
      uint64_t local = NestedExtraDir(*d, *i, std::move(e));
      if (local == 0) return NotFound(std::string(name));
      return local;
    }
    return kExtraChildBit | (d->extra_seq << kIndexBits) | *i;
  }
  Result<std::shared_ptr<Folder>> f = Load(dir);
  if (!f.ok()) return f.status();
  auto find = [&](const std::vector<std::pair<std::string, uint64_t>>& kids) -> uint64_t {
    auto it = std::lower_bound(kids.begin(), kids.end(), name,
                               [](const auto& kid, std::string_view n) { return kid.first < n; });
    return it == kids.end() || it->first != name ? 0 : it->second;
  };
  // Links and attribute files first: walking a path through a folder never asks for extras.
  if (uint64_t local = find((*f)->children); local != 0) return local;
  if (uint64_t local = find(AllChildren(*d, **f)); local != 0) return local;
  return NotFound(std::string(name));
}

Status Hdf5FileView::List(uint64_t dir, uint64_t cookie, const Emit& emit) {
  if (dir & kExtraChildBit) return Status(Code::kNotDir, "node " + std::to_string(dir));
  std::shared_ptr<const Node> d = Find(dir);
  if (!d) return NotFound("node " + std::to_string(dir));
  if (d->kind == Kind::kExtraDir) {
    uint64_t count = std::min<uint64_t>(d->extra.dir->Count(), kIndexMask + 1);
    for (uint64_t i = cookie; i < count; ++i) {
      Hdf5ExtraEntry e = d->extra.dir->At(i);
      if (IsFolderEntry(e)) {
        std::string name = e.name;
        uint64_t local = NestedExtraDir(*d, i, std::move(e));
        std::shared_ptr<const Node> n = local == 0 ? nullptr : Find(local);
        if (!n) continue;
        if (!emit(name, local, n->attr, i + 1)) break;
        continue;
      }
      Attr a = e.attr;
      a.type = NodeType::kFile;
      if (!emit(e.name, kExtraChildBit | (d->extra_seq << kIndexBits) | i, a, i + 1)) break;
    }
    return Status::Ok();
  }
  Result<std::shared_ptr<Folder>> f = Load(dir);
  if (!f.ok()) return f.status();
  const auto& kids = AllChildren(*d, **f);
  for (uint64_t i = cookie; i < kids.size(); ++i) {
    std::shared_ptr<const Node> n = Find(kids[i].second);
    if (!n) continue;
    if (!emit(kids[i].first, kids[i].second, n->attr, i + 1)) break;
  }
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> Hdf5FileView::Xattrs(uint64_t local) {
  Result<std::shared_ptr<const Node>> n = NodeOf(local);
  if (!n.ok()) return n.status();
  if ((*n)->kind != Kind::kFolder) return (*n)->xattrs;
  Result<std::shared_ptr<Folder>> f = Load(local);
  if (!f.ok()) return f.status();
  return (*f)->xattrs;
}

std::vector<std::pair<std::string, uint64_t>> Hdf5FileView::FilesAfter(uint64_t dir,
                                                                       std::string_view name,
                                                                       size_t max) {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::shared_ptr<const Node> d = (dir & kExtraChildBit) ? nullptr : Find(dir);
  if (!d) return out;
  if (d->kind == Kind::kExtraDir) {
    std::optional<uint64_t> i = d->extra.dir->Find(name);
    if (!i) return out;
    uint64_t count = std::min<uint64_t>(d->extra.dir->Count(), kIndexMask + 1);
    for (uint64_t k = *i + 1; k < count && out.size() < max; ++k) {
      Hdf5ExtraEntry e = d->extra.dir->At(k);
      if (IsFolderEntry(e)) continue;
      out.emplace_back(std::move(e.name), kExtraChildBit | (d->extra_seq << kIndexBits) | k);
    }
    return out;
  }
  Result<std::shared_ptr<Folder>> f = Load(dir);
  if (!f.ok()) return out;
  const auto& kids = AllChildren(*d, **f);
  auto it = std::upper_bound(kids.begin(), kids.end(), name,
                             [](std::string_view n, const auto& kid) { return n < kid.first; });
  for (; it != kids.end() && out.size() < max; ++it) {
    std::shared_ptr<const Node> n = Find(it->second);
    if (n && n->attr.type == NodeType::kFile) out.push_back(*it);
  }
  return out;
}

}  // namespace daqfs
