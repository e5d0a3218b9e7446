// Planning is single-threaded and reads headers only. Execution is a bounded pipeline: the
// caller's thread walks the plan's members in output order, hands file members to a pool of
// workers up to `threads + 1` ahead of the one it is writing, and appends each result as soon as
// it is its turn, so outputs are written strictly sequentially while compression runs in
// parallel. Directories and symlinks need no work and are written by the caller's thread.
#include "tools/repack.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fcntl.h>
#include <pcre2.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "backends/common/zstd_frames.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

constexpr const char* kUnmatchedName = "unmatched.tar";
constexpr size_t kPiece = size_t{1} << 20;         // read and stream granularity
constexpr uint64_t kDirectFrameLimit = 16u << 20;  // larger zstd frames are streamed
constexpr uint64_t kMinFrameSize = 1024;
constexpr uint64_t kMaxFrameSize = uint64_t{1} << 30;  // ZstdSeekableWriter's limit

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

struct XxhStateFree {
  void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
};
using XxhState = std::unique_ptr<XXH64_state_t, XxhStateFree>;

XxhState NewXxh() {
  XxhState s(XXH64_createState());
  if (!s) std::abort();  // a malloc of a few hundred bytes
  XXH64_reset(s.get(), 0);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Reading member data.

// A reader of one member's data bytes, for IndexZstd and StreamZstdFrame.
CompressedReadFn MemberReader(int fd, const TarMember& m, const std::string& what) {
  const uint64_t base = m.data_offset, size = m.size;
  return [fd, base, size, what](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
    Result<size_t> r = PreadFull(fd, base + offset, out.first(n), what);
    if (r.ok() && *r < n) {
      return Corrupt(what + ": input ends inside the member (truncated archive?)");
    }
    return r;
  };
}

bool IsZstdMagic(uint32_t m) { return m == 0xFD2FB528; }
bool IsSkippableMagic(uint32_t m) { return (m & 0xFFFFFFF0) == 0x184D2A50; }

struct ZstdProbe {
  bool zstd = false;
  bool content_size_known = true;
  uint64_t content_bytes = 0;
};

// Decides whether a member's data is zstd: a zstd frame magic, or a skippable frame (pzstd)
// followed by something IndexZstd accepts. A name ending in ".zst" must be zstd data.
Result<ZstdProbe> ProbeZstd(int fd, const std::string& tar_name, const TarMember& data,
                            const std::string& name_for_suffix) {
  const std::string what = tar_name + ": member " + Quote(data.path);
  const bool named_zst = name_for_suffix.ends_with(".zst");
  ZstdProbe probe;
  probe.content_bytes = data.size;
  uint8_t head[4] = {};
  if (data.size >= 4) {
    Result<size_t> n = PreadFull(fd, data.data_offset, head, what);
    if (!n.ok()) return n.status();
    if (*n < 4) return Corrupt(what + ": input ends inside the member");
  }
  const uint32_t magic = uint32_t{head[0]} | uint32_t{head[1]} << 8 | uint32_t{head[2]} << 16 |
                         uint32_t{head[3]} << 24;
  const bool maybe = data.size >= 4 && (IsZstdMagic(magic) || IsSkippableMagic(magic));
  if (!maybe) {
    if (named_zst) return Corrupt(what + ": named .zst but does not hold zstd data");
    return probe;
  }
  Result<ZstdIndex> index = IndexZstd(MemberReader(fd, data, what), data.size, what);
  if (!index.ok()) {
    // Data that merely starts like a skippable frame is plain data, unless the name says zstd.
    if (IsZstdMagic(magic) || named_zst) return index.status();
    return probe;
  }
  probe.zstd = true;
  probe.content_size_known = index->all_sizes_known;
  probe.content_bytes = index->all_sizes_known ? index->decompressed_size : 0;
  return probe;
}

// Hands a member's content (decompressed when `zstd`) to `emit` in pieces. `stored_done` grows
// by the stored bytes consumed, as they are consumed. Stops at the first failing emit and
// returns its status.
Status ReadContent(int fd, const std::string& tar_name, const TarMember& m, bool zstd,
                   const std::function<Status(std::span<const uint8_t>)>& emit,
                   std::atomic<uint64_t>* stored_done) {
  const std::string what = tar_name + ": member " + Quote(m.path);
  uint64_t counted = 0;
  auto count = [&](uint64_t n) {
    counted += n;
    stored_done->fetch_add(n, std::memory_order_relaxed);
  };
  if (!zstd) {
    std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kPiece, m.size)));
    CompressedReadFn read = MemberReader(fd, m, what);
    for (uint64_t off = 0; off < m.size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), m.size - off));
      Result<size_t> r = read(off, std::span(buf.data(), n));
      if (!r.ok()) return r.status();
      if (Status s = emit(std::span<const uint8_t>(buf.data(), n)); !s.ok()) return s;
      off += n;
      count(n);
    }
    return Status::Ok();
  }
  CompressedReadFn read = MemberReader(fd, m, what);
  Result<ZstdIndex> index = IndexZstd(read, m.size, what);
  if (!index.ok()) return index.status();
  std::vector<uint8_t> comp, plain;
  for (const ZstdFrame& f : index->frames) {
    const bool direct = f.content_size_known && f.decompressed_size <= kDirectFrameLimit &&
                        f.compressed_size <= f.decompressed_size + kPiece;
    if (direct) {
      comp.resize(static_cast<size_t>(f.compressed_size));
      plain.resize(static_cast<size_t>(f.decompressed_size));
      Result<size_t> r = read(f.compressed_offset, comp);
      if (!r.ok()) return r.status();
      const uint32_t* sum = f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr;
      if (Status s = DecodeZstdFrame(comp, plain, sum, what); !s.ok()) return s;
      if (Status s = emit(plain); !s.ok()) return s;
    } else {
      Status emitted;
      Status s = StreamZstdFrame(
          read, f.compressed_offset, f.compressed_size, kPiece,
          [&](std::span<const uint8_t> piece) {
            if (emitted.ok()) emitted = emit(piece);
            return emitted.ok();
          },
          what);
      if (!emitted.ok()) return emitted;
      if (!s.ok()) return s;
    }
    count(f.compressed_size);
  }
  count(m.size - std::min(m.size, counted));  // skippable frames and seek tables
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Grouping: the regex, windows and the name template.

struct Pcre2CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct Pcre2MatchFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

using Values = std::map<std::string, std::string>;  // placeholder name -> text

class GroupMatcher {
 public:
  enum class Outcome { kMatch, kNoMatch, kUnusable };

  static Result<std::unique_ptr<GroupMatcher>> Create(const std::string& pattern,
                                                      const std::vector<WindowSpec>& windows) {
    auto m = std::unique_ptr<GroupMatcher>(new GroupMatcher());
    int err = 0;
    PCRE2_SIZE err_off = 0;
    m->code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr));
    if (!m->code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Invalid("bad --group regex " + Quote(pattern) + ": " +
                     reinterpret_cast<const char*>(msg) + " at offset " + std::to_string(err_off));
    }
    m->match_.reset(pcre2_match_data_create_from_pattern(m->code_.get(), nullptr));
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMETABLE, &table);
    std::map<std::string, uint32_t> first;  // name -> lowest group number (duplicates: (?J))
    for (uint32_t i = 0; i < count; ++i) {
      const PCRE2_SPTR e = table + i * entry_size;
      const uint32_t number = uint32_t{e[0]} << 8 | e[1];
      const std::string name(reinterpret_cast<const char*>(e + 2));
      auto [it, inserted] = first.emplace(name, number);
      if (!inserted) it->second = std::min(it->second, number);
    }
    if (first.empty()) {
      return Invalid("--group regex " + Quote(pattern) +
                     " has no named groups; name them like (?<chan>\\d+)");
    }
    for (const auto& [name, number] : first) m->groups_.push_back({name, number, 0});
    std::sort(m->groups_.begin(), m->groups_.end(),
              [](const Group& a, const Group& b) { return a.number < b.number; });
    for (const WindowSpec& w : windows) {
      auto it = std::find_if(m->groups_.begin(), m->groups_.end(),
                             [&](const Group& g) { return g.name == w.group; });
      if (it == m->groups_.end()) {
        return Invalid("--window " + w.group + "=" + std::to_string(w.width) +
                       ": the regex has no group named " + Quote(w.group));
      }
      if (w.width == 0) return Invalid("--window " + w.group + ": the width must be positive");
      it->window = w.width;
    }
    return m;
  }

  // Placeholders a template may use.
  std::set<std::string> Placeholders() const {
    std::set<std::string> out;
    for (const Group& g : groups_) {
      out.insert(g.name);
      if (g.window != 0) out.insert(g.name + "_end");
    }
    return out;
  }

  // Fills `values` (every placeholder) and `ordered` (group values in group order) on a match.
  Outcome Match(std::string_view path, Values* values, std::vector<std::string>* ordered,
                std::string* why) {
    const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(path.data()), path.size(),
                               0, 0, match_.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return Outcome::kNoMatch;
    if (rc < 0) {  // a match or depth limit, say: not silent, the member is still placed
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      *why = std::string("regex match failed: ") + reinterpret_cast<const char*>(msg);
      return Outcome::kUnusable;
    }
    values->clear();
    ordered->clear();
    for (const Group& g : groups_) {
      PCRE2_SIZE len = 0;
      std::string v;
      const auto* name = reinterpret_cast<PCRE2_SPTR>(g.name.c_str());
      if (pcre2_substring_length_byname(match_.get(), name, &len) == 0) {
        v.resize(len + 1);
        PCRE2_SIZE copied = len + 1;
        pcre2_substring_copy_byname(match_.get(), name, reinterpret_cast<PCRE2_UCHAR*>(v.data()),
                                    &copied);
        v.resize(copied);
      }  // else: the group took no part in the match; its value is empty
      if (g.window != 0) {
        uint64_t n = 0;
        const bool digits =
            !v.empty() && v.size() <= 19 &&
            std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
          *why = "group " + Quote(g.name) + " value " + Quote(v) + " is not a decimal number";
          return Outcome::kUnusable;
        }
        n = std::stoull(v);
        const uint64_t start = n / g.window * g.window;
        const uint64_t end = start + std::min(g.window - 1, UINT64_MAX - start);
        (*values)[g.name + "_end"] = Padded(end, v.size());
        v = Padded(start, v.size());
      }
      (*values)[g.name] = v;
      ordered->push_back(v);
    }
    return Outcome::kMatch;
  }

 private:
  struct Group {
    std::string name;
    uint32_t number;
    uint64_t window;
  };
  GroupMatcher() = default;

  static std::string Padded(uint64_t v, size_t width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llu", static_cast<int>(width),
                  static_cast<unsigned long long>(v));
    return buf;
  }

  std::unique_ptr<pcre2_code, Pcre2CodeFree> code_;
  std::unique_ptr<pcre2_match_data, Pcre2MatchFree> match_;
  std::vector<Group> groups_;
};

struct TemplatePart {
  bool placeholder = false;
  std::string text;  // literal text, or the placeholder's name
};

Result<std::vector<TemplatePart>> ParseTemplate(const std::string& t,
                                                const std::set<std::string>& known) {
  std::vector<TemplatePart> parts;
  std::string literal;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      literal.push_back('}');
      ++i;
    } else if (t[i] == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      literal.push_back('{');
      ++i;
    } else if (t[i] == '{') {
      const size_t close = t.find('}', i);
      if (close == std::string::npos) return Invalid("--name " + Quote(t) + ": unclosed '{'");
      const std::string name = t.substr(i + 1, close - i - 1);
      if (!known.contains(name)) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + ("{" + k + "}");
        return Invalid("--name " + Quote(t) + ": unknown placeholder {" + name +
                       "}; known: " + (list.empty() ? "none" : list));
      }
      if (!literal.empty()) parts.push_back({false, std::move(literal)});
      literal.clear();
      parts.push_back({true, name});
      i = close;
    } else if (t[i] == '}') {
      return Invalid("--name " + Quote(t) + ": unmatched '}' (write '}}' for a brace)");
    } else {
      literal.push_back(t[i]);
    }
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

std::string Expand(const std::vector<TemplatePart>& parts, const Values& values) {
  std::string out;
  for (const TemplatePart& p : parts) out += p.placeholder ? values.at(p.text) : p.text;
  return out;
}

// An output name must stay inside the output folder.
Status CheckOutputName(const std::string& name, const std::string& source) {
  bool ok = !name.empty() && name[0] != '/';
  for (size_t i = 0; ok && i <= name.size();) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    const std::string_view c = std::string_view(name).substr(i, j - i);
    ok = !c.empty() && c != "." && c != "..";
    i = j + 1;
  }
  if (ok) return Status::Ok();
  return Invalid("output name " + Quote(name) + " (for " + source +
                 ") is not a relative path inside the output folder");
}

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

// ---------------------------------------------------------------------------------------------
// Planning.

Result<RepackPlan> PlanRepack(const RepackOptions& options,
                              const std::vector<std::string>& input_paths) {
  // Options first: a usage error must not wait for (or depend on) the inputs.
  if (input_paths.empty()) return Invalid("no input archives");
  if (options.frame_size < kMinFrameSize || options.frame_size > kMaxFrameSize) {
    return Invalid("--frame-size " + std::to_string(options.frame_size) +
                   " is not between 1 KiB and 1 GiB");
  }
  if (options.level < ZSTD_minCLevel() || options.level > ZSTD_maxCLevel()) {
    return Invalid("--level " + std::to_string(options.level) + " is not between " +
                   std::to_string(ZSTD_minCLevel()) + " and " + std::to_string(ZSTD_maxCLevel()));
  }
  std::unique_ptr<GroupMatcher> matcher;
  std::set<std::string> known{"input"};
  if (!options.group_regex.empty()) {
    Result<std::unique_ptr<GroupMatcher>> m =
        GroupMatcher::Create(options.group_regex, options.windows);
    if (!m.ok()) return m.status();
    matcher = std::move(*m);
    known = matcher->Placeholders();
  } else if (!options.windows.empty()) {
    return Invalid("--window needs --group");
  }
  std::optional<std::vector<TemplatePart>> name_template;
  if (!options.name_template.empty()) {
    Result<std::vector<TemplatePart>> t = ParseTemplate(options.name_template, known);
    if (!t.ok()) return t.status();
    name_template = std::move(*t);
  }

  RepackPlan plan;
  // Where each member goes: output name -> out_path -> member (later sources replace earlier).
  std::map<std::string, std::map<std::string, PlannedMember>> outputs;
  struct PendingDir {
    PlannedMember member;
    std::string path;
  };
  std::vector<PendingDir> pending_dirs;  // unmatched folders, placed after all else

  auto place = [&](const std::string& output, PlannedMember pm) {
    auto& members = outputs[output];
    auto [it, inserted] = members.try_emplace(pm.out_path, pm);
    if (!inserted) {
      if (pm.kind != TarEntry::Kind::kDirectory || it->second.kind != TarEntry::Kind::kDirectory) {
        const RepackInput& in = plan.inputs[pm.input];
        plan.warnings.push_back(in.path + ": member " + Quote(in.index.members[pm.member].path) +
                                " replaces an earlier " + Quote(pm.out_path) + " in " + output);
      }
      it->second = std::move(pm);
    }
  };

  for (size_t i = 0; i < input_paths.size(); ++i) {
    const std::string& path = input_paths[i];
    Result<UniqueFd> fd = OpenReadOnly(path);
    if (!fd.ok()) return fd.status();
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
    if (S_ISDIR(st.st_mode)) return Status(Code::kIsDir, path + ": is a folder, not a tar archive");
    const int raw_fd = fd->get();
    uint8_t head[6] = {};
    Result<size_t> h = PreadFull(raw_fd, 0, head, path);
    if (!h.ok()) return h.status();
    const bool zstd_tar = *h >= 4 && IsZstdMagic(uint32_t{head[0]} | uint32_t{head[1]} << 8 |
                                                 uint32_t{head[2]} << 16 | uint32_t{head[3]} << 24);
    const bool gzip_tar = *h >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    const bool xz_tar = *h >= 6 && std::memcmp(head,
                                               "\xFD"
                                               "7zXZ\0",
                                               6) == 0;
    if (zstd_tar || gzip_tar || xz_tar) {
      return Corrupt(path + ": a compressed archive (" +
                     (zstd_tar   ? "zstd"
                      : gzip_tar ? "gzip"
                                 : "xz") +
                     "); decompress it first, inputs must be plain tar");
    }
    Result<TarIndex> index = IndexTar(
        [raw_fd, path](uint64_t off, std::span<uint8_t> out) {
          return PreadFull(raw_fd, off, out, path);
        },
        static_cast<uint64_t>(st.st_size), path);
    if (!index.ok()) return index.status();
    if (!index->damage.ok()) return Corrupt(path + ": " + index->damage.message());
    for (const std::string& w : index->warnings) plan.warnings.push_back(w);
    plan.inputs.push_back({path, static_cast<uint64_t>(st.st_size), std::move(*index)});
    const RepackInput& in = plan.inputs.back();
    const std::vector<TarMember>& members = in.index.members;

    std::unordered_map<std::string, size_t> last;  // path -> latest member so far
    std::vector<size_t> resolved(members.size());  // hard links: the member holding the data
    std::map<size_t, ZstdProbe> probes;            // data member -> probe
    for (size_t k = 0; k < members.size(); ++k) {
      const TarMember& m = members[k];
      PlannedMember pm;
      pm.input = i;
      pm.member = k;
      pm.data_member = k;
      resolved[k] = k;
      switch (m.kind) {
        case TarMember::Kind::kFile:
          pm.kind = TarEntry::Kind::kFile;
          break;
        case TarMember::Kind::kDirectory:
          pm.kind = TarEntry::Kind::kDirectory;
          break;
        case TarMember::Kind::kSymlink:
          pm.kind = TarEntry::Kind::kSymlink;
          pm.link_target = m.link_target;
          break;
        case TarMember::Kind::kHardLink: {
          auto it = last.find(m.link_target);
          if (it == last.end()) {
            return Corrupt(path + ": hard link " + Quote(m.path) + " to " + Quote(m.link_target) +
                           ", which comes nowhere before it");
          }
          const TarMember& target = members[resolved[it->second]];
          if (target.kind == TarMember::Kind::kDirectory) {
            return Corrupt(path + ": hard link " + Quote(m.path) + " to the folder " +
                           Quote(m.link_target));
          }
          resolved[k] = resolved[it->second];
          pm.data_member = resolved[k];
          if (target.kind == TarMember::Kind::kSymlink) {
            pm.kind = TarEntry::Kind::kSymlink;
            pm.link_target = target.link_target;
          } else {
            pm.kind = TarEntry::Kind::kFile;
          }
          break;
        }
      }
      last[m.path] = k;
      pm.out_path = m.path;
      if (pm.kind == TarEntry::Kind::kFile) {
        const TarMember& data = members[pm.data_member];
        auto it = probes.find(pm.data_member);
        if (it == probes.end()) {
          Result<ZstdProbe> p = ProbeZstd(raw_fd, path, data, data.path);
          if (!p.ok()) return p.status();
          it = probes.emplace(pm.data_member, *p).first;
        }
        pm.zstd = it->second.zstd;
        pm.content_size_known = it->second.content_size_known;
        pm.content_bytes = it->second.content_bytes;
        pm.stored_bytes = data.size;
        if (!(pm.zstd && m.path.ends_with(".zst"))) pm.out_path += ".zst";
      }

      std::string output;
      if (!matcher) {
        std::string stem = BaseName(path);
        const std::string base = stem;
        if (stem.ends_with(".tar")) stem.resize(stem.size() - 4);
        output = name_template ? Expand(*name_template, {{"input", stem}}) : base;
      } else {
        Values values;
        std::vector<std::string> ordered;
        std::string why;
        switch (matcher->Match(m.path, &values, &ordered, &why)) {
          case GroupMatcher::Outcome::kMatch:
            if (name_template) {
              output = Expand(*name_template, values);
            } else {
              for (const std::string& v : ordered) output += (output.empty() ? "" : "_") + v;
              output += ".tar";
            }
            break;
          case GroupMatcher::Outcome::kUnusable:
            plan.warnings.push_back(path + ": member " + Quote(m.path) + ": " + why + "; sent to " +
                                    kUnmatchedName);
            [[fallthrough]];
          case GroupMatcher::Outcome::kNoMatch:
            if (pm.kind == TarEntry::Kind::kDirectory) {
              pending_dirs.push_back({std::move(pm), m.path});
              continue;
            }
            output = kUnmatchedName;
            ++plan.unmatched;
            break;
        }
      }
      if (Status s = CheckOutputName(output, path + ": member " + Quote(m.path)); !s.ok()) {
        return s;
      }
      place(output, std::move(pm));
    }
  }

  // Unmatched folders follow their contents: into every output holding something beneath them.
  if (!pending_dirs.empty()) {
    std::map<std::string, std::set<std::string>> ancestors;  // output -> folders it needs
    for (const auto& [name, members] : outputs) {
      std::set<std::string>& a = ancestors[name];
      for (const auto& [out_path, pm] : members) {
        const std::string& p = plan.inputs[pm.input].index.members[pm.member].path;
        for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1)) {
          a.insert(p.substr(0, s));
        }
      }
    }
    for (PendingDir& d : pending_dirs) {
      bool placed = false;
      for (const auto& [name, a] : ancestors) {
        if (a.contains(d.path)) {
          place(name, d.member);
          placed = true;
        }
      }
      if (!placed) {
        place(kUnmatchedName, d.member);
        ++plan.unmatched;
      }
    }
  }

  for (auto& [name, members] : outputs) {
    PlannedOutput o;
    o.name = name;
    for (auto& [out_path, pm] : members) {
      o.stored_bytes += pm.stored_bytes;
      o.members.push_back(std::move(pm));
    }
    plan.stored_bytes += o.stored_bytes;
    plan.outputs.push_back(std::move(o));
  }
  return plan;
}

RepackResult ExecuteRepack(const RepackPlan& plan, const RepackOptions& options) {
  Executor e(plan, options);
  return e.Run();
}

// ---------------------------------------------------------------------------------------------
// Verification.

std::vector<std::string> VerifyOutput(const WrittenOutput& output) {
  std::vector<std::string> problems;
  const std::string& path = output.path;
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return {fd.status().ToString()};
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return {ErrnoStatus(errno, "stat " + path).ToString()};
  const int raw = fd->get();
  Result<TarIndex> index = IndexTar(
      [raw, path](uint64_t off, std::span<uint8_t> out) { return PreadFull(raw, off, out, path); },
      static_cast<uint64_t>(st.st_size), path);
  if (!index.ok()) return {index.status().ToString()};
  if (!index->damage.ok()) problems.push_back(path + ": " + index->damage.message());
  for (const std::string& w : index->warnings) problems.push_back(path + ": " + w);

  std::map<std::string, const TarMember*> found;
  for (const TarMember& m : index->members) found[m.path] = &m;
  std::set<std::string> expected_paths;
  std::vector<uint8_t> comp, plain;
  for (const ExpectedMember& e : output.members) {
    expected_paths.insert(e.path);
    const std::string what = path + ": member " + Quote(e.path);
    auto it = found.find(e.path);
    if (it == found.end()) {
      problems.push_back(what + " is missing");
      continue;
    }
    const TarMember& m = *it->second;
    const bool kind_ok =
        (e.kind == TarEntry::Kind::kFile && m.kind == TarMember::Kind::kFile) ||
        (e.kind == TarEntry::Kind::kDirectory && m.kind == TarMember::Kind::kDirectory) ||
        (e.kind == TarEntry::Kind::kSymlink && m.kind == TarMember::Kind::kSymlink);
    if (!kind_ok) {
      problems.push_back(what + " has the wrong type");
      continue;
    }
    if (e.kind == TarEntry::Kind::kSymlink && m.link_target != e.link_target) {
      problems.push_back(what + " points to " + Quote(m.link_target) + ", expected " +
                         Quote(e.link_target));
    }
    if (e.kind != TarEntry::Kind::kFile) continue;
    CompressedReadFn read = MemberReader(raw, m, what);
    Result<ZstdIndex> zi = IndexZstd(read, m.size, what);
    if (!zi.ok()) {
      problems.push_back(zi.status().message());
      continue;
    }
    if (!zi->from_seek_table) {
      problems.push_back(what + " has no usable seek table" +
                         (zi->note.empty() ? "" : " (" + zi->note + ")"));
    }
    XxhState xxh = NewXxh();
    uint64_t size = 0;
    Status s;
    for (const ZstdFrame& f : zi->frames) {
      if (f.content_size_known && f.decompressed_size <= kMaxFrameSize &&
          f.compressed_size <= f.decompressed_size + kPiece) {
        comp.resize(static_cast<size_t>(f.compressed_size));
        plain.resize(static_cast<size_t>(f.decompressed_size));
        Result<size_t> r = read(f.compressed_offset, comp);
        s = r.ok() ? Status::Ok() : r.status();
        const uint32_t* sum = f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr;
        if (s.ok()) s = DecodeZstdFrame(comp, plain, sum, what);
        if (s.ok()) XXH64_update(xxh.get(), plain.data(), plain.size());
        size += plain.size();
      } else {
        s = StreamZstdFrame(
            read, f.compressed_offset, f.compressed_size, kPiece,
            [&](std::span<const uint8_t> p) {
              XXH64_update(xxh.get(), p.data(), p.size());
              size += p.size();
              return true;
            },
            what);
      }
      if (!s.ok()) break;
    }
    if (!s.ok()) {
      problems.push_back(s.message());
    } else if (size != e.content_size || XXH64_digest(xxh.get()) != e.xxh64) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " (%llu bytes, xxh64 %016llx; expected %llu bytes, %016llx)",
                    static_cast<unsigned long long>(size),
                    static_cast<unsigned long long>(XXH64_digest(xxh.get())),
                    static_cast<unsigned long long>(e.content_size),
                    static_cast<unsigned long long>(e.xxh64));
      problems.push_back(what + " differs from its input" + buf);
    }
  }
  for (const auto& [p, m] : found) {
    if (!expected_paths.contains(p)) problems.push_back(path + ": unexpected member " + Quote(p));
  }
  return problems;
}

std::vector<std::string> VerifyOutputs(const std::vector<WrittenOutput>& outputs,
                                       unsigned threads) {
  std::vector<std::vector<std::string>> problems(outputs.size());
  std::atomic<size_t> next{0};
  unsigned n = threads ? threads : std::thread::hardware_concurrency();
  n = std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(outputs.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < outputs.size();)
        problems[i] = VerifyOutput(outputs[i]);
    });
  }
  for (std::thread& t : pool) t.join();
  std::vector<std::string> all;
  for (auto& p : problems) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// ---------------------------------------------------------------------------------------------
// Option values.

Result<WindowSpec> ParseWindowSpec(std::string_view text) {
  const size_t eq = text.find('=');
  const std::string orig(text);
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return Invalid("--window " + Quote(orig) + ": expected NAME=N");
  }
  WindowSpec w;
  w.group = std::string(text.substr(0, eq));
  for (char c : text.substr(eq + 1)) {
    if (c < '0' || c > '9' || w.width > (UINT64_MAX - (c - '0')) / 10) {
      return Invalid("--window " + Quote(orig) + ": N must be a positive integer");
    }
    w.width = w.width * 10 + (c - '0');
  }
  if (w.width == 0) return Invalid("--window " + Quote(orig) + ": N must be positive");
  return w;
}

}  // namespace daqfs
