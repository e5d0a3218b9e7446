// Hdf5FilePool: the HDF5 files a backend has open, bounded by an LRU.
//
// A master with 1000 data files must work under `ulimit -n 256`: files are opened when a request
// needs them (listing a group that holds external links, reading a dataset) and closed again when
// more than `max_open` are open and they are not in use. A user holds a shared_ptr for the length
// of one critical section (or one read); an evicted file that is still held closes when its
// last holder lets go, so the bound may be exceeded by the files in use at that moment.
//
// Files are opened read-only with libhdf5's default access properties (its file locking as it
// is by default: a shared lock, ignored where the filesystem has none). Not our own settings:
// libhdf5 opens a virtual dataset's source files with its defaults and refuses a file that is
// already open with other locking flags, serving fill values instead. Keyed by the path given
// (callers pass canonical paths).
//
// Thread safety: Open and Clear must be called with H5Lock held (the pool's map is guarded by
// it: opening and closing are HDF5 calls anyway); open_files() and opens() may be read from any
// thread.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "backends/hdf5/hdf5_library.h"
#include "fs/direct_read.h"
#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

// One open HDF5 file.
struct Hdf5File {
  std::string path;      // as opened (canonical)
  std::string identity;  // FileIdentity of the file when it was opened
  struct stat st {};
  H5Id id;  // the file identifier
  // The file opened with O_DIRECT for cold chunk reads (fs/direct_read.h): opened at the first
  // one (Hdf5FilePool::DirectFd), invalid when they do not apply. Guarded by H5Lock.
  mutable std::optional<UniqueFd> direct;
  mutable bool direct_refused = false;  // a direct read failed: not tried again (H5Lock)
};

class Hdf5FilePool {
 public:
  // At most `max_open` (>= 1) files stay open while unused (each may hold a second descriptor
  // for direct reads under `direct`).
  explicit Hdf5FilePool(size_t max_open, DirectReads direct = DirectReads::kAuto);
  ~Hdf5FilePool();
  Hdf5FilePool(const Hdf5FilePool&) = delete;
  Hdf5FilePool& operator=(const Hdf5FilePool&) = delete;

  // The open file at `path` (opened now, or kept from before). Caller holds H5Lock.
  // Errors: kUnavailable "PATH: missing" (or the stat errno) when the file cannot be found,
  // kCorrupt "PATH: not a readable HDF5 file: ..." when libhdf5 cannot open it.
  Result<std::shared_ptr<const Hdf5File>> Open(const std::string& path);
  // Closes every file not in use. Caller holds H5Lock.
  void Clear();
  // `file`'s descriptor for direct reads (opened at the first call), or -1 when they do not
  // apply to it. Caller holds H5Lock.
  int DirectFd(const Hdf5File& file) const;
  // `file` refused a direct read: it is read through the page cache from now on. Caller holds
  // H5Lock.
  void NoDirect(const Hdf5File& file) const;
  DirectReads direct_reads() const { return direct_; }

  // HDF5 files open now (held by the pool or by a user).
  size_t open_files() const { return live_->load(std::memory_order_relaxed); }
  // Files opened so far (each H5Fopen).
  uint64_t opens() const { return opens_.load(std::memory_order_relaxed); }
  size_t max_open() const { return max_open_; }

 private:
  void Evict();

  size_t max_open_;
  DirectReads direct_;
  std::list<std::string> lru_;  // most recently used first
  struct Entry {
    std::shared_ptr<const Hdf5File> file;
    std::list<std::string>::iterator pos;
  };
  std::unordered_map<std::string, Entry> files_;
  // Shared with each file's deleter, which may run after the pool is gone.
  std::shared_ptr<std::atomic<size_t>> live_ = std::make_shared<std::atomic<size_t>>(0);
  std::atomic<uint64_t> opens_{0};
};

}  // namespace daqfs
