// ByteSource: the content of one opened file, in the block model the cache works in.
//
// A source has a fixed Size() and is cut into blocks, its natural decode units (a zstd frame, an
// HDF5 chunk, a stream frame; plain byte ranges use fixed 1 MiB blocks). Blocks may differ in
// size but are contiguous, start at 0 and cover the file. ReadBlock(i) produces exactly the bytes
// of block i. ReadAt() is the byte-range view; the default implementation assembles it from
// ReadBlock, and plain sources override it to read directly.
//
// Thread safety: every method may be called concurrently from many threads, including concurrent
// ReadBlock calls for different (or the same) blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fs/status.h"

namespace daqfs {

// An allocator that leaves new elements uninitialized: decoded blocks are written whole right
// after allocation, so zero-filling megabytes first would only cost time.
template <typename T>
struct UninitAllocator : std::allocator<T> {
  using std::allocator<T>::allocator;
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
// Block bytes.
using Bytes = std::vector<uint8_t, UninitAllocator<uint8_t>>;

struct BlockRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

class ByteSource {
 public:
  static constexpr uint64_t kDefaultBlockSize = 1 << 20;

  virtual ~ByteSource() = default;

  // Decoded size in bytes. Never changes for one source object.
  virtual uint64_t Size() const = 0;

  // Key that changes whenever the content can change: for file-backed data the backing file's
  // FileIdentity() plus the path inside it.
  virtual std::string Identity() const = 0;

  // True when blocks are produced by decoding (decompression, unshuffling...). Plain byte ranges
  // of a backing file return false: caching them on SSD gains nothing (cache = auto).
  virtual bool IsDecoded() const { return false; }

  // Block layout. The default is fixed kDefaultBlockSize blocks.
  virtual uint64_t BlockCount() const;
  virtual BlockRange BlockRangeOf(uint64_t index) const;
  virtual uint64_t BlockOf(uint64_t offset) const;

  // Fills `out` (exactly BlockRangeOf(index).length bytes) with block `index`.
  virtual Status ReadBlock(uint64_t index, std::span<uint8_t> out) = 0;

  // Blocks that one decode produces together: a decode unit larger than a few MiB (one huge
  // zstd frame) is exposed as 1 MiB sub-blocks filled by one streaming decode. Returns the
  // group [first, first + count) holding `index`; the default is the block alone.
  struct Group {
    uint64_t first = 0;
    uint64_t count = 1;
  };
  virtual Group GroupOf(uint64_t index) const { return Group{index, 1}; }
  // Decodes the whole group holding `index`, handing every block of it to `emit` in order
  // (index, bytes). The default decodes the single block with ReadBlock.
  using BlockEmit = std::function<void(uint64_t index, Bytes&& bytes)>;
  virtual Status ReadGroup(uint64_t index, const BlockEmit& emit);

  // Reads up to out.size() bytes at `offset`; short only at end of file (0 at or past the end).
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out);
};

// A source over bytes held in memory (control files, small derived files).
class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string data, std::string identity)
      : data_(std::move(data)), identity_(std::move(identity)) {}
  uint64_t Size() const override { return data_.size(); }
  std::string Identity() const override { return identity_; }
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override;

 private:
  std::string data_;
  std::string identity_;
};

}  // namespace daqfs
