// Writing for daqfs-repack (ExecuteRepack in tools/repack.h): a bounded pipeline. The
// caller's thread walks the plan's members in output order, hands file members to a pool of
// workers up to `threads + 1` ahead of the one it is writing, and appends each result as soon as
// it is its turn, so outputs are written strictly sequentially while compression runs in
// parallel. Directories and symlinks need no work and are written by the caller's thread. Each
// output is a temporary file next to its final name, fsync'ed and renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "fs/unique_fd.h"
#include "tools/repack.h"
#include "tools/repack_member_data.h"

namespace daqfs {

using repack::BaseName;
using repack::JoinPath;
using repack::kPiece;
using repack::NewXxh;
using repack::Quote;
using repack::ReadContent;
using repack::XxhState;

namespace {

// ---------------------------------------------------------------------------------------------
// Output files.

// Appends `n` bytes of `from` (from offset 0) to `to` at its file offset.
Status CopyFile(int from, int to, uint64_t n, const std::string& what) {
  loff_t off = 0;
  bool fallback = false;
  while (!fallback && static_cast<uint64_t>(off) < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - off, 1u << 30));
    const ssize_t r = ::copy_file_range(from, &off, to, nullptr, want, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
          errno == EBADF) {
        fallback = true;
        break;
      }
      return ErrnoStatus(errno, "copy into " + what);
    }
    if (r == 0) return IoError("copy into " + what + ": spill file is short");
  }
  std::vector<uint8_t> buf(kPiece);
  while (static_cast<uint64_t>(off) < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - off, buf.size()));
    Result<size_t> r = PreadFull(from, static_cast<uint64_t>(off), std::span(buf.data(), want),
                                 "spill file for " + what);
    if (!r.ok()) return r.status();
    if (*r < want) return IoError("copy into " + what + ": spill file is short");
    if (Status s = WriteAll(to, std::span(buf.data(), want), what); !s.ok()) return s;
    off += static_cast<loff_t>(want);
  }
  return Status::Ok();
}

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    return S_ISDIR(st.st_mode) ? Status::Ok() : Status(Code::kNotDir, dir + ": not a folder");
  }
  const size_t slash = dir.find_last_of('/', dir.size() > 1 ? dir.size() - 2 : 0);
  if (slash != std::string::npos && slash > 0) {
    if (Status s = MakeDirs(dir.substr(0, slash)); !s.ok()) return s;
  }
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create folder " + dir);
  }
  return Status::Ok();
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// An unlinked temporary file in `dir` for a large member's compressed bytes.
Result<UniqueFd> OpenSpill(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  std::string tmpl = JoinPath(dir, ".daqfs-repack-spill.XXXXXX");
  fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create a spill file in " + dir);
  ::unlink(tmpl.c_str());
  return UniqueFd(fd);
}

// The output being written: a temporary file next to its final name, removed unless committed.
class PendingOutput {
 public:
  PendingOutput() = default;
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;
  ~PendingOutput() { Abandon(); }

  Status Open(const std::string& final_path) {
    final_ = final_path;
    static std::atomic<uint64_t> counter{0};
    const std::string dir = DirName(final_path);
    if (Status s = MakeDirs(dir); !s.ok()) return s;
    temp_ = JoinPath(dir, "." + BaseName(final_path) + ".tmp-" + std::to_string(::getpid()) + "-" +
                              std::to_string(counter.fetch_add(1)));
    const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      Status s = ErrnoStatus(errno, "create " + temp_);
      temp_.clear();
      return s;
    }
    fd_ = UniqueFd(fd);
    return Status::Ok();
  }

  int fd() const { return fd_.get(); }

  // fsync, close, rename into place (refusing to replace unless `force`; `exists` tells that
  // refusal from other failures), fsync the folder.
  Status Commit(bool force, bool* exists) {
    *exists = false;
    if (::fsync(fd_.get()) != 0) return ErrnoStatus(errno, "fsync " + temp_);
    fd_.Reset();
    int r = -1;
    if (force) {
      r = ::rename(temp_.c_str(), final_.c_str());
    } else {
      r = ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_NOREPLACE);
      if (r != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        // No RENAME_NOREPLACE here (NFS, old kernels): link() also refuses an existing name.
        r = ::link(temp_.c_str(), final_.c_str());
        if (r == 0) ::unlink(temp_.c_str());
      }
    }
    if (r != 0) {
      *exists = errno == EEXIST;
      return ErrnoStatus(errno, "rename " + temp_ + " to " + final_);
    }
    temp_.clear();
    const int dfd = ::open(DirName(final_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // best effort: the data itself is already durable
      ::close(dfd);
    }
    return Status::Ok();
  }

  void Abandon() {
    fd_.Reset();
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
  }

 private:
  std::string final_, temp_;
  UniqueFd fd_;
};

// ---------------------------------------------------------------------------------------------
// Execution.

struct MemberResult {
  RepackFailure failure = RepackFailure::kNone;
  Status status;
  std::vector<uint8_t> data;  // compressed, when it fits in memory
  UniqueFd spill;             // compressed, otherwise
  uint64_t compressed_size = 0;
  uint64_t content_size = 0;
  uint64_t xxh64 = 0;
};

struct Job {
  size_t output;
  size_t member;
};

class Executor {
 public:
  Executor(const RepackPlan& plan, const RepackOptions& options) : plan_(plan), options_(options) {}

  RepackResult Run();

 private:
  void Worker();
  MemberResult Compress(const PlannedMember& pm);
  RepackResult Fail(RepackFailure f, Status s) {
    RepackResult r;
    r.failure = f;
    r.status = std::move(s);
    r.summary = std::move(summary_);
    return r;
  }
  bool Cancelled() const {
    return abort_.load() || (options_.cancel != nullptr && options_.cancel->load());
  }
  void Progress(bool force);

  const RepackPlan& plan_;
  const RepackOptions& options_;
  std::vector<UniqueFd> inputs_;
  std::vector<Job> jobs_;
  std::string spill_dir_;
  std::atomic<uint64_t> stored_done_{0};
  std::atomic<bool> abort_{false};
  std::chrono::steady_clock::time_point last_progress_{};
  RepackSummary summary_;

  // mu_ guards queue_, results_ and stop_; nothing is decoded or written while holding it.
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<size_t> queue_;                            // job indexes to compress
  std::vector<std::unique_ptr<MemberResult>> results_;  // by job index
  bool stop_ = false;
};

void Executor::Progress(bool force) {
  if (!options_.progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(200)) return;
  last_progress_ = now;
  options_.progress(std::min(stored_done_.load(), plan_.stored_bytes), plan_.stored_bytes);
}

MemberResult Executor::Compress(const PlannedMember& pm) {
  MemberResult r;
  const RepackInput& in = plan_.inputs[pm.input];
  const TarMember& data = in.index.members[pm.data_member];
  const int fd = inputs_[pm.input].get();
  XxhState xxh = NewXxh();
  Status write_error;  // set by a failing spill write, to tell it from an input problem
  auto fail = [&](RepackFailure f, Status s) {
    r.failure = f;
    r.status = std::move(s);
    return std::move(r);
  };
  const Status cancelled(Code::kUnavailable, "cancelled");
  const bool in_memory = pm.content_size_known && pm.content_bytes <= options_.in_memory_limit;
  if (in_memory) {
    std::vector<uint8_t> content;
    content.reserve(static_cast<size_t>(pm.content_bytes));
    Status s = ReadContent(
        fd, in.path, data, pm.zstd,
        [&](std::span<const uint8_t> piece) {
          if (content.size() + piece.size() > pm.content_bytes) {
            return Corrupt(in.path + ": member " + Quote(data.path) +
                           " decompresses to more than its frames declare");
          }
          content.insert(content.end(), piece.begin(), piece.end());
          return Cancelled() ? cancelled : Status::Ok();
        },
        &stored_done_);
    if (!s.ok()) return fail(Cancelled() ? RepackFailure::kCancelled : RepackFailure::kBadInput, s);
    r.content_size = content.size();
    r.xxh64 = XXH64(content.data(), content.size(), 0);
    r.data = CompressSeekable(content, static_cast<size_t>(options_.frame_size), options_.level);
    r.compressed_size = r.data.size();
    return r;
  }
  Result<UniqueFd> spill = OpenSpill(spill_dir_);
  if (!spill.ok()) return fail(RepackFailure::kWrite, spill.status());
  const int sfd = spill->get();
  ZstdSeekableWriter writer(
      [&](std::span<const uint8_t> bytes) {
        Status s = WriteAll(sfd, bytes, "spill file in " + spill_dir_);
        if (!s.ok()) write_error = s;
        return s;
      },
      static_cast<size_t>(options_.frame_size), options_.level);
  Status s = ReadContent(
      fd, in.path, data, pm.zstd,
      [&](std::span<const uint8_t> piece) {
        XXH64_update(xxh.get(), piece.data(), piece.size());
        r.content_size += piece.size();
        if (Status w = writer.Write(piece); !w.ok()) return w;
        return Cancelled() ? cancelled : Status::Ok();
      },
      &stored_done_);
  if (s.ok()) s = writer.Finish();
  if (!s.ok()) {
    if (Cancelled()) return fail(RepackFailure::kCancelled, s);
    return fail(write_error.ok() ? RepackFailure::kBadInput : RepackFailure::kWrite, s);
  }
  r.xxh64 = XXH64_digest(xxh.get());
  r.compressed_size = writer.compressed_bytes();
  r.spill = std::move(*spill);
  return r;
}

void Executor::Worker() {
  for (;;) {
    size_t job = 0;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = queue_.front();
      queue_.pop_front();
    }
    auto result = std::make_unique<MemberResult>(
        Compress(plan_.outputs[jobs_[job].output].members[jobs_[job].member]));
    {
      std::lock_guard lock(mu_);
      results_[job] = std::move(result);
    }
    done_cv_.notify_all();
  }
}

RepackResult Executor::Run() {
  const auto start = std::chrono::steady_clock::now();
  auto finish_summary = [&] {
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  spill_dir_ = options_.output_dir.empty() ? "." : options_.output_dir;
  if (Status s = MakeDirs(spill_dir_); !s.ok()) return Fail(RepackFailure::kWrite, s);

  // Refuse before writing anything, naming every output in the way.
  std::vector<std::string> existing;
  for (const PlannedOutput& o : plan_.outputs) {
    struct stat st;
    const std::string path = JoinPath(spill_dir_, o.name);
    if (::lstat(path.c_str(), &st) == 0 && (!options_.force || S_ISDIR(st.st_mode))) {
      existing.push_back(path);
    }
  }
  if (!existing.empty()) {
    std::string list;
    for (size_t i = 0; i < existing.size() && i < 5; ++i) list += (i ? ", " : "") + existing[i];
    if (existing.size() > 5) list += " and " + std::to_string(existing.size() - 5) + " more";
    return Fail(RepackFailure::kOutputExists, Status(Code::kInvalid, "output exists: " + list));
  }

  for (const RepackInput& in : plan_.inputs) {
    Result<UniqueFd> fd = OpenReadOnly(in.path);
    if (!fd.ok()) return Fail(RepackFailure::kBadInput, fd.status());
    inputs_.push_back(std::move(*fd));
  }
  for (size_t o = 0; o < plan_.outputs.size(); ++o) {
    for (size_t m = 0; m < plan_.outputs[o].members.size(); ++m) jobs_.push_back({o, m});
  }
  results_.resize(jobs_.size());

  unsigned threads = options_.threads ? options_.threads : std::thread::hardware_concurrency();
  threads = std::max(1u, threads);
  const size_t window = threads + 1;  // jobs submitted but not yet written
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back([this] { Worker(); });
  struct Joiner {
    Executor* e;
    std::vector<std::thread>* pool;
    ~Joiner() {
      {
        std::lock_guard lock(e->mu_);
        e->stop_ = true;
      }
      e->abort_ = true;
      e->work_cv_.notify_all();
      for (std::thread& t : *pool) t.join();
    }
  } joiner{this, &pool};

  size_t submitted = 0;
  PendingOutput out;
  std::optional<TarWriter> tar;
  WrittenOutput written;
  std::string out_path;
  for (size_t j = 0; j < jobs_.size(); ++j) {
    const PlannedOutput& po = plan_.outputs[jobs_[j].output];
    const PlannedMember& pm = po.members[jobs_[j].member];
    // Keep the pool busy up to the window, skipping entries that need no compression.
    {
      std::lock_guard lock(mu_);
      for (; submitted < jobs_.size() && submitted < j + window; ++submitted) {
        const Job& s = jobs_[submitted];
        if (plan_.outputs[s.output].members[s.member].kind == TarEntry::Kind::kFile) {
          queue_.push_back(submitted);
        }
      }
    }
    work_cv_.notify_all();

    if (jobs_[j].member == 0) {
      out_path = JoinPath(spill_dir_, po.name);
      if (Status s = out.Open(out_path); !s.ok()) return Fail(RepackFailure::kWrite, s);
      const int fd = out.fd();
      tar.emplace([fd, p = out_path](std::span<const uint8_t> b) { return WriteAll(fd, b, p); });
      written = WrittenOutput{out_path, 0, {}};
    }

    const TarMember& src = plan_.inputs[pm.input].index.members[pm.member];
    TarEntry entry;
    entry.kind = pm.kind;
    entry.path = pm.out_path;
    entry.mode = src.mode;
    entry.uid = src.uid;
    entry.gid = src.gid;
    entry.mtime = src.mtime;
    entry.xattrs = src.xattrs;
    entry.link_target = pm.link_target;
    ExpectedMember expected{pm.out_path, pm.kind, 0, 0, pm.link_target};

    std::unique_ptr<MemberResult> result;
    if (pm.kind == TarEntry::Kind::kFile) {
      std::unique_lock lock(mu_);
      while (!results_[j]) {
        if (options_.cancel != nullptr && options_.cancel->load()) break;
        done_cv_.wait_for(lock, std::chrono::milliseconds(100));
        lock.unlock();
        Progress(false);
        lock.lock();
      }
      result = std::move(results_[j]);
    }
    if (options_.cancel != nullptr && options_.cancel->load()) {
      return Fail(RepackFailure::kCancelled, Status(Code::kUnavailable, "cancelled"));
    }
    Status s;
    if (result) {
      if (result->failure != RepackFailure::kNone) return Fail(result->failure, result->status);
      entry.size = result->compressed_size;
      expected.content_size = result->content_size;
      expected.xxh64 = result->xxh64;
      s = tar->WriteHeader(entry);
      if (s.ok() && result->spill.valid()) {
        s = CopyFile(result->spill.get(), out.fd(), result->compressed_size, out_path);
        if (s.ok()) s = tar->SkipWrittenData(result->compressed_size);
      } else if (s.ok()) {
        s = tar->WriteData(result->data);
      }
      summary_.content_bytes += result->content_size;
      summary_.stored_bytes += plan_.inputs[pm.input].index.members[pm.data_member].size;
      result.reset();  // frees the compressed bytes (or closes the spill file) now
    } else {
      s = tar->WriteHeader(entry);
    }
    if (s.ok()) s = tar->EndMember();
    if (!s.ok()) return Fail(RepackFailure::kWrite, s);
    written.members.push_back(std::move(expected));
    ++summary_.members;
    Progress(false);

    if (jobs_[j].member + 1 == po.members.size()) {
      if (Status f = tar->Finish(); !f.ok()) return Fail(RepackFailure::kWrite, f);
      written.bytes = tar->bytes_written();
      bool exists = false;
      if (Status c = out.Commit(options_.force, &exists); !c.ok()) {
        return Fail(exists ? RepackFailure::kOutputExists : RepackFailure::kWrite, c);
      }
      summary_.output_bytes += written.bytes;
      summary_.outputs.push_back(std::move(written));
      written = {};
      tar.reset();
    }
  }
  Progress(true);
  finish_summary();
  RepackResult r;
  r.summary = std::move(summary_);
  return r;
}

}  // namespace

RepackResult ExecuteRepack(const RepackPlan& plan, const RepackOptions& options) {
  Executor e(plan, options);
  return e.Run();
}

}  // namespace daqfs
