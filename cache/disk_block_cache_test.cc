#include "cache/disk_block_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <vector>

#include "fs/metrics.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

namespace stdfs = std::filesystem;

constexpr size_t kHeader = 40;

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Deterministic content for `seed`.
Block MakeBlock(uint64_t seed, size_t size) {
  auto v = std::make_shared<Bytes>(size);
  uint64_t x = seed * 7919 + 1;
  for (size_t i = 0; i < size; i += 8) {
    uint64_t r = SplitMix(x);
    for (size_t j = 0; j < 8 && i + j < size; ++j) (*v)[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  return v;
}

BlockKey Key(uint64_t i, const std::string& source = "803:1a2b:1048576:1700000000.0:/run1.h5") {
  return BlockKey{source, i};
}

std::string HashName(uint64_t hash, uint64_t len) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 ".%" PRIu64, hash, len);
  return buf;
}

bool SameBytes(const Block& a, const Block& b) { return a && b && *a == *b; }

size_t CountEntries(const std::string& dir) {
  std::error_code ec;
  auto it = stdfs::directory_iterator(dir, ec);
  if (ec) return 0;
  return static_cast<size_t>(std::distance(it, stdfs::directory_iterator()));
}

class DiskBlockCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_.path();
    dir_ = root_ + "/cache";
    opt_.dir = dir_;
    opt_.budget_bytes = 1ull << 30;
    opt_.retry_after_error_ms = 50;
  }

  void TearDown() override {
    cache_.reset();  // before unmounting: it holds the lock file open
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      if (umount2(it->c_str(), 0) != 0) umount2(it->c_str(), MNT_DETACH);
    }
    std::error_code ec;
    stdfs::remove_all(root_, ec);
  }

  std::unique_ptr<DiskBlockCache> OpenCache(Metrics* metrics = nullptr) {
    auto r = DiskBlockCache::Open(opt_, metrics);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  std::string BlockPath(const BlockKey& key, uint64_t len) const {
    uint64_t h = key.Hash();
    char shard[3];
    std::snprintf(shard, sizeof shard, "%02x", static_cast<unsigned>(h >> 56));
    return dir_ + "/v1/blocks/" + shard + "/" + HashName(h, len);
  }

  // Mounts a tmpfs at `path` (created); false if this environment cannot mount.
  bool MountTmpfs(const std::string& path, const char* options) {
    stdfs::create_directories(path);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0, options) != 0) return false;
    mounts_.push_back(path);
    return true;
  }

  testing::TempDir temp_{"diskcache"};
  std::string root_, dir_;
  DiskCacheOptions opt_;
  std::unique_ptr<DiskBlockCache> cache_;
  std::vector<std::string> mounts_;
};

TEST(BlockKeyTest, SerializeAndHash) {
  BlockKey k{"src", 7};
  EXPECT_EQ(k.Serialize(), "src\n7");
  EXPECT_EQ(k.Hash(), XXH3_64bits("src\n7", 5));
  EXPECT_NE(k.Hash(), (BlockKey{"src", 8}.Hash()));
  EXPECT_NE((BlockKey{"a\n1", 2}.Serialize()), (BlockKey{"a", 12}.Serialize()));
}

TEST_F(DiskBlockCacheTest, RoundTrip) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  const size_t sizes[] = {0, 1, 4096, (1 << 20) + 3};
  for (size_t i = 0; i < 4; ++i) cache_->Put(Key(i), MakeBlock(i, sizes[i]));
  for (size_t i = 0; i < 4; ++i) {  // from the queue or from disk
    EXPECT_TRUE(SameBytes(cache_->Get(Key(i)), MakeBlock(i, sizes[i]))) << i;
  }
  cache_->Flush();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(cache_->Contains(Key(i)));
    EXPECT_TRUE(SameBytes(cache_->Get(Key(i)), MakeBlock(i, sizes[i]))) << i;
    struct stat st;
    ASSERT_EQ(stat(BlockPath(Key(i), sizes[i]).c_str(), &st), 0) << i;
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kHeader + Key(i).Serialize().size() + sizes[i]);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_EQ(cache_->Get(Key(99)), nullptr);
  EXPECT_FALSE(cache_->Contains(Key(99)));

  auto c = cache_->counters();
  EXPECT_EQ(c.writes, 4u);
  EXPECT_EQ(c.bytes_written, 4097u + (1 << 20) + 3);
  EXPECT_EQ(c.blocks, 4u);
  EXPECT_EQ(c.bytes, 4097u + (1 << 20) + 3);
  EXPECT_EQ(c.hits + c.queue_hits, 8u);  // the first four: from the queue or from disk
  EXPECT_GE(c.hits, 4u);
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.errors, 0u);
  EXPECT_EQ(c.checksum_failures, 0u);

  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(CountEntries(dir_ + "/v1/tmp"), 0u);
}

TEST_F(DiskBlockCacheTest, ExistingFolderKeepsItsMode) {
  stdfs::create_directories(dir_);
  chmod(dir_.c_str(), 0755);
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST_F(DiskBlockCacheTest, PutOfAPresentBlockWritesOnce) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (int round = 0; round < 3; ++round) {
    cache_->Put(Key(1), MakeBlock(1, 1000));
    cache_->Flush();
  }
  auto before = cache_->counters();
  EXPECT_EQ(before.writes, 1u);
  EXPECT_TRUE(cache_->Contains(Key(1)));  // no statistics
  auto after = cache_->counters();
  EXPECT_EQ(after.hits, before.hits);
  EXPECT_EQ(after.misses, before.misses);
}

TEST_F(DiskBlockCacheTest, SurvivesRestart) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 20; ++i) cache_->Put(Key(i), MakeBlock(i, 1000 + i));
  cache_.reset();  // drains the queue

  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(cache_->counters().blocks, 20u);
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_TRUE(SameBytes(cache_->Get(Key(i)), MakeBlock(i, 1000 + i))) << i;
  }
  auto c = cache_->counters();
  EXPECT_EQ(c.hits, 20u);
  EXPECT_EQ(c.writes, 0u);
  EXPECT_EQ(c.bytes_read, 20u * 1000 + 190);
}

TEST_F(DiskBlockCacheTest, LruOrderIsRestored) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 20; ++i) {
    cache_->Put(Key(i), MakeBlock(i, 1000));
    cache_->Flush();
  }
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(cache_->Get(Key(i)));
  cache_.reset();  // saves the order: oldest 3..19, then 0, 1, 2

  opt_.budget_bytes = 10000;
  opt_.low_watermark = 0.9;  // keep 9 blocks
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  auto c = cache_->counters();
  EXPECT_EQ(c.blocks, 9u);
  EXPECT_EQ(c.bytes, 9000u);
  EXPECT_EQ(c.evictions, 11u);
  std::set<uint64_t> kept = {0, 1, 2, 14, 15, 16, 17, 18, 19};
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(cache_->Contains(Key(i)), kept.count(i) == 1) << i;
    EXPECT_EQ(stdfs::exists(BlockPath(Key(i), 1000)), kept.count(i) == 1) << i;
  }
}

TEST_F(DiskBlockCacheTest, BlocksMissingFromTheSavedOrderCountAsNewest) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 10; ++i) {
    cache_->Put(Key(i), MakeBlock(i, 1000));
    cache_->Flush();
  }
  cache_->SaveLru();
  std::string saved;
  {
    std::ifstream in(dir_ + "/v1/lru", std::ios::binary);
    saved.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(saved.size(), 80u);
  for (uint64_t i = 10; i < 15; ++i) cache_->Put(Key(i), MakeBlock(i, 1000));
  cache_.reset();
  {
    // As if the daemon had been killed before saving again, plus a torn tail.
    std::ofstream out(dir_ + "/v1/lru", std::ios::binary | std::ios::trunc);
    out << saved << "xyz";
  }
  opt_.budget_bytes = 5000;
  opt_.low_watermark = 1.0;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(cache_->counters().blocks, 5u);
  for (uint64_t i = 0; i < 15; ++i) EXPECT_EQ(cache_->Contains(Key(i)), i >= 10) << i;
}

TEST_F(DiskBlockCacheTest, GarbageLruFileIsTolerated) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 10; ++i) cache_->Put(Key(i), MakeBlock(i, 100));
  cache_.reset();
  {
    std::ofstream out(dir_ + "/v1/lru", std::ios::binary | std::ios::trunc);
    for (int i = 0; i < 1001; ++i) out.put(static_cast<char>(i * 37));
  }
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(cache_->counters().blocks, 10u);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_TRUE(SameBytes(cache_->Get(Key(i)), MakeBlock(i, 100)));
}

TEST_F(DiskBlockCacheTest, EvictsLeastRecentlyUsedDownToTheLowWatermark) {
  opt_.budget_bytes = 10000;
  opt_.low_watermark = 0.5;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 10; ++i) {
    cache_->Put(Key(i), MakeBlock(i, 1000));
    cache_->Flush();
  }
  auto c = cache_->counters();
  EXPECT_EQ(c.blocks, 10u);  // exactly at the budget: nothing evicted
  EXPECT_EQ(c.evictions, 0u);
  ASSERT_TRUE(cache_->Get(Key(0)));  // now the most recent but one after the next Put

  cache_->Put(Key(10), MakeBlock(10, 1000));
  cache_->Flush();
  c = cache_->counters();
  EXPECT_EQ(c.evictions, 6u);
  EXPECT_EQ(c.blocks, 5u);
  EXPECT_EQ(c.bytes, 5000u);
  std::set<uint64_t> kept = {0, 7, 8, 9, 10};
  for (uint64_t i = 0; i <= 10; ++i) {
    EXPECT_EQ(cache_->Contains(Key(i)), kept.count(i) == 1) << i;
    EXPECT_EQ(stdfs::exists(BlockPath(Key(i), 1000)), kept.count(i) == 1) << i;
  }
  EXPECT_EQ(cache_->Get(Key(1)), nullptr);

  // A block that could never stay is not written at all.
  cache_->Put(Key(11), MakeBlock(11, 6000));
  cache_->Flush();
  EXPECT_EQ(cache_->counters().dropped_writes, 1u);
  EXPECT_FALSE(cache_->Contains(Key(11)));
}

enum class Damage {
  kDataByte,
  kMagic,
  kKeyLength,
  kDataLength,
  kDataChecksum,
  kHeaderChecksum,
  kKeyByte,
  kTruncated,
  kTooLong,
  kEmpty,
  kGarbage,
};

void DamageFile(const std::string& path, Damage d) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  auto flip = [&](std::streamoff at) {
    f.seekg(at);
    char c = static_cast<char>(f.get());
    f.seekp(at);
    f.put(static_cast<char>(c ^ 0x10));
  };
  uint64_t size = stdfs::file_size(path);
  switch (d) {
    case Damage::kDataByte:
      flip(static_cast<std::streamoff>(size - 100));
      break;
    case Damage::kMagic:
      flip(3);
      break;
    case Damage::kKeyLength:
      flip(8);
      break;
    case Damage::kDataLength:
      flip(17);
      break;
    case Damage::kDataChecksum:
      flip(26);
      break;
    case Damage::kHeaderChecksum:
      flip(39);
      break;
    case Damage::kKeyByte:
      flip(41);
      break;
    case Damage::kTruncated:
      f.close();
      stdfs::resize_file(path, size - 1);
      break;
    case Damage::kTooLong:
      f.close();
      stdfs::resize_file(path, size + 1);
      break;
    case Damage::kEmpty:
      f.close();
      stdfs::resize_file(path, 0);
      break;
    case Damage::kGarbage: {
      f.seekp(0);
      uint64_t x = 42;
      for (uint64_t i = 0; i < size; ++i) f.put(static_cast<char>(SplitMix(x)));
      break;
    }
  }
}

TEST_F(DiskBlockCacheTest, DamagedBlockFilesAreDroppedAndCounted) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  const Damage all[] = {Damage::kDataByte,   Damage::kMagic,        Damage::kKeyLength,
                        Damage::kDataLength, Damage::kDataChecksum, Damage::kHeaderChecksum,
                        Damage::kKeyByte,    Damage::kTruncated,    Damage::kTooLong,
                        Damage::kEmpty,      Damage::kGarbage};
  uint64_t failures = 0;
  for (size_t n = 0; n < std::size(all); ++n) {
    BlockKey key = Key(100 + n);
    Block block = MakeBlock(n, 5000);
    cache_->Put(key, block);
    cache_->Flush();
    std::string path = BlockPath(key, 5000);
    ASSERT_TRUE(stdfs::exists(path)) << n;
    DamageFile(path, all[n]);
    EXPECT_EQ(cache_->Get(key), nullptr) << "damage " << n;
    EXPECT_FALSE(stdfs::exists(path)) << n;
    EXPECT_FALSE(cache_->Contains(key)) << n;
    EXPECT_EQ(cache_->counters().checksum_failures, ++failures) << n;
    cache_->Put(key, block);  // decoded again by the caller
    cache_->Flush();
    EXPECT_TRUE(SameBytes(cache_->Get(key), block)) << n;
  }
  EXPECT_EQ(cache_->counters().errors, 0u);
  EXPECT_EQ(cache_->counters().blocks, std::size(all));
}

TEST_F(DiskBlockCacheTest, BlockFileOfAnotherKeyIsDropped) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 3000));
  cache_->Put(Key(2), MakeBlock(2, 3000));
  cache_->Flush();
  ASSERT_EQ(rename(BlockPath(Key(1), 3000).c_str(), BlockPath(Key(2), 3000).c_str()), 0);
  EXPECT_EQ(cache_->Get(Key(2)), nullptr);
  EXPECT_FALSE(stdfs::exists(BlockPath(Key(2), 3000)));
  EXPECT_EQ(cache_->counters().checksum_failures, 1u);
  EXPECT_EQ(cache_->Get(Key(1)), nullptr);  // its file is gone: a plain miss
  EXPECT_EQ(cache_->counters().checksum_failures, 1u);
  EXPECT_EQ(cache_->counters().errors, 0u);
  EXPECT_EQ(cache_->counters().blocks, 0u);

  // The same through a restart: a file renamed to a name that was never written.
  cache_->Put(Key(3), MakeBlock(3, 3000));
  cache_.reset();
  stdfs::create_directories(stdfs::path(BlockPath(Key(4), 3000)).parent_path());
  ASSERT_EQ(rename(BlockPath(Key(3), 3000).c_str(), BlockPath(Key(4), 3000).c_str()), 0);
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_TRUE(cache_->Contains(Key(4)));  // names are trusted until read
  EXPECT_EQ(cache_->Get(Key(4)), nullptr);
  EXPECT_EQ(cache_->counters().checksum_failures, 1u);
  EXPECT_FALSE(stdfs::exists(BlockPath(Key(4), 3000)));
}

TEST_F(DiskBlockCacheTest, HugeLengthInANameIsCheckedBeforeAllocating) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_.reset();
  std::string path = BlockPath(Key(7), 100ull << 30);  // claims 100 GiB
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path) << "tiny";
  opt_.budget_bytes = 1ull << 50;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(cache_->counters().bytes, 100ull << 30);
  EXPECT_EQ(cache_->Get(Key(7)), nullptr);
  EXPECT_EQ(cache_->counters().checksum_failures, 1u);
  EXPECT_EQ(cache_->counters().blocks, 0u);
  EXPECT_FALSE(stdfs::exists(path));
}

TEST_F(DiskBlockCacheTest, OpenRemovesTempFilesAndForeignNames) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 100));
  cache_.reset();
  std::string v1 = dir_ + "/v1";
  std::ofstream(v1 + "/tmp/123-4") << "partial";
  std::ofstream(v1 + "/tmp/lru-123-5") << "partial";
  stdfs::create_directories(v1 + "/tmp/odd/deeper");
  std::ofstream(v1 + "/tmp/odd/deeper/x") << "x";
  std::ofstream(v1 + "/blocks/zz") << "x";
  std::ofstream(v1 + "/blocks/readme.txt") << "x";
  stdfs::create_directories(v1 + "/blocks/ab");
  std::ofstream(v1 + "/blocks/ab/not-a-block") << "x";
  std::ofstream(v1 + "/blocks/ab/cd00000000000000.10") << "x";   // wrong shard
  std::ofstream(v1 + "/blocks/ab/ab00000000000000.010") << "x";  // not canonical
  std::ofstream(v1 + "/blocks/ab/AB00000000000000.10") << "x";   // upper case
  std::ofstream(v1 + "/blocks/ab/ab00000000000000.") << "x";
  auto summary = SummarizeDiskCache(dir_);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->temp_files, 3u);

  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(CountEntries(v1 + "/tmp"), 0u);
  EXPECT_FALSE(stdfs::exists(v1 + "/blocks/zz"));
  EXPECT_FALSE(stdfs::exists(v1 + "/blocks/readme.txt"));
  EXPECT_EQ(CountEntries(v1 + "/blocks/ab"), 0u);
  EXPECT_EQ(cache_->counters().blocks, 1u);
  EXPECT_TRUE(SameBytes(cache_->Get(Key(1)), MakeBlock(1, 100)));
}

TEST_F(DiskBlockCacheTest, SecondOpenOfTheSameFolderFails) {
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  auto second = DiskBlockCache::Open(opt_, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  const std::string& msg = second.status().message();
  EXPECT_NE(msg.find("in use"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir_), std::string::npos) << msg;
  EXPECT_NE(msg.find("pid " + std::to_string(getpid())), std::string::npos) << msg;
  cache_.reset();
  EXPECT_TRUE(DiskBlockCache::Open(opt_, nullptr).ok());
}

TEST_F(DiskBlockCacheTest, UncreatableFolderFailsWithItsName) {
  std::ofstream(root_ + "/file") << "x";
  opt_.dir = root_ + "/file/cache";
  auto r = DiskBlockCache::Open(opt_, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(opt_.dir), std::string::npos) << r.status().ToString();
}

TEST_F(DiskBlockCacheTest, FullDiskDropsWritesButKeepsServing) {
  std::string mnt = root_ + "/small";
  if (!MountTmpfs(mnt, "size=2m,mode=0700")) GTEST_SKIP() << "cannot mount a tmpfs here";
  opt_.dir = dir_ = mnt + "/cache";
  opt_.retry_after_error_ms = 20;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  std::vector<uint64_t> fit;
  for (uint64_t i = 0; i < 32; ++i) {
    uint64_t before = cache_->counters().writes;
    cache_->Put(Key(i), MakeBlock(i, 256 << 10));
    cache_->Flush();
    if (cache_->counters().writes > before) fit.push_back(i);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // past the pause
  }
  auto c = cache_->counters();
  EXPECT_GE(c.errors, 1u);
  EXPECT_FALSE(fit.empty());
  EXPECT_LT(fit.size(), 32u);
  for (uint64_t i : fit) EXPECT_TRUE(SameBytes(cache_->Get(Key(i)), MakeBlock(i, 256 << 10))) << i;
  EXPECT_EQ(cache_->Get(Key(31)), nullptr);
  EXPECT_EQ(CountEntries(dir_ + "/v1/tmp"), 0u);  // failed temp files are removed
  EXPECT_EQ(cache_->counters().checksum_failures, 0u);
  cache_.reset();
}

TEST_F(DiskBlockCacheTest, ReadOnlyFolderCountsErrorsAndKeepsServing) {
  std::string mnt = root_ + "/ro";
  if (!MountTmpfs(mnt, "size=16m,mode=0700")) GTEST_SKIP() << "cannot mount a tmpfs here";
  opt_.dir = dir_ = mnt + "/cache";
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 5000));
  cache_->Flush();
  ASSERT_EQ(mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  cache_->Put(Key(2), MakeBlock(2, 5000));
  cache_->Flush();
  auto c = cache_->counters();
  EXPECT_GE(c.errors, 1u);
  EXPECT_EQ(c.writes, 1u);
  EXPECT_TRUE(SameBytes(cache_->Get(Key(1)), MakeBlock(1, 5000)));
  EXPECT_EQ(cache_->Get(Key(2)), nullptr);
  cache_.reset();  // its last SaveLru fails too: counted, logged, harmless
}

TEST_F(DiskBlockCacheTest, VanishedFolderIsCreatedAgainAfterThePause) {
  opt_.retry_after_error_ms = 50;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 1000));
  cache_->Flush();
  stdfs::remove_all(dir_);

  cache_->Put(Key(2), MakeBlock(2, 1000));
  cache_->Flush();
  EXPECT_GE(cache_->counters().errors, 1u);
  EXPECT_EQ(cache_->Get(Key(1)), nullptr);  // its file went with the folder
  EXPECT_EQ(cache_->Get(Key(2)), nullptr);

  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  cache_->Put(Key(3), MakeBlock(3, 1000));
  cache_->Flush();
  EXPECT_TRUE(SameBytes(cache_->Get(Key(3)), MakeBlock(3, 1000)));
  EXPECT_TRUE(stdfs::exists(BlockPath(Key(3), 1000)));
  auto c = cache_->counters();
  EXPECT_EQ(c.writes, 2u);
  EXPECT_EQ(c.blocks, 1u);
  EXPECT_EQ(c.bytes, 1000u);
  cache_.reset();
  EXPECT_TRUE(stdfs::exists(dir_ + "/v1/lru"));
  // The re-created folder is locked again and usable by the next daemon.
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_TRUE(SameBytes(cache_->Get(Key(3)), MakeBlock(3, 1000)));
}

TEST_F(DiskBlockCacheTest, OpenOfOneHundredThousandBlocksReadsNoBlockFile) {
  constexpr int kBlocks = 100000;
  std::string blocks = dir_ + "/v1/blocks";
  for (unsigned s = 0; s < 256; ++s) {
    char name[3];
    std::snprintf(name, sizeof name, "%02x", s);
    stdfs::create_directories(blocks + "/" + name);
  }
  uint64_t x = 1, total = 0;
  for (int i = 0; i < kBlocks; ++i) {
    uint64_t hash = SplitMix(x);
    uint64_t len = 1 + hash % 100000;
    total += len;
    char shard[3];
    std::snprintf(shard, sizeof shard, "%02x", static_cast<unsigned>(hash >> 56));
    // Empty files: Open must not look inside them.
    std::string path = blocks + "/" + shard + "/" + HashName(hash, len);
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  opt_.budget_bytes = 1ull << 40;
  for (int round = 0; round < 2; ++round) {  // without, then with a saved LRU order
    auto start = std::chrono::steady_clock::now();
    cache_ = OpenCache();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(cache_);
    std::printf("Open of %d blocks (%s LRU file): %.3f s\n", kBlocks, round ? "with" : "without",
                seconds);
    RecordProperty(round ? "open_seconds_with_lru" : "open_seconds", std::to_string(seconds));
    auto c = cache_->counters();
    EXPECT_EQ(c.blocks, static_cast<uint64_t>(kBlocks));
    EXPECT_EQ(c.bytes, total);
    EXPECT_EQ(c.checksum_failures, 0u);
    cache_.reset();
  }
  auto summary = SummarizeDiskCache(dir_);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->blocks, static_cast<uint64_t>(kBlocks));
  EXPECT_EQ(summary->bytes, total);
}

TEST_F(DiskBlockCacheTest, ConcurrentPutAndGet) {
  constexpr uint64_t kKeys = 300;
  auto size_of = [](uint64_t k) { return static_cast<size_t>(1000 + (k * 977) % 7000); };
  opt_.budget_bytes = 400000;  // about 100 blocks: eviction runs all the time
  opt_.low_watermark = 0.8;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  std::atomic<uint64_t> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      uint64_t x = static_cast<uint64_t>(t) + 1;
      for (int op = 0; op < 3000; ++op) {
        uint64_t k = SplitMix(x) % kKeys;
        Block b = cache_->Get(Key(k));
        if (b) {
          hits++;
          if (*b != *MakeBlock(k, size_of(k))) wrong++;
        } else {
          cache_->Put(Key(k), MakeBlock(k, size_of(k)));
        }
        if (op % 500 == 0 && t == 0) cache_->SaveLru();
      }
    });
  }
  for (auto& th : threads) th.join();
  cache_->Flush();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  auto c = cache_->counters();
  EXPECT_EQ(c.checksum_failures, 0u);
  EXPECT_EQ(c.errors, 0u);
  EXPECT_GT(c.evictions, 0u);
  EXPECT_LE(c.bytes, opt_.budget_bytes);
  auto summary = SummarizeDiskCache(dir_);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->blocks, c.blocks);  // index and folder agree
  EXPECT_EQ(summary->bytes, c.bytes);
}

TEST_F(DiskBlockCacheTest, KillNineLeavesOnlyWholeBlocks) {
  constexpr uint64_t kKeys = 4000;
  constexpr size_t kSize = 16 << 10;
  opt_.budget_bytes = 1ull << 20;  // 64 blocks: eviction runs too while the child dies
  stdfs::create_directories(dir_);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = DiskBlockCache::Open(opt_, nullptr);
    if (!r.ok()) _exit(2);
    for (;;) {
      for (uint64_t i = 0; i < kKeys; ++i) (*r)->Put(Key(i), MakeBlock(i, kSize));
    }
  }
  // Wait until it writes and evicts, then kill it in the middle of that.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto s = SummarizeDiskCache(dir_);
    if (s.ok() && s->blocks >= 50) break;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto left = SummarizeDiskCache(dir_);
  ASSERT_TRUE(left.ok());
  std::printf("killed with %" PRIu64 " block files and %" PRIu64 " temp files\n", left->blocks,
              left->temp_files);

  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  EXPECT_EQ(CountEntries(dir_ + "/v1/tmp"), 0u);
  uint64_t hits = 0;
  for (uint64_t i = 0; i < kKeys; ++i) {
    Block b = cache_->Get(Key(i));
    if (!b) continue;
    ++hits;
    EXPECT_TRUE(SameBytes(b, MakeBlock(i, kSize))) << i;
  }
  std::printf("after kill -9: %" PRIu64 " whole blocks\n", hits);
  EXPECT_GT(hits, 0u);
  EXPECT_EQ(cache_->counters().checksum_failures, 0u);
}

TEST_F(DiskBlockCacheTest, MetricsAreRegisteredAndOutliveTheCache) {
  Metrics metrics;
  cache_ = OpenCache(&metrics);
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 1234));
  cache_->Flush();
  ASSERT_TRUE(cache_->Get(Key(1)));
  EXPECT_EQ(cache_->Get(Key(2)), nullptr);
  std::string text = metrics.Prometheus();
  for (const char* line :
       {"daqfs_cache_hits_total{tier=\"ssd\"} 1\n", "daqfs_cache_misses_total{tier=\"ssd\"} 1\n",
        "daqfs_cache_inserts_total{tier=\"ssd\"} 1\n",
        "daqfs_cache_read_bytes_total{tier=\"ssd\"} 1234\n",
        "daqfs_cache_inserted_bytes_total{tier=\"ssd\"} 1234\n",
        "daqfs_cache_evictions_total{tier=\"ssd\"} 0\n",
        "daqfs_cache_checksum_failures_total{tier=\"ssd\"} 0\n",
        "daqfs_cache_errors_total{tier=\"ssd\"} 0\n",
        "daqfs_cache_dropped_writes_total{tier=\"ssd\"} 0\n",
        "daqfs_cache_blocks{tier=\"ssd\"} 1\n", "daqfs_cache_bytes{tier=\"ssd\"} 1234\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(cache_->counters().hits, 1u);
  cache_.reset();
  EXPECT_NE(metrics.Prometheus().find("daqfs_cache_blocks{tier=\"ssd\"} 1\n"), std::string::npos);
}

TEST_F(DiskBlockCacheTest, SummaryOfAFolderInUse) {
  EXPECT_FALSE(SummarizeDiskCache(dir_).ok());
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  for (uint64_t i = 0; i < 5; ++i) cache_->Put(Key(i), MakeBlock(i, 100 * (i + 1)));
  cache_->Flush();
  auto s = SummarizeDiskCache(dir_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->blocks, 5u);
  EXPECT_EQ(s->bytes, 1500u);
  EXPECT_EQ(s->temp_files, 0u);
  EXPECT_EQ(s->version_dir, dir_ + "/v1");
}

// The stats once claimed 245 SSD hits with 0 bytes read from disk: blocks answered from the
// write queue were counted as disk hits.
TEST_F(DiskBlockCacheTest, QueueHitsAreNotDiskHits) {
  opt_.write_behind_quiet_ms = 3600 * 1000;  // nothing is written before Flush
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  cache_->Put(Key(1), MakeBlock(1, 5000));
  ASSERT_TRUE(SameBytes(cache_->Get(Key(1)), MakeBlock(1, 5000)));
  auto c = cache_->counters();
  EXPECT_EQ(c.queue_hits, 1u);
  EXPECT_EQ(c.hits, 0u);
  EXPECT_EQ(c.bytes_read, 0u);
  EXPECT_EQ(c.writes, 0u);
  cache_->Flush();
  ASSERT_TRUE(SameBytes(cache_->Get(Key(1)), MakeBlock(1, 5000)));
  c = cache_->counters();
  EXPECT_EQ(c.queue_hits, 1u);
  EXPECT_EQ(c.hits, 1u);
  EXPECT_EQ(c.bytes_read, 5000u);
}

TEST_F(DiskBlockCacheTest, AdmitsOnlyWhatIsDearerToProduceThanToReadBack) {
  opt_.readback_seconds_per_mib = 0.002;
  opt_.admit_factor = 2.0;  // admitted from 4 ms per MiB
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  const size_t kMiB = 1 << 20;
  cache_->Put(Key(1), MakeBlock(1, kMiB), 0.001);          // a fast decode: not worth a write
  cache_->Put(Key(2, "slow"), MakeBlock(2, kMiB), 0.020);  // a slow source: kept
  cache_->Put(Key(3), MakeBlock(3, kMiB));                 // unknown cost: kept
  cache_->Put(Key(4), MakeBlock(4, kMiB), 0.0);            // must keep, however cheap:
  cache_->Put(Key(4), MakeBlock(4, kMiB), kMustKeep);
  cache_->Flush();
  auto c = cache_->counters();
  EXPECT_EQ(c.not_admitted, 2u);
  EXPECT_EQ(c.writes, 3u);
  EXPECT_FALSE(cache_->Contains(Key(1)));
  EXPECT_FALSE(stdfs::exists(BlockPath(Key(1), kMiB)));
  EXPECT_TRUE(cache_->Contains(Key(2, "slow")));
  for (uint64_t i : {3, 4}) EXPECT_TRUE(stdfs::exists(BlockPath(Key(i), kMiB))) << i;
}

// One slow block of a cheap source (a cold read that queued behind others) is noise, not a
// reason to write it; a slow source's blocks are admitted from its first.
TEST_F(DiskBlockCacheTest, AdmitsBySourceNotByOneNoisyBlock) {
  opt_.readback_seconds_per_mib = 0.002;
  opt_.admit_factor = 2.0;  // admitted from 4 ms per MiB
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  const size_t kMiB = 1 << 20;
  const std::string cheap = "1:2:3:4:/local.tar.zst", slow = "1:2:3:4:/lustre.tar.zst";
  for (uint64_t i = 0; i < 8; ++i) cache_->Put(Key(i, cheap), MakeBlock(i, kMiB), 0.001);
  // The slow source's first block, right after eight cheap ones of another source: admitted
  // (one average over all sources would refuse it).
  cache_->Put(Key(0, slow), MakeBlock(0, kMiB), 0.020);
  cache_->Put(Key(8, cheap), MakeBlock(8, kMiB), 0.050);  // one slow block: not written
  cache_->Put(Key(1, slow), MakeBlock(1, kMiB), 0.025);
  cache_->Put(Key(2, slow), MakeBlock(2, kMiB), 0.001);  // its odd fast block is not either
  cache_->Flush();
  auto c = cache_->counters();
  EXPECT_EQ(c.not_admitted, 10u);
  EXPECT_EQ(c.writes, 2u);
  EXPECT_FALSE(cache_->Contains(Key(8, cheap)));
  EXPECT_TRUE(cache_->Contains(Key(0, slow)));
  EXPECT_TRUE(cache_->Contains(Key(1, slow)));
  EXPECT_FALSE(cache_->Contains(Key(2, slow)));
}

// A full write queue defers blocks (weakly held) instead of dropping them: every block whose
// data lives is written; one whose data died is counted and written when it is put again.
TEST_F(DiskBlockCacheTest, FullQueueDefersAndLosesNothingThatLives) {
  const size_t kSize = 64 << 10;
  opt_.write_behind_quiet_ms = 3600 * 1000;  // the writer waits for Flush (queue below 90%)
  opt_.write_queue_bytes = kSize + kSize / 2;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  Block a = MakeBlock(1, kSize);
  cache_->Put(Key(1), a, kMustKeep);  // queued
  {
    Block b = MakeBlock(2, kSize);
    cache_->Put(Key(2), b, kMustKeep);  // deferred: the queue has no room
    EXPECT_EQ(cache_->counters().deferred, 1u);
    EXPECT_FALSE(cache_->Contains(Key(2)));  // its data is not ours to keep
    EXPECT_TRUE(SameBytes(cache_->Get(Key(2)), b));
  }  // b's data dies before its turn
  Block c = MakeBlock(3, kSize);
  cache_->Put(Key(3), c, kMustKeep);  // deferred, data alive
  cache_->Flush();
  auto k = cache_->counters();
  EXPECT_EQ(k.writes, 2u);
  EXPECT_EQ(k.dropped_writes, 1u);
  EXPECT_TRUE(stdfs::exists(BlockPath(Key(1), kSize)));
  EXPECT_FALSE(stdfs::exists(BlockPath(Key(2), kSize)));
  EXPECT_TRUE(stdfs::exists(BlockPath(Key(3), kSize)));
  cache_->Put(Key(2), MakeBlock(2, kSize), kMustKeep);  // decoded again
  cache_->Flush();
  EXPECT_TRUE(SameBytes(cache_->Get(Key(2)), MakeBlock(2, kSize)));
  EXPECT_EQ(cache_->counters().writes, 3u);
}

// A block admitted and deferred whose data died is written when it is put again, even if this
// time it came cheap (a memory-tier hit, a fast decode): admitted once, never lost.
TEST_F(DiskBlockCacheTest, DeferredBlockPutAgainCheaplyIsStillWritten) {
  const size_t kSize = 64 << 10;
  opt_.readback_seconds_per_mib = 0.002;  // admitted from 0.25 ms per 64 KiB
  opt_.write_behind_quiet_ms = 3600 * 1000;
  opt_.write_queue_bytes = kSize + kSize / 2;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  Block a = MakeBlock(1, kSize);
  cache_->Put(Key(1), a, 0.010);                    // queued
  cache_->Put(Key(2), MakeBlock(2, kSize), 0.010);  // deferred, and its data dies at once
  EXPECT_EQ(cache_->counters().deferred, 1u);
  Block held = MakeBlock(2, kSize);  // read again, cheaply, and held by the memory tier
  cache_->Put(Key(2), held, 0.0);
  cache_->Flush();
  auto k = cache_->counters();
  EXPECT_EQ(k.not_admitted, 0u);
  EXPECT_EQ(k.writes, 2u);
  EXPECT_TRUE(stdfs::exists(BlockPath(Key(2), kSize)));
}

// (iii) of issue 8: a cold read of a 256-block member with cache = disk leaves all 256 blocks
// on SSD once the write-behind drains (49 before), with a queue far smaller than the member.
TEST_F(DiskBlockCacheTest, ReaderFasterThanTheDiskLosesNoBlock) {
  const size_t kSize = 256 << 10;
  opt_.write_queue_bytes = 4 * kSize;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  std::vector<Block> held;  // what the memory tier holds
  for (uint64_t i = 0; i < 256; ++i) {
    held.push_back(MakeBlock(i, kSize));
    cache_->Put(Key(i), held.back(), kMustKeep);
  }
  cache_->Flush();
  auto c = cache_->counters();
  EXPECT_EQ(c.writes, 256u);
  EXPECT_EQ(c.blocks, 256u);
  EXPECT_EQ(c.dropped_writes, 0u);
  for (uint64_t i = 0; i < 256; ++i) EXPECT_TRUE(stdfs::exists(BlockPath(Key(i), kSize))) << i;
}

// Blocks and external items (blobs) share one budget and one LRU order; pinned items stay.
TEST_F(DiskBlockCacheTest, ExternalItemsShareTheBudget) {
  opt_.budget_bytes = 10000;
  opt_.low_watermark = 0.5;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  std::vector<uint64_t> evicted;
  cache_->SetExternalEvictor([&](uint64_t id) { evicted.push_back(id); });
  ASSERT_TRUE(cache_->ResizeExternal(7, 3000).ok());  // pinned
  for (uint64_t i = 0; i < 7; ++i) {
    cache_->Put(Key(i), MakeBlock(i, 1000));
    cache_->Flush();
  }
  EXPECT_EQ(cache_->counters().blocks, 7u);
  EXPECT_EQ(cache_->counters().external_bytes, 3000u);
  // Growing the pinned item evicts the oldest blocks, never the item itself.
  ASSERT_TRUE(cache_->ResizeExternal(7, 6000).ok());
  EXPECT_LE(cache_->counters().bytes + 6000, 10000u);
  EXPECT_FALSE(cache_->Contains(Key(0)));
  EXPECT_TRUE(evicted.empty());
  // More than the budget can hold next to pinned items: kNoSpace, nothing changes.
  Status s = cache_->ResizeExternal(8, 5000);
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  // Unpinned, it is the newest item; blocks written after it push it out in LRU order.
  cache_->UnpinExternal(7);
  for (uint64_t i = 10; i < 20; ++i) {
    cache_->Put(Key(i), MakeBlock(i, 1000));
    cache_->Flush();
  }
  EXPECT_EQ(evicted, std::vector<uint64_t>{7});
  EXPECT_EQ(cache_->counters().external_bytes, 0u);
  EXPECT_FALSE(cache_->PinExternal(7));
}

// Replacing the evictor waits for a call of the old one that is running on the writer thread,
// and the old one is never called after: its owner (the blob store) may then be freed.
TEST_F(DiskBlockCacheTest, ReplacingTheEvictorWaitsForARunningEviction) {
  opt_.budget_bytes = 10000;
  opt_.low_watermark = 0.8;  // blocks up to 8000 bytes are written
  opt_.write_behind_quiet_ms = 0;
  cache_ = OpenCache();
  ASSERT_TRUE(cache_);
  std::atomic<int> calls{0};
  std::atomic<bool> entered{false}, release{false}, finished{false};
  cache_->SetExternalEvictor([&](uint64_t) {
    calls++;
    entered = true;
    for (int i = 0; i < 5000 && !release; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    finished = true;
  });
  ASSERT_TRUE(cache_->ResizeExternal(1, 5000).ok());
  cache_->UnpinExternal(1);
  cache_->Put(Key(0), MakeBlock(0, 6000));  // the writer evicts item 1 after writing it
  for (int i = 0; i < 5000 && !entered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(entered);
  std::atomic<bool> replaced{false};
  bool finished_first = false;
  std::thread replacer([&] {
    cache_->SetExternalEvictor(nullptr);
    finished_first = finished;
    replaced = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(replaced) << "SetExternalEvictor returned while the old evictor was running";
  release = true;
  replacer.join();
  EXPECT_TRUE(finished_first);
  // Items evicted from now on are only forgotten: the old evictor is not called again.
  ASSERT_TRUE(cache_->ResizeExternal(2, 5000).ok());
  cache_->UnpinExternal(2);
  for (uint64_t i = 1; i < 4; ++i) cache_->Put(Key(i), MakeBlock(i, 6000));
  cache_->Flush();
  EXPECT_EQ(cache_->counters().external_bytes, 0u);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace daqfs
