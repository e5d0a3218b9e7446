// Indexing: Start/Stop, the indexer thread, saved indexes and spills in the blob store, and the
// merged layout's rebuilds.
#include <pthread.h>

#include <chrono>
#include <set>

#include "backends/archive/tar_backend.h"
#include "backends/archive/tar_backend_slot.h"
#include "fs/log.h"

namespace daqfs {

Status TarBackend::Start(BackendEnv& env) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (started_) return Status(Code::kInvalid, name_ + ": started twice");
    started_ = true;
  }
  if (env.metrics) {
    index_errors_ = &env.metrics->AddCounter(
        "daqfs_archive_index_errors_total",
        "Archives that could not be opened or indexed, or were indexed only up to damage",
        env.source_label);
    index_errors_->Add(own_index_errors_.Get());
    index_rejected_ = &env.metrics->AddCounter(
        "daqfs_index_file_rejected_total",
        "Saved index files found corrupt, stale or of another format, and rebuilt",
        env.source_label);
    index_rejected_->Add(own_index_rejected_.Get());
  }
  if (env.invalidator) invalidator_ = env.invalidator;
  if (env.clock) clock_ = env.clock;
  blobs_ = env.blobs;
  if (blobs_) {
    // Blobs of archives not found (any more) are erased: what we keep has an owner.
    std::set<std::string> keep;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (auto& [n, slot] : slots_) {
        keep.insert(IndexBlobName(slot->identity));
        keep.insert(SpillBlobName(slot->identity));
      }
    }
    for (const std::string& name : blobs_->List()) {
      if (!keep.count(name)) blobs_->Erase(name);
    }
  }
  if (options_.background) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      busy_ = true;  // until the thread has looked at its first work
    }
    indexer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "daqfs-index");
      IndexerLoop();
    });
    return Status::Ok();
  }
  std::vector<std::shared_ptr<Slot>> pending;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    pending.swap(queue_);
  }
  for (auto& slot : pending) {
    if (slot) IndexSlot(slot);
  }
  if (options_.merged) RebuildMerged();
  return Status::Ok();
}

void TarBackend::Stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  {
    std::lock_guard<std::mutex> lock(merged_mu_);
    stopping_ = true;
  }
  merged_cv_.notify_all();
  // Wake anyone still waiting for an index that will never come, and let go of every index:
  // a spill blob is pinned by its index, and the blob store may go right after Stop().
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (auto& [n, slot] : slots_) {
    std::lock_guard<std::mutex> sl(slot->mu);
    if (slot->state == Slot::State::kPending) {
      slot->state = Slot::State::kFailed;
      slot->error = Status(Code::kUnavailable, "daqfs is shutting down");
      slot->cv.notify_all();
    } else if (slot->state == Slot::State::kReady) {
      slot->state = Slot::State::kFailed;
      slot->error = Status(Code::kUnavailable, "daqfs is shutting down");
      slot->index.reset();
      slot->tree.reset();
      slot->archive_units.reset();
      slot->units_of.reset();
    }
  }
}

TarBackend::~TarBackend() { Stop(); }

void TarBackend::EraseBlobsOf(const std::string& identity) {
  if (!blobs_) return;
  blobs_->Erase(IndexBlobName(identity));
  blobs_->Erase(SpillBlobName(identity));  // at once, or when its last reader closes
}

void TarBackend::IndexSlot(const std::shared_ptr<Slot>& slot) {
  auto start = std::chrono::steady_clock::now();
  Result<ArchiveIndex> index = Status(Code::kNotFound, "no saved index");
  bool loaded = false;
  if (blobs_) {
    index = LoadArchiveIndex(*blobs_, slot->identity);
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
    io.spill = blobs_;
    index = BuildArchiveIndex(slot->path, slot->fd->get(), slot->st, io);
    if (index.ok()) {
      for (const std::string& w : index->warnings) LogWarn(name_ + ": " + slot->path + ": " + w);
      if (!index->damage.empty()) {
        LogError(name_ + ": " + index->damage + " (kept " + std::to_string(index->members.size()) +
                 " members before the damage)");
      }
      if (blobs_) {
        Status s = SaveArchiveIndex(*blobs_, *index);
        if (!s.ok())
          LogWarn(name_ + ": cannot save the index of " + slot->path + ": " + s.ToString());
      }
    }
  }
  // Damage counts whether found now or recorded in a saved index (a remount counts it again).
  if (index.ok() && !index->damage.empty()) index_errors_->Add();
  std::shared_ptr<const MemberTree> tree;
  if (index.ok() && index->container == ArchiveIndex::Container::kSpilled && !index->spill_blob) {
    index = Status(Code::kUnavailable, slot->path + ": its spill is not open");
  }
  if (index.ok()) {
    // A replaced archive gets a new slot (new ids): its folders never change.
    TreeBuilder builder(DirAttrOf(slot->st), nullptr);
    builder.AddArchive(slot->AsTreeArchive(), *index, name_, false);
    tree = builder.Finish();
  } else {
    // The archive is shown as an empty folder (the rest of the mount is unaffected).
    index_errors_->Add();
    LogError(name_ + ": " + slot->path + ": " + index.status().ToString() +
             "; shown as an empty folder");
    index = ArchiveIndex{};
    index->identity = slot->identity;
    index->damage = slot->path + ": " + index.status().message();
    TreeBuilder builder(DirAttrOf(slot->st), nullptr);
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
  // Built without any lock a request takes; requests keep using the old tree meanwhile.
  TreeBuilder builder(RootAttr(), &merged_ids_);
  for (auto& s : slots) {
    std::shared_ptr<const ArchiveIndex> index;
    {
      std::lock_guard<std::mutex> sl(s->mu);
      if (s->state == Slot::State::kReady) index = s->index;
    }
    if (index) builder.AddArchive(s->AsTreeArchive(), *index, name_, true);
  }
  std::shared_ptr<const MemberTree> tree = builder.Finish();
  merged_ids_.EndBuild();
  std::shared_ptr<const MemberTree> old;
  {
    std::lock_guard<std::mutex> lock(merged_mu_);
    old = std::exchange(merged_, tree);
  }
  merged_cv_.notify_all();
  if (old) AnnounceTreeChanges(*old, *tree, *invalidator_);
}

void TarBackend::IndexerLoop() {
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.rescan_seconds));
  auto next_scan = std::chrono::steady_clock::now() + period;
  bool first = true;
  for (;;) {
    std::vector<std::shared_ptr<Slot>> work;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      busy_ = false;
      queue_cv_.notify_all();  // WaitIndexed
      auto ready = [&] { return stop_ || !queue_.empty() || first; };
      if (options_.rescan_seconds > 0) {
        queue_cv_.wait_until(lock, next_scan, ready);
      } else {
        queue_cv_.wait(lock, ready);
      }
      if (stop_) return;
      work.swap(queue_);
      busy_ = true;
    }
    bool changed = first;  // the merged layout always gets a first tree (maybe empty)
    first = false;
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
      next_scan = std::chrono::steady_clock::now() + period;
    }
  }
}

void TarBackend::WaitIndexed() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_cv_.wait(lock, [&] { return stop_ || !indexer_.joinable() || (queue_.empty() && !busy_); });
}

size_t TarBackend::merged_ids_live() const { return merged_ids_.live(); }
size_t TarBackend::merged_id_slots() const { return merged_ids_.slots(); }

}  // namespace daqfs
