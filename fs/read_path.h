// ReadPath: how the Vfs reads an opened file. The cache layer implements it (block cache,
// single-flight decoding, prefetcher) without fs/ knowing about cache/; without one, the Vfs
// reads the ByteSource directly.
//
// Thread safety: ReadPath::Open is thread-safe. A FileReader may receive concurrent Read calls
// (the kernel sends several reads of one handle at once); it must handle them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fs/byte_source.h"
#include "fs/status.h"

namespace daqfs {

// Runs tasks on other threads (the decode pool).
class Executor {
 public:
  virtual ~Executor() = default;
  // Queues `task`; returns false when the executor is shutting down (the task is dropped).
  virtual bool Submit(std::function<void()> task) = 0;
};

// A piece of a read's answer that points into memory kept alive by `keep` (a cached block),
// so the FUSE adapter can hand it to the kernel without copying it first.
struct ReadPiece {
  std::shared_ptr<const void> keep;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class FileReader {
 public:
  virtual ~FileReader() = default;  // release: cancels this handle's prefetches
  // Reads up to out.size() bytes at `offset` (short only at end of file).
  virtual Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) = 0;
  // The same bytes as pieces (in order, summing to the bytes read). The default reads into a
  // new buffer; the cache path returns its blocks themselves.
  virtual Result<std::vector<ReadPiece>> ReadPieces(uint64_t offset, size_t size);
};

// A file that follows another in its directory. Opened only when a prefetch wants it (`open`
// returns null when it cannot be opened): listing 64 siblings costs no open.
struct Sibling {
  std::string name;
  uint64_t size = 0;  // st_size, for budgeting before opening
  std::function<std::shared_ptr<ByteSource>()> open;
  // Hands the file's bytes (from offset 0, the whole file) to the kernel's page cache ahead of
  // its reader (KernelNotifier::NotifyStore); false if not queued. If queued, `done` (may be
  // null) is called once, on another thread: true once the kernel holds them, false if they
  // were dropped. Null: the kernel does not know the file yet (not listed or looked up), or
  // its content may change.
  std::function<bool(std::vector<ReadPiece>, std::function<void(bool taken)> done)> store;
};

// Where an opened file comes from, for cache policy and sibling prefetch.
struct FileContext {
  uint32_t source = 0;  // Vfs backend index (1..N for sources)
  std::string dir;      // identity of the directory it was looked up in ("" if unknown)
  std::string name;     // its name there
  uint64_t size = 0;    // its size
  // False for a file read with direct I/O (Attr::direct_io): the kernel keeps none of its
  // pages, so a sequential scan does not leave its units to the page cache (it keeps them).
  bool page_cached = true;
  // Up to `max` files that follow this one in directory order (for sibling prefetch), unopened.
  std::function<std::vector<Sibling>(size_t max)> next_siblings;
};

class ReadPath {
 public:
  virtual ~ReadPath() = default;
  // Opens `source` for reading. Work that the open starts but its caller need not wait for
  // (the sibling prefetch of a scan) goes to `*after_open` when that is not null: the caller
  // runs it once it has answered the open (it never uses the returned reader, which may be
  // gone by then). With `after_open` null it is done before returning.
  virtual std::unique_ptr<FileReader> Open(std::shared_ptr<ByteSource> source, FileContext context,
                                           std::function<void()>* after_open) = 0;
  std::unique_ptr<FileReader> Open(std::shared_ptr<ByteSource> source, FileContext context) {
    return Open(std::move(source), std::move(context), nullptr);
  }
};

}  // namespace daqfs
