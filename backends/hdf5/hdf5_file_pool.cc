#include "backends/hdf5/hdf5_file_pool.h"

#include <cerrno>

#include "fs/unique_fd.h"

namespace daqfs {

Hdf5FilePool::Hdf5FilePool(size_t max_open, DirectReads direct)
    : max_open_(max_open < 1 ? 1 : max_open), direct_(direct) {}

int Hdf5FilePool::DirectFd(const Hdf5File& file) const {
  if (file.direct_refused) return -1;
  if (!file.direct) file.direct = OpenDirect(file.path, file.st, direct_);
  return file.direct->get();
}

// Not closed here: another thread may be reading through it; it closes with the file.
void Hdf5FilePool::NoDirect(const Hdf5File& file) const { file.direct_refused = true; }

Hdf5FilePool::~Hdf5FilePool() {
  H5Lock lock;
  files_.clear();
  lru_.clear();
}

Result<std::shared_ptr<const Hdf5File>> Hdf5FilePool::Open(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    return it->second.file;
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status(Code::kUnavailable, path + ": missing");
    return ErrnoStatus(errno, path);
  }
  if (!S_ISREG(st.st_mode)) return Status(Code::kUnavailable, path + ": not a regular file");
  // The default access list on purpose: libhdf5 opens virtual-dataset sources with its
  // defaults, and refuses (serving fill values) a file already open with other locking flags.
  H5Id id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!id.valid()) return H5Failure(Code::kCorrupt, path + ": not a readable HDF5 file");
  opens_.fetch_add(1, std::memory_order_relaxed);
  auto live = live_;
  live->fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Hdf5File> file(new Hdf5File(), [live](Hdf5File* f) {
    delete f;  // closes the id (under the lock)
    live->fetch_sub(1, std::memory_order_relaxed);
  });
  file->path = path;
  file->identity = FileIdentity(st);
  file->st = st;
  file->id = std::move(id);
  lru_.push_front(path);
  files_[path] = Entry{file, lru_.begin()};
  Evict();
  return std::shared_ptr<const Hdf5File>(std::move(file));
}

void Hdf5FilePool::Evict() {
  if (files_.size() <= max_open_) return;
  // Oldest first; files in use (held outside the pool) stay until a later eviction.
  for (auto pos = lru_.end(); pos != lru_.begin() && files_.size() > max_open_;) {
    --pos;
    auto it = files_.find(*pos);
    if (it->second.file.use_count() > 1) continue;
    files_.erase(it);
    pos = lru_.erase(pos);
  }
}

void Hdf5FilePool::Clear() {
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second.file.use_count() > 1) {
      ++it;
      continue;
    }
    lru_.erase(it->second.pos);
    it = files_.erase(it);
  }
}

}  // namespace daqfs
