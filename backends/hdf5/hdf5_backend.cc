// The Backend side of Hdf5Backend: answering requests from the slots and their file views.
#include "backends/hdf5/hdf5_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "backends/common/composed_source.h"
#include "backends/common/file_slice_source.h"
#include "backends/hdf5/hdf5_backend_slot.h"
#include "backends/hdf5/hdf5_chunk_units.h"
#include "fs/backing_access.h"
#include "fs/log.h"
#include "fs/unique_fd.h"

namespace daqfs {

using hdf5_ids::LocalId;
using hdf5_ids::MakeId;
using hdf5_ids::SlotNumber;
using Kind = Hdf5FileView::Kind;

namespace {

// A file's folder shows the file's owner and mode as they are now: a chmod of the file closes
// its folder to others within this many seconds.
constexpr double kFileFolderSeconds = 1.0;

Attr FileAttrOf(const struct stat& st) {
  Attr a;
  a.type = NodeType::kFile;
  a.size = static_cast<uint64_t>(st.st_size);
  a.mode = st.st_mode & 07777;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.mtime = st.st_mtim;
  return a;
}

Attr DirAttrOf(const struct stat& st, double cache_seconds) {
  Attr a = FileAttrOf(st);
  a.type = NodeType::kDirectory;
  a.size = 0;
  a.mode = (st.st_mode & 0777) | ((st.st_mode & 0444) >> 2);
  a.nlink = 1;
  a.cache_seconds = cache_seconds;
  return a;
}

}  // namespace

Attr Hdf5Backend::RootAttr() const {
  Attr root;
  if (root_stat_ok_) {
    root = DirAttrOf(root_st_, kCacheForever);
  } else {
    root.type = NodeType::kDirectory;
    root.mode = 0555;
  }
  root.nlink = 2 + static_cast<uint32_t>(folder_count());
  return root;
}

std::shared_ptr<Hdf5Backend::Slot> Hdf5Backend::SlotOf(NodeId id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(SlotNumber(id));
  return it == slots_.end() ? nullptr : it->second;
}

std::shared_ptr<Hdf5FileView> Hdf5Backend::ViewOf(const std::shared_ptr<Slot>& slot) {
  std::lock_guard<std::mutex> lock(slot->mu);
  if (!slot->view)
    slot->view = std::make_shared<Hdf5FileView>(view_env_, slot->real_path, slot->st);
  return slot->view;
}

std::shared_ptr<Hdf5DatasetUnits> Hdf5Backend::UnitsFor(std::shared_ptr<const Hdf5DatasetRef> ref,
                                                        Hdf5DatasetUnits::Layout layout) {
  std::string key = ref->file_identity + "@" + std::to_string(ref->info.addr) +
                    (layout == Hdf5DatasetUnits::Layout::kFrames ? ":frames" : "");
  std::lock_guard<std::mutex> lock(units_mu_);
  if (auto it = units_.find(key); it != units_.end()) {
    if (std::shared_ptr<Hdf5DatasetUnits> u = it->second.lock()) return u;
  }
  if (units_.size() > 1024)
    std::erase_if(units_, [](const auto& kv) { return kv.second.expired(); });
  // Chunks the fast path can decode are read by it; the rest by the library (hdf5_chunk_units.h).
  auto u = std::make_shared<Hdf5ChunkUnits>(pool_, std::move(ref), counters_, layout);
  units_[key] = u;
  return u;
}

Result<NodeId> Hdf5Backend::Lookup(NodeId parent, std::string_view name) {
  if (parent == kRootNode) {
    WaitFirstScan();
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return NotFound(std::string(name));
    auto [slot, folder] = it->second;
    if (!folder) return MakeId(slot, hdf5_ids::kOriginalFile);
    auto s = slots_.find(slot);
    if (s == slots_.end() || !s->second->shown.load()) return NotFound(std::string(name));
    return MakeId(slot, Hdf5FileView::kFolder);
  }
  std::shared_ptr<Slot> slot = SlotOf(parent);
  if (!slot) return NotFound(std::string(name));
  if (LocalId(parent) == hdf5_ids::kOriginalFile) return Status(Code::kNotDir, slot->file_name);
  Result<uint64_t> local = ViewOf(slot)->Lookup(LocalId(parent), name);
  if (!local.ok()) return local.status();
  return MakeId(slot->number, *local);
}

Result<Attr> Hdf5Backend::GetAttr(NodeId node) {
  if (node == kRootNode) return RootAttr();
  std::shared_ptr<Slot> slot = SlotOf(node);
  if (!slot) return NotFound("node " + std::to_string(node));
  uint64_t local = LocalId(node);
  if (local == hdf5_ids::kOriginalFile) return FileAttrOf(slot->st);
  if (local == Hdf5FileView::kFolder) {
    // The file's owner and mode as they are now (the kernel's checks inside follow the file).
    struct stat now = slot->st;
    struct stat st;
    if (stat(slot->real_path.c_str(), &st) == 0) now = st;
    return DirAttrOf(now, kFileFolderSeconds);
  }
  Result<std::shared_ptr<const Hdf5FileView::Node>> n = ViewOf(slot)->NodeOf(local);
  if (!n.ok()) return n.status();
  return (*n)->attr;
}

Status Hdf5Backend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  if (dir == kRootNode) {
    WaitFirstScan();
    // Cookie = 2 * slot (+ 1 for the folder): files found later list after the others.
    std::vector<std::shared_ptr<Slot>> list;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (auto it = slots_.lower_bound(
               static_cast<uint32_t>(std::min<uint64_t>(cookie / 2, hdf5_ids::kLocalMask)));
           it != slots_.end(); ++it) {
        list.push_back(it->second);
      }
    }
    for (const auto& slot : list) {
      uint64_t c = 2 * uint64_t{slot->number};
      if (cookie <= c) {
        DirEntry e{slot->file_name, MakeId(slot->number, hdf5_ids::kOriginalFile),
                   FileAttrOf(slot->st)};
        if (!emit(e, c + 1)) break;
      }
      if (cookie <= c + 1 && slot->shown.load()) {
        Result<Attr> a = GetAttr(MakeId(slot->number, Hdf5FileView::kFolder));
        if (!a.ok()) continue;
        if (!emit(DirEntry{slot->dir_name, MakeId(slot->number, Hdf5FileView::kFolder), *a},
                  c + 2)) {
          break;
        }
      }
    }
    return Status::Ok();
  }
  std::shared_ptr<Slot> slot = SlotOf(dir);
  if (!slot) return NotFound("node " + std::to_string(dir));
  if (LocalId(dir) == hdf5_ids::kOriginalFile) return Status(Code::kNotDir, slot->file_name);
  uint32_t number = slot->number;
  return ViewOf(slot)->List(
      LocalId(dir), cookie,
      [&](const std::string& name, uint64_t local, const Attr& attr, uint64_t next) {
        return emit(DirEntry{name, MakeId(number, local), attr}, next);
      });
}

std::vector<DirEntry> Hdf5Backend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  if (dir == kRootNode) return out;
  std::shared_ptr<Slot> slot = SlotOf(dir);
  if (!slot || LocalId(dir) == hdf5_ids::kOriginalFile) return out;
  std::shared_ptr<Hdf5FileView> view = ViewOf(slot);
  for (const auto& [n, local] : view->FilesAfter(LocalId(dir), name, max)) {
    Result<std::shared_ptr<const Hdf5FileView::Node>> node = view->NodeOf(local);
    if (node.ok()) out.push_back(DirEntry{n, MakeId(slot->number, local), (*node)->attr});
  }
  return out;
}

Status Hdf5Backend::CheckAccess(const Caller& caller, const std::vector<std::string>& files) const {
  if (caller.uid == 0) return Status::Ok();
  for (const std::string& f : files) {
    if (f.empty()) continue;
    Result<UniqueFd> fd = OpenReadOnly(f);
    if (!fd.ok()) return fd.status();
    if (Status s = CheckBackingFileAccess(caller, fd->get(), f); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::shared_ptr<ByteSource>> Hdf5Backend::Open(NodeId node, const Caller& caller) {
  std::shared_ptr<Slot> slot = SlotOf(node);
  if (!slot) return NotFound("node " + std::to_string(node));
  uint64_t local = LocalId(node);
  if (local == hdf5_ids::kOriginalFile) {
    Result<UniqueFd> fd = OpenReadOnly(slot->real_path);
    if (!fd.ok()) return Status(Code::kUnavailable, fd.status().message());
    struct stat st;
    if (fstat(fd->get(), &st) != 0 || FileIdentity(st) != slot->identity) {
      return Status(Code::kUnavailable, slot->real_path + ": changed since it was found");
    }
    if (Status s = CheckBackingFileAccess(caller, fd->get(), slot->real_path); !s.ok()) return s;
    return std::shared_ptr<ByteSource>(std::make_shared<FileSliceSource>(
        std::make_shared<UniqueFd>(std::move(*fd)), slot->real_path, 0,
        static_cast<uint64_t>(st.st_size), slot->identity + ":file"));
  }
  std::shared_ptr<Hdf5FileView> view = ViewOf(slot);
  Result<std::shared_ptr<const Hdf5FileView::Node>> found = view->NodeOf(local);
  if (!found.ok()) return found.status();
  const Hdf5FileView::Node& n = **found;
  switch (n.kind) {
    case Kind::kFolder:
    case Kind::kExtraDir:
      return Status(Code::kIsDir, n.name);
    case Kind::kSymlink:
      return Invalid(n.name + ": a symlink");
    case Kind::kBroken: {
      broken_log_.Log(LogLevel::kError, name_ + ": " + n.content);
      return Status(Code::kUnavailable, n.content);
    }
    case Kind::kText: {
      if (Status s =
              CheckAccess(caller, {slot->real_path, n.file == slot->real_path ? "" : n.file});
          !s.ok()) {
        return s;
      }
      // Named by what it shows (never by a node id, which depends on the listing order): the
      // object's file, its path and the entry's name (an attribute's file names the attribute).
      return std::shared_ptr<ByteSource>(std::make_shared<MemorySource>(
          n.content, n.file_identity + ":" + n.path + ":" + n.name + ":text"));
    }
    case Kind::kNpy: {
      if (Status s =
              CheckAccess(caller, {slot->real_path, n.file == slot->real_path ? "" : n.file});
          !s.ok()) {
        return s;
      }
      std::shared_ptr<Hdf5DatasetUnits> units = UnitsFor(n.dataset);
      std::vector<ComposedSource::Piece> pieces(2);
      pieces[0].bytes = n.npy_header;
      pieces[1].units = units;
      pieces[1].offset = 0;
      pieces[1].length = units->Size();
      return std::shared_ptr<ByteSource>(
          std::make_shared<ComposedSource>(std::move(pieces), units->Identity() + ":npy"));
    }
    case Kind::kExtraFile: {
      std::vector<std::string> files = n.extra.files;
      files.push_back(slot->real_path);
      if (Status s = CheckAccess(caller, files); !s.ok()) return s;
      if (!n.extra.open) return Status(Code::kUnavailable, n.name + ": cannot be opened");
      return n.extra.open();
    }
  }
  return Invalid(n.name + ": not a file");
}

Result<std::string> Hdf5Backend::ReadLink(NodeId node) {
  std::shared_ptr<Slot> slot = SlotOf(node);
  if (!slot) return NotFound("node " + std::to_string(node));
  if (LocalId(node) == hdf5_ids::kOriginalFile) return Status(Code::kNotLink, slot->file_name);
  Result<std::shared_ptr<const Hdf5FileView::Node>> n = ViewOf(slot)->NodeOf(LocalId(node));
  if (!n.ok()) return n.status();
  if ((*n)->kind != Kind::kSymlink) return Status(Code::kNotLink, (*n)->name);
  return (*n)->content;
}

Result<std::vector<std::pair<std::string, std::string>>> Hdf5Backend::Xattrs(NodeId node) {
  std::vector<std::pair<std::string, std::string>> out;
  if (node == kRootNode) return out;
  std::shared_ptr<Slot> slot = SlotOf(node);
  if (!slot) return NotFound("node " + std::to_string(node));
  uint64_t local = LocalId(node);
  if (local == hdf5_ids::kOriginalFile) return out;
  std::shared_ptr<Hdf5FileView> view = ViewOf(slot);
  Result<std::vector<std::pair<std::string, std::string>>> attrs = view->Xattrs(local);
  if (!attrs.ok()) return attrs.status();
  out = std::move(*attrs);
  Result<std::shared_ptr<const Hdf5FileView::Node>> n = view->NodeOf(local);
  if (!n.ok()) return out;
  const Hdf5FileView::Node& nd = **n;
  if (nd.kind == Kind::kFolder || nd.kind == Kind::kNpy ||
      (nd.kind == Kind::kText && nd.name.find('@') == std::string::npos)) {
    out.emplace_back("user.daqfs.hdf5_file", nd.file);
    out.emplace_back("user.daqfs.hdf5_path", nd.path);
  }
  if (nd.kind == Kind::kNpy && nd.dataset) {
    const H5DatasetInfo& info = nd.dataset->info;
    std::string layout = info.layout == H5D_CHUNKED   ? "chunked"
                         : info.layout == H5D_VIRTUAL ? "virtual"
                         : info.layout == H5D_COMPACT ? "compact"
                                                      : "contiguous";
    if (info.layout == H5D_CHUNKED) {
      layout += " ";
      for (size_t i = 0; i < info.chunk.size(); ++i) {
        layout += (i ? "x" : "") + std::to_string(info.chunk[i]);
      }
    }
    if (info.layout == H5D_VIRTUAL) layout += " (" + std::to_string(info.vds.size()) + " mappings)";
    out.emplace_back("user.daqfs.hdf5_layout", layout);
  }
  return out;
}

Result<std::vector<std::string>> Hdf5Backend::ListXattr(NodeId node) {
  Result<std::vector<std::pair<std::string, std::string>>> all = Xattrs(node);
  if (!all.ok()) return all.status();
  std::vector<std::string> names;
  for (const auto& [k, v] : *all) names.push_back(k);
  return names;
}

Result<std::string> Hdf5Backend::GetXattr(NodeId node, const std::string& name) {
  Result<std::vector<std::pair<std::string, std::string>>> all = Xattrs(node);
  if (!all.ok()) return all.status();
  for (const auto& [k, v] : *all) {
    if (k == name) return v;
  }
  return Status(Code::kNoAttr, name);
}

uint64_t Hdf5Backend::TotalBytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  uint64_t total = 0;
  for (const auto& [n, slot] : slots_) total += static_cast<uint64_t>(slot->st.st_size);
  return total;
}

uint64_t Hdf5Backend::TotalNodes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return 1 + 2 * slots_.size();
}

size_t Hdf5Backend::file_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slots_.size();
}

size_t Hdf5Backend::folder_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [num, slot] : slots_) n += slot->shown.load() ? 1 : 0;
  return n;
}

}  // namespace daqfs
