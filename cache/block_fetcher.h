// BlockFetcher: gets one decode unit, from a cache or from exactly one decode.
//
// A unit is block `index` of a source (fs/byte_source.h): the block itself for an ordinary
// source, or a unit of the units source a composed block names in PartsOf(). Units are cached
// under (units Identity(), index): the identity of the data, so a unit that backs several files
// is decoded and kept once. Concurrent requests for the same unit (or any sub-block of one decode
// group) share one decode (single flight): the first caller decodes, the others wait for its
// result. A decoded unit is put into the cache given by the caller (the one Put call site of the
// read path). Decoding happens in the calling thread, never under a lock.
//
// Thread safety: all methods are thread-safe. mu_ guards only the flight table.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/block_cache.h"
#include "fs/byte_source.h"
#include "fs/log.h"
#include "fs/metrics.h"

namespace daqfs {

class BlockFetcher {
 public:
  // `metrics` may be null.
  explicit BlockFetcher(Metrics* metrics);

  // Block `index` of `source` (whose Identity() is `identity`), from `cache` (may be null) or
  // decoded once. Decode errors are returned to every waiter and logged (rate limited).
  Result<Block> Fetch(ByteSource& source, const std::string& identity, uint64_t index,
                      BlockCache* cache);

  // For prefetch: puts block `index` into `cache` as Fetch does, but never waits for a decode
  // already under way (its result reaches the cache without this caller; a worker that waited
  // would hold a place in the decode pool doing nothing). Returns the block, or null if it was
  // left to that decode.
  Result<Block> Warm(ByteSource& source, const std::string& identity, uint64_t index,
                     BlockCache* cache);

  // Block `index` of `source` whole, whatever it is made of (PartsOf): a block that is exactly
  // one unit is that unit's cached bytes (no copy); a composed block is assembled into new
  // bytes from its units (each fetched as by Fetch, resident ones copied as they are) and
  // generated parts.
  Result<Block> FetchBlock(ByteSource& source, const std::string& identity, uint64_t index,
                           BlockCache* cache);

  // Counts decodes done outside Fetch (a reader's streaming cursor, cache = none).
  void CountDecodes(uint64_t n) { decodes_->Add(n); }

  uint64_t decodes() const { return decodes_->Get(); }

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status;
    Block block;
    std::vector<Block> group_blocks;  // every block of a multi-block decode group
  };

  Result<Block> Get(ByteSource& source, const std::string& identity, uint64_t index,
                    BlockCache* cache, bool join);

  // The one place a decoded unit enters a cache. `cost_seconds`: what decoding it took (the
  // SSD tier admits what is dearer to produce again than to read back).
  static void Store(BlockCache* cache, const BlockKey& key, const Block& block,
                    double cost_seconds);

  std::mutex mu_;  // guards flights_
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  Counter own_decodes_, own_errors_, own_joined_, own_left_;
  Counter* decodes_ = &own_decodes_;
  Counter* errors_ = &own_errors_;
  Counter* joined_ = &own_joined_;
  Counter* left_ = &own_left_;
  Histogram* decode_seconds_ = nullptr;
  RateLimitedLog error_log_;
};

}  // namespace daqfs
