// Discovery: which HDF5 files a source names, which of them other files link (scans for
// external links and virtual-dataset sources), Start/Stop and the scanning thread.
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "backends/hdf5/hdf5_backend.h"
#include "backends/hdf5/hdf5_backend_slot.h"
#include "backends/hdf5/hdf5_datasets.h"
#include "backends/hdf5/hdf5_links.h"
#include "backends/hdf5/hdf5_sniff.h"
#include "backends/hdf5/hdf5_stack_views.h"
#include "fs/log.h"
#include "fs/source_type.h"
#include "fs/unique_fd.h"

namespace daqfs {

namespace {

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The folder name of a file: its name without the extension ("" when it has none).
std::string Stem(const std::string& name) {
  size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  return name.substr(0, dot);
}

// Masters first: a file that names itself a master, or a NeXus file, links the others.
bool LooksLikeMaster(const std::string& path) {
  std::string name = BaseName(path);
  return name.find("master") != std::string::npos ||
         (name.size() > 4 && name.compare(name.size() - 4, 4, ".nxs") == 0);
}

std::string Canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

// The first existing file among an external link's candidates, canonical ("" when none).
std::string ExistingTarget(const std::string& linking_file, const std::string& target) {
  for (const std::string& c : ExternalFileCandidates(linking_file, target)) {
    struct stat st;
    if (stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return Canonical(c);
  }
  return "";
}

// The files `real_path` links: external link targets and virtual-dataset source files that
// exist (metadata only: nothing is opened but the file itself). One group per critical section;
// the names found are looked for on disk once the lock is let go.
Result<std::vector<std::string>> ScanLinks(Hdf5FilePool& pool, const std::string& real_path) {
  std::set<std::string> names;  // file names as stored in links and mappings
  std::set<haddr_t> visited;
  std::vector<std::string> groups = {"/"};
  while (!groups.empty()) {
    std::string group = std::move(groups.back());
    groups.pop_back();
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool.Open(real_path);
    if (!file.ok()) return file.status();
    Result<std::vector<H5LinkEntry>> links = ListLinks(**file, group);
    if (!links.ok()) {
      if (group == "/") return links.status();
      continue;  // a damaged group: its folder will say so when listed
    }
    for (const H5LinkEntry& link : *links) {
      std::string path = JoinH5Path(group, link.name);
      if (link.type == H5L_TYPE_EXTERNAL) {
        names.insert(link.file);
        continue;
      }
      if (link.type != H5L_TYPE_HARD) continue;
      Result<H5Location> loc = ObjectAt(*file, path);
      if (!loc.ok()) continue;
      if (loc->type == H5O_TYPE_GROUP) {
        if (visited.insert(loc->addr).second) groups.push_back(path);
        continue;
      }
      if (loc->type != H5O_TYPE_DATASET || !visited.insert(loc->addr).second) continue;
      H5Id dset(H5Dopen2((*file)->id.get(), path.c_str(), H5P_DEFAULT));
      H5Id dcpl(dset.valid() ? H5Dget_create_plist(dset.get()) : H5I_INVALID_HID);
      if (!dcpl.valid() || H5Pget_layout(dcpl.get()) != H5D_VIRTUAL) continue;
      size_t count = 0;
      H5Pget_virtual_count(dcpl.get(), &count);
      for (size_t i = 0; i < count; ++i) {
        ssize_t n = H5Pget_virtual_filename(dcpl.get(), i, nullptr, 0);
        if (n <= 0) continue;
        std::string name(static_cast<size_t>(n) + 1, '\0');
        H5Pget_virtual_filename(dcpl.get(), i, name.data(), name.size());
        name.resize(static_cast<size_t>(n));
        if (name != "." && name.find('%') == std::string::npos) names.insert(name);
      }
    }
    H5ErrorText();  // leaves no error behind for the next call
  }
  std::set<std::string> found;
  for (const std::string& name : names) {
    std::string t = ExistingTarget(real_path, name);
    if (!t.empty() && t != real_path) found.insert(t);
  }
  return std::vector<std::string>(found.begin(), found.end());
}

}  // namespace

Result<std::unique_ptr<Hdf5Backend>> Hdf5Backend::Create(const std::string& source_name,
                                                         const std::string& path,
                                                         Hdf5SourceOptions options) {
  Result<Hdf5Files> files = FindHdf5Files(path);
  if (!files.ok()) {
    return Status(files.status().code(), "source " + source_name + ": " + files.status().message());
  }
  std::unique_ptr<Hdf5Backend> b(new Hdf5Backend());
  b->name_ = source_name;
  b->path_ = path;
  b->options_ = std::move(options);
  b->root_stat_ok_ = !HasGlobChars(path) && stat(path.c_str(), &b->root_st_) == 0;
  if (b->root_stat_ok_ && S_ISREG(b->root_st_.st_mode)) {
    // A single file: the source's folder takes the file's owner and mode.
    b->root_st_.st_mode = (b->root_st_.st_mode & 07777) | S_IFDIR;
  }
  b->pool_ = std::make_shared<Hdf5FilePool>(b->options_.max_open_files, b->options_.direct_reads);
  auto env = std::make_shared<Hdf5FileView::Env>();
  env->source = source_name;
  env->pool = b->pool_;
  env->text_max = b->options_.text_max;
  if (!b->options_.views && b->options_.stack_views) {
    Hdf5StackViews::Options views;
    views.raw = b->options_.raw_frames;
    b->options_.views = std::make_shared<Hdf5StackViews>(views);
  }
  env->views = b->options_.views;
  Hdf5Backend* self = b.get();
  env->units = [self](std::shared_ptr<const Hdf5DatasetRef> ref, Hdf5DatasetUnits::Layout layout) {
    return self->UnitsFor(std::move(ref), layout);
  };
  b->view_env_ = std::move(env);
  b->Discover(true);
  return b;
}

// Finds files not seen yet, and files that changed or vanished. File system calls happen
// outside mu_; only the bookkeeping is done under it.
void Hdf5Backend::Discover(bool initial) {
  Result<Hdf5Files> files = FindHdf5Files(path_);
  if (!files.ok()) {
    if (!initial) LogWarn(name_ + ": rescan of " + path_ + ": " + files.status().message());
    return;
  }
  for (const std::string& s : files->skipped) {
    if (!skipped_logged_.insert(s).second) continue;  // said once
    {
      bool damaged =
          s.find("HDF5") != std::string::npos && s.find("not an HDF5") == std::string::npos;
      if (damaged) {
        LogWarn(name_ + ": " + s + "; skipped");
        file_errors_->Add();
      } else {
        LogInfo(name_ + ": " + s + "; skipped");
      }
    }
  }
  std::map<std::string, std::string> known;  // canonical path -> identity
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (auto& [p, n] : by_path_) known[p] = slots_.at(n)->identity;
  }
  std::map<std::string, std::string> present;  // canonical -> as found
  for (const std::string& f : files->hdf5) {
    std::string real = Canonical(f);
    if (!real.empty() && !present.count(real)) present[real] = f;
  }
  std::vector<std::string> leaving;
  for (auto& [real, identity] : known) {
    struct stat st;
    bool gone = !present.count(real) || stat(real.c_str(), &st) != 0;
    if (gone || FileIdentity(st) != identity) {
      LogInfo(name_ + ": " + real + (gone ? " is gone" : " changed; reading it again"));
      leaving.push_back(real);
    }
  }
  const timespec now = clock_->WallNow();
  std::vector<std::shared_ptr<Slot>> candidates;
  for (auto& [real, found] : present) {
    if (known.count(real) && std::find(leaving.begin(), leaving.end(), real) == leaving.end()) {
      continue;
    }
    auto slot = std::make_shared<Slot>();
    if (stat(real.c_str(), &slot->st) != 0) continue;
    if (options_.rescan_seconds > 0) {
      double age = static_cast<double>(now.tv_sec - slot->st.st_mtim.tv_sec) +
                   1e-9 * static_cast<double>(now.tv_nsec - slot->st.st_mtim.tv_nsec);
      if (age < options_.stable_seconds) {
        LogDebug(name_ + ": " + real + " changed recently; waiting until it is stable");
        continue;
      }
    }
    slot->path = found;
    slot->real_path = real;
    slot->file_name = BaseName(found);
    slot->identity = FileIdentity(slot->st);
    candidates.push_back(std::move(slot));
  }

  std::vector<std::pair<std::string, bool>> removed;  // root names, whether a folder
  std::vector<std::shared_ptr<Slot>> added;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (const std::string& real : leaving) {
      auto it = by_path_.find(real);
      if (it == by_path_.end()) continue;
      std::shared_ptr<Slot> old = slots_[it->second];
      removed.emplace_back(old->file_name, false);
      if (old->shown.load()) removed.emplace_back(old->dir_name, true);
      by_name_.erase(old->file_name);
      by_name_.erase(old->dir_name);
      slots_.erase(it->second);
      by_path_.erase(it);
    }
    for (auto& slot : candidates) {
      if (by_path_.count(slot->real_path)) continue;
      if (next_slot_ >= (1u << 20)) {
        LogError(name_ + ": too many files; " + slot->path + " skipped");
        continue;
      }
      if (by_name_.count(slot->file_name)) {
        LogWarn(name_ + ": " + slot->path + ": another entry is already named " + slot->file_name +
                "; skipped");
        continue;
      }
      std::string stem = Stem(slot->file_name);
      slot->dir_name = stem.empty() || by_name_.count(stem) ? slot->file_name + ".d" : stem;
      if (by_name_.count(slot->dir_name)) {
        LogWarn(name_ + ": " + slot->path + ": its folder name " + slot->dir_name +
                " is taken; skipped");
        continue;
      }
      slot->number = next_slot_++;
      slots_[slot->number] = slot;
      by_name_[slot->file_name] = {slot->number, false};
      by_name_[slot->dir_name] = {slot->number, true};
      by_path_[slot->real_path] = slot->number;
      added.push_back(slot);
    }
  }
  if (initial) {
    LogInfo(name_ + ": " + std::to_string(added.size()) + " HDF5 files found in " + path_);
  }
  for (const auto& [name, folder] : removed) invalidator_->EntryRemoved(kRootNode, name);
  for (const auto& slot : added) invalidator_->EntryAdded(kRootNode, slot->file_name);
}

// Scans what must be scanned and decides which files are shown as folders: a file is scanned
// unless a scanned file links it; a file is a folder unless another file links it and it links
// nothing itself. Masters are scanned first, so their data files are never scanned.
void Hdf5Backend::ScanPending() {
  for (;;) {
    std::vector<std::shared_ptr<Slot>> all;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (auto& [n, slot] : slots_) all.push_back(slot);
    }
    std::set<std::string> linked;
    std::vector<std::shared_ptr<Slot>> todo;
    for (const auto& slot : all) {
      std::lock_guard<std::mutex> lock(slot->mu);
      if (slot->scanned) {
        linked.insert(slot->links.begin(), slot->links.end());
      } else {
        todo.push_back(slot);
      }
    }
    std::erase_if(todo, [&](const auto& s) { return linked.count(s->real_path) > 0; });
    if (todo.empty()) break;
    std::stable_sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
      return LooksLikeMaster(a->path) && !LooksLikeMaster(b->path);
    });
    const std::shared_ptr<Slot>& slot = todo.front();
    Result<std::vector<std::string>> links = ScanLinks(*pool_, slot->real_path);
    if (!links.ok()) {
      // Unreadable (damaged beyond its superblock): logged and skipped.
      file_errors_->Add();
      LogError(name_ + ": " + links.status().message() + "; skipped");
      bool was_shown = false;
      {
        std::unique_lock<std::shared_mutex> lock(mu_);
        by_name_.erase(slot->file_name);
        by_name_.erase(slot->dir_name);
        by_path_.erase(slot->real_path);
        slots_.erase(slot->number);
        was_shown = slot->shown.exchange(false);
      }
      invalidator_->EntryRemoved(kRootNode, slot->file_name);
      if (was_shown) invalidator_->EntryRemoved(kRootNode, slot->dir_name);
      continue;
    }
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->links = std::move(*links);
    slot->scanned = true;
  }
  // Who is shown as a folder now.
  std::vector<std::shared_ptr<Slot>> all;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (auto& [n, slot] : slots_) all.push_back(slot);
  }
  std::set<std::string> linked;
  for (const auto& slot : all) {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->scanned) linked.insert(slot->links.begin(), slot->links.end());
  }
  for (const auto& slot : all) {
    bool show;
    {
      std::lock_guard<std::mutex> lock(slot->mu);
      show = slot->scanned && (!linked.count(slot->real_path) || !slot->links.empty());
    }
    bool before = slot->shown.exchange(show);
    if (before && !show) invalidator_->EntryRemoved(kRootNode, slot->dir_name);
    if (!before && show) invalidator_->EntryAdded(kRootNode, slot->dir_name);
  }
}

Status Hdf5Backend::Start(BackendEnv& env) {
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    if (started_) return Invalid(name_ + ": started twice");
    started_ = true;
  }
  if (env.metrics) {
    counters_->fallback_units = &env.metrics->AddCounter(
        "daqfs_hdf5_units_read_total",
        "HDF5 dataset units (chunks, frames, row ranges) read, by path (fallback: H5Dread)",
        env.source_label + "," + Label("path", "fallback"));
    counters_->fallback_units->Add(counters_->own_fallback_units.Get());
    counters_->fast_units = &env.metrics->AddCounter(
        "daqfs_hdf5_units_read_total",
        "HDF5 dataset units (chunks, frames, row ranges) read, by path (fallback: H5Dread)",
        env.source_label + "," + Label("path", "fast"));
    counters_->fast_units->Add(counters_->own_fast_units.Get());
    counters_->errors = &env.metrics->AddCounter(
        "daqfs_hdf5_read_errors_total",
        "HDF5 dataset units that could not be read (corrupt chunk, missing source or data file)",
        env.source_label);
    counters_->errors->Add(counters_->own_errors.Get());
    counters_->direct_reads = &env.metrics->AddCounter(
        "daqfs_hdf5_direct_reads_total",
        "Chunks read around the page cache (direct I/O: cold, on a local disk; direct_reads)",
        env.source_label);
    counters_->direct_reads->Add(counters_->own_direct_reads.Get());
    file_errors_ = &env.metrics->AddCounter("daqfs_hdf5_file_errors_total",
                                            "HDF5 files skipped: truncated, damaged or unreadable",
                                            env.source_label);
    file_errors_->Add(own_file_errors_.Get());
    std::shared_ptr<Hdf5FilePool> pool = pool_;
    env.metrics->AddGauge(
        "daqfs_hdf5_open_files", "HDF5 files open now (bounded by an LRU)",
        [pool] { return static_cast<double>(pool->open_files()); }, env.source_label);
  }
  if (env.invalidator) invalidator_ = env.invalidator;
  if (env.clock) clock_ = env.clock;
  if (options_.background) {
    {
      std::lock_guard<std::mutex> lock(scan_mu_);
      busy_ = true;
    }
    scanner_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "daqfs-h5scan");
      ScannerLoop();
    });
    return Status::Ok();
  }
  ScanPending();
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    scanned_ = true;
  }
  scan_cv_.notify_all();
  return Status::Ok();
}

void Hdf5Backend::ScannerLoop() {
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.rescan_seconds));
  bool first = true;
  for (;;) {
    if (!first) {
      std::unique_lock<std::mutex> lock(scan_mu_);
      busy_ = false;
      scan_cv_.notify_all();
      auto stop = [&] { return stop_; };
      if (options_.rescan_seconds > 0) {
        if (scan_cv_.wait_for(lock, period, stop)) return;
      } else {
        scan_cv_.wait(lock, stop);
        return;
      }
      busy_ = true;
    }
    if (!first) Discover(false);
    ScanPending();
    if (first) {
      std::lock_guard<std::mutex> lock(scan_mu_);
      scanned_ = true;
      first = false;
    }
    scan_cv_.notify_all();
  }
}

void Hdf5Backend::WaitFirstScan() const {
  std::unique_lock<std::mutex> lock(scan_mu_);
  if (!started_) return;
  scan_cv_.wait(lock, [&] { return scanned_ || stop_; });
}

void Hdf5Backend::WaitScanned() {
  std::unique_lock<std::mutex> lock(scan_mu_);
  scan_cv_.wait(lock, [&] { return stop_ || (scanned_ && !busy_) || !scanner_.joinable(); });
}

void Hdf5Backend::Stop() {
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    stop_ = true;
  }
  scan_cv_.notify_all();
  if (scanner_.joinable()) scanner_.join();
  H5Lock lock;
  if (pool_) pool_->Clear();
}

Hdf5Backend::~Hdf5Backend() { Stop(); }

}  // namespace daqfs
