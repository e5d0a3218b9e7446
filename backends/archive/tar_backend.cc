#include "backends/archive/tar_backend.h"

#include <dirent.h>
#include <glob.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <functional>

#include "backends/archive/member_sources.h"
#include "backends/common/composed_source.h"
#include "fs/backing_access.h"
#include "fs/log.h"

namespace daqfs {

struct TarBackend::Tree {
  struct Node {
    bool valid = false;
    Attr attr;
    uint32_t slot = 0;    // archive slot of the member (files, symlinks, member dirs)
    int64_t member = -1;  // index into that slot's ArchiveIndex::members
    std::string path;     // path inside the tree ("" for its top)
    std::string link;
    std::vector<std::pair<std::string, uint64_t>> children;  // sorted by name
  };
  std::vector<Node> nodes;  // local id -> node; [1] is the top
  uint64_t total_bytes = 0;
  uint64_t count = 0;
};

struct TarBackend::NodeRef {
  std::shared_ptr<const Tree> tree;
  const Tree::Node* node = nullptr;
};

struct TarBackend::Slot {
  uint32_t number = 0;
  std::string path;
  std::string real_path;  // canonical (symlinks resolved) when found: what access checks open
  std::string dir_name;
  std::shared_ptr<UniqueFd> fd;
  std::shared_ptr<UniqueFd> spill_fd;
  struct stat st {};
  std::string identity;

  std::mutex mu;  // guards state, error, index, tree
  std::condition_variable cv;
  enum class State { kPending, kReady, kFailed } state = State::kPending;
  Status error;
  std::shared_ptr<const ArchiveIndex> index;
  std::shared_ptr<const Tree> tree;
  // kTarZst: the decoded stream of the whole archive as decode units (its frames), shared by
  // every member opened from `units_of` (== index when current): built on the first open.
  std::shared_ptr<ByteSource> archive_units;
  std::shared_ptr<const ArchiveIndex> units_of;

  // Waits for the index; returns it or the indexing error.
  Status Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return state != State::kPending; });
    return state == State::kReady ? Status::Ok() : error;
  }
};

namespace {

constexpr uint64_t kLocalMask = 0xFFFFFFFFull;
uint32_t SlotNumber(NodeId id) { return static_cast<uint32_t>(id >> 32); }
uint64_t LocalId(NodeId id) { return id & kLocalMask; }
NodeId MakeId(uint32_t slot, uint64_t local) { return (static_cast<uint64_t>(slot) << 32) | local; }

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsArchiveName(const std::string& name) {
  return EndsWith(name, ".tar") || EndsWith(name, ".tar.zst") || EndsWith(name, ".tzst");
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

Attr DirAttrOf(const struct stat& st, bool mutable_dirs = false) {
  Attr a;
  a.immutable = !mutable_dirs;
  a.type = NodeType::kDirectory;
  a.mode = DirModeFor(st.st_mode);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.mtime = st.st_mtim;
  a.nlink = 2;
  return a;
}

// Builds a member tree from one or more archive indexes (children kept in maps while building).
class TreeBuilder {
 public:
  // `id_for` gives stable ids by path (merged layout); null = sequential ids.
  // `mutable_dirs`: folders may change (rescans): the kernel must not cache them for long.
  TreeBuilder(Attr top, std::function<uint64_t(const std::string&)> id_for,
              bool mutable_dirs = false)
      : tree_(std::make_shared<TarBackend::Tree>()),
        id_for_(std::move(id_for)),
        mutable_dirs_(mutable_dirs) {
    NewNode("", top);  // id 1 (or id_for(""))
  }

  void AddArchive(const TarBackend::Slot& slot, const ArchiveIndex& index,
                  const std::string& source, bool merged) {
    log_prefix_ = source + ": " + slot.path + ": ";
    for (size_t i = 0; i < index.members.size(); ++i) {
      AddMember(slot, index, static_cast<int64_t>(i), merged);
    }
  }

  std::shared_ptr<TarBackend::Tree> Finish() {
    auto& nodes = tree_->nodes;
    for (size_t id = 1; id < nodes.size(); ++id) {
      auto& n = nodes[id];
      if (!n.valid) continue;
      if (n.attr.type == NodeType::kDirectory) {
        uint32_t subdirs = 0;
        auto& kids = kids_[id];
        n.children.assign(kids.begin(), kids.end());
        for (auto& [name, child] : kids) {
          if (nodes[child].attr.type == NodeType::kDirectory) ++subdirs;
        }
        n.attr.nlink = 2 + subdirs;
      }
    }
    // Count what is reachable (replaced members are not).
    std::vector<uint64_t> stack = {top_};
    std::vector<bool> seen(nodes.size());
    while (!stack.empty()) {
      uint64_t id = stack.back();
      stack.pop_back();
      if (seen[id]) continue;
      seen[id] = true;
      tree_->count++;
      if (nodes[id].attr.type == NodeType::kFile) tree_->total_bytes += nodes[id].attr.size;
      for (auto& [name, child] : nodes[id].children) stack.push_back(child);
    }
    return tree_;
  }

 private:
  // `id_key` names the node for stable ids (merged layout): its path, plus the archive's
  // identity for files, so a file from a changed or different archive is a new inode.
  uint64_t NewNode(const std::string& path, const Attr& attr, const std::string& id_key = "") {
    uint64_t id = id_for_ ? id_for_(id_key.empty() ? path : id_key)
                          : (tree_->nodes.empty() ? 1 : tree_->nodes.size());
    if (tree_->nodes.size() <= id) tree_->nodes.resize(id + 1);
    if (kids_.size() <= id) kids_.resize(id + 1);
    auto& n = tree_->nodes[id];
    n = TarBackend::Tree::Node();
    n.valid = true;
    n.attr = attr;
    if (attr.type == NodeType::kDirectory && mutable_dirs_) n.attr.immutable = false;
    n.path = path;
    kids_[id].clear();
    if (path.empty()) top_ = id;
    return id;
  }

  void Unlink(uint64_t id) {
    auto& n = tree_->nodes[id];
    if (n.attr.type != NodeType::kDirectory && n.attr.nlink > 0) n.attr.nlink--;
  }

  uint64_t DirFor(const TarBackend::Slot& slot, const std::string& path) {
    uint64_t cur = top_;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      std::string comp = path.substr(pos, slash - pos);
      auto it = kids_[cur].find(comp);
      if (it != kids_[cur].end() && tree_->nodes[it->second].attr.type == NodeType::kDirectory) {
        cur = it->second;
      } else {
        uint64_t replaced = it != kids_[cur].end() ? it->second : 0;
        Attr a = DirAttrOf(slot.st);
        a.mode = 0755;
        uint64_t d = NewNode(path.substr(0, slash), a);  // may reallocate kids_
        tree_->nodes[d].slot = slot.number;
        if (replaced) Unlink(replaced);
        kids_[cur][comp] = d;
        cur = d;
      }
      pos = slash + 1;
    }
    return cur;
  }

  uint64_t Find(const std::string& path) {
    uint64_t cur = top_;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      auto it = kids_[cur].find(path.substr(pos, slash - pos));
      if (it == kids_[cur].end()) return 0;
      cur = it->second;
      pos = slash + 1;
    }
    return cur;
  }

  void AddMember(const TarBackend::Slot& slot, const ArchiveIndex& index, int64_t mi, bool merged) {
    const ArchiveMember& m = index.members[static_cast<size_t>(mi)];
    size_t slash = m.path.find_last_of('/');
    std::string parent_path = slash == std::string::npos ? "" : m.path.substr(0, slash);
    std::string leaf = slash == std::string::npos ? m.path : m.path.substr(slash + 1);
    uint64_t parent = DirFor(slot, parent_path);
    auto existing = kids_[parent].find(leaf);
    uint64_t replaced = existing != kids_[parent].end() ? existing->second : 0;

    if (m.kind == TarMember::Kind::kHardLink) {
      uint64_t target = Find(m.link_target);
      if (target == 0 || tree_->nodes[target].attr.type == NodeType::kDirectory) {
        LogWarn(log_prefix_ + "hard link " + m.path + " -> " + m.link_target +
                ": target not found earlier in the archive; skipped");
        return;
      }
      if (replaced == target) return;
      if (replaced) Unlink(replaced);
      tree_->nodes[target].attr.nlink++;
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
      if (replaced && tree_->nodes[replaced].attr.type == NodeType::kDirectory) {
        auto& d = tree_->nodes[replaced];
        d.attr.mode = a.mode;
        d.attr.uid = a.uid;
        d.attr.gid = a.gid;
        d.attr.mtime = a.mtime;
        d.slot = slot.number;
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
      const auto& old = tree_->nodes[replaced];
      if (merged && old.slot != slot.number) {
        LogInfo(log_prefix_ + m.path + " is also in an earlier archive; this later one is shown");
      } else {
        LogDebug(log_prefix_ + m.path + " appears again; the later member wins");
      }
      Unlink(replaced);
      if (id_for_) kids_[parent].erase(leaf);
    }
    std::string id_key = a.type == NodeType::kDirectory ? "" : m.path + '\n' + slot.identity;
    uint64_t id = NewNode(m.path, a, id_key);
    auto& n = tree_->nodes[id];
    n.slot = slot.number;
    n.member = mi;
    if (m.kind == TarMember::Kind::kSymlink) n.link = m.link_target;
    kids_[parent][leaf] = id;
  }

  std::shared_ptr<TarBackend::Tree> tree_;
  std::function<uint64_t(const std::string&)> id_for_;
  std::vector<std::map<std::string, uint64_t>> kids_;
  bool mutable_dirs_ = false;
  uint64_t top_ = 1;
  std::string log_prefix_;
};

}  // namespace

Result<std::vector<std::string>> FindArchives(const std::string& path) {
  std::vector<std::string> out;
  if (HasGlobChars(path)) {
    glob_t g{};
    int rc = glob(path.c_str(), 0, nullptr, &g);
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
        if (!IsArchiveName(name)) continue;
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

Result<std::unique_ptr<TarBackend>> TarBackend::Create(const std::string& source_name,
                                                       const std::string& path,
                                                       ArchiveSourceOptions options) {
  Result<std::vector<std::string>> files = FindArchives(path);
  if (!files.ok()) {
    return Status(files.status().code(), "source " + source_name + ": " + files.status().message());
  }
  std::unique_ptr<TarBackend> b(new TarBackend());
  b->name_ = source_name;
  b->path_ = path;
  b->options_ = options;
  b->root_stat_ok_ = !HasGlobChars(path) && stat(path.c_str(), &b->root_st_) == 0;
  b->Discover(true);
  if (options.merged && options.background) {
    // Nothing to index yet (an empty folder, or only archives still being written): the merged
    // tree starts empty instead of missing, so its root lists nothing rather than failing
    // until the first rescan.
    bool nothing_queued;
    {
      std::lock_guard<std::mutex> lock(b->queue_mu_);
      nothing_queued = b->queue_.empty();
    }
    if (nothing_queued) b->RebuildMerged();
  }
  if (!options.background) {
    std::vector<std::shared_ptr<Slot>> pending;
    {
      std::lock_guard<std::mutex> lock(b->queue_mu_);
      pending.swap(b->queue_);
    }
    for (auto& slot : pending) b->IndexSlot(slot);
    if (options.merged) b->RebuildMerged();
  }
  return b;
}

TarBackend::~TarBackend() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  // Wake anyone still waiting for an index that will never come.
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (auto& [n, slot] : slots_) {
    std::lock_guard<std::mutex> sl(slot->mu);
    if (slot->state == Slot::State::kPending) {
      slot->state = Slot::State::kFailed;
      slot->error = Status(Code::kUnavailable, "daqfs is shutting down");
      slot->cv.notify_all();
    }
  }
}

void TarBackend::RegisterMetrics(Metrics& metrics, const std::string& source_label) {
  index_errors_ = &metrics.AddCounter(
      "daqfs_archive_index_errors_total",
      "Archives that could not be opened or indexed, or were indexed only up to damage",
      source_label);
  index_errors_->Add(own_index_errors_.Get());
  index_rejected_ = &metrics.AddCounter(
      "daqfs_index_file_rejected_total",
      "Saved index files found corrupt, stale or of another format, and rebuilt", source_label);
  index_rejected_->Add(own_index_rejected_.Get());
}

void TarBackend::Start() {
  if (!options_.background || indexer_.joinable()) return;
  indexer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-index");
    IndexerLoop();
  });
}

// Finds archives not seen yet (and archives that changed or vanished); queues new ones. File
// system calls happen outside mu_; only the bookkeeping is done under it.
void TarBackend::Discover(bool initial) {
  Result<std::vector<std::string>> files = FindArchives(path_);
  if (!files.ok()) {
    if (!initial) LogWarn(name_ + ": rescan of " + path_ + ": " + files.status().message());
    return;
  }
  std::map<std::string, std::string> known;  // archive path -> identity when indexed
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (auto& [file, n] : by_path_) known[file] = slots_.at(n)->identity;
  }
  std::map<std::string, bool> present;
  for (const std::string& file : *files) present[file] = true;
  std::vector<std::string> leaving;  // vanished or changed
  for (auto& [file, identity] : known) {
    struct stat st;
    bool gone = !present.count(file) || stat(file.c_str(), &st) != 0;
    if (gone || FileIdentity(st) != identity) {
      LogInfo(name_ + ": " + file + (gone ? " is gone" : " changed; indexing it again"));
      leaving.push_back(file);
    }
  }
  auto now = std::chrono::system_clock::now();
  std::vector<std::shared_ptr<Slot>> candidates;
  for (const std::string& file : *files) {
    if (known.count(file) && std::find(leaving.begin(), leaving.end(), file) == leaving.end()) {
      continue;
    }
    auto slot = std::make_shared<Slot>();
    Result<UniqueFd> fd = OpenReadOnly(file);
    if (!fd.ok()) {
      LogError(name_ + ": " + fd.status().message() + "; archive skipped");
      index_errors_->Add();
      continue;
    }
    slot->fd = std::make_shared<UniqueFd>(std::move(*fd));
    if (fstat(slot->fd->get(), &slot->st) != 0) continue;
    if (options_.rescan_seconds > 0) {
      // mtime, not ctime: a file renamed into place (complete) is stable at once.
      auto changed =
          std::chrono::system_clock::time_point(std::chrono::seconds(slot->st.st_mtim.tv_sec));
      if (now - changed < std::chrono::duration<double>(options_.stable_seconds)) {
        LogDebug(name_ + ": " + file + " changed recently; waiting until it is stable");
        continue;
      }
    }
    slot->path = file;
    char real[PATH_MAX];
    slot->real_path = realpath(file.c_str(), real) ? real : file;
    slot->dir_name = BaseName(file);
    slot->identity = FileIdentity(slot->st);
    candidates.push_back(std::move(slot));
  }

  std::vector<std::shared_ptr<Slot>> added;
  bool removed_any = false;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (const std::string& file : leaving) {
      auto it = by_path_.find(file);
      if (it == by_path_.end()) continue;
      by_name_.erase(slots_[it->second]->dir_name);
      slots_.erase(it->second);
      by_path_.erase(it);
      removed_any = true;
    }
    for (auto& slot : candidates) {
      if (by_path_.count(slot->path)) continue;
      if (by_name_.count(slot->dir_name)) {
        LogWarn(name_ + ": " + slot->path + ": another archive is already named " + slot->dir_name +
                "; skipped");
        continue;
      }
      slot->number = next_slot_++;
      slots_[slot->number] = slot;
      by_name_[slot->dir_name] = slot->number;
      by_path_[slot->path] = slot->number;
      added.push_back(slot);
    }
  }
  if (!added.empty() || removed_any) {
    if (initial) {
      LogInfo(name_ + ": " + std::to_string(added.size()) + " archives found in " + path_);
    }
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.insert(queue_.end(), added.begin(), added.end());
    if (removed_any && added.empty()) queue_.push_back(nullptr);  // merged tree must change
  }
  queue_cv_.notify_all();
}

void TarBackend::IndexSlot(const std::shared_ptr<Slot>& slot) {
  auto start = std::chrono::steady_clock::now();
  Result<ArchiveIndex> index = Status(Code::kNotFound, "no saved index");
  bool loaded = false;
  if (!options_.index_dir.empty()) {
    index = LoadArchiveIndex(options_.index_dir, slot->identity);
    if (index.ok()) {
      loaded = true;
    } else if (index.status().code() != Code::kNotFound) {
      index_rejected_->Add();
      LogWarn(name_ + ": " + index.status().message() + "; indexing " + slot->path + " again");
    }
  }
  if (!loaded) {
    ArchiveIndexOptions io;
    io.strip_suffix = options_.strip_suffix;
    io.spill_dir = options_.spill_dir;
    index = BuildArchiveIndex(slot->path, slot->fd->get(), slot->st, io);
    if (index.ok()) {
      for (const std::string& w : index->warnings) LogWarn(name_ + ": " + slot->path + ": " + w);
      if (!index->damage.empty()) {
        LogError(name_ + ": " + index->damage + " (kept " + std::to_string(index->members.size()) +
                 " members before the damage)");
      }
      if (!options_.index_dir.empty()) {
        Status s = SaveArchiveIndex(options_.index_dir, *index);
        if (!s.ok())
          LogWarn(name_ + ": cannot save the index of " + slot->path + ": " + s.ToString());
      }
    }
  }
  // Damage counts whether found now or recorded in a saved index (a remount counts it again).
  if (index.ok() && !index->damage.empty()) index_errors_->Add();
  std::shared_ptr<const Tree> tree;
  std::shared_ptr<UniqueFd> spill_fd;
  if (index.ok() && index->container == ArchiveIndex::Container::kSpilled) {
    Result<UniqueFd> sfd = OpenReadOnly(index->spill_path);
    if (sfd.ok()) {
      spill_fd = std::make_shared<UniqueFd>(std::move(*sfd));
    } else {
      index = sfd.status();
    }
  }
  bool rescans = options_.rescan_seconds > 0;
  if (index.ok()) {
    // With rescans an archive can be replaced under the same name: its folder is revalidated.
    TreeBuilder builder(DirAttrOf(slot->st, rescans), nullptr);
    builder.AddArchive(*slot, *index, name_, false);
    tree = builder.Finish();
  } else {
    // The archive is shown as an empty folder (the rest of the mount is unaffected).
    index_errors_->Add();
    LogError(name_ + ": " + slot->path + ": " + index.status().ToString() +
             "; shown as an empty folder");
    index = ArchiveIndex{};
    index->identity = slot->identity;
    index->damage = slot->path + ": " + index.status().message();
    TreeBuilder builder(DirAttrOf(slot->st, rescans), nullptr);
    tree = builder.Finish();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LogInfo(name_ + ": " + slot->path + ": " +
          (index.ok() ? std::to_string(index->members.size()) + " members" : "failed") +
          (loaded ? " (saved index)" : "") + " in " + std::to_string(secs) + " s");
  std::lock_guard<std::mutex> lock(slot->mu);
  if (index.ok()) {
    slot->index = std::make_shared<const ArchiveIndex>(std::move(*index));
    slot->tree = std::move(tree);
    slot->spill_fd = std::move(spill_fd);
    slot->state = Slot::State::kReady;
  } else {
    slot->error = index.status();
    slot->state = Slot::State::kFailed;
  }
  slot->cv.notify_all();
}

void TarBackend::RebuildMerged() {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (auto& [path, n] : by_path_) slots.push_back(slots_.at(n));  // sorted by path
  }
  for (auto& s : slots) (void)s->Wait();
  std::unique_lock<std::shared_mutex> lock(mu_);
  Attr top = RootAttr();
  TreeBuilder builder(
      top,
      [this](const std::string& p) {
        auto [it, fresh] = merged_ids_.emplace(p, merged_ids_.size() + 1);
        return it->second;
      },
      options_.rescan_seconds > 0);
  for (auto& s : slots) {
    std::lock_guard<std::mutex> sl(s->mu);
    if (s->state == Slot::State::kReady) builder.AddArchive(*s, *s->index, name_, true);
  }
  merged_ = builder.Finish();
}

void TarBackend::IndexerLoop() {
  auto next_scan = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(options_.rescan_seconds));
  for (;;) {
    std::vector<std::shared_ptr<Slot>> work;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      auto ready = [&] { return stop_ || !queue_.empty(); };
      if (options_.rescan_seconds > 0) {
        queue_cv_.wait_until(lock, next_scan, ready);
      } else {
        queue_cv_.wait(lock, ready);
      }
      if (stop_) return;
      work.swap(queue_);
    }
    bool changed = false;
    for (auto& slot : work) {
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        if (stop_) return;  // shutting down: the rest stays unindexed (waiters are woken)
      }
      if (slot) IndexSlot(slot);
      changed = true;
    }
    if (changed && options_.merged) RebuildMerged();
    if (options_.rescan_seconds > 0 && std::chrono::steady_clock::now() >= next_scan) {
      Discover(false);
      next_scan = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(options_.rescan_seconds));
    }
  }
}

void TarBackend::WaitIndexed() {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (auto& [n, s] : slots_) slots.push_back(s);
  }
  for (auto& s : slots) (void)s->Wait();
  if (options_.merged) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::shared_lock<std::shared_mutex> lock(mu_);
        if (merged_) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

Attr TarBackend::RootAttr() const {
  Attr root;
  if (root_stat_ok_) {
    root = DirAttrOf(root_st_);
  } else {
    root.type = NodeType::kDirectory;
    root.mode = 0555;
    root.nlink = 2;
  }
  // New archives may appear at the root: the kernel must not cache it for long.
  root.immutable = options_.rescan_seconds <= 0;
  return root;
}

std::shared_ptr<TarBackend::Slot> TarBackend::SlotOf(NodeId id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(SlotNumber(id));
  return it == slots_.end() ? nullptr : it->second;
}

// The tree holding node `id` (waiting for its index), or null with *status set.
std::shared_ptr<const TarBackend::Tree> TarBackend::TreeOf(NodeId id, Status* status) const {
  if (options_.merged) {
    const_cast<TarBackend*>(this)->WaitIndexed();
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (!merged_) *status = Status(Code::kUnavailable, name_ + ": index not ready");
    return merged_;
  }
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

Result<TarBackend::NodeRef> TarBackend::NodeOf(NodeId id) const {
  Status s;
  std::shared_ptr<const Tree> tree = TreeOf(id, &s);
  if (!tree) return s;
  uint64_t local = LocalId(id);
  if (local >= tree->nodes.size() || !tree->nodes[local].valid) {
    return NotFound("node " + std::to_string(id));
  }
  const Tree::Node* node = &tree->nodes[local];
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
  std::shared_ptr<const Tree> tree = TreeOf(parent, &s);
  if (!tree) return s;
  uint64_t local = options_.merged && parent == kRootNode ? 1 : LocalId(parent);
  if (local >= tree->nodes.size() || !tree->nodes[local].valid) return NotFound(std::string(name));
  const auto& p = tree->nodes[local];
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
      std::shared_lock<std::shared_mutex> lock(mu_);
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
    Attr a = DirAttrOf(now, true);
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->tree) a.nlink = slot->tree->nodes[1].attr.nlink;
    return a;
  }
  Status s;
  std::shared_ptr<const Tree> tree = TreeOf(node, &s);
  if (!tree) return s;
  uint64_t local = LocalId(node);
  if (local >= tree->nodes.size() || !tree->nodes[local].valid) {
    return NotFound("node " + std::to_string(node));
  }
  return tree->nodes[local].attr;
}

Status TarBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  if (dir == kRootNode && !options_.merged) {
    std::vector<std::pair<std::string, std::shared_ptr<Slot>>> list;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (auto& [name, n] : by_name_) list.emplace_back(name, slots_.at(n));
    }
    for (uint64_t i = cookie; i < list.size(); ++i) {
      Result<Attr> a = GetAttr(MakeId(list[i].second->number, 1));
      if (!a.ok()) continue;
      if (!emit(DirEntry{list[i].first, MakeId(list[i].second->number, 1), *a}, i + 1)) break;
    }
    return Status::Ok();
  }
  Status s;
  std::shared_ptr<const Tree> tree = TreeOf(dir, &s);
  if (!tree) return s;
  uint64_t local = options_.merged && dir == kRootNode ? 1 : LocalId(dir);
  if (local >= tree->nodes.size() || !tree->nodes[local].valid) return NotFound("directory");
  const auto& d = tree->nodes[local];
  if (d.attr.type != NodeType::kDirectory) return Status(Code::kNotDir, d.path);
  uint32_t slot = options_.merged ? 0 : SlotNumber(dir);
  for (uint64_t i = cookie; i < d.children.size(); ++i) {
    const auto& [name, id] = d.children[i];
    if (!emit(DirEntry{name, MakeId(slot, id), tree->nodes[id].attr}, i + 1)) break;
  }
  return Status::Ok();
}

std::vector<DirEntry> TarBackend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  if (dir == kRootNode && !options_.merged) return out;
  Status s;
  std::shared_ptr<const Tree> tree = TreeOf(dir, &s);
  if (!tree) return out;
  uint64_t local = options_.merged && dir == kRootNode ? 1 : LocalId(dir);
  if (local >= tree->nodes.size()) return out;
  const auto& d = tree->nodes[local];
  uint32_t slot = options_.merged ? 0 : SlotNumber(dir);
  auto it = std::upper_bound(d.children.begin(), d.children.end(), name,
                             [](std::string_view n, const auto& kid) { return n < kid.first; });
  for (; it != d.children.end() && out.size() < max; ++it) {
    const Attr& a = tree->nodes[it->second].attr;
    if (a.type == NodeType::kFile) out.push_back(DirEntry{it->first, MakeId(slot, it->second), a});
  }
  return out;
}

Result<std::shared_ptr<ByteSource>> TarBackend::Open(NodeId node, const Caller& caller) {
  Result<NodeRef> ref = NodeOf(node);
  if (!ref.ok()) return ref.status();
  const Tree::Node& n = *ref->node;
  if (n.attr.type == NodeType::kDirectory) return Status(Code::kIsDir, n.path);
  if (n.attr.type != NodeType::kFile || n.member < 0) return Invalid(n.path + ": not a file");
  std::shared_ptr<Slot> slot = SlotOf(MakeId(n.slot, 0));
  if (!slot) return Status(Code::kUnavailable, n.path + ": its archive is gone");
  if (!slot->fd) return Status(Code::kUnavailable, n.path + ": its archive cannot be opened");
  if (Status s = CheckBackingFileAccess(caller, slot->fd->get(), slot->real_path); !s.ok()) {
    return s;
  }
  std::shared_ptr<const ArchiveIndex> index;
  std::shared_ptr<UniqueFd> spill;
  std::shared_ptr<ByteSource> archive_units;
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    index = slot->index;
    spill = slot->spill_fd;
    if (index && index->container == ArchiveIndex::Container::kTarZst) {
      if (slot->units_of != index) {
        // Built once per index, sharing its frame list (no copy; a walk only to see whether
        // some frame is huge).
        slot->archive_units = std::make_shared<ZstdSliceSource>(
            slot->fd, slot->path, 0,
            std::shared_ptr<const std::vector<ZstdFrame>>(index, &index->archive_frames),
            slot->identity + ":tzst-frames");
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
      auto fd = index->container == ArchiveIndex::Container::kTar ? slot->fd : spill;
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
    case ArchiveIndex::Container::kTarZst: {
      // A window of the archive's decoded stream: its blocks are slices of the archive's
      // frames, cached and decoded once for every member that shares a frame.
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
  const Tree::Node& n = *ref->node;
  if (n.attr.type != NodeType::kSymlink) return Status(Code::kNotLink, n.path);
  return n.link;
}

namespace {
// The member behind a tree node, if any.
const ArchiveMember* MemberOf(const TarBackend::Tree::Node& n, const ArchiveIndex* index) {
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
  const Tree::Node& n = *ref->node;
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

// Sums `field` of every tree (the merged one, or each archive's).
template <typename Field>
uint64_t SumTrees(bool merged, const std::shared_ptr<const TarBackend::Tree>& merged_tree,
                  const std::map<uint32_t, std::shared_ptr<TarBackend::Slot>>& slots, Field field) {
  if (merged) return merged_tree ? field(*merged_tree) : 0;
  uint64_t total = 0;
  for (auto& [n, slot] : slots) {
    std::lock_guard<std::mutex> sl(slot->mu);
    if (slot->tree) total += field(*slot->tree);
  }
  return total;
}

uint64_t TarBackend::TotalBytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return SumTrees(options_.merged, merged_, slots_, [](const Tree& t) { return t.total_bytes; });
}

uint64_t TarBackend::TotalNodes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return SumTrees(options_.merged, merged_, slots_, [](const Tree& t) { return t.count; });
}

size_t TarBackend::archive_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slots_.size();
}

}  // namespace daqfs
