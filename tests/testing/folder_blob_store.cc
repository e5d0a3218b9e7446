#include "tests/testing/folder_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "fs/unique_fd.h"

namespace daqfs {
namespace {

class FolderBlob final : public Blob {
 public:
  FolderBlob(std::shared_ptr<UniqueFd> fd, uint64_t size, std::string path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}
  const std::shared_ptr<UniqueFd>& fd() const override { return fd_; }
  uint64_t size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::shared_ptr<UniqueFd> fd_;
  uint64_t size_;
  std::string path_;
};

Result<std::shared_ptr<Blob>> OpenBlob(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  return std::shared_ptr<Blob>(std::make_shared<FolderBlob>(
      std::make_shared<UniqueFd>(std::move(*fd)), static_cast<uint64_t>(st.st_size), path));
}

class FolderBlobWriter final : public BlobWriter {
 public:
  FolderBlobWriter(UniqueFd fd, std::string temp, std::string final_path)
      : fd_(std::move(fd)), temp_(std::move(temp)), final_(std::move(final_path)) {}
  ~FolderBlobWriter() override {
    if (!committed_) ::unlink(temp_.c_str());
  }
  Status Append(std::span<const uint8_t> bytes) override {
    if (!fd_.valid()) return Status(Code::kIo, temp_ + ": writer is dead");
    Status s = WriteAll(fd_.get(), bytes, temp_);
    if (!s.ok()) fd_.Reset();
    return s;
  }
  Result<std::shared_ptr<Blob>> Commit() override {
    if (!fd_.valid()) return Status(Code::kIo, temp_ + ": writer is dead");
    fd_.Reset();
    if (::rename(temp_.c_str(), final_.c_str()) != 0) return ErrnoStatus(errno, "rename " + temp_);
    committed_ = true;
    return OpenBlob(final_);
  }

 private:
  UniqueFd fd_;
  std::string temp_, final_;
  bool committed_ = false;
};

bool ValidName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

}  // namespace

FolderBlobStore::FolderBlobStore(std::string small_dir, std::string large_dir, std::string prefix)
    : small_dir_(std::move(small_dir)),
      large_dir_(std::move(large_dir)),
      prefix_(std::move(prefix)) {}

std::string FolderBlobStore::SmallPath(std::string_view name) const {
  return small_dir_ + "/" + prefix_ + std::string(name);
}
std::string FolderBlobStore::LargePath(std::string_view name) const {
  return large_dir_ + "/" + prefix_ + std::string(name);
}

Result<std::unique_ptr<BlobWriter>> FolderBlobStore::Create(std::string_view name, uint64_t) {
  if (!ValidName(name)) return Invalid("bad blob name " + std::string(name));
  std::string final_path = LargePath(name);
  std::string temp = final_path + ".part." + std::to_string(getpid()) + "." +
                     std::to_string(temp_seq_.fetch_add(1));
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create " + temp);
  return std::unique_ptr<BlobWriter>(
      std::make_unique<FolderBlobWriter>(std::move(fd), std::move(temp), std::move(final_path)));
}

Result<std::shared_ptr<Blob>> FolderBlobStore::Open(std::string_view name) {
  if (!ValidName(name)) return Invalid("bad blob name " + std::string(name));
  opens_.fetch_add(1);
  return OpenBlob(LargePath(name));
}

Status FolderBlobStore::Put(std::string_view name, std::span<const uint8_t> bytes) {
  if (!ValidName(name)) return Invalid("bad blob name " + std::string(name));
  std::string path = SmallPath(name);
  std::string temp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(temp_seq_.fetch_add(1));
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create " + temp);
  Status s = WriteAll(fd.get(), bytes, temp);
  fd.Reset();
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) s = ErrnoStatus(errno, "rename " + temp);
  if (!s.ok()) ::unlink(temp.c_str());
  if (s.ok()) puts_.fetch_add(1);
  return s;
}

Result<Bytes> FolderBlobStore::Get(std::string_view name) {
  if (!ValidName(name)) return Invalid("bad blob name " + std::string(name));
  std::string path = SmallPath(name);
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (st.st_size > (1ll << 34)) return Corrupt(path + ": implausibly large");
  Bytes data(static_cast<size_t>(st.st_size));
  Result<size_t> n = PreadFull(fd->get(), 0, data, path);
  if (!n.ok()) return n.status();
  data.resize(*n);
  return data;
}

void FolderBlobStore::Erase(std::string_view name) {
  if (!ValidName(name)) return;
  bool any = ::unlink(SmallPath(name).c_str()) == 0;
  any = (::unlink(LargePath(name).c_str()) == 0) || any;
  if (any) erases_.fetch_add(1);
}

std::vector<std::string> FolderBlobStore::List() {
  std::set<std::string> names;
  for (const std::string& dir : {small_dir_, large_dir_}) {
    DIR* d = opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(prefix_, 0) != 0) continue;
      n.erase(0, prefix_.size());
      // Temp files of writers (ours or a crashed process's) are no blobs.
      if (!ValidName(n) || n.find(".part.") != std::string::npos ||
          n.find(".tmp.") != std::string::npos) {
        continue;
      }
      names.insert(n);
    }
    closedir(d);
  }
  return {names.begin(), names.end()};
}

}  // namespace daqfs
