#include "cache/blob_store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

namespace stdfs = std::filesystem;

std::vector<uint8_t> Pattern(uint64_t seed, size_t size) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>((seed * 131 + i * 7) >> 1);
  return v;
}

std::vector<uint8_t> ReadAll(const Blob& b) {
  std::vector<uint8_t> out(b.size());
  Result<size_t> n = PreadFull(b.fd()->get(), 0, out, b.path());
  EXPECT_TRUE(n.ok() && *n == out.size());
  return out;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_.path();
    dir_ = root_ + "/cache";
    opt_.dir = dir_;
    opt_.budget_bytes = 1 << 20;
    opt_.low_watermark = 0.9;
  }
  void TearDown() override {
    Close();
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      if (umount2(it->c_str(), 0) != 0) umount2(it->c_str(), MNT_DETACH);
    }
  }
  void Open() {
    auto c = DiskBlockCache::Open(opt_, nullptr);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
    auto b = DiskBlobStore::Open(dir_, cache_.get(), nullptr);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    store_ = std::move(b).value();
  }
  void Close() {
    store_.reset();
    cache_.reset();
  }
  bool MountTmpfs(const std::string& path, const char* options) {
    stdfs::create_directories(path);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0, options) != 0) return false;
    mounts_.push_back(path);
    return true;
  }
  // The one file of blob `name` in namespace `ns`.
  std::string FileOf(const std::string& ns, const std::string& name) {
    std::string found;
    for (const auto& e : stdfs::directory_iterator(dir_ + "/blobs-v1/ns/" + ns)) {
      std::string f = e.path().filename();
      if (f.rfind(name + "@", 0) == 0) {
        EXPECT_TRUE(found.empty()) << "two files of " << name;
        found = e.path();
      }
    }
    return found;
  }

  testing::TempDir temp_{"blobs"};  // removed with its content
  std::string root_, dir_;
  DiskCacheOptions opt_;
  std::unique_ptr<DiskBlockCache> cache_;
  std::unique_ptr<DiskBlobStore> store_;
  std::vector<std::string> mounts_;
};

TEST_F(BlobStoreTest, PutGetCreateOpenEraseList) {
  Open();
  BlobStore* a = store_->ForNamespace("src-a");
  BlobStore* b = store_->ForNamespace("src-b");
  EXPECT_EQ(a, store_->ForNamespace("src-a"));
  ASSERT_TRUE(a->Put("index.v1", Pattern(1, 1000)).ok());
  Result<Bytes> got = a->Get("index.v1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(std::vector<uint8_t>(got->begin(), got->end()), Pattern(1, 1000));
  EXPECT_EQ(b->Get("index.v1").status().code(), Code::kNotFound);  // namespaces are apart

  auto w = b->Create("spill", 0);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*w)->Append(Pattern(i, 10000)).ok());
  Result<std::shared_ptr<Blob>> blob = (*w)->Commit();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ((*blob)->size(), 50000u);
  std::vector<uint8_t> want;
  for (int i = 0; i < 5; ++i) {
    auto p = Pattern(i, 10000);
    want.insert(want.end(), p.begin(), p.end());
  }
  EXPECT_EQ(ReadAll(**blob), want);
  EXPECT_EQ(b->List(), std::vector<std::string>{"spill"});
  EXPECT_EQ(a->List(), std::vector<std::string>{"index.v1"});
  EXPECT_EQ(store_->counters().pinned, 1u);

  b->Erase("spill");  // held open: the file goes when the handle does
  EXPECT_TRUE(b->List().empty());
  EXPECT_EQ(ReadAll(**blob), want);
  EXPECT_GT(cache_->counters().external_bytes, 50000u);
  blob->reset();
  EXPECT_EQ(cache_->counters().external_bytes, 1000u + 24);
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/blobs-v1/ns/src-b"));
  EXPECT_EQ(a->Create("../x", 0).status().code(), Code::kInvalid);
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/blobs-v1/tmp"));
}

TEST_F(BlobStoreTest, ReplacingABlobKeepsTheOldOneForItsReader) {
  Open();
  BlobStore* ns = store_->ForNamespace("s");
  ASSERT_TRUE(ns->Put("x", Pattern(1, 100)).ok());
  auto old = ns->Open("x");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(ns->Put("x", Pattern(2, 200)).ok());
  EXPECT_EQ(ReadAll(**old), Pattern(1, 100));
  auto now = ns->Get("x");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->size(), 200u);
  old->reset();
  EXPECT_EQ(store_->counters().blobs, 1u);
  EXPECT_FALSE(FileOf("s", "x").empty());
}

TEST_F(BlobStoreTest, BlobsAndBlocksEvictEachOtherButPinnedBlobsStay) {
  opt_.budget_bytes = 100000;
  Open();
  BlobStore* ns = store_->ForNamespace("s");
  ASSERT_TRUE(ns->Put("old", Pattern(1, 30000)).ok());  // unpinned, oldest
  auto pinned = ns->Open("old");
  ASSERT_TRUE(pinned.ok());
  ASSERT_TRUE(ns->Put("unpinned", Pattern(2, 30000)).ok());
  // Blocks fill the rest; the unpinned blob is older than them and goes first.
  for (uint64_t i = 0; i < 8; ++i) {
    cache_->Put(BlockKey{"src", i}, std::make_shared<Bytes>(10000));
    cache_->Flush();
  }
  EXPECT_EQ(ns->Get("unpinned").status().code(), Code::kNotFound);
  EXPECT_EQ(ns->List(), std::vector<std::string>{"old"});
  EXPECT_EQ(store_->counters().evictions, 1u);
  EXPECT_TRUE(FileOf("s", "unpinned").empty());
  EXPECT_EQ(ReadAll(**pinned), Pattern(1, 30000));
  // A blob that needs room evicts the oldest blocks, not the pinned blob.
  ASSERT_TRUE(ns->Put("new", Pattern(3, 40000)).ok());
  EXPECT_FALSE(cache_->Contains(BlockKey{"src", 0}));
  EXPECT_TRUE(ns->Open("old").ok());
  // More than the pinned blobs leave room for: kNoSpace, nothing left behind.
  auto keep_new = ns->Open("new");
  ASSERT_TRUE(keep_new.ok());
  auto big = ns->Create("big", 0);
  ASSERT_TRUE(big.ok());
  Status s = (*big)->Append(Pattern(4, 50000));
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  big->reset();
  EXPECT_EQ(ns->Create("big", 50000).status().code(), Code::kNoSpace);
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/blobs-v1/tmp"));
  EXPECT_LE(cache_->counters().bytes + cache_->counters().external_bytes, opt_.budget_bytes);
}

TEST_F(BlobStoreTest, CorruptBlobIsRejectedAndRemoved) {
  Open();
  BlobStore* ns = store_->ForNamespace("s");
  ASSERT_TRUE(ns->Put("small", Pattern(1, 1000)).ok());
  ASSERT_TRUE(ns->Put("large", Pattern(2, 100000)).ok());
  Close();
  // Flip a data byte in each (same size: only the checksum can tell).
  for (const char* name : {"small", "large"}) {
    std::string f = FileOf("s", name);
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(10);
    io.put('\x5a' ^ static_cast<char>(Pattern(name[0] == 's' ? 1 : 2, 11)[10]));
  }
  Open();
  ns = store_->ForNamespace("s");
  EXPECT_EQ(ns->Get("small").status().code(), Code::kCorrupt);
  EXPECT_EQ(ns->Open("large").status().code(), Code::kCorrupt);  // first open after a restart
  EXPECT_EQ(ns->Get("small").status().code(), Code::kNotFound);
  EXPECT_EQ(ns->Open("large").status().code(), Code::kNotFound);
  EXPECT_TRUE(FileOf("s", "small").empty());
  EXPECT_TRUE(FileOf("s", "large").empty());
  EXPECT_EQ(store_->counters().corrupt, 2u);
  EXPECT_EQ(cache_->counters().external_bytes, 0u);
}

TEST_F(BlobStoreTest, LargeBlobsAreVerifiedOncePerProcessSmallOnesOnEveryGet) {
  Open();
  BlobStore* ns = store_->ForNamespace("s");
  ASSERT_TRUE(ns->Put("a", Pattern(1, 100000)).ok());
  Close();
  Open();
  ns = store_->ForNamespace("s");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ns->Open("a").ok());
  EXPECT_EQ(store_->counters().verifications, 1u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ns->Get("a").ok());
  EXPECT_EQ(store_->counters().verifications, 4u);
}

TEST_F(BlobStoreTest, SurvivesRestartAndIsCountedAgain) {
  Open();
  ASSERT_TRUE(store_->ForNamespace("a")->Put("i1", Pattern(1, 5000)).ok());
  ASSERT_TRUE(store_->ForNamespace("b")->Put("i2", Pattern(2, 7000)).ok());
  {
    auto w = store_->ForNamespace("b")->Create("unfinished", 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Pattern(3, 100)).ok());
    // A crash here leaves a temp file: simulated by copying it aside.
    for (const auto& e : stdfs::directory_iterator(dir_ + "/blobs-v1/tmp")) {
      stdfs::copy_file(e.path(), e.path().string() + "-crashed");
    }
  }
  Close();
  Open();
  EXPECT_EQ(store_->counters().blobs, 2u);
  EXPECT_EQ(cache_->counters().external_bytes, 5000u + 7000 + 48);
  auto got = store_->ForNamespace("b")->Get("i2");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::vector<uint8_t>(got->begin(), got->end()), Pattern(2, 7000));
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/blobs-v1/tmp"));
  auto sum = SummarizeBlobs(dir_);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->blobs, 2u);
  EXPECT_EQ(sum->bytes, 5000u + 7000 + 48);
  EXPECT_EQ(sum->by_namespace.at("a").first, 1u);
}

TEST_F(BlobStoreTest, FullDiskFailsTheWriterCleanly) {
  std::string mnt = root_ + "/small";
  if (!MountTmpfs(mnt, "size=1m,mode=0700")) GTEST_SKIP() << "cannot mount a tmpfs here";
  opt_.dir = dir_ = mnt + "/cache";
  opt_.budget_bytes = 64ull << 20;  // the budget would allow it; the disk does not
  Open();
  BlobStore* ns = store_->ForNamespace("s");
  auto w = ns->Create("huge", 0);
  ASSERT_TRUE(w.ok());
  Status s;
  for (int i = 0; i < 40 && s.ok(); ++i) s = (*w)->Append(Pattern(i, 64 << 10));
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_FALSE((*w)->Commit().ok());
  w->reset();
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/blobs-v1/tmp"));
  EXPECT_EQ(cache_->counters().external_bytes, 0u);
  EXPECT_TRUE(ns->Put("fits", Pattern(1, 1000)).ok());  // and the store still works
  EXPECT_TRUE(ns->Get("fits").ok());
}

TEST_F(BlobStoreTest, ConcurrentWritersReadersAndBlocks) {
  opt_.budget_bytes = 400000;
  Open();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      BlobStore* ns = store_->ForNamespace("s" + std::to_string(t % 2));
      for (int i = 0; i < 50; ++i) {
        std::string name = "b" + std::to_string(i % 5);
        auto data = Pattern(t * 1000 + i, 10000 + 97 * (i % 7));
        if (!ns->Put(name, data).ok()) bad++;
        auto b = ns->Open(name);
        if (b.ok() && (*b)->size() < 10000) bad++;
        if (b.ok() && ReadAll(**b).size() != (*b)->size()) bad++;
        cache_->Put(BlockKey{"t" + std::to_string(t), static_cast<uint64_t>(i)},
                    std::make_shared<Bytes>(5000));
        if (i % 10 == 0) ns->Erase(name);
      }
    });
  }
  for (auto& th : threads) th.join();
  cache_->Flush();
  EXPECT_EQ(bad.load(), 0);
  auto c = cache_->counters();
  EXPECT_LE(c.bytes + c.external_bytes, opt_.budget_bytes);
  uint64_t files = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(dir_ + "/blobs-v1/ns")) {
    if (e.is_regular_file()) files++;
  }
  EXPECT_EQ(files, store_->counters().blobs);
  EXPECT_EQ(store_->counters().pinned, 0u);
}

// The blob store goes away while the block writer still drains queued blocks whose writes
// evict unpinned blobs: destroying the store waits for a running eviction and no eviction
// reaches it after (under ASan, a use-after-free of the store otherwise).
TEST_F(BlobStoreTest, DestroyedWhileTheBlockWriterEvictsBlobs) {
  opt_.budget_bytes = 200000;
  opt_.low_watermark = 0.9;
  opt_.write_behind_quiet_ms = 0;
  for (int round = 0; round < 20; ++round) {
    Open();
    BlobStore* ns = store_->ForNamespace("s");
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(ns->Put("b" + std::to_string(i), Pattern(i, 15000)).ok());
    }
    for (uint64_t i = 0; i < 40; ++i) {
      cache_->Put(BlockKey{"r" + std::to_string(round), i}, std::make_shared<Bytes>(10000, 1));
    }
    store_.reset();  // the writer is still writing and evicting
    cache_.reset();  // drains the rest with no evictor
  }
  // What the last rounds left is charged again, within the budget.
  Open();
  cache_->Flush();
  auto c = cache_->counters();
  EXPECT_LE(c.bytes + c.external_bytes, opt_.budget_bytes);
  EXPECT_EQ(c.external_bytes, store_->counters().bytes);
}

TEST_F(BlobStoreTest, FactoryAndNamespaceNames) {
  Open();
  BlobStoreFactory f = store_->Factory();
  EXPECT_EQ(f("mwa"), store_->ForNamespace("mwa"));
  EXPECT_NE(f("a b"), f("a_b"));  // mapped names never meet
  EXPECT_EQ(BlobNamespaceName("ok.name-1"), "ok.name-1");
  EXPECT_EQ(NoBlobStores()("mwa"), nullptr);
}

}  // namespace
}  // namespace daqfs
