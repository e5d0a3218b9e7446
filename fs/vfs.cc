#include "fs/vfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace daqfs {

namespace {

// One piece holding what `read` puts into a new buffer of `size` bytes.
Result<std::vector<ReadPiece>> ReadIntoNewBuffer(
    size_t size, const std::function<Result<size_t>(std::span<uint8_t>)>& read) {
  auto buf = std::make_shared<Bytes>(size);
  Result<size_t> n = read(*buf);
  if (!n.ok()) return n.status();
  std::vector<ReadPiece> out;
  if (*n) out.push_back(ReadPiece{buf, buf->data(), *n});
  return out;
}

}  // namespace

Result<std::vector<ReadPiece>> FileReader::ReadPieces(uint64_t offset, size_t size) {
  return ReadIntoNewBuffer(size, [&](std::span<uint8_t> out) { return Read(offset, out); });
}

Vfs::Vfs(std::vector<Source> sources, VfsOptions options)
    : options_(options),
      control_(std::make_unique<ControlBackend>()),
      sources_(std::move(sources)),
      inodes_(options.single_source ? InodeKey{1, kRootNode} : InodeKey{kVirtualRoot, kRootNode}) {
  clock_gettime(CLOCK_REALTIME, &start_);
  control_->AddFile("stats", [this] { return stats_.Format(); });
  control_->AddFile("metrics", [this] { return stats_.Prometheus(); });
  stats_.AddSource(kControl, ControlBackend::kDirName);
  for (size_t i = 0; i < sources_.size(); ++i) {
    stats_.AddSource(static_cast<uint32_t>(i + 1), sources_[i].name);
  }
}

// One source's Invalidator: events go to the Vfs, which knows the kernel's inode numbers.
class Vfs::SourceInvalidator final : public Invalidator {
 public:
  SourceInvalidator(Vfs* vfs, uint32_t backend) : vfs_(vfs), backend_(backend) {}
  void EntryAdded(NodeId parent, std::string_view name) override {
    vfs_->Invalidate(backend_, parent, &name);
  }
  void EntryRemoved(NodeId parent, std::string_view name) override {
    vfs_->Invalidate(backend_, parent, &name);
  }
  void ContentChanged(NodeId node) override { vfs_->Invalidate(backend_, node, nullptr); }

 private:
  Vfs* vfs_;
  uint32_t backend_;
};

Vfs::~Vfs() { Stop(); }

Status Vfs::Start(VfsEnv env) {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (!envs_.empty()) return Status(Code::kInvalid, "Vfs::Start called twice");
  envs_.resize(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) {
    invalidators_.push_back(
        std::make_unique<SourceInvalidator>(this, static_cast<uint32_t>(i + 1)));
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    BackendEnv& e = envs_[i];
    e.source_name = sources_[i].name;
    e.source_label = Label("source", sources_[i].name);
    if (!env.state_root.empty()) {
      std::string dir = env.state_root + "/" + sources_[i].name;
      if ((mkdir(env.state_root.c_str(), 0700) == 0 || errno == EEXIST) &&
          (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST)) {
        e.state_dir = dir;
      } else {
        LogWarn(sources_[i].name + ": cannot create " + dir + ": " + std::strerror(errno) +
                "; no state kept");
      }
    }
    e.blobs = env.blobs ? env.blobs(sources_[i].name) : nullptr;
    e.invalidator = invalidators_[i].get();
    e.metrics = &stats_.metrics();
    e.clock = env.clock ? env.clock : &system_clock_;
    e.ring_bytes = env.ring_bytes ? env.ring_bytes(sources_[i].name) : 0;
    Status s = sources_[i].backend->Start(e);
    if (!s.ok()) {
      for (size_t j = started_; j-- > 0;) sources_[j].backend->Stop();
      started_ = 0;
      return Status(s.code(), sources_[i].name + ": " + s.message());
    }
    started_ = i + 1;
  }
  return Status::Ok();
}

void Vfs::Stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  for (size_t j = started_; j-- > 0;) sources_[j].backend->Stop();
  started_ = 0;
}

void Vfs::SetNotifier(KernelNotifier* notifier) {
  std::lock_guard<std::mutex> lock(notifier_mu_);
  notifier_ = notifier;
}

void Vfs::Invalidate(uint32_t backend, NodeId node, const std::string_view* name) {
  std::optional<uint64_t> ino = inodes_.Find(InodeKey{backend, node});
  if (!ino) return;  // the kernel holds nothing of it: nothing is cached
  std::lock_guard<std::mutex> lock(notifier_mu_);
  if (!notifier_) return;
  if (name) notifier_->NotifyInvalEntry(*ino, *name);
  notifier_->NotifyInvalInode(*ino);
}

void Vfs::Drop(uint64_t ino, uint64_t nlookup) {
  // The backend hears of it under the table's lock: a Lookup of the same node that comes
  // right after waits for the table, so Forget never arrives after a newer Lookup.
  inodes_.Forget(ino, nlookup, [this](InodeKey gone) {
    if (gone.backend == kVirtualRoot) return;
    if (Backend* b = BackendOf(gone.backend)) b->Forget(gone.node);
  });
}

Backend* Vfs::BackendOf(uint32_t index) const {
  if (index == kControl) return control_.get();
  if (index - 1 < sources_.size()) return sources_[index - 1].backend.get();
  return nullptr;
}

Result<InodeKey> Vfs::Resolve(uint64_t ino) const {
  std::optional<InodeKey> key = inodes_.Resolve(ino);
  if (!key) return NotFound("stale inode " + std::to_string(ino));
  return *key;
}

void Vfs::Present(Attr* attr) const {
  if (options_.uid) attr->uid = *options_.uid;
  if (options_.gid) attr->gid = *options_.gid;
  attr->mode &= ~static_cast<uint32_t>(S_ISUID | S_ISGID);
}

Attr Vfs::RootAttr() const {
  Attr a;
  a.type = NodeType::kDirectory;
  a.mode = 0555;
  a.nlink = 2;
  a.uid = geteuid();
  a.gid = getegid();
  a.mtime = start_;
  return a;
}

Result<Attr> Vfs::AttrOf(InodeKey key) {
  Result<Attr> attr = key.backend == kVirtualRoot ? Result<Attr>(RootAttr())
                                                  : BackendOf(key.backend)->GetAttr(key.node);
  if (attr.ok()) Present(&attr.value());
  return attr;
}

Result<InodeKey> Vfs::Child(InodeKey parent, std::string_view name) {
  bool at_root = (parent.backend == kVirtualRoot) ||
                 (options_.single_source && parent.backend == 1 && parent.node == kRootNode);
  if (at_root && name == ControlBackend::kDirName) return InodeKey{kControl, kRootNode};
  if (parent.backend == kVirtualRoot) {
    for (size_t i = 0; i < sources_.size(); ++i) {
      if (sources_[i].name == name) return InodeKey{static_cast<uint32_t>(i + 1), kRootNode};
    }
    return NotFound(std::string(name));
  }
  Backend* b = BackendOf(parent.backend);
  if (!b) return NotFound(std::string(name));
  Result<NodeId> node = b->Lookup(parent.node, name);
  if (!node.ok()) return node.status();
  return InodeKey{parent.backend, *node};
}

Result<Vfs::Entry> Vfs::Lookup(uint64_t parent, std::string_view name) {
  Result<InodeKey> pkey = Resolve(parent);
  if (!pkey.ok()) return pkey.status();
  Result<InodeKey> key = Child(*pkey, name);
  if (!key.ok()) return key.status();
  Result<Attr> attr = AttrOf(*key);
  if (!attr.ok()) return attr.status();
  return Entry{inodes_.Acquire(*key, 1, *pkey, name), *attr};
}

void Vfs::Forget(uint64_t ino, uint64_t nlookup) { Drop(ino, nlookup); }

Result<Attr> Vfs::GetAttr(uint64_t ino) {
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  return AttrOf(*key);
}

uint64_t Vfs::ReaddirIno(InodeKey key, bool plus, InodeKey parent, std::string_view name) {
  if (plus) return inodes_.Acquire(key, 1, parent, name);
  if (std::optional<uint64_t> ino = inodes_.Find(key)) return *ino;
  // Plain readdir only fills d_ino, which the kernel does not use to find the node again: give a
  // stable number from a range that Acquire never reaches.
  return (1ull << 63) | ((static_cast<uint64_t>(key.backend) << 40) ^ key.node);
}

Status Vfs::ReadDir(uint64_t ino, uint64_t offset, bool plus, const DirEmit& emit) {
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  Result<Attr> self = AttrOf(*key);
  if (!self.ok()) return self.status();
  if (self->type != NodeType::kDirectory) return Status(Code::kNotDir, std::to_string(ino));

  // "." and ".." carry no lookup reference (the kernel does not count them).
  if (offset == 0) {
    if (!emit(".", ino, *self, 1)) return Status::Ok();
    offset = 1;
  }
  if (offset == 1) {
    if (!emit("..", ino, *self, 2)) return Status::Ok();
    offset = 2;
  }
  // Emits an entry, with a lookup reference when plus and taken.
  size_t emitted = 0;
  auto give = [&](std::string_view name, InodeKey child, const Attr& attr, uint64_t next) {
    Attr a = attr;
    Present(&a);
    uint64_t child_ino = ReaddirIno(child, plus, *key, name);
    bool taken = emit(name, child_ino, a, next);
    if (!taken && plus) Drop(child_ino, 1);
    if (taken) ++emitted;
    return taken;
  };

  bool at_root = key->backend == kVirtualRoot ||
                 (options_.single_source && key->backend == 1 && key->node == kRootNode);
  uint64_t shift = 2;
  if (at_root) {
    // Offset 2 would be `.daqfs`, which is reachable by name only.
    if (offset == 2) offset = 3;
    shift = 3;
    if (key->backend == kVirtualRoot) {
      for (uint64_t i = offset - 3; i < sources_.size(); ++i) {
        Result<Attr> sa = sources_[i].backend->GetAttr(kRootNode);
        if (!sa.ok()) continue;
        if (!give(sources_[i].name, InodeKey{static_cast<uint32_t>(i + 1), kRootNode}, *sa,
                  i + 4)) {
          break;
        }
      }
      return Status::Ok();
    }
  }
  Backend* b = BackendOf(key->backend);
  Status s = b->ReadDir(key->node, offset - shift, [&](const DirEntry& e, uint64_t next) {
    return give(e.name, InodeKey{key->backend, e.node}, e.attr, next + shift);
  });
  if (!s.ok() && emitted > 0) {
    // The caller already holds these entries (and with plus their references): end the listing
    // here; the next call from the last cookie meets the error again, before any entry.
    listing_log_.Log(LogLevel::kWarn, "listing of inode " + std::to_string(ino) +
                                          " cut short after " + std::to_string(emitted) +
                                          " entries: " + s.ToString());
    return Status::Ok();
  }
  return s;
}

Result<std::unique_ptr<OpenFile>> Vfs::Open(uint64_t ino, int flags, const Caller& caller,
                                            std::function<void()>* after_open) {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND | O_CREAT))) {
    return Status(Code::kReadOnly, "daqfs is read-only");
  }
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  Result<Attr> attr = AttrOf(*key);
  if (!attr.ok()) return attr.status();
  if (attr->type == NodeType::kDirectory) return Status(Code::kIsDir, std::to_string(ino));
  if (caller.self && key->backend != kControl) {
    // The daemon opening a file of its own mount (an access check led here by a symlink): it
    // would wait for itself. Refused at once.
    denied_log_.Log(LogLevel::kWarn,
                    "open denied: daqfs itself opened a file of its own mount "
                    "(a backing file's path leads into the mount)");
    return Status(Code::kPermission, "daqfs may not open its own files");
  }
  Result<std::shared_ptr<ByteSource>> src = BackendOf(key->backend)->Open(key->node, caller);
  if (!src.ok()) {
    if (src.status().code() == Code::kPermission) {
      denied_log_.Log(LogLevel::kInfo, "open denied: " + src.status().message());
    }
    return src.status();
  }
  auto file = std::make_unique<OpenFile>();
  file->source = std::move(*src);
  file->attr = *attr;
  file->backend = key->backend;
  stats_.CountOpen(key->backend);
  // Content generated per open (control files, a stream's status) is never cached: it is read
  // straight from its source (a cached block under its fixed identity would be stale).
  if (read_path_ && key->backend != kControl && !file->attr.dynamic) {
    FileContext ctx;
    ctx.source = key->backend;
    ctx.page_cached = !file->attr.ReadsDirect();
    if (std::optional<InodeTable::Origin> origin = inodes_.OriginOf(ino)) {
      InodeKey parent = origin->parent;
      Backend* backend = BackendOf(key->backend);
      if (parent.backend == key->backend && backend) {
        ctx.dir = std::to_string(parent.backend) + ":" + std::to_string(parent.node);
        ctx.name = origin->name;
        ctx.size = file->attr.size;
        std::string name = origin->name;
        ctx.next_siblings = [this, backend, parent, name, caller](size_t max) {
          std::vector<Sibling> out;
          for (const DirEntry& e : backend->NextSiblings(parent.node, name, max)) {
            NodeId node = e.node;
            Sibling s;
            s.name = e.name;
            s.size = e.attr.size;
            s.open = [backend, node, caller] {
              Result<std::shared_ptr<ByteSource>> src = backend->Open(node, caller);
              return src.ok() ? std::move(*src) : nullptr;
            };
            // Content that never changes, of a file the kernel knows (listed with its
            // attributes, or looked up) and caches: its bytes may go to the page cache before
            // it is read.
            std::optional<uint64_t> sino = inodes_.Find(InodeKey{parent.backend, node});
            if (sino && e.attr.type == NodeType::kFile && !e.attr.ReadsDirect() &&
                e.attr.cache_seconds == kCacheForever) {
              s.store = [this, ino = *sino](std::vector<ReadPiece> data,
                                            std::function<void(bool)> done) {
                std::lock_guard<std::mutex> lock(notifier_mu_);
                return notifier_ &&
                       notifier_->NotifyStore(ino, 0, std::move(data), std::move(done));
              };
            }
            out.push_back(std::move(s));
          }
          return out;
        };
      }
    }
    file->reader = read_path_->Open(file->source, std::move(ctx), after_open);
  }
  return file;
}

Result<size_t> Vfs::Read(OpenFile& file, uint64_t offset, std::span<uint8_t> out) {
  Result<size_t> n =
      file.reader ? file.reader->Read(offset, out) : file.source->ReadAt(offset, out);
  CountRead(file, n.ok() ? *n : 0, n.ok() ? nullptr : &n.status());
  return n;
}

Result<std::vector<ReadPiece>> Vfs::ReadPieces(OpenFile& file, uint64_t offset, size_t size) {
  Result<std::vector<ReadPiece>> pieces =
      file.reader ? file.reader->ReadPieces(offset, size)
                  : ReadIntoNewBuffer(size, [&](std::span<uint8_t> out) {
                      return file.source->ReadAt(offset, out);
                    });
  uint64_t total = 0;
  if (pieces.ok()) {
    for (const ReadPiece& p : *pieces) total += p.size;
  }
  CountRead(file, total, pieces.ok() ? nullptr : &pieces.status());
  return pieces;
}

void Vfs::CountRead(const OpenFile& file, uint64_t bytes, const Status* error) {
  if (error) {
    stats_.CountReadError(file.backend, error->code() == Code::kCorrupt);
  } else {
    stats_.CountRead(file.backend, bytes);
  }
}

Result<std::string> Vfs::ReadLink(uint64_t ino) {
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  if (key->backend == kVirtualRoot) return Status(Code::kNotLink, "root");
  return BackendOf(key->backend)->ReadLink(key->node);
}

Result<std::vector<std::string>> Vfs::ListXattr(uint64_t ino) {
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  if (key->backend == kVirtualRoot) return std::vector<std::string>{};
  Result<std::vector<std::string>> names = BackendOf(key->backend)->ListXattr(key->node);
  if (names.ok() && !options_.list_daqfs_xattrs) {
    std::erase_if(*names, [](const std::string& n) { return n.rfind("user.daqfs.", 0) == 0; });
  }
  return names;
}

Result<std::string> Vfs::GetXattr(uint64_t ino, const std::string& name) {
  Result<InodeKey> key = Resolve(ino);
  if (!key.ok()) return key.status();
  Result<std::string> value = key->backend == kVirtualRoot
                                  ? Result<std::string>(Status(Code::kNoAttr, name))
                                  : BackendOf(key->backend)->GetXattr(key->node, name);
  // daqfs keeps no SELinux labels or POSIX ACLs: for those namespaces "not supported" is the
  // true answer (unless a member carries one), and tools such as ls remember it per
  // filesystem instead of asking again for every file.
  if (!value.ok() && value.status().code() == Code::kNoAttr &&
      (name.rfind("security.", 0) == 0 || name.rfind("system.", 0) == 0)) {
    return Status(Code::kNotSupported, name);
  }
  return value;
}

Vfs::FsTotals Vfs::Totals() const {
  FsTotals t;
  for (const Source& s : sources_) {
    t.bytes += s.backend->TotalBytes();
    t.nodes += s.backend->TotalNodes();
  }
  return t;
}

Vfs::FsStat Vfs::StatFs() const {
  FsTotals t = Totals();
  FsSpace space = space_ ? space_() : FsSpace{t.bytes, t.bytes};
  FsStat st;
  st.blocks = space.total_bytes / st.block_size;
  st.blocks_free = std::min(space.free_bytes / st.block_size, st.blocks);
  // A read-only tree has no inode limit; report ample room beside the nodes in use so that
  // `df -i` and monitoring never see a full filesystem.
  constexpr uint64_t kInodeRoom = 1ull << 32;
  st.files = t.nodes + kInodeRoom;
  st.files_free = kInodeRoom;
  return st;
}

}  // namespace daqfs
