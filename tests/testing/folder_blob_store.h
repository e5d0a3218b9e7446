// FolderBlobStore: a plain-folder BlobStore (fs/blob_store.h) for tests of backends (the
// daemon uses the SSD tier's DiskBlobStore, cache/blob_store.h).
//
// Small blobs (Put/Get) are files in `small_dir`, large ones (Create/Open) in `large_dir`, each
// named `<prefix><name>` (the prefix keeps sources apart when they share the folders; List
// shows only this prefix's names, without it). Writes go to a temp name and are renamed at
// Commit/Put. What it does not do (the real store does): a byte budget, eviction, checksums
// (a Get returns the bytes as stored: callers that need integrity check it themselves, as the
// archive index does), pins (Erase unlinks at once; an open Blob keeps reading its fd).
// It counts opens, puts and erases for tests.
//
// Thread safety: every method is thread-safe (file system calls only, plus atomic counters).
#pragma once

#include <atomic>
#include <string>

#include "fs/blob_store.h"

namespace daqfs {

class FolderBlobStore final : public BlobStore {
 public:
  // Both folders must exist. `prefix` may be "" (folders of its own) and holds no '/'.
  FolderBlobStore(std::string small_dir, std::string large_dir, std::string prefix = "");

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view name, uint64_t size_hint) override;
  Result<std::shared_ptr<Blob>> Open(std::string_view name) override;
  Status Put(std::string_view name, std::span<const uint8_t> bytes) override;
  Result<Bytes> Get(std::string_view name) override;
  void Erase(std::string_view name) override;
  std::vector<std::string> List() override;

  uint64_t opens() const { return opens_.load(); }
  uint64_t puts() const { return puts_.load(); }
  uint64_t erases() const { return erases_.load(); }

 private:
  std::string SmallPath(std::string_view name) const;
  std::string LargePath(std::string_view name) const;

  std::string small_dir_, large_dir_, prefix_;
  std::atomic<uint64_t> opens_{0}, puts_{0}, erases_{0}, temp_seq_{0};
};

}  // namespace daqfs
