// TiffBackend (see tiff_backend.h).
#include "backends/tiff/tiff_backend.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>

#include "backends/common/stack_views.h"
#include "backends/common/tiff_header.h"
#include "fs/backing_access.h"
#include "fs/log.h"
#include "fs/source_type.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

constexpr size_t kKeptGenerations = 4;  // series a reader may still hold nodes of

}  // namespace

bool IsTiffName(const std::string& name) {
  auto ends = [&](std::string_view suffix) {
    if (name.size() <= suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
      char c = name[name.size() - suffix.size() + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != suffix[i]) return false;
    }
    return true;
  };
  return ends(".tif") || ends(".tiff");
}

bool HasTiffSignature(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return false;
  uint8_t b[4];
  return pread(fd->get(), b, 4, 0) == 4 && IsTiffSignature(b);
}

Status CheckTiffSource(const std::string& path, size_t* count) {
  *count = 0;
  Result<std::vector<std::string>> files = ListSourceFiles(path, IsTiffName);
  if (!files.ok()) return files.status();
  // One signature is enough: every file is opened by the backend's scan after start-up anyway
  // (a folder of 10^5 projections is not opened twice, and not before mounting).
  for (const std::string& f : *files) {
    if (HasTiffSignature(f)) {
      *count = files->size();
      return Status::Ok();
    }
  }
  struct stat st;
  if (!HasGlobChars(path) && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    return Invalid(path + ": not a TIFF file");
  }
  std::string where = HasGlobChars(path) ? "matching this pattern" : "in this folder";
  if (files->empty()) return Invalid(path + ": no TIFF files (*.tif, *.tiff) " + where);
  return Invalid(path + ": no TIFF files " + where + " (" + std::to_string(files->size()) +
                 " named .tif or .tiff, none with a TIFF signature)");
}

namespace {

// The folder whose owner and mode the source's folders show: `path` itself when it is a folder,
// else the folder holding the file or the glob's matches.
std::string RootFolderOf(const std::string& path) {
  struct stat st;
  if (!HasGlobChars(path) && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return path;
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool NewerThan(const timespec& t, const timespec& limit) {
  return t.tv_sec > limit.tv_sec || (t.tv_sec == limit.tv_sec && t.tv_nsec > limit.tv_nsec);
}

}  // namespace

struct TiffBackend::Gauges {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> skipped{0};
};

Result<std::unique_ptr<TiffBackend>> TiffBackend::Create(std::string name, std::string path,
                                                         TiffSourceOptions options) {
  Result<std::vector<std::string>> files = ListSourceFiles(path, IsTiffName);
  if (!files.ok()) return files.status();
  return std::unique_ptr<TiffBackend>(new TiffBackend(std::move(name), std::move(path), options));
}

TiffBackend::TiffBackend(std::string name, std::string path, TiffSourceOptions options)
    : name_(std::move(name)),
      path_(std::move(path)),
      options_(options),
      exts_(options.raw_frames ? 2 : 1),
      entry_seconds_(options.rescan_seconds > 0 ? std::max(1.0, options.rescan_seconds)
                                                : kCacheForever),
      invalidator_(&null_invalidator_),
      clock_(&system_clock_),
      gauges_(std::make_shared<Gauges>()) {
  auto empty = std::make_shared<Series>();
  current_ = empty;
  recent_[0] = empty;
}

TiffBackend::~TiffBackend() { Stop(); }

Status TiffBackend::Start(BackendEnv& env) {
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    if (started_) return Invalid(name_ + ": started twice");
    started_ = true;
  }
  if (env.invalidator) invalidator_ = env.invalidator;
  if (env.clock) clock_ = env.clock;
  if (env.metrics) {
    series_errors_ = &env.metrics->AddCounter(
        "daqfs_tiff_series_errors_total",
        "TIFF series that could not be made one stack (files of different shapes or types)",
        env.source_label);
    series_errors_->Add(own_series_errors_.Get());
    // The gauges own what they read: the registry may render after the backend is gone.
    std::shared_ptr<Gauges> gauges = gauges_;
    env.metrics->AddGauge(
        "daqfs_tiff_frames", "Frames in the TIFF series shown now",
        [gauges] { return static_cast<double>(gauges->frames.load()); }, env.source_label);
    env.metrics->AddGauge(
        "daqfs_tiff_files", "TIFF files in the series shown now",
        [gauges] { return static_cast<double>(gauges->files.load()); }, env.source_label);
    env.metrics->AddGauge(
        "daqfs_tiff_skipped_files", "TIFF files left out of the series: libtiff rejected them",
        [gauges] { return static_cast<double>(gauges->skipped.load()); }, env.source_label);
  }
  if (options_.background) {
    scanner_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "daqfs-tiffscan");
      ScannerLoop();
    });
    return Status::Ok();
  }
  ScanNow();
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    scanned_ = true;
  }
  scan_cv_.notify_all();
  return Status::Ok();
}

void TiffBackend::ScannerLoop() {
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.rescan_seconds));
  for (bool first = true;; first = false) {
    if (!first) {
      std::unique_lock<std::mutex> lock(scan_mu_);
      auto stop = [&] { return stop_; };
      if (options_.rescan_seconds <= 0) return;
      if (scan_cv_.wait_for(lock, period, stop)) return;
    }
    ScanNow();
    if (first) {
      {
        std::lock_guard<std::mutex> lock(scan_mu_);
        scanned_ = true;
      }
      scan_cv_.notify_all();
    }
  }
}

void TiffBackend::WaitFirstScan() const {
  std::unique_lock<std::mutex> lock(scan_mu_);
  if (!started_) return;
  scan_cv_.wait(lock, [&] { return scanned_ || stop_; });
}

void TiffBackend::Stop() {
  {
    std::lock_guard<std::mutex> lock(scan_mu_);
    stop_ = true;
  }
  scan_cv_.notify_all();
  if (scanner_.joinable()) scanner_.join();
}

void TiffBackend::ScanNow() {
  std::lock_guard<std::mutex> run(scan_run_mu_);
  const std::string prefix = name_ + ": ";
  Result<std::vector<std::string>> listed = ListSourceFiles(path_, IsTiffName);
  {
    // The folders show the source folder's owner and mode: for a glob with wildcards in its
    // folder part, the folder of the first file; the last one seen when it cannot be looked at.
    struct stat st;
    bool ok = stat(RootFolderOf(path_).c_str(), &st) == 0;
    if (!ok && listed.ok() && !listed->empty()) {
      const std::string& f = listed->front();
      ok = stat(f.substr(0, std::max<size_t>(f.rfind('/'), 1)).c_str(), &st) == 0;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      root_stat_ok_ = true;
      root_st_ = st;
    }
  }
  if (!listed.ok()) {
    // The folder is gone or unreadable for now: keep showing what was there.
    if (logged_.insert(listed.status().message()).second) {
      LogError(prefix + listed.status().message());
    }
    return;
  }
  std::vector<std::string> names = std::move(*listed);
  std::stable_sort(names.begin(), names.end(), FileNameLess);

  timespec limit{};
  const bool wait_for_stable = options_.rescan_seconds > 0 && options_.stable_seconds > 0;
  if (wait_for_stable) {
    limit = clock_->WallNow();
    auto whole = static_cast<time_t>(options_.stable_seconds);
    long frac = static_cast<long>((options_.stable_seconds - static_cast<double>(whole)) * 1e9);
    limit.tv_sec -= whole;
    limit.tv_nsec -= frac;
    if (limit.tv_nsec < 0) {
      limit.tv_nsec += 1000000000L;
      limit.tv_sec -= 1;
    }
  }

  std::map<std::string, std::shared_ptr<const FileInfo>> known;
  std::vector<std::shared_ptr<const FileInfo>> infos;
  std::vector<std::string> keys;  // path and identity of every file, to compare series
  for (const std::string& name : names) {
    char* real = realpath(name.c_str(), nullptr);
    if (!real) continue;  // removed meanwhile
    std::string path = real;
    std::free(real);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (known.count(path)) continue;  // a glob naming a file twice through links
    auto it = known_.find(path);
    if (wait_for_stable && NewerThan(st.st_mtim, limit)) {
      // Still being written: a file already in the series keeps its place (its frames read as
      // EIO meanwhile: changed) rather than every later frame name shifting; a new one waits.
      if (it == known_.end()) continue;
      known[path] = it->second;
      infos.push_back(it->second);
      keys.push_back(path + "\n" + it->second->identity);
      continue;
    }
    std::string identity = FileIdentity(st);
    std::shared_ptr<const FileInfo> info;
    if (it != known_.end() && it->second->identity == identity) {
      info = it->second;
    } else {
      auto fresh = std::make_shared<FileInfo>();
      fresh->path = path;
      fresh->st = st;
      fresh->identity = identity;
      fresh->number = next_file_number_++;  // < 2^35 (the frame node ids' field) in practice
      fresh->described = DescribeTiffFile(path);
      if (fresh->described.units) {
        // What libtiff described (the file may have changed since the stat above).
        fresh->identity = fresh->described.units->layout().identity;
        if (fresh->described.units->layout().page_offsets.size() >= kMaxPages) {
          fresh->described.units.reset();
          fresh->described.error = Status(
              Code::kCorrupt, path + ": more than " + std::to_string(kMaxPages - 1) + " pages");
        }
      } else if (fresh->described.error.code() != Code::kCorrupt &&
                 fresh->described.error.code() != Code::kInvalid) {
        fresh->identity.clear();  // a failure that may pass (EMFILE, EIO): described again
      }
      info = std::move(fresh);
    }
    known[path] = info;
    infos.push_back(info);
    keys.push_back(path + "\n" + info->identity);
  }
  known_ = std::move(known);

  std::shared_ptr<const Series> old = Current();
  if (old->generation != 0 && keys == old->paths) return;  // nothing changed

  auto s = std::make_shared<Series>();
  s->generation = next_generation_++;
  s->paths = std::move(keys);
  std::vector<DescribedTiff> described;
  described.reserve(infos.size());
  for (const auto& info : infos) described.push_back(info->described);
  Result<TiffStack> stack =
      StackTiffs(described, "tiff:" + name_ + ":" + path_ + "#" + std::to_string(s->generation));
  if (stack.ok()) {
    for (const std::string& why : stack->skipped) {
      if (logged_.insert(why).second) LogWarn(prefix + "skipped " + why);
    }
    s->skipped = stack->skipped.size();
    s->stack = std::move(stack->stack);
    uint64_t first = 0;
    for (const auto& info : infos) {
      if (!info->described.units) continue;
      s->part_of_file[info->number] = s->files.size();
      s->files.push_back(info);
      s->first_index.push_back(first);
      first += info->described.units->layout().page_offsets.size();
    }
    last_error_.clear();
  } else if (stack.status().code() != Code::kNotFound) {
    if (stack.status().message() != last_error_) {
      last_error_ = stack.status().message();
      LogError(prefix + "no stack: " + last_error_);
      series_errors_->Add();
    }
  } else {
    s->skipped = described.size();
    for (const DescribedTiff& d : described) {
      if (logged_.insert(d.error.message()).second)
        LogWarn(prefix + "skipped " + d.error.message());
    }
  }
  if (s->stack) {
    Attr& a = s->npy_attr;
    a.cache_seconds = entry_seconds_;
    a.type = NodeType::kFile;
    a.size = NpySize(*s->stack);
    a.mode = 0444;
    a.uid = s->files[0]->st.st_uid;
    a.gid = s->files[0]->st.st_gid;
    for (const auto& f : s->files) {
      a.mode &= f->st.st_mode;
      if (NewerThan(f->st.st_mtim, a.mtime)) a.mtime = f->st.st_mtim;
    }
  }
  gauges_->frames = s->stack ? s->stack->frames() : 0;
  gauges_->files = s->files.size();
  gauges_->skipped = s->skipped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = s;
    recent_[s->generation] = s;
    while (recent_.size() > kKeptGenerations) recent_.erase(recent_.begin());
  }
  Announce(*old, *s);
  if (s->stack) {
    LogInfo(prefix + std::to_string(s->stack->frames()) + " frames of " +
            std::to_string(s->stack->width()) + "x" + std::to_string(s->stack->height()) + " " +
            NumpyDescr(s->stack->pixel()) + " from " + std::to_string(s->files.size()) +
            " TIFF files" +
            (s->skipped ? " (" + std::to_string(s->skipped) + " skipped)" : std::string()));
  }
}

std::shared_ptr<const TiffBackend::Series> TiffBackend::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::shared_ptr<const TiffBackend::Series> TiffBackend::SeriesOfNpy(NodeId node) const {
  if ((node & kNpyTag) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recent_.find(node & ~kNpyTag);
  return it == recent_.end() || !it->second->stack ? nullptr : it->second;
}

NodeId TiffBackend::FrameNode(const Series& s, uint64_t index, bool raw) {
  const ImageStack::Location at = s.stack->Locate(index);
  return kFrameTag | s.files[at.part]->number << 25 | at.unit << 1 | (raw ? 1 : 0);
}

Result<TiffBackend::FrameRef> TiffBackend::FrameOf(NodeId node) const {
  if ((node & kFrameTag) == 0 || (node & kNpyTag) != 0) {
    return NotFound("node " + std::to_string(node));
  }
  FrameRef f;
  f.series = Current();
  f.raw = (node & 1) != 0;
  const uint64_t page = (node >> 1) & (kMaxPages - 1);
  const uint64_t number = (node & ~kFrameTag) >> 25;
  const Series& s = *f.series;
  auto it = s.part_of_file.find(number);
  if (!s.stack || it == s.part_of_file.end() || (f.raw && !options_.raw_frames) ||
      page >= s.stack->parts()[it->second].frames) {
    return NotFound("node " + std::to_string(node));
  }
  f.index = s.first_index[it->second] + page;
  return f;
}

void TiffBackend::Announce(const Series& old, const Series& now) {
  const uint64_t before = old.stack ? old.stack->frames() : 0;
  const uint64_t after = now.stack ? now.stack->frames() : 0;
  for (uint64_t i = 0; i < std::max(before, after); ++i) {
    for (int ext = 0; ext < exts_; ++ext) {
      const bool raw = ext == 1;
      const std::string name = FrameFileName(static_cast<int64_t>(i), raw ? "raw" : "tif");
      if (i >= after) {
        invalidator_->EntryRemoved(kFramesDir, name);
      } else if (i >= before) {
        invalidator_->EntryAdded(kFramesDir, name);
      } else if (FrameNode(old, i, raw) != FrameNode(now, i, raw)) {
        invalidator_->EntryRemoved(kFramesDir, name);  // the name shows another frame now
      }
    }
  }
  if (old.stack) invalidator_->EntryRemoved(kRootNode, "data.npy");
  if (now.stack) invalidator_->EntryAdded(kRootNode, "data.npy");
  if (old.stack && !now.stack) invalidator_->EntryRemoved(kRootNode, "frames");
  if (!old.stack && now.stack) invalidator_->EntryAdded(kRootNode, "frames");
  if (old.stack && now.stack) invalidator_->ContentChanged(kFramesDir);
  invalidator_->ContentChanged(kRootNode);
}

Attr TiffBackend::DirAttr() const {
  Attr a;
  a.type = NodeType::kDirectory;
  std::lock_guard<std::mutex> lock(mu_);
  if (root_stat_ok_) {
    a.mode = (root_st_.st_mode & 0555) | ((root_st_.st_mode & 0444) >> 2);
    a.uid = root_st_.st_uid;
    a.gid = root_st_.st_gid;
    a.mtime = root_st_.st_mtim;
  } else {
    a.mode = 0500;  // nothing seen yet: the daemon's alone
  }
  a.nlink = 2;
  a.cache_seconds = entry_seconds_;
  return a;
}

Attr TiffBackend::FrameAttr(const Series& s, uint64_t index, bool raw) const {
  const FileInfo& f = *s.files[s.stack->Locate(index).part];
  Attr a;
  a.type = NodeType::kFile;
  a.size = raw ? RawFrameSize(*s.stack) : TiffFrameSize(*s.stack);
  a.mode = f.st.st_mode & 0444;
  a.uid = f.st.st_uid;
  a.gid = f.st.st_gid;
  a.mtime = f.st.st_mtim;
  a.cache_seconds = entry_seconds_;
  return a;
}

Result<NodeId> TiffBackend::Lookup(NodeId parent, std::string_view name) {
  if (parent == kRootNode) {
    WaitFirstScan();
    std::shared_ptr<const Series> s = Current();
    if (s->stack && name == "data.npy") return kNpyTag | s->generation;
    if (s->stack && name == "frames") return kFramesDir;
    return NotFound(std::string(name));
  }
  if (parent != kFramesDir) {
    if (SeriesOfNpy(parent) || FrameOf(parent).ok()) {
      return Status(Code::kNotDir, std::string(name));
    }
    return NotFound(std::string(name));
  }
  std::shared_ptr<const Series> s = Current();
  if (!s->stack) return NotFound(std::string(name));
  for (bool raw : {false, true}) {
    if (raw && !options_.raw_frames) break;
    std::optional<int64_t> number = ParseFrameFileName(name, raw ? "raw" : "tif");
    if (!number) continue;
    std::optional<uint64_t> index = s->stack->IndexOfNumber(*number);
    if (!index) break;
    return FrameNode(*s, *index, raw);
  }
  return NotFound(std::string(name));
}

Result<Attr> TiffBackend::GetAttr(NodeId node) {
  if (node == kRootNode || node == kFramesDir) {
    if (node == kRootNode) WaitFirstScan();
    std::shared_ptr<const Series> s = Current();
    if (node == kFramesDir && !s->stack) return NotFound("frames");
    Attr a = DirAttr();
    if (node == kRootNode && s->stack) a.nlink = 3;
    return a;
  }
  if (std::shared_ptr<const Series> s = SeriesOfNpy(node)) return s->npy_attr;
  Result<FrameRef> f = FrameOf(node);
  if (!f.ok()) return f.status();
  return FrameAttr(*f->series, f->index, f->raw);
}

Status TiffBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  if (dir == kRootNode) {
    WaitFirstScan();
    std::shared_ptr<const Series> s = Current();
    if (!s->stack) return Status::Ok();
    if (cookie == 0 && !emit(DirEntry{"data.npy", kNpyTag | s->generation, s->npy_attr}, 1)) {
      return Status::Ok();
    }
    if (cookie <= 1) emit(DirEntry{"frames", kFramesDir, DirAttr()}, 2);
    return Status::Ok();
  }
  if (dir != kFramesDir) {
    if (SeriesOfNpy(dir) || FrameOf(dir).ok()) {
      return Status(Code::kNotDir, "node " + std::to_string(dir));
    }
    return NotFound("node " + std::to_string(dir));
  }
  std::shared_ptr<const Series> s = Current();
  if (!s->stack) return NotFound("frames");
  const ImageStack& stack = *s->stack;
  // Cookie = position: frames are numbered by position, so a series that grew by new files
  // continues where the listing stopped.
  const uint64_t entries = stack.frames() * static_cast<uint64_t>(exts_);
  for (uint64_t p = cookie; p < entries; ++p) {
    const uint64_t index = p / exts_;
    const bool raw = p % exts_ == 1;
    DirEntry e{FrameFileName(stack.NumberOfIndex(index), raw ? "raw" : "tif"),
               FrameNode(*s, index, raw), FrameAttr(*s, index, raw)};
    if (!emit(e, p + 1)) break;
  }
  return Status::Ok();
}

std::vector<DirEntry> TiffBackend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  if (dir != kFramesDir) return out;
  bool raw = false;
  std::optional<int64_t> number = ParseFrameFileName(name, "tif");
  if (!number && options_.raw_frames) {
    number = ParseFrameFileName(name, "raw");
    raw = true;
  }
  if (!number) return out;
  const uint64_t position = static_cast<uint64_t>(*number) * exts_ + (raw ? 1 : 0);
  (void)ReadDir(dir, position + 1, [&](const DirEntry& e, uint64_t) {
    out.push_back(e);
    return out.size() < max;
  });
  return out;
}

Status TiffBackend::CheckAccess(const Caller& caller, const Series& s,
                                const std::vector<size_t>& parts) const {
  for (size_t p : parts) {
    const FileInfo& f = *s.files[p];
    Result<UniqueFd> fd = OpenReadOnly(f.path);
    if (!fd.ok()) return Status(Code::kUnavailable, fd.status().message());
    // The same file (a chmod or a new hard link changes its ctime, not what it holds: reads
    // check the content's identity page by page).
    struct stat st;
    if (fstat(fd->get(), &st) != 0 || st.st_dev != f.st.st_dev || st.st_ino != f.st.st_ino) {
      return Status(Code::kUnavailable, f.path + ": replaced since it was listed");
    }
    if (Status a = CheckBackingFileAccess(caller, fd->get(), f.path); !a.ok()) return a;
  }
  return Status::Ok();
}

Result<std::shared_ptr<ByteSource>> TiffBackend::Open(NodeId node, const Caller& caller) {
  if (node == kRootNode || node == kFramesDir) return Status(Code::kIsDir, name_);
  if (std::shared_ptr<const Series> s = SeriesOfNpy(node)) {
    std::vector<size_t> all(s->files.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    if (Status a = CheckAccess(caller, *s, all); !a.ok()) return a;
    return MakeNpy(*s->stack);
  }
  Result<FrameRef> f = FrameOf(node);
  if (!f.ok()) return f.status();
  const Series& s = *f->series;
  if (Status a = CheckAccess(caller, s, {s.stack->Locate(f->index).part}); !a.ok()) return a;
  return f->raw ? MakeRawFrame(*s.stack, f->index) : MakeTiffFrame(*s.stack, f->index);
}

Result<std::string> TiffBackend::ReadLink(NodeId node) {
  return Invalid("node " + std::to_string(node) + ": not a symlink");
}

Result<std::vector<std::string>> TiffBackend::ListXattr(NodeId node) {
  Result<Attr> a = GetAttr(node);
  if (!a.ok()) return a.status();
  if (!FrameOf(node).ok()) return std::vector<std::string>{};
  return std::vector<std::string>{"user.daqfs.file", "user.daqfs.page"};
}

Result<std::string> TiffBackend::GetXattr(NodeId node, const std::string& name) {
  Result<Attr> a = GetAttr(node);
  if (!a.ok()) return a.status();
  Result<FrameRef> f = FrameOf(node);
  if (!f.ok()) return Status(Code::kNoAttr, name);
  const ImageStack::Location at = f->series->stack->Locate(f->index);
  if (name == "user.daqfs.file") return f->series->files[at.part]->path;
  if (name == "user.daqfs.page") return std::to_string(at.unit);
  return Status(Code::kNoAttr, name);
}

uint64_t TiffBackend::TotalBytes() const {
  std::shared_ptr<const Series> s = Current();
  if (!s->stack) return 0;
  return NpySize(*s->stack) +
         s->stack->frames() *
             (TiffFrameSize(*s->stack) + (options_.raw_frames ? RawFrameSize(*s->stack) : 0));
}

uint64_t TiffBackend::TotalNodes() const {
  std::shared_ptr<const Series> s = Current();
  return s->stack ? 3 + s->stack->frames() * static_cast<uint64_t>(exts_) : 1;
}

}  // namespace daqfs
