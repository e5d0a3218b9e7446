// BlockFetcher: gets one block of a source, from a cache or from exactly one decode.
//
// Concurrent requests for the same block (same source identity and index) share one decode
// (single flight): the first caller decodes, the others wait for its result. A decoded block is
// put into the cache given by the caller. Decoding happens in the calling thread, never under a
// lock.
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

  std::mutex mu_;  // guards flights_
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  Counter own_decodes_, own_errors_, own_joined_;
  Counter* decodes_ = &own_decodes_;
  Counter* errors_ = &own_errors_;
  Counter* joined_ = &own_joined_;
  Histogram* decode_seconds_ = nullptr;
  RateLimitedLog error_log_;
};

}  // namespace daqfs
