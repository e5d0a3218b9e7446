#include "cache/block_fetcher.h"

#include <chrono>
#include <cstring>
#include <optional>

#include "cache/work_timer.h"

namespace daqfs {

BlockFetcher::BlockFetcher(Metrics* metrics) {
  if (!metrics) return;
  decodes_ = &metrics->AddCounter("daqfs_decodes_total", "Blocks decoded (cache misses served)");
  errors_ = &metrics->AddCounter("daqfs_decode_errors_total", "Block decodes that failed");
  joined_ = &metrics->AddCounter("daqfs_decode_shared_total",
                                 "Requests that waited for a decode already under way");
  left_ = &metrics->AddCounter("daqfs_prefetch_left_to_decode_total",
                               "Prefetches of a unit another thread was decoding (not waited for)");
  decode_seconds_ = &metrics->AddHistogram("daqfs_decode_seconds", "Time to decode one block");
}

Result<Block> BlockFetcher::Fetch(ByteSource& source, const std::string& identity, uint64_t index,
                                  BlockCache* cache) {
  return Get(source, identity, index, cache, true);
}

Result<Block> BlockFetcher::Warm(ByteSource& source, const std::string& identity, uint64_t index,
                                 BlockCache* cache) {
  return Get(source, identity, index, cache, false);
}

Result<Block> BlockFetcher::Get(ByteSource& source, const std::string& identity, uint64_t index,
                                BlockCache* cache, bool join) {
  BlockKey key{identity, index};
  const uint64_t want_len = source.BlockRangeOf(index).length;
  if (cache) {
    // A cached block of another length was cut by another layout: a miss.
    if (Block b = cache->Get(key); b && b->size() == want_len) return b;
  }
  // One flight per decode group: a reader of any sub-block of a huge frame waits for the one
  // streaming decode that fills them all.
  ByteSource::Group group = source.GroupOf(index);
  std::string k = BlockKey{identity, group.first}.Serialize();
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flights_.find(k);
    if (it != flights_.end()) {
      if (!join) {
        left_->Add();
        return Block();
      }
      flight = it->second;
    } else {
      flight = std::make_shared<Flight>();
      flights_.emplace(k, flight);
      leader = true;
    }
  }
  if (!leader) {
    joined_->Add();
    std::unique_lock<std::mutex> lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->done; });
    if (!flight->status.ok()) return flight->status;
    if (group.count == 1) return flight->block;
    if (index - group.first < flight->group_blocks.size() &&
        flight->group_blocks[index - group.first]) {
      return flight->group_blocks[index - group.first];
    }
    // Its sub-block was decoded but not kept for waiters: it is in the cache, or (evicted
    // already) decoded again.
    return Fetch(source, identity, index, cache);
  }

  // A decode that finished between our cache miss and our flight registration left its block
  // in the cache: look once more before decoding again.
  Block block = group.count == 1 && cache && cache->Contains(key) ? cache->Get(key) : nullptr;
  if (block && block->size() != want_len) block = nullptr;
  Status status;
  std::vector<Block> group_blocks;
  if (!block) try {
      auto start = std::chrono::steady_clock::now();
      // The cost the SSD tier weighs: the decode's time less any wait for a CPU.
      WorkTimer work;
      if (group.count == 1) {
        BlockRange r = source.BlockRangeOf(index);
        auto buf = std::make_shared<Bytes>(r.length);
        status = source.ReadBlock(index, *buf);
        if (status.ok()) block = std::move(buf);
      } else {
        group_blocks.resize(group.count);
        WorkTimer lap;
        status = source.ReadGroup(index, [&](uint64_t i, Bytes&& bytes) {
          if (i < group.first || i - group.first >= group.count) return;
          auto b = std::make_shared<const Bytes>(std::move(bytes));
          // A sub-block's cost: the decode time since the previous one.
          Store(cache, BlockKey{identity, i}, b, lap.Lap());
          // With a cache, only the caller's block is held here (a group can be gigabytes);
          // waiters for other sub-blocks find theirs in the cache.
          if (!cache || i == index) group_blocks[i - group.first] = std::move(b);
        });
        if (status.ok()) {
          block = group_blocks[index - group.first];
          if (!block)
            status = Corrupt(identity + ": decode produced no block " + std::to_string(index));
        }
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      decodes_->Add();
      if (decode_seconds_) decode_seconds_->Observe(secs);
      if (status.ok()) {
        if (group.count == 1) Store(cache, key, block, work.Seconds());
      } else {
        block = nullptr;
        errors_->Add();
        error_log_.Log(LogLevel::kError, "block " + std::to_string(index) + " of " + identity +
                                             ": " + status.ToString());
      }
    } catch (const std::bad_alloc&) {
      block = nullptr;
      status =
          Status(Code::kNoMemory, "decoding block " + std::to_string(index) + " of " + identity);
    } catch (const std::exception& e) {
      block = nullptr;
      status =
          IoError("decoding block " + std::to_string(index) + " of " + identity + ": " + e.what());
    }
  {
    std::lock_guard<std::mutex> lock(mu_);
    flights_.erase(k);
  }
  {
    std::lock_guard<std::mutex> lock(flight->mu);
    flight->done = true;
    flight->status = status;
    flight->block = block;
    flight->group_blocks = std::move(group_blocks);
  }
  flight->cv.notify_all();
  if (!status.ok()) return status;
  return block;
}

void BlockFetcher::Store(BlockCache* cache, const BlockKey& key, const Block& block,
                         double cost_seconds) {
  if (cache) cache->Put(key, block, cost_seconds);
}

Result<Block> BlockFetcher::FetchBlock(ByteSource& source, const std::string& identity,
                                       uint64_t index, BlockCache* cache) {
  std::vector<BlockPart> parts = source.PartsOf(index);
  const uint64_t want = source.BlockRangeOf(index).length;
  if (parts.empty()) {
    if (std::optional<ByteSource::Resident> r = source.ResidentBlock(index)) {
      // Resident bytes are copied (never decoded, never cached).
      if (r->bytes.size() != want) return Corrupt(identity + ": resident block of another size");
      return Block(std::make_shared<Bytes>(r->bytes.begin(), r->bytes.end()));
    }
    return Fetch(source, identity, index, cache);
  }
  std::vector<Block> units(parts.size());
  std::vector<ByteSource::Resident> resident(parts.size());
  std::vector<const uint8_t*> from(parts.size(), nullptr);
  for (size_t i = 0; i < parts.size(); ++i) {
    const BlockPart& p = parts[i];
    if (!p.units) {
      from[i] = p.bytes->data();
      continue;
    }
    if (std::optional<ByteSource::Resident> r = p.units->ResidentBlock(p.unit)) {
      if (r->bytes.size() < p.offset + p.length) {
        return Corrupt(identity + ": unit " + std::to_string(p.unit) + " is shorter than its part");
      }
      resident[i] = std::move(*r);  // keeps the bytes until they are copied below
      from[i] = resident[i].bytes.data();
      continue;
    }
    Result<Block> u = Fetch(*p.units, p.units->Identity(), p.unit, cache);
    if (!u.ok()) return u.status();
    if ((*u)->size() < p.offset + p.length) {
      return Corrupt(identity + ": unit " + std::to_string(p.unit) + " is shorter than its part");
    }
    if (parts.size() == 1 && p.offset == 0 && p.length == (*u)->size() && p.length == want) {
      return *u;  // the block is one whole unit: no copy
    }
    units[i] = std::move(*u);
    from[i] = units[i]->data();
  }
  auto out = std::make_shared<Bytes>(want);
  uint64_t done = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const BlockPart& p = parts[i];
    if (done + p.length > want) return Corrupt(identity + ": parts longer than their block");
    std::memcpy(out->data() + done, from[i] + p.offset, p.length);
    done += p.length;
  }
  if (done != want) return Corrupt(identity + ": parts shorter than their block");
  return Block(std::move(out));
}

}  // namespace daqfs
