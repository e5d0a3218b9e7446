// FileSliceSource: bytes [offset, offset + size) of a backing file, read with pread: a plain tar
// member, a member of a decompressed .tar.zst spilled to the cache folder, a whole HDF5 file
// shown byte for byte beside its folder.
//
// Blocks are the default fixed 1 MiB blocks; ReadAt reads the range directly. A backing file
// shorter than the slice gives kCorrupt naming `what` and the offset.
//
// Thread safety: immutable; reads use pread on the shared descriptor (no file offset), so every
// method may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fs/byte_source.h"
#include "fs/unique_fd.h"

namespace daqfs {

class FileSliceSource final : public ByteSource {
 public:
  FileSliceSource(std::shared_ptr<UniqueFd> fd, std::string what, uint64_t offset, uint64_t size,
                  std::string identity, bool decoded = false)
      : fd_(std::move(fd)),
        what_(std::move(what)),
        offset_(offset),
        size_(size),
        identity_(std::move(identity)),
        decoded_(decoded) {}
  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return decoded_; }
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;

 private:
  std::shared_ptr<UniqueFd> fd_;
  std::string what_;
  uint64_t offset_, size_;
  std::string identity_;
  bool decoded_;
};

}  // namespace daqfs
