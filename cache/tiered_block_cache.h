// TieredBlockCache: a fast cache over a slow one (memory over SSD). Get tries the upper tier,
// then the lower, and promotes a lower-tier hit into the upper tier. Put stores in both.
//
// Thread safety: as safe as its tiers (both are thread-safe).
#pragma once

#include "cache/block_cache.h"

namespace daqfs {

class TieredBlockCache final : public BlockCache {
 public:
  // Neither tier is owned; both must outlive this object.
  TieredBlockCache(BlockCache* upper, BlockCache* lower) : upper_(upper), lower_(lower) {}

  Block Get(const BlockKey& key) override {
    if (Block b = upper_->Get(key)) return b;
    Block b = lower_->Get(key);
    if (b) upper_->Put(key, b);
    return b;
  }
  void Put(const BlockKey& key, const Block& block) override {
    upper_->Put(key, block);
    lower_->Put(key, block);
  }
  // Only the upper tier counts: a block on the lower tier still costs I/O, so prefetching it
  // (promoting it ahead of the reader) is worth doing.
  bool Contains(const BlockKey& key) override { return upper_->Contains(key); }
  void Release(const BlockKey& key) override { upper_->Release(key); }

 private:
  BlockCache* upper_;
  BlockCache* lower_;
};

}  // namespace daqfs
