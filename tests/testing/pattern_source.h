// Sources for cache and read-path tests: a pattern source whose blocks are "decoded" on demand and
// counted.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "fs/byte_source.h"

namespace daqfs::testing {

inline uint8_t PatternByte(uint64_t offset) {
  return static_cast<uint8_t>((offset * 2654435761u) >> 13);
}

class PatternSource final : public ByteSource {
 public:
  PatternSource(uint64_t size, bool decoded, std::string id = "pattern",
                std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : size_(size), decoded_(decoded), id_(std::move(id)), delay_(delay) {}
  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return id_; }
  bool IsDecoded() const override { return decoded_; }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    decodes++;
    if (delay_.count()) std::this_thread::sleep_for(delay_);
    BlockRange r = BlockRangeOf(i);
    if (out.size() != r.length) return Invalid("size");
    for (uint64_t k = 0; k < r.length; ++k) out[k] = PatternByte(r.offset + k);
    return Status::Ok();
  }
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override {
    direct_reads++;
    if (decoded_) return ByteSource::ReadAt(off, out);
    if (off >= size_) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), size_ - off);
    for (size_t k = 0; k < n; ++k) out[k] = PatternByte(off + k);
    return n;
  }
  std::atomic<uint64_t> decodes{0};
  std::atomic<uint64_t> direct_reads{0};

 private:
  uint64_t size_;
  bool decoded_;
  std::string id_;
  std::chrono::milliseconds delay_;
};

}  // namespace daqfs::testing
