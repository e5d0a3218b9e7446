// TieredBlockCache: a fast cache over a slow one (memory over SSD). Get tries the upper tier,
// then the lower, and promotes a lower-tier hit into the upper tier. Put stores in both, handing
// the lower tier the block's cost so that it admits only what is dearer to produce again than
// to read back (DiskBlockCache).
//
// With Mode::kKeepAll (a source with cache = disk) every block is put into the lower tier as
// kMustKeep, and an upper-tier hit on a block the lower tier does not hold (its write was
// dropped: its data died before the write-behind queue reached it) puts it there again, so the
// lower tier ends up with everything that was read.
//
// Release (a sequential scan is done with a block) drops the block from the upper tier unless
// the lower tier still needs its data (a deferred write): the lower tier holds it, or did not
// admit it because it is cheaper to decode again than to read back. The scan's reader has its
// bytes in the kernel's page cache; the RAM goes to the next decodes instead of filling the
// memory tier with fresh pages (measured on a cold scan of 2000 HDF5 frames: 150-260 frames/s
// with every frame kept, 400-540 with the memory recycled).
//
// `upper` may be null (no memory tier): then this only applies the mode to the lower tier.
//
// Thread safety: as safe as its tiers (both are thread-safe).
#pragma once

#include "cache/block_cache.h"

namespace daqfs {

class TieredBlockCache final : public BlockCache {
 public:
  enum class Mode {
    kByCost,   // the lower tier admits by cost (cache = auto)
    kKeepAll,  // the lower tier keeps everything (cache = disk)
  };
  // Neither tier is owned; both must outlive this object. `lower` must not be null.
  TieredBlockCache(BlockCache* upper, BlockCache* lower, Mode mode = Mode::kByCost)
      : upper_(upper), lower_(lower), mode_(mode) {}

  Block Get(const BlockKey& key) override {
    if (upper_) {
      if (Block b = upper_->Get(key)) {
        if (mode_ == Mode::kKeepAll && !lower_->Contains(key)) lower_->Put(key, b, kMustKeep);
        return b;
      }
    }
    Block b = lower_->Get(key);
    if (b && upper_) upper_->Put(key, b);
    return b;
  }
  void Put(const BlockKey& key, const Block& block, double cost_seconds = kUnknownCost) override {
    // The lower tier first: a Release racing with this Put then sees a deferred write's need.
    lower_->Put(key, block, mode_ == Mode::kKeepAll ? kMustKeep : cost_seconds);
    if (upper_) upper_->Put(key, block, cost_seconds);
  }
  // Only the upper tier counts: a block on the lower tier still costs I/O, so prefetching it
  // (promoting it ahead of the reader) is worth doing.
  bool Contains(const BlockKey& key) override {
    return upper_ ? upper_->Contains(key) : lower_->Contains(key);
  }
  void Release(const BlockKey& key) override {
    if (upper_ && !lower_->NeedsData(key)) upper_->Release(key);
  }
  bool NeedsData(const BlockKey& key) override { return lower_->NeedsData(key); }

 private:
  BlockCache* upper_;
  BlockCache* lower_;
  Mode mode_;
};

}  // namespace daqfs
