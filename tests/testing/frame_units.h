// FrameUnits: a units source for image-stack tests, one block per "decoded frame" (or, with
// `group` > 1, groups of `group` sub-blocks per unit, as a huge frame is exposed), whose bytes
// are a function of the source's seed and the position, with counters for every decode and for
// the layout calls (BlockRangeOf / BlockOf) a view makes while it is built.
//
// Thread safety: like every ByteSource (the counters are atomic).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/byte_source.h"

namespace daqfs::testing {

class FrameUnits final : public ByteSource {
 public:
  // `blocks` blocks of `block_bytes` bytes each, except block `odd_block` (if < blocks), which
  // holds `odd_bytes`.
  // With `group` > 1, blocks [g * group, (g + 1) * group) are one unit (GroupOf, ReadGroup
  // decode them together: one decode, counted on the group's first block).
  FrameUnits(std::string id, uint64_t blocks, uint64_t block_bytes, uint64_t seed,
             uint64_t odd_block = UINT64_MAX, uint64_t odd_bytes = 0, uint64_t group = 1)
      : id_(std::move(id)), seed_(seed), group_(group), offsets_(blocks + 1), decodes_(blocks) {
    for (uint64_t i = 0; i < blocks; ++i) {
      offsets_[i + 1] = offsets_[i] + (i == odd_block ? odd_bytes : block_bytes);
    }
  }

  // The byte at `offset` of the units' stream.
  uint8_t ByteAt(uint64_t offset) const {
    uint64_t x = (offset + 1) * 0x9E3779B97F4A7C15ull ^ (seed_ << 17);
    x ^= x >> 29;
    return static_cast<uint8_t>(x * 0xBF58476D1CE4E5B9ull >> 56);
  }
  // Block `i`'s bytes, as ReadBlock produces them.
  std::string Unit(uint64_t i) const {
    std::string out;
    for (uint64_t k = offsets_[i]; k < offsets_[i + 1]; ++k) out.push_back(ByteAt(k));
    return out;
  }

  uint64_t Size() const override { return offsets_.back(); }
  std::string Identity() const override { return id_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return offsets_.size() - 1; }
  BlockRange BlockRangeOf(uint64_t i) const override {
    ++layout_calls;
    if (i >= BlockCount()) return {Size(), 0};
    return {offsets_[i], offsets_[i + 1] - offsets_[i]};
  }
  uint64_t BlockOf(uint64_t offset) const override {
    ++layout_calls;
    auto it = std::upper_bound(offsets_.begin(), offsets_.end() - 1, offset);
    return static_cast<uint64_t>(it - offsets_.begin()) - 1;
  }
  Group GroupOf(uint64_t i) const override {
    if (group_ <= 1 || i >= BlockCount()) return Group{i, 1};
    const uint64_t first = i / group_ * group_;
    return Group{first, std::min(group_, BlockCount() - first)};
  }
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    if (group_ <= 1) return ByteSource::ReadGroup(i, emit);
    if (i >= BlockCount()) return Invalid("FrameUnits: bad block");
    const Group g = GroupOf(i);
    ++decodes;
    ++decodes_[g.first];
    for (uint64_t k = g.first; k < g.first + g.count; ++k) {
      std::string u = Unit(k);
      emit(k, Bytes(u.begin(), u.end()));
    }
    return Status::Ok();
  }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    ++decodes;
    if (i >= BlockCount() || out.size() != offsets_[i + 1] - offsets_[i]) {
      return Invalid("FrameUnits: bad block");
    }
    ++decodes_[i];
    for (uint64_t k = 0; k < out.size(); ++k) out[k] = ByteAt(offsets_[i] + k);
    return Status::Ok();
  }

  uint64_t decodes_of(uint64_t i) const { return decodes_[i].load(); }

  std::atomic<uint64_t> decodes{0};
  mutable std::atomic<uint64_t> layout_calls{0};

 private:
  std::string id_;
  uint64_t seed_;
  uint64_t group_;
  std::vector<uint64_t> offsets_;
  std::vector<std::atomic<uint64_t>> decodes_;
};

}  // namespace daqfs::testing
