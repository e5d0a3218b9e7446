#include "cache/tiered_block_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "cache/disk_block_cache.h"
#include "cache/memory_block_cache.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

Block MakeBlock(uint64_t seed, size_t size) {
  auto v = std::make_shared<Bytes>(size);
  for (size_t i = 0; i < size; ++i) (*v)[i] = static_cast<uint8_t>(seed + i);
  return v;
}

class TieredBlockCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_.path();
    opt_.dir = root_ + "/cache";
    opt_.budget_bytes = 1ull << 30;
  }
  void TearDown() override { disk_.reset(); }
  void OpenDisk() {
    auto d = DiskBlockCache::Open(opt_, nullptr);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    disk_ = std::move(d).value();
  }
  testing::TempDir temp_{"tiered"};  // removed with its content
  std::string root_;
  DiskCacheOptions opt_;
  std::unique_ptr<DiskBlockCache> disk_;
};

// cache = auto: cheap blocks stay off the SSD, and a scan's Release drops the RAM copy of
// both (the reader had the bytes; a cheap block is decoded again, a dear one read back from
// the SSD), so a scan recycles its memory instead of filling RAM. A fast and a slow source.
TEST_F(TieredBlockCacheTest, ByCostReleasesScannedBlocksFromRam) {
  OpenDisk();
  MemoryBlockCache memory(64 << 20, nullptr);
  TieredBlockCache tiered(&memory, disk_.get());
  tiered.Put(BlockKey{"fast", 1}, MakeBlock(1, 1 << 20), 0.0005);  // a 2 GB/s decode
  tiered.Put(BlockKey{"slow", 2}, MakeBlock(2, 1 << 20), 0.020);   // a 20 ms fetch
  disk_->Flush();
  EXPECT_FALSE(disk_->Contains(BlockKey{"fast", 1}));
  EXPECT_TRUE(disk_->Contains(BlockKey{"slow", 2}));
  EXPECT_FALSE(tiered.NeedsData(BlockKey{"fast", 1}));
  EXPECT_FALSE(tiered.NeedsData(BlockKey{"slow", 2}));
  tiered.Release(BlockKey{"fast", 1});
  tiered.Release(BlockKey{"slow", 2});
  EXPECT_FALSE(memory.Contains(BlockKey{"fast", 1}));  // cheaper to decode again
  EXPECT_FALSE(memory.Contains(BlockKey{"slow", 2}));  // the SSD has it
  EXPECT_FALSE(tiered.Get(BlockKey{"fast", 1}));
  EXPECT_TRUE(tiered.Get(BlockKey{"slow", 2}));  // promoted back from the SSD
  EXPECT_EQ(disk_->counters().hits, 1u);
}

// An admitted block whose SSD write is deferred (the queue is full; only a weak reference is
// kept) stays in RAM through a Release: the write still needs its data.
TEST_F(TieredBlockCacheTest, ReleaseKeepsTheDataOfADeferredWrite) {
  opt_.write_queue_bytes = 1 << 20;
  opt_.write_behind_quiet_ms = 3600 * 1000;  // the writer waits: the queue stays full
  OpenDisk();
  MemoryBlockCache memory(64 << 20, nullptr);
  TieredBlockCache tiered(&memory, disk_.get());
  tiered.Put(BlockKey{"slow", 1}, MakeBlock(1, 600 << 10), 0.020);  // queued
  tiered.Put(BlockKey{"slow", 2}, MakeBlock(2, 600 << 10), 0.020);  // deferred
  EXPECT_EQ(disk_->counters().deferred, 1u);
  EXPECT_FALSE(tiered.NeedsData(BlockKey{"slow", 1}));  // the queue holds its data
  EXPECT_TRUE(tiered.NeedsData(BlockKey{"slow", 2}));
  tiered.Release(BlockKey{"slow", 1});
  tiered.Release(BlockKey{"slow", 2});
  EXPECT_FALSE(memory.Contains(BlockKey{"slow", 1}));
  EXPECT_TRUE(memory.Contains(BlockKey{"slow", 2}));
  disk_->Flush();  // writes both (the deferred one's data is alive in RAM)
  EXPECT_TRUE(disk_->Contains(BlockKey{"slow", 1}));
  EXPECT_TRUE(disk_->Contains(BlockKey{"slow", 2}));
  EXPECT_FALSE(tiered.NeedsData(BlockKey{"slow", 2}));
  EXPECT_EQ(disk_->counters().dropped_writes, 0u);
}

// cache = disk: everything goes to the SSD, however cheap; a block whose SSD write was lost is
// written when it is read again from RAM.
TEST_F(TieredBlockCacheTest, KeepAllWritesEverythingAndRepairsLostWrites) {
  opt_.deferred_max = 0;  // a full queue drops (to exercise the repair)
  opt_.write_queue_bytes = 1 << 20;
  opt_.write_behind_quiet_ms = 3600 * 1000;
  OpenDisk();
  MemoryBlockCache memory(64 << 20, nullptr);
  TieredBlockCache tiered(&memory, disk_.get(), TieredBlockCache::Mode::kKeepAll);
  tiered.Put(BlockKey{"s", 1}, MakeBlock(1, 600 << 10), 0.0001);
  tiered.Put(BlockKey{"s", 2}, MakeBlock(2, 600 << 10), 0.0001);  // queue full: dropped
  EXPECT_EQ(disk_->counters().dropped_writes, 1u);
  disk_->Flush();
  EXPECT_TRUE(disk_->Contains(BlockKey{"s", 1}));
  EXPECT_FALSE(disk_->Contains(BlockKey{"s", 2}));
  ASSERT_TRUE(tiered.Get(BlockKey{"s", 2}));  // a RAM hit puts it to the SSD again
  disk_->Flush();
  EXPECT_TRUE(disk_->Contains(BlockKey{"s", 2}));
  EXPECT_EQ(disk_->counters().writes, 2u);
  EXPECT_EQ(disk_->counters().not_admitted, 0u);
}

}  // namespace
}  // namespace daqfs
