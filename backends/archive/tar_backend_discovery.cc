// Discovery: which archive files a source names, and what changed since the last look.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>

#include "backends/archive/tar_backend.h"
#include "backends/archive/tar_backend_slot.h"
#include "fs/log.h"
#include "fs/source_type.h"

namespace daqfs {

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsArchiveName(const std::string& name) {
  for (std::string_view suffix : {".tar", ".tar.zst", ".tzst", ".tar.gz", ".tgz", ".tar.xz", ".txz",
                                  ".tar.bz2", ".tbz2", ".tbz", ".tar.lz4"}) {
    if (EndsWith(name, suffix)) return true;
  }
  return false;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<std::vector<std::string>> FindArchives(const std::string& path) {
  return ListSourceFiles(path, IsArchiveName);
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
  return b;
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
  const timespec now = clock_->WallNow();
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
      double age = static_cast<double>(now.tv_sec - slot->st.st_mtim.tv_sec) +
                   1e-9 * static_cast<double>(now.tv_nsec - slot->st.st_mtim.tv_nsec);
      if (age < options_.stable_seconds) {
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
  std::vector<std::pair<std::string, std::string>> gone;  // dir name, identity
  bool removed_any = false;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (const std::string& file : leaving) {
      auto it = by_path_.find(file);
      if (it == by_path_.end()) continue;
      const std::shared_ptr<Slot>& old = slots_[it->second];
      gone.emplace_back(old->dir_name, old->identity);
      by_name_.erase(old->dir_name);
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
  // Announced once visible (the merged layout announces after its rebuild).
  for (const auto& [dir_name, identity] : gone) {
    if (!options_.merged) invalidator_->EntryRemoved(kRootNode, dir_name);
    EraseBlobsOf(identity);
  }
  if (!options_.merged) {
    for (const auto& slot : added) invalidator_->EntryAdded(kRootNode, slot->dir_name);
  }
}

}  // namespace daqfs
