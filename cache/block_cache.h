// BlockCache: where decoded blocks are kept between reads.
//
// A block is named by its source's Identity() (which changes whenever the content can) and its
// index in the source's block layout. Blocks are immutable and shared: a Get hands out a
// reference to the same bytes every concurrent reader sees. A miss is not an error; Put is best
// effort (a cache may drop anything, at any time, and must never fail a read).
//
// Implementations: MemoryBlockCache (sharded LRU, byte budget), DiskBlockCache (SSD folder,
// byte budget, survives restarts, checksummed), TieredBlockCache (memory over disk).
//
// Thread safety: every implementation is safe for concurrent use.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fs/byte_source.h"

namespace daqfs {

struct BlockKey {
  std::string source;  // ByteSource::Identity()
  uint64_t index = 0;  // block index in the source

  // "source\nindex": the full key as stored in memory maps and disk block headers.
  std::string Serialize() const;
  // 64-bit XXH3 of Serialize(): shards and file names.
  uint64_t Hash() const;
};

using Block = std::shared_ptr<const Bytes>;

// What producing a block again would cost, in seconds (decode plus fetch, measured by whoever
// produced it), handed to Put so a slow tier can admit only what is dearer to produce than to
// read back. kUnknownCost: not measured (admitted); kMustKeep: the source asked for this tier
// (cache = disk), always admitted and never dropped while its data lives.
inline constexpr double kUnknownCost = -1.0;
inline constexpr double kMustKeep = std::numeric_limits<double>::infinity();

// Metrics of the tiers: one family per figure, the tier in a label (tier="memory" | "ssd"), so a
// dashboard or the .daqfs/stats table puts the tiers side by side. The HELP texts live here once.
inline constexpr const char* kCacheHitsHelp = "Block cache lookups that found the block, by tier";
inline constexpr const char* kCacheMissesHelp =
    "Block cache lookups that did not find a valid block, by tier";
inline constexpr const char* kCacheEvictionsHelp = "Blocks evicted to stay within the budget";
inline constexpr const char* kCacheInsertsHelp = "Blocks stored in the tier (for ssd: written)";
inline constexpr const char* kCacheInsertedBytesHelp =
    "Block data bytes stored in the tier (for ssd: written)";
inline constexpr const char* kCacheReadBytesHelp = "Block data bytes served from the tier";
inline constexpr const char* kCacheBytesHelp = "Block data bytes held by the tier";
inline constexpr const char* kCacheBlocksHelp = "Blocks held by the tier";
inline constexpr const char* kCacheBudgetHelp = "Byte budget of the tier";
inline constexpr const char* kCacheQueueHitsHelp =
    "Lookups served from the SSD write queue (memory), not from disk";
inline constexpr const char* kCacheNotAdmittedHelp =
    "Blocks not written to the SSD: cheaper to decode again than to read back";
inline constexpr const char* kCacheDeferredHelp =
    "Blocks whose SSD write was deferred because the write queue was full";

class BlockCache {
 public:
  virtual ~BlockCache() = default;
  // The block, or nullptr on a miss.
  virtual Block Get(const BlockKey& key) = 0;
  // Stores a block (best effort). `cost_seconds`: see kUnknownCost / kMustKeep.
  virtual void Put(const BlockKey& key, const Block& block, double cost_seconds = kUnknownCost) = 0;
  // True if Get would probably hit without slow I/O (no statistics); used to skip needless
  // prefetches. A tiered cache answers for its fast tier only.
  virtual bool Contains(const BlockKey& key) = 0;
  // Forgets a block in the fast tier (RAM) only, keeping slower tiers: a hint that the block's
  // reader has it and will not come back for it (a sequential scan). Default: nothing.
  virtual void Release(const BlockKey& key) { (void)key; }
  // True when this cache still needs the block's data kept alive by its other holders (an SSD
  // write deferred with only a weak reference). Default: false.
  virtual bool NeedsData(const BlockKey& key) {
    (void)key;
    return false;
  }
};

}  // namespace daqfs
