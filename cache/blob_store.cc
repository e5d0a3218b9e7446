// DiskBlobStore: how it works (the header holds the layout and the contract).
//
// mu_ guards the table of blobs: "ns/name" -> the current Record, and id -> Record for every
// file that still exists (a replaced or erased blob lives on while a handle holds it). A Record
// counts its handles; the DiskBlockCache counts the pins (one per handle or writer), so the
// quota knows what it may evict. The evictor (called by the quota outside its index lock, under
// its evictor lock) takes mu_, forgets the record and unlinks the file outside mu_. The
// destructor clears the evictor first: that waits for a running call, and no call starts after,
// so the quota's writer thread never reaches a freed Impl.
//
// Ids are unique for the folder: the scan starts the counter above the highest id found, so a
// replaced blob always gets a new file name and an eviction or erase of the old file can never
// remove the new one.
#include "cache/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cache/cache_files.h"
#include "cache/disk_block_format.h"
#include "fs/log.h"

namespace daqfs {
namespace {

constexpr char kTrailerMagic[8] = {'D', 'Q', 'F', 'S', 'B', 'L', 'B', '1'};
constexpr uint64_t kTrailerSize = 24;
// A writer charges the quota in steps of this much (fewer calls into the quota's lock).
constexpr uint64_t kChargeStep = 4ull << 20;
constexpr size_t kVerifyChunk = 1u << 20;

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 200 || n == "." || n == "..") return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string FileName(std::string_view name, uint64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "@%016" PRIx64, id);
  return std::string(name) + buf;
}

// "name@ID16" -> name, id.
bool ParseFileName(std::string_view file, std::string* name, uint64_t* id) {
  size_t at = file.rfind('@');
  if (at == std::string_view::npos || file.size() - at != 17) return false;
  std::string_view n = file.substr(0, at);
  if (!ValidName(n)) return false;
  uint64_t v = 0;
  if (!ParseLowerHex(file.substr(at + 1), &v)) return false;
  *name = n;
  *id = v;
  return true;
}

std::array<uint8_t, kTrailerSize> EncodeTrailer(uint64_t len, uint64_t sum) {
  std::array<uint8_t, kTrailerSize> t{};
  std::memcpy(t.data(), kTrailerMagic, sizeof kTrailerMagic);
  StoreLe64(&t[8], len);
  StoreLe64(&t[16], sum);
  return t;
}

}  // namespace

std::string BlobNamespaceName(const std::string& source_name) {
  if (ValidName(source_name)) return source_name;
  // Any other character becomes '_' plus a hash of the original, so two names never meet.
  std::string out;
  for (char c : source_name) out += ValidName(std::string_view(&c, 1)) ? c : '_';
  if (out.size() > 150) out.resize(150);
  char buf[24];
  std::snprintf(buf, sizeof buf, "-%016" PRIx64,
                static_cast<uint64_t>(XXH3_64bits(source_name.data(), source_name.size())));
  return out + buf;
}

struct DiskBlobStore::Impl {
  struct Record {
    std::string ns, name, path;
    uint64_t id = 0;
    uint64_t file_size = 0;  // data + trailer
    int handles = 0;         // guarded by mu_
    bool verified = false;   // guarded by mu_
    bool current = true;     // guarded by mu_; false once replaced, erased or evicted
  };

  class Namespace;
  class Handle;
  class Writer;

  Impl(std::string d, DiskBlockCache* s)
      : root(std::move(d) + "/blobs-v1"), ns_root(root + "/ns"), tmp_dir(root + "/tmp"), space(s) {}

  Status Init();
  void RegisterMetrics(Metrics* m);

  // Name checks and the current record.
  Result<std::shared_ptr<Blob>> Open(const std::string& ns, std::string_view name,
                                     bool verify_always, Bytes* content);
  Result<std::unique_ptr<BlobWriter>> Create(const std::string& ns, std::string_view name,
                                             uint64_t size_hint);
  void Erase(const std::string& ns, std::string_view name);
  // Erases exactly this record (a corrupt file), not a newer blob of the same name.
  void EraseRecord(const std::shared_ptr<Record>& r);
  std::vector<std::string> List(const std::string& ns);
  // Publishes a committed file; returns the pinned handle.
  std::shared_ptr<Blob> Publish(const std::string& ns, std::string_view name, uint64_t id,
                                const std::string& path, uint64_t file_size);
  // A handle closed: unpin, or remove a record that is no longer current.
  void Release(const std::shared_ptr<Record>& r);
  // Removes a record's file and charge now (no handle left). Called without mu_.
  void Destroy(const std::shared_ptr<Record>& r);
  // The quota evicted `id`.
  void Evicted(uint64_t id);
  // Forgets the record (under mu_): no longer current, no longer listed.
  void UnlinkRecordLocked(const std::shared_ptr<Record>& r);
  std::string NsDir(const std::string& ns) const { return ns_root + "/" + ns; }
  std::string Key(const std::string& ns, std::string_view name) const {
    return ns + "/" + std::string(name);
  }

  const std::string root, ns_root, tmp_dir;
  DiskBlockCache* const space;
  std::atomic<uint64_t> next_id{1};
  std::atomic<uint64_t> temp_seq{0};
  Counter own_verifications, own_corrupt, own_evictions;
  Counter* verifications = &own_verifications;
  Counter* corrupt = &own_corrupt;
  Counter* evictions = &own_evictions;
  RateLimitedLog log{std::chrono::seconds(10)};

  // Lock order: the DiskBlockCache's evictor lock (held around Evicted) before mu_ before the
  // DiskBlockCache's index lock. Nothing calls SetExternalEvictor or ResizeExternal with mu_ held.
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Record>> current;  // guarded; "ns/name"
  std::unordered_map<uint64_t, std::shared_ptr<Record>> by_id;       // guarded; files that exist
  std::map<std::string, std::unique_ptr<Namespace>> namespaces;      // guarded
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);
};

// ---------------------------------------------------------------------------------------------
// Handles

class DiskBlobStore::Impl::Handle final : public Blob {
 public:
  Handle(Impl* store, std::shared_ptr<Record> r, std::shared_ptr<UniqueFd> fd)
      : store_(store), r_(std::move(r)), fd_(std::move(fd)) {}
  ~Handle() override { store_->Release(r_); }
  const std::shared_ptr<UniqueFd>& fd() const override { return fd_; }
  uint64_t size() const override { return r_->file_size - kTrailerSize; }
  const std::string& path() const override { return r_->path; }

 private:
  Impl* store_;
  std::shared_ptr<Record> r_;
  std::shared_ptr<UniqueFd> fd_;
};

class DiskBlobStore::Impl::Writer final : public BlobWriter {
 public:
  Writer(Impl* store, std::string ns, std::string name, uint64_t id, std::string tmp, UniqueFd fd,
         uint64_t reserved)
      : store_(store),
        ns_(std::move(ns)),
        name_(std::move(name)),
        id_(id),
        tmp_(std::move(tmp)),
        fd_(std::move(fd)),
        reserved_(reserved) {
    XXH3_64bits_reset(&state_);
  }
  ~Writer() override {
    if (committed_) return;
    fd_.Reset();
    unlink(tmp_.c_str());
    store_->space->RemoveExternal(id_);
  }

  Status Append(std::span<const uint8_t> bytes) override {
    if (dead_) return Status(Code::kIo, "blob writer of " + name_ + " failed before");
    if (Status s = Reserve(written_ + bytes.size()); !s.ok()) return Fail(s);
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    if (int err = PwritevFull(fd_.get(), &iov, 1, static_cast<off_t>(written_)); err != 0) {
      return Fail(ErrnoStatus(err, "writing blob " + ns_ + "/" + name_ + " to " + tmp_));
    }
    XXH3_64bits_update(&state_, bytes.data(), bytes.size());
    written_ += bytes.size();
    return Status::Ok();
  }

  Result<std::shared_ptr<Blob>> Commit() override {
    if (dead_) return Status(Code::kIo, "blob writer of " + name_ + " failed before");
    uint64_t file_size = written_ + kTrailerSize;
    if (Status s = Reserve(file_size); !s.ok()) return Fail(s);
    auto trailer = EncodeTrailer(written_, XXH3_64bits_digest(&state_));
    iovec iov{trailer.data(), trailer.size()};
    int err = PwritevFull(fd_.get(), &iov, 1, static_cast<off_t>(written_));
    if (err == 0 && close(fd_.Release()) != 0) err = errno;
    std::string dir = store_->NsDir(ns_);
    std::string path = dir + "/" + FileName(name_, id_);
    if (err == 0) err = MakeDirs(dir, 0700);
    if (err == 0 && rename(tmp_.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) return Fail(ErrnoStatus(err, "committing blob " + ns_ + "/" + name_));
    // The charge is the file's size exactly (a hint may have reserved more).
    (void)store_->space->ResizeExternal(id_, file_size);
    committed_ = true;
    return store_->Publish(ns_, name_, id_, path, file_size);
  }

 private:
  // Grows the charge to cover `need` bytes of file.
  Status Reserve(uint64_t need) {
    if (need <= reserved_) return Status::Ok();
    uint64_t want = std::max(need, std::min(reserved_ + kChargeStep, need + kChargeStep));
    Status s = store_->space->ResizeExternal(id_, want);
    if (!s.ok() && want > need) s = store_->space->ResizeExternal(id_, need);
    if (!s.ok()) return s;
    reserved_ = std::max(reserved_, need);
    return Status::Ok();
  }
  Status Fail(Status s) {
    dead_ = true;
    return s;
  }

  Impl* store_;
  const std::string ns_, name_;
  const uint64_t id_;
  const std::string tmp_;
  UniqueFd fd_;
  uint64_t reserved_;
  uint64_t written_ = 0;
  XXH3_state_t state_;
  bool dead_ = false;
  bool committed_ = false;
};

class DiskBlobStore::Impl::Namespace final : public BlobStore {
 public:
  Namespace(Impl* store, std::string ns) : store_(store), ns_(std::move(ns)) {}
  Result<std::unique_ptr<BlobWriter>> Create(std::string_view name, uint64_t size_hint) override {
    return store_->Create(ns_, name, size_hint);
  }
  Result<std::shared_ptr<Blob>> Open(std::string_view name) override {
    return store_->Open(ns_, name, false, nullptr);
  }
  Status Put(std::string_view name, std::span<const uint8_t> bytes) override {
    Result<std::unique_ptr<BlobWriter>> w = Create(name, bytes.size());
    if (!w.ok()) return w.status();
    if (Status s = (*w)->Append(bytes); !s.ok()) return s;
    Result<std::shared_ptr<Blob>> b = (*w)->Commit();
    return b.ok() ? Status::Ok() : b.status();
  }
  Result<Bytes> Get(std::string_view name) override {
    Bytes content;
    Result<std::shared_ptr<Blob>> b = store_->Open(ns_, name, true, &content);
    if (!b.ok()) return b.status();
    return content;
  }
  void Erase(std::string_view name) override { store_->Erase(ns_, name); }
  std::vector<std::string> List() override { return store_->List(ns_); }

 private:
  Impl* store_;
  const std::string ns_;
};

// ---------------------------------------------------------------------------------------------
// Operations

Result<std::unique_ptr<BlobWriter>> DiskBlobStore::Impl::Create(const std::string& ns,
                                                                std::string_view name,
                                                                uint64_t size_hint) {
  if (!ValidName(name)) return Invalid("bad blob name '" + std::string(name) + "'");
  uint64_t id = next_id++;
  uint64_t reserve = size_hint > 0 ? size_hint + kTrailerSize : 0;
  // Charged (and pinned) before the file exists: the hint alone may not fit.
  if (Status s = space->ResizeExternal(id, reserve); !s.ok()) {
    space->RemoveExternal(id);
    return s;
  }
  std::string tmp = tmp_dir + "/" + std::to_string(getpid()) + "-" + std::to_string(temp_seq++);
  UniqueFd fd(open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd.valid() && errno == ENOENT && MakeDirs(tmp_dir, 0700) == 0) {
    fd = UniqueFd(open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  }
  if (!fd.valid()) {
    int err = errno;
    space->RemoveExternal(id);
    return ErrnoStatus(err, "creating blob " + ns + "/" + std::string(name) + " as " + tmp);
  }
  return std::unique_ptr<BlobWriter>(
      new Writer(this, ns, std::string(name), id, std::move(tmp), std::move(fd), reserve));
}

std::shared_ptr<Blob> DiskBlobStore::Impl::Publish(const std::string& ns, std::string_view name,
                                                   uint64_t id, const std::string& path,
                                                   uint64_t file_size) {
  auto r = std::make_shared<Record>();
  r->ns = ns;
  r->name = std::string(name);
  r->path = path;
  r->id = id;
  r->file_size = file_size;
  r->handles = 1;      // the writer's pin passes to the returned handle
  r->verified = true;  // checksummed as it was written
  std::shared_ptr<Record> old;
  bool destroy_old = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = current.try_emplace(Key(ns, name), r);
    if (!inserted) {
      old = it->second;
      it->second = r;
      old->current = false;
      destroy_old = old->handles == 0;
      if (destroy_old) by_id.erase(old->id);
    }
    by_id[id] = r;
  }
  if (destroy_old) Destroy(old);
  // Readers get a read-only descriptor of their own.
  auto fd = std::make_shared<UniqueFd>(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return std::make_shared<Handle>(this, r, std::move(fd));
}

Result<std::shared_ptr<Blob>> DiskBlobStore::Impl::Open(const std::string& ns,
                                                        std::string_view name, bool verify_always,
                                                        Bytes* content) {
  if (!ValidName(name)) return Invalid("bad blob name '" + std::string(name) + "'");
  std::shared_ptr<Record> r;
  bool verify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = current.find(Key(ns, name));
    if (it == current.end()) return NotFound("no blob " + Key(ns, name));
    r = it->second;
    // Pinned under mu_: the evictor (which needs mu_) cannot remove it in between.
    if (!space->PinExternal(r->id)) return NotFound("no blob " + Key(ns, name));
    ++r->handles;
    verify = verify_always || !r->verified;
  }
  UniqueFd opened(open(r->path.c_str(), O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  const int fd = opened.get();
  auto handle = std::make_shared<Handle>(this, r, std::make_shared<UniqueFd>(std::move(opened)));
  const std::string what = "blob " + Key(ns, name) + " (" + r->path + ")";
  auto fail = [&](Status s) -> Status {
    if (s.code() == Code::kCorrupt) {
      corrupt->Add();
      log.Log(LogLevel::kWarn, what + ": " + s.message() + "; removed");
      EraseRecord(r);
    }
    return s;
  };
  if (fd < 0) {
    int err = open_errno;
    if (err == ENOENT) return fail(Corrupt("file is missing"));
    return ErrnoStatus(err, "opening " + what);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat of " + what);
  if (static_cast<uint64_t>(st.st_size) != r->file_size) return fail(Corrupt("size changed"));
  uint8_t trailer[kTrailerSize];
  uint64_t data_len = r->file_size - kTrailerSize;
  Result<size_t> n = PreadFull(fd, data_len, trailer, what);
  if (!n.ok()) return n.status();
  if (*n != kTrailerSize || std::memcmp(trailer, kTrailerMagic, sizeof kTrailerMagic) != 0 ||
      LoadLe64(trailer + 8) != data_len) {
    return fail(Corrupt("bad trailer"));
  }
  if (content) content->resize(data_len);
  if (verify) {
    verifications->Add();
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    std::vector<uint8_t> chunk(content ? 0 : std::min<uint64_t>(kVerifyChunk, data_len));
    for (uint64_t off = 0; off < data_len;) {
      uint64_t len = std::min<uint64_t>(kVerifyChunk, data_len - off);
      uint8_t* p = content ? content->data() + off : chunk.data();
      Result<size_t> got = PreadFull(fd, off, std::span<uint8_t>(p, len), what);
      if (!got.ok()) return got.status();
      if (*got != len) return fail(Corrupt("file too short"));
      XXH3_64bits_update(&state, p, len);
      off += len;
    }
    if (XXH3_64bits_digest(&state) != LoadLe64(trailer + 16)) return fail(Corrupt("bad checksum"));
    std::lock_guard<std::mutex> lock(mu_);
    r->verified = true;
  } else if (content) {
    Result<size_t> got = PreadFull(fd, 0, *content, what);
    if (!got.ok()) return got.status();
    if (*got != data_len) return fail(Corrupt("file too short"));
  }
  return std::shared_ptr<Blob>(std::move(handle));
}

void DiskBlobStore::Impl::UnlinkRecordLocked(const std::shared_ptr<Record>& r) {
  if (r->current) {
    auto it = current.find(Key(r->ns, r->name));
    if (it != current.end() && it->second == r) current.erase(it);
    r->current = false;
  }
}

void DiskBlobStore::Impl::Erase(const std::string& ns, std::string_view name) {
  std::shared_ptr<Record> r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = current.find(Key(ns, name));
    if (it == current.end()) return;
    r = it->second;
    UnlinkRecordLocked(r);
    if (r->handles > 0) return;  // removed when its last handle closes
    by_id.erase(r->id);
  }
  Destroy(r);
}

void DiskBlobStore::Impl::EraseRecord(const std::shared_ptr<Record>& r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!r->current) return;
    UnlinkRecordLocked(r);
    if (r->handles > 0) return;  // removed when its last handle closes
    by_id.erase(r->id);
  }
  Destroy(r);
}

void DiskBlobStore::Impl::Release(const std::shared_ptr<Record>& r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --r->handles;
    if (r->current || r->handles > 0) {
      space->UnpinExternal(r->id);
      return;
    }
    by_id.erase(r->id);
  }
  Destroy(r);
}

void DiskBlobStore::Impl::Destroy(const std::shared_ptr<Record>& r) {
  if (unlink(r->path.c_str()) != 0 && errno != ENOENT) {
    log.Log(LogLevel::kWarn, "blob store: cannot remove " + r->path + ": " + std::strerror(errno));
  }
  space->RemoveExternal(r->id);
}

void DiskBlobStore::Impl::Evicted(uint64_t id) {
  std::shared_ptr<Record> r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id.find(id);
    if (it == by_id.end()) return;
    r = it->second;
    by_id.erase(it);
    UnlinkRecordLocked(r);
  }
  evictions->Add();
  if (unlink(r->path.c_str()) != 0 && errno != ENOENT) {
    log.Log(LogLevel::kWarn, "blob store: cannot remove " + r->path + ": " + std::strerror(errno));
  }
}

std::vector<std::string> DiskBlobStore::Impl::List(const std::string& ns) {
  std::vector<std::string> names;
  std::string prefix = ns + "/";
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, r] : current) {
      if (key.compare(0, prefix.size(), prefix) == 0) names.push_back(r->name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------------
// Start-up

Status DiskBlobStore::Impl::Init() {
  for (const std::string* d : {&root, &ns_root, &tmp_dir}) {
    if (int err = MakeDirs(*d, 0700); err != 0) {
      return ErrnoStatus(err, "cannot create blob folder " + *d);
    }
  }
  std::vector<std::string> junk;
  ForEachEntry(tmp_dir, [&](std::string_view n, unsigned char) {
    junk.push_back(tmp_dir + "/" + std::string(n));
  });
  struct Found {
    std::string ns, name, path;
    uint64_t id, size;
  };
  std::map<std::string, Found> found;  // "ns/name" -> newest file
  std::vector<std::string> namespaces_found;
  int err = ForEachEntry(ns_root, [&](std::string_view n, unsigned char) {
    if (ValidName(n))
      namespaces_found.emplace_back(n);
    else
      junk.push_back(ns_root + "/" + std::string(n));
  });
  if (err != 0) return ErrnoStatus(err, "cannot read blob folder " + ns_root);
  uint64_t max_id = 0;
  for (const std::string& ns : namespaces_found) {
    std::string dir = NsDir(ns);
    ForEachEntry(dir, [&](std::string_view n, unsigned char) {
      std::string path = dir + "/" + std::string(n);
      std::string name;
      uint64_t id;
      struct stat st;
      if (!ParseFileName(n, &name, &id) || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
          static_cast<uint64_t>(st.st_size) < kTrailerSize) {
        junk.push_back(path);
        return;
      }
      max_id = std::max(max_id, id);
      Found f{ns, name, path, id, static_cast<uint64_t>(st.st_size)};
      auto [it, inserted] = found.try_emplace(Key(ns, name), f);
      if (!inserted) {
        if (it->second.id < id) std::swap(it->second, f);
        junk.push_back(f.path);  // the older of two files of one name
      }
    });
  }
  for (const std::string& j : junk) RemoveTree(j);
  next_id = max_id + 1;
  for (auto& [key, f] : found) {
    // Charged pinned, then unpinned: the newest items of the LRU order.
    if (!space->ResizeExternal(f.id, f.size).ok()) {
      space->RemoveExternal(f.id);
      unlink(f.path.c_str());
      continue;
    }
    auto r = std::make_shared<Record>();
    r->ns = f.ns;
    r->name = f.name;
    r->path = f.path;
    r->id = f.id;
    r->file_size = f.size;
    {
      std::lock_guard<std::mutex> lock(mu_);
      current[key] = r;
      by_id[f.id] = r;
    }
    space->UnpinExternal(f.id);
  }
  return Status::Ok();
}

void DiskBlobStore::Impl::RegisterMetrics(Metrics* m) {
  const std::string tier = Label("tier", "ssd");
  verifications = &m->AddCounter("daqfs_blob_verifications_total",
                                 "Whole-blob checksum checks (SSD blob store)", tier);
  corrupt = &m->AddCounter("daqfs_blob_corrupt_total",
                           "Blobs removed because their checksum did not match", tier);
  evictions = &m->AddCounter("daqfs_blob_evictions_total",
                             "Unpinned blobs evicted to stay within the SSD budget", tier);
  std::shared_ptr<std::atomic<bool>> live = alive;
  Impl* self = this;
  m->AddGauge(
      "daqfs_blobs", "Blobs held in the SSD blob store",
      [live, self] {
        if (!live->load()) return 0.0;
        std::lock_guard<std::mutex> lock(self->mu_);
        return static_cast<double>(self->by_id.size());
      },
      tier);
}

// ---------------------------------------------------------------------------------------------
// Public API

DiskBlobStore::DiskBlobStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DiskBlobStore::~DiskBlobStore() {
  impl_->alive->store(false);
  // Returns once no eviction runs; none can start after, so impl_ may be freed.
  impl_->space->SetExternalEvictor(nullptr);
}

Result<std::unique_ptr<DiskBlobStore>> DiskBlobStore::Open(const std::string& dir,
                                                           DiskBlockCache* space,
                                                           Metrics* metrics) {
  if (space == nullptr) return Invalid("blob store needs the SSD block tier");
  auto impl = std::make_unique<Impl>(dir, space);
  Impl* p = impl.get();
  space->SetExternalEvictor([p](uint64_t id) { p->Evicted(id); });
  if (Status s = impl->Init(); !s.ok()) {
    space->SetExternalEvictor(nullptr);
    return s;
  }
  if (metrics) impl->RegisterMetrics(metrics);
  return std::unique_ptr<DiskBlobStore>(new DiskBlobStore(std::move(impl)));
}

BlobStore* DiskBlobStore::ForNamespace(const std::string& source_name) {
  std::string ns = BlobNamespaceName(source_name);
  std::lock_guard<std::mutex> lock(impl_->mu_);
  std::unique_ptr<Impl::Namespace>& slot = impl_->namespaces[ns];
  if (!slot) slot = std::make_unique<Impl::Namespace>(impl_.get(), ns);
  return slot.get();
}

BlobStoreFactory DiskBlobStore::Factory() {
  return [this](const std::string& source_name) { return ForNamespace(source_name); };
}

BlobStoreFactory NoBlobStores() {
  return [](const std::string&) -> BlobStore* { return nullptr; };
}

DiskBlobStore::Counters DiskBlobStore::counters() const {
  Counters c;
  c.verifications = impl_->verifications->Get();
  c.corrupt = impl_->corrupt->Get();
  c.evictions = impl_->evictions->Get();
  std::lock_guard<std::mutex> lock(impl_->mu_);
  for (const auto& [id, r] : impl_->by_id) {
    c.blobs++;
    c.bytes += r->file_size;
    if (r->handles > 0) c.pinned++;
  }
  return c;
}

Result<BlobSummary> SummarizeBlobs(const std::string& dir) {
  BlobSummary sum;
  std::string root = dir + "/blobs-v1";
  std::vector<std::string> namespaces;
  int err = ForEachEntry(root + "/ns", [&](std::string_view n, unsigned char) {
    if (ValidName(n)) namespaces.emplace_back(n);
  });
  if (err == ENOENT) return NotFound("no daqfs blob store in " + dir);
  if (err != 0) return ErrnoStatus(err, "cannot read blob folder " + root);
  for (const std::string& ns : namespaces) {
    std::string nsdir = root + "/ns/" + ns;
    ForEachEntry(nsdir, [&](std::string_view n, unsigned char) {
      std::string name;
      uint64_t id;
      struct stat st;
      if (!ParseFileName(n, &name, &id)) return;
      if (stat((nsdir + "/" + std::string(n)).c_str(), &st) != 0) return;
      auto& [count, bytes] = sum.by_namespace[ns];
      ++count;
      bytes += static_cast<uint64_t>(st.st_size);
      sum.blobs++;
      sum.bytes += static_cast<uint64_t>(st.st_size);
    });
  }
  ForEachEntry(root + "/tmp", [&](std::string_view, unsigned char) { sum.temp_files++; });
  return sum;
}

}  // namespace daqfs
