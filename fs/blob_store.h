// BlobStore: named files a backend keeps in the node-local SSD cache folder (a decompressed
// .tar.zst spilled once, an archive's persistent index, a live stream's spilled frame segments).
//
// Blobs live inside the same byte budget as the SSD block tier (`[cache] disk`), so everything
// daqfs writes to disk is counted and has an owner that removes it. Every blob is checksummed:
// a blob whose bytes do not match is treated as absent (and removed), never served, never
// validated by its size alone.
//
// Names: "<namespace>/<name>", where the namespace is the source's name (BackendEnv gives a
// backend its own BlobNamespace, so sources cannot touch each other's blobs) and `name` is
// [A-Za-z0-9._-]+ chosen by the backend (for an archive: derived from the archive's identity).
//
// Pinning: a blob opened with Open() (or being written) is pinned while any handle to it lives:
// it is never evicted and never removed under a reader. Unpinned blobs may be evicted, oldest
// use first, when the budget is needed (by blocks or by other blobs); a backend must be ready to
// find a blob gone and rebuild it. Erase() removes a blob now (or once its last handle closes).
//
// The implementation is cache/blob_store.{h,cc}; fs/ and the backends see only this interface.
//
// Thread safety: every method is thread-safe; a Writer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/byte_source.h"
#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

// An opened, verified, pinned blob. `fd` reads it with pread; the pin lasts while this lives.
class Blob {
 public:
  virtual ~Blob() = default;
  virtual const std::shared_ptr<UniqueFd>& fd() const = 0;
  virtual uint64_t size() const = 0;
  // Where the bytes are (for messages only; never reopen by path).
  virtual const std::string& path() const = 0;
};

// Writes one blob: Append in order, then Commit. Destroying an uncommitted writer removes what
// was written and returns its reservation.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Appends bytes. kNoSpace when the budget (after evicting unpinned blobs and blocks) or the
  // disk has no room; kIo on write errors. After an error the writer is dead.
  virtual Status Append(std::span<const uint8_t> bytes) = 0;
  // Makes the blob visible under its name (replacing an older one), pinned by the result.
  virtual Result<std::shared_ptr<Blob>> Commit() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Starts a new blob `name` (replacing any older one at Commit). `size_hint` (0 = unknown)
  // lets the store make room up front; kNoSpace when the hint alone exceeds what can be freed.
  virtual Result<std::unique_ptr<BlobWriter>> Create(std::string_view name, uint64_t size_hint) = 0;
  // Opens and pins `name`, verifying its checksum (a large blob is verified once per process
  // and identity, not on every open). kNotFound when absent; kCorrupt when the bytes do not
  // match (the blob is then removed).
  virtual Result<std::shared_ptr<Blob>> Open(std::string_view name) = 0;

  // Small blobs (indexes): the whole content, checksum verified.
  virtual Status Put(std::string_view name, std::span<const uint8_t> bytes) = 0;
  virtual Result<Bytes> Get(std::string_view name) = 0;

  // Removes `name` (at once, or when its last handle closes). Absent names are ignored.
  virtual void Erase(std::string_view name) = 0;
  // Names present, sorted.
  virtual std::vector<std::string> List() = 0;
};

}  // namespace daqfs
