#include "cache/cached_read_path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "cache/memory_block_cache.h"
#include "cache/thread_pool.h"
#include "tests/testing/fault_sources.h"
#include "tests/testing/pattern_source.h"

namespace daqfs {
namespace {

using testing::FaultySource;
using testing::PatternByte;
using testing::PatternSource;
constexpr uint64_t kMiB = 1 << 20;

bool Check(const std::vector<uint8_t>& buf, uint64_t off, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (buf[k] != PatternByte(off + k)) return false;
  }
  return true;
}

class CachedReadPathTest : public ::testing::Test {
 protected:
  void Make(uint64_t window = 16 * kMiB, uint64_t budget = 64 * kMiB,
            std::chrono::milliseconds store_wait = std::chrono::milliseconds(1000)) {
    ReadPathOptions o;
    o.prefetch_window_bytes = window;
    o.prefetch_budget_bytes = budget;
    o.store_wait = store_wait;
    path_ = std::make_unique<CachedReadPath>(o, &memory_, nullptr, &pool_, &metrics_);
    // Source 0 (FileContext{}) caches in memory: plain test sources then use the block path
    // (with cache = auto they would bypass it).
    path_->SetPolicy(0, CachePolicy::kMemory);
  }
  void WaitIdle() {
    for (int i = 0; i < 5000 && (path_->inflight_bytes() > 0 || !pool_.idle()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  Metrics metrics_;
  MemoryBlockCache memory_{256 * kMiB, nullptr};
  ThreadPool pool_{4, 4};
  std::unique_ptr<CachedReadPath> path_;
};

TEST_F(CachedReadPathTest, SequentialReadDecodesEachBlockOnceMostlyPrefetched) {
  Make();
  const uint64_t n_blocks = 40;
  auto src =
      std::make_shared<PatternSource>(n_blocks * kMiB, true, "seq", std::chrono::milliseconds(2));
  auto reader = path_->Open(src, FileContext{});
  std::vector<uint8_t> buf(128 * 1024);
  for (uint64_t off = 0; off < src->Size(); off += buf.size()) {
    Result<size_t> n = reader->Read(off, buf);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, buf.size());
    ASSERT_TRUE(Check(buf, off, *n)) << off;
  }
  reader.reset();
  WaitIdle();
  EXPECT_LE(src->decodes.load(), n_blocks);
  EXPECT_GE(path_->prefetch_used(), n_blocks * 3 / 4);
  EXPECT_GE(path_->prefetch_issued(), path_->prefetch_used());
}

TEST_F(CachedReadPathTest, RandomReadsTriggerNoPrefetch) {
  Make();
  auto src = std::make_shared<PatternSource>(2000 * kMiB, false, "rand");
  auto reader = path_->Open(src, FileContext{});
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(4096);
  for (int i = 0; i < 300; ++i) {
    uint64_t off = 16 * kMiB + rng() % (src->Size() - 32 * kMiB);
    Result<size_t> n = reader->Read(off, buf);
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(Check(buf, off, *n));
  }
  EXPECT_EQ(path_->prefetch_issued(), 0u);
  // Plain source: each 4 KiB read went straight to the backing bytes, no 1 MiB block read.
  EXPECT_EQ(src->decodes.load(), 0u);
  EXPECT_GE(src->direct_reads.load(), 300u);  // one per read, two where a read crosses blocks
  EXPECT_LE(src->direct_reads.load(), 310u);
}

TEST_F(CachedReadPathTest, PlainSourceSequentialIsServedFromPrefetchedBlocks) {
  Make();
  auto src = std::make_shared<PatternSource>(30 * kMiB, false, "plain");
  auto reader = path_->Open(src, FileContext{});
  std::vector<uint8_t> buf(kMiB);
  for (uint64_t off = 0; off < src->Size(); off += buf.size()) {
    ASSERT_TRUE(reader->Read(off, buf).ok());
    ASSERT_TRUE(Check(buf, off, buf.size()));
    WaitIdle();
  }
  EXPECT_GE(path_->prefetch_used(), 25u);
  EXPECT_LE(src->direct_reads.load(), 2u);
}

TEST_F(CachedReadPathTest, ConcurrentReordered1MiBRequestsStaySequential) {
  Make();
  auto src = std::make_shared<PatternSource>(64 * kMiB, true, "reorder");
  auto reader = path_->Open(src, FileContext{});
  // Like the kernel's read-ahead through a multi-threaded loop: 4 requests in flight at a time.
  std::atomic<int> bad{0};
  for (uint64_t group = 0; group < 16; ++group) {
    std::vector<std::thread> ts;
    for (uint64_t k : {3, 1, 0, 2}) {
      ts.emplace_back([&, group, k] {
        std::vector<uint8_t> buf(kMiB);
        uint64_t off = (group * 4 + k) * kMiB;
        Result<size_t> n = reader->Read(off, buf);
        if (!n.ok() || !Check(buf, off, *n)) bad++;
      });
    }
    for (auto& t : ts) t.join();
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_LE(src->decodes.load(), 64u);
  EXPECT_GE(path_->prefetch_used(), 40u);
}

TEST_F(CachedReadPathTest, BudgetBoundsInFlightPrefetch) {
  Make(64 * kMiB, 4 * kMiB);
  auto src =
      std::make_shared<PatternSource>(100 * kMiB, true, "budget", std::chrono::milliseconds(20));
  auto reader = path_->Open(src, FileContext{});
  std::vector<uint8_t> buf(kMiB);
  uint64_t peak = 0;
  for (uint64_t b = 0; b < 20; ++b) {
    ASSERT_TRUE(reader->Read(b * kMiB, buf).ok());
    peak = std::max(peak, path_->inflight_bytes());
  }
  EXPECT_LE(peak, 4 * kMiB);
}

TEST_F(CachedReadPathTest, ReleaseCancelsQueuedPrefetches) {
  Make(64 * kMiB, 64 * kMiB);
  auto src =
      std::make_shared<PatternSource>(200 * kMiB, true, "cancel", std::chrono::milliseconds(30));
  {
    auto reader = path_->Open(src, FileContext{});
    std::vector<uint8_t> buf(kMiB);
    for (uint64_t b = 0; b < 8; ++b) ASSERT_TRUE(reader->Read(b * kMiB, buf).ok());
  }
  WaitIdle();
  // 4 workers x ~the time of the reads: far fewer decodes than the 64+ blocks asked for.
  EXPECT_LT(src->decodes.load(), path_->prefetch_issued());
}

TEST_F(CachedReadPathTest, CorruptBlockFailsOnlyItsReads) {
  Make();
  auto inner = std::make_shared<PatternSource>(10 * kMiB, true, "bad");
  FaultySource::Faults f;
  f.fail_block = 3;
  auto src = std::make_shared<FaultySource>(inner, f);
  auto reader = path_->Open(src, FileContext{});
  std::vector<uint8_t> buf(kMiB);
  for (uint64_t b = 0; b < 10; ++b) {
    Result<size_t> n = reader->Read(b * kMiB, buf);
    if (b == 3) {
      ASSERT_FALSE(n.ok());
      EXPECT_EQ(n.status().ToErrno(), EIO);
    } else {
      ASSERT_TRUE(n.ok()) << b;
      EXPECT_TRUE(Check(buf, b * kMiB, *n));
    }
  }
}

TEST_F(CachedReadPathTest, AutoPolicyLeavesPlainSourcesToThePageCache) {
  Make();
  path_->SetPolicy(3, CachePolicy::kAuto);
  auto plain = std::make_shared<PatternSource>(8 * kMiB, false, "plain-auto");
  FileContext c;
  c.source = 3;
  auto r = path_->Open(plain, c);
  std::vector<uint8_t> buf(kMiB);
  for (uint64_t b = 0; b < 8; ++b) {
    ASSERT_TRUE(r->Read(b * kMiB, buf).ok());
    EXPECT_TRUE(Check(buf, b * kMiB, buf.size()));
  }
  EXPECT_EQ(plain->decodes.load(), 0u);  // no blocks, no prefetch: direct reads only
  EXPECT_EQ(path_->prefetch_issued(), 0u);
  auto decoded = std::make_shared<PatternSource>(8 * kMiB, true, "decoded-auto");
  auto d = path_->Open(decoded, c);
  // The last block: nothing after it to prefetch, so the count shows the re-read alone.
  ASSERT_TRUE(d->Read(7 * kMiB, buf).ok());
  WaitIdle();
  uint64_t after = decoded->decodes.load();
  ASSERT_TRUE(d->Read(7 * kMiB, buf).ok());
  EXPECT_EQ(decoded->decodes.load(), after);  // decoded data is cached
}

TEST_F(CachedReadPathTest, PolicyNoneReadsDirectlyAndMemoryCaches) {
  Make();
  path_->SetPolicy(1, CachePolicy::kNone);
  path_->SetPolicy(2, CachePolicy::kMemory);
  auto a = std::make_shared<PatternSource>(4 * kMiB, true, "none");
  FileContext c1;
  c1.source = 1;
  auto r1 = path_->Open(a, c1);
  std::vector<uint8_t> buf(kMiB);
  ASSERT_TRUE(r1->Read(0, buf).ok());
  ASSERT_TRUE(r1->Read(0, buf).ok());
  EXPECT_EQ(a->decodes.load(), 1u);  // the handle keeps its last unit, nothing more
  ASSERT_TRUE(r1->Read(kMiB, buf).ok());
  ASSERT_TRUE(r1->Read(0, buf).ok());
  EXPECT_EQ(a->decodes.load(), 3u);  // no cache: block 0 is decoded again
  EXPECT_EQ(path_->prefetch_issued(), 0u);
  auto b = std::make_shared<PatternSource>(4 * kMiB, true, "mem");
  FileContext c2;
  c2.source = 2;
  auto r2 = path_->Open(b, c2);
  ASSERT_TRUE(r2->Read(2 * kMiB, buf).ok());
  WaitIdle();
  uint64_t after_first = b->decodes.load();
  ASSERT_TRUE(r2->Read(2 * kMiB, buf).ok());
  EXPECT_EQ(b->decodes.load(), after_first);  // the second read came from memory
}

// Units in memory already (ResidentBlock: 1 MiB blocks of one buffer); a decode of one counts.
class ResidentUnits final : public ByteSource {
 public:
  explicit ResidentUnits(uint64_t size) : data_(std::make_shared<Bytes>(size)) {
    for (uint64_t i = 0; i < size; ++i) (*data_)[i] = PatternByte(i);
  }
  uint64_t Size() const override { return data_->size(); }
  std::string Identity() const override { return "resident"; }
  bool IsDecoded() const override { return true; }
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override {
    decodes.fetch_add(1);
    std::memcpy(out.data(), data_->data() + BlockRangeOf(index).offset, out.size());
    return Status::Ok();
  }
  std::optional<Resident> ResidentBlock(uint64_t index) const override {
    if (index >= BlockCount()) return std::nullopt;
    const BlockRange r = BlockRangeOf(index);
    return Resident{data_, std::span<const uint8_t>(data_->data() + r.offset, r.length)};
  }
  const uint8_t* data() const { return data_->data(); }
  mutable std::atomic<uint64_t> decodes{0};

 private:
  std::shared_ptr<Bytes> data_;
};

// A file of a 5-byte generated header and then the units' bytes, block by block.
class HeaderThenUnits final : public ByteSource {
 public:
  explicit HeaderThenUnits(std::shared_ptr<ResidentUnits> units)
      : units_(std::move(units)),
        header_(std::make_shared<const Bytes>(Bytes{'H', 'E', 'A', 'D', ':'})) {}
  uint64_t Size() const override { return header_->size() + units_->Size(); }
  std::string Identity() const override { return "composed"; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return units_->BlockCount(); }
  BlockRange BlockRangeOf(uint64_t i) const override {
    BlockRange r = units_->BlockRangeOf(i);
    return i == 0 ? BlockRange{0, r.length + header_->size()}
                  : BlockRange{r.offset + header_->size(), r.length};
  }
  uint64_t BlockOf(uint64_t off) const override {
    return off < header_->size() ? 0 : units_->BlockOf(off - header_->size());
  }
  Status ReadBlock(uint64_t, std::span<uint8_t>) override {
    return Status(Code::kIo, "composed blocks are read through their parts");
  }
  std::vector<BlockPart> PartsOf(uint64_t i) const override {
    std::vector<BlockPart> parts;
    if (i == 0) parts.push_back(BlockPart{nullptr, 0, header_, 0, header_->size()});
    parts.push_back(BlockPart{units_, i, nullptr, 0, units_->BlockRangeOf(i).length});
    return parts;
  }

 private:
  std::shared_ptr<ResidentUnits> units_;
  std::shared_ptr<const Bytes> header_;
};

TEST_F(CachedReadPathTest, ResidentUnitsAreHandedOutAsTheyAreNeverDecodedNorCached) {
  Make();
  path_->SetPolicy(1, CachePolicy::kNone);
  path_->SetPolicy(2, CachePolicy::kMemory);
  path_->SetPolicy(3, CachePolicy::kAuto);
  for (uint32_t policy : {1u, 2u, 3u}) {
    SCOPED_TRACE(policy);
    auto units = std::make_shared<ResidentUnits>(3 * kMiB + 123);
    auto composed = std::make_shared<HeaderThenUnits>(units);
    for (std::shared_ptr<ByteSource> file :
         {std::shared_ptr<ByteSource>(units), std::shared_ptr<ByteSource>(composed)}) {
      const uint64_t skip = file == composed ? 5 : 0;  // the header
      FileContext c;
      c.source = policy;
      auto r = path_->Open(file, c);
      // Sequential reads in odd pieces (a prefetching reader), then one across every block.
      for (uint64_t off = 0; off < file->Size(); off += 300 * 1024) {
        Result<std::vector<ReadPiece>> pieces = r->ReadPieces(off, 300 * 1024);
        ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
        uint64_t at = off;
        for (const ReadPiece& p : *pieces) {
          for (size_t k = 0; k < p.size; ++k, ++at) {
            if (at < skip) {
              ASSERT_EQ(p.data[k], "HEAD:"[at]);
            } else {
              ASSERT_EQ(p.data[k], PatternByte(at - skip)) << "at " << at;
            }
          }
          if (at > skip) {
            // Unit bytes point into the resident buffer itself: no copy was made.
            EXPECT_TRUE(p.data >= units->data() && p.data < units->data() + units->Size());
          }
        }
        EXPECT_EQ(at, std::min<uint64_t>(file->Size(), off + 300 * 1024));
      }
      std::vector<uint8_t> all(file->Size());
      Result<size_t> n = r->Read(0, all);
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(*n, all.size());
      EXPECT_TRUE(Check(std::vector<uint8_t>(all.begin() + skip, all.end()), 0, all.size() - skip));
    }
    // Whole blocks (BlockFetcher::FetchBlock): resident bytes copied, nothing decoded or cached.
    BlockFetcher fetcher(&metrics_);
    for (uint64_t b = 0; b < composed->BlockCount(); ++b) {
      Result<Block> whole = fetcher.FetchBlock(*composed, "composed", b, &memory_);
      ASSERT_TRUE(whole.ok()) << whole.status().ToString();
      const BlockRange r = composed->BlockRangeOf(b);
      ASSERT_EQ((*whole)->size(), r.length);
      for (uint64_t k = 0; k < r.length; ++k) {
        const uint64_t at = r.offset + k;
        ASSERT_EQ((**whole)[k], at < 5 ? "HEAD:"[at] : PatternByte(at - 5)) << "at " << at;
      }
      Result<Block> plain = fetcher.FetchBlock(*units, "resident", b, &memory_);
      ASSERT_TRUE(plain.ok());
      EXPECT_TRUE(Check(std::vector<uint8_t>((*plain)->begin(), (*plain)->end()),
                        units->BlockRangeOf(b).offset, (*plain)->size()));
    }
    WaitIdle();
    EXPECT_EQ(units->decodes.load(), 0u);
    EXPECT_EQ(memory_.blocks(), 0u);
  }
}

TEST_F(CachedReadPathTest, SiblingFilesArePrefetchedAfterAWholeFileAndItsSuccessor) {
  Make(64 * kMiB, 64 * kMiB);
  std::vector<std::shared_ptr<PatternSource>> files;
  for (int i = 0; i < 6; ++i) {
    files.push_back(std::make_shared<PatternSource>(2 * kMiB, true, "frame" + std::to_string(i)));
  }
  auto context = [&](int i) {
    FileContext c;
    c.source = 1;
    c.dir = "frames";
    c.name = "f" + std::to_string(i);
    c.next_siblings = [&, i](size_t max) {
      std::vector<Sibling> out;
      for (int k = i + 1; k < 6 && out.size() < max; ++k) {
        std::shared_ptr<ByteSource> f = files[k];
        out.push_back(Sibling{"f" + std::to_string(k), f->Size(), [f] { return f; }, nullptr});
      }
      return out;
    };
    return c;
  };
  std::vector<uint8_t> buf(2 * kMiB);
  for (int i = 0; i < 2; ++i) {
    auto r = path_->Open(files[i], context(i));
    ASSERT_TRUE(r->Read(0, buf).ok());
  }
  WaitIdle();
  // Files 2..5 were decoded ahead, before anyone opened them.
  for (int k = 2; k < 6; ++k) EXPECT_GE(files[k]->decodes.load(), 1u) << k;
  auto r = path_->Open(files[4], context(4));
  ASSERT_TRUE(r->Read(0, buf).ok());
  EXPECT_TRUE(Check(buf, 0, buf.size()));
  EXPECT_EQ(files[4]->decodes.load(), 2u);  // both blocks came from the cache
}

// Eight frames of one folder whose siblings the kernel knows: stores are recorded (the bytes
// handed over), refused for `refuse`, and taken by the "kernel" at once unless `hold` is set
// (then `Take(k)` or `Drop(k)` ends the store of frame k).
class StoredFrames {
 public:
  static constexpr uint64_t kSize = 2 * kMiB + 123;  // a partial last block
  explicit StoredFrames(std::chrono::milliseconds delay = std::chrono::milliseconds(0),
                        int slow = -1) {
    for (int i = 0; i < 8; ++i) {
      files.push_back(
          std::make_shared<PatternSource>(kSize, true, "frame" + std::to_string(i),
                                          i == slow ? delay : std::chrono::milliseconds(0)));
    }
  }
  FileContext Context(int i) {
    FileContext c;
    c.source = 0;
    c.dir = "frames";
    c.name = "f" + std::to_string(i);
    c.size = kSize;
    c.next_siblings = [this, i](size_t max) {
      std::vector<Sibling> out;
      for (int k = i + 1; k < 8 && out.size() < max; ++k) {
        std::shared_ptr<ByteSource> f = files[k];
        Sibling s;
        s.name = "f" + std::to_string(k);
        s.size = f->Size();
        s.open = [f] { return f; };
        s.store = [this, k](std::vector<ReadPiece> pieces, std::function<void(bool)> done) {
          std::unique_lock<std::mutex> lock(mu);
          if (refuse.count(k)) return false;
          std::vector<uint8_t> bytes;
          for (const ReadPiece& p : pieces) bytes.insert(bytes.end(), p.data, p.data + p.size);
          stored[k] = std::move(bytes);
          if (hold) {
            held[k] = std::move(done);
            return true;
          }
          lock.unlock();
          done(true);
          return true;
        };
        out.push_back(std::move(s));
      }
      return out;
    };
    return c;
  }
  void Take(int k) { End(k, true); }
  void Drop(int k) { End(k, false); }
  // The frames stored so far (each checked: the whole file, as reads return it).
  std::vector<int> Stored() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<int> names;
    for (const auto& [k, bytes] : stored) {
      EXPECT_EQ(bytes.size(), kSize) << k;
      EXPECT_TRUE(Check(bytes, 0, bytes.size())) << k;
      names.push_back(k);
    }
    return names;
  }
  std::vector<std::shared_ptr<PatternSource>> files;
  std::mutex mu;  // guards the members below
  std::map<int, std::vector<uint8_t>> stored;
  std::set<int> refuse;
  bool hold = false;
  std::map<int, std::function<void(bool)>> held;

 private:
  void End(int k, bool taken) {
    std::function<void(bool)> done;
    {
      std::lock_guard<std::mutex> lock(mu);
      done = std::move(held.at(k));
      held.erase(k);
    }
    done(taken);
  }
};

TEST_F(CachedReadPathTest, SiblingsTheKernelKnowsAreStoredWholeAndOpeningOneGoesOn) {
  // A window of two files: reading file 0 and starting file 1 stores files 2 and 3 (their
  // bytes as reads return them); opening a stored file without reading it (its reader reads
  // the page cache) counts as reading it whole, so the scan stores the next one.
  Make(5 * kMiB, 64 * kMiB);
  StoredFrames frames;
  frames.refuse.insert(6);  // the kernel's queue is full for file 6
  std::vector<uint8_t> buf(StoredFrames::kSize);
  auto r0 = path_->Open(frames.files[0], frames.Context(0));
  ASSERT_TRUE(r0->Read(0, buf).ok());
  auto r1 = path_->Open(frames.files[1], frames.Context(1));
  ASSERT_TRUE(r1->Read(0, std::span<uint8_t>(buf).first(4096)).ok());
  WaitIdle();
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3}));
  // Opened, never read: the scan goes on from each.
  auto r2 = path_->Open(frames.files[2], frames.Context(2));
  WaitIdle();
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3, 4}));
  auto r3 = path_->Open(frames.files[3], frames.Context(3));
  auto r4 = path_->Open(frames.files[4], frames.Context(4));
  WaitIdle();
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3, 4, 5}));  // 6 was refused
  EXPECT_NE(metrics_.Prometheus().find("daqfs_prefetch_stored_files_total 4\n"), std::string::npos);
  // Opening 5 goes on: 6 is prefetched but refused by the kernel's queue, 7 stored. Opening 6
  // does not count as reading it; its reads come from the cache.
  auto r5 = path_->Open(frames.files[5], frames.Context(5));
  WaitIdle();
  auto r6 = path_->Open(frames.files[6], frames.Context(6));
  const uint64_t decodes = frames.files[6]->decodes.load();
  EXPECT_GE(decodes, 1u);
  ASSERT_TRUE(r6->Read(0, buf).ok());
  EXPECT_TRUE(Check(buf, 0, StoredFrames::kSize));
  EXPECT_EQ(frames.files[6]->decodes.load(), decodes);
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3, 4, 5, 7}));
  WaitIdle();  // prefetches still queued use `frames`
}

TEST_F(CachedReadPathTest, AnOpenWaitsForItsStoreOnItsWay) {
  // The kernel takes stores on the notifier thread, later. An open of a file whose store is
  // on its way waits for it: taken, the open is a stored one (the scan goes on from it, after
  // the open's answer when the caller allows); dropped, the open goes on at once and reads
  // through daqfs, from units still in RAM. An open never waits past its limit.
  Make(5 * kMiB, 64 * kMiB, std::chrono::milliseconds(500));
  StoredFrames frames;
  frames.hold = true;
  std::vector<uint8_t> buf(StoredFrames::kSize);
  auto r0 = path_->Open(frames.files[0], frames.Context(0));
  ASSERT_TRUE(r0->Read(0, buf).ok());
  auto r1 = path_->Open(frames.files[1], frames.Context(1));
  ASSERT_TRUE(r1->Read(0, buf).ok());  // read whole: the scan expects file 2 next
  WaitIdle();
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3}));
  EXPECT_NE(metrics_.Prometheus().find("daqfs_prefetch_stored_files_total 0\n"), std::string::npos);

  std::function<void()> after_open;
  std::atomic<bool> opened{false};
  std::thread opener([&] {
    auto r2 = path_->Open(frames.files[2], frames.Context(2), &after_open);
    opened = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(opened.load());  // waiting for the kernel to take file 2
  frames.Take(2);
  opener.join();
  ASSERT_TRUE(after_open);  // a stored open: the scan goes on from 2 once it is answered
  EXPECT_NE(metrics_.Prometheus().find("daqfs_prefetch_stored_files_total 1\n"), std::string::npos);
  EXPECT_NE(metrics_.Prometheus().find("daqfs_prefetch_store_waits_total 1\n"), std::string::npos);
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3}));
  after_open();
  WaitIdle();
  EXPECT_EQ(frames.Stored(), (std::vector<int>{2, 3, 4}));

  // Dropped (the kernel's queue was stopped, or the file changed): no stored open, no wait
  // past the drop; its units are still cached for its reads.
  const uint64_t decodes = frames.files[3]->decodes.load();
  std::thread dropper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    frames.Drop(3);
  });
  after_open = nullptr;
  auto start = std::chrono::steady_clock::now();
  auto r3 = path_->Open(frames.files[3], frames.Context(3), &after_open);
  dropper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(450));
  EXPECT_FALSE(after_open);
  ASSERT_TRUE(r3->Read(0, buf).ok());
  EXPECT_TRUE(Check(buf, 0, StoredFrames::kSize));
  EXPECT_EQ(frames.files[3]->decodes.load(), decodes);

  // Never answered: the open goes on after its limit.
  start = std::chrono::steady_clock::now();
  auto r4 = path_->Open(frames.files[4], frames.Context(4), &after_open);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(450));
  EXPECT_FALSE(after_open);
  frames.Take(4);  // late: the kernel has it now
  ASSERT_TRUE(r4->Read(0, buf).ok());
  EXPECT_TRUE(Check(buf, 0, StoredFrames::kSize));
  // Read through daqfs: opening it again is no stored open (its units would go from RAM).
  auto again = path_->Open(frames.files[4], frames.Context(4), &after_open);
  EXPECT_FALSE(after_open);
  WaitIdle();  // prefetches still queued use `frames`
}

TEST_F(CachedReadPathTest, AFileItsReaderReachesBeforeItsDecodeEndsIsNotStored) {
  // File 2 decodes slowly, past the open's wait for its store; its reader then reads it
  // through daqfs, joining the prefetch's decode. Storing it after that would copy it again
  // for nothing (and, once the scan had released its units, decode it again): it is not
  // stored; the scan goes on.
  Make(5 * kMiB, 64 * kMiB, std::chrono::milliseconds(100));
  StoredFrames frames(std::chrono::milliseconds(300), 2);
  std::vector<uint8_t> buf(StoredFrames::kSize);
  auto r0 = path_->Open(frames.files[0], frames.Context(0));
  ASSERT_TRUE(r0->Read(0, buf).ok());
  auto r1 = path_->Open(frames.files[1], frames.Context(1));
  ASSERT_TRUE(r1->Read(0, buf).ok());
  auto r2 = path_->Open(frames.files[2], frames.Context(2));
  ASSERT_TRUE(r2->Read(0, buf).ok());
  EXPECT_TRUE(Check(buf, 0, StoredFrames::kSize));
  WaitIdle();
  std::vector<int> stored = frames.Stored();
  EXPECT_EQ(std::count(stored.begin(), stored.end(), 2), 0);
  EXPECT_EQ(std::count(stored.begin(), stored.end(), 4), 1);  // the scan went on past 2
  EXPECT_EQ(frames.files[2]->decodes.load(), frames.files[2]->BlockCount());
  WaitIdle();  // prefetches still queued use `frames`
}

TEST_F(CachedReadPathTest, ShortReadsAndFailingNthDecodeAreHandled) {
  Make();
  auto inner = std::make_shared<PatternSource>(8 * kMiB, false, "short");
  FaultySource::Faults f;
  f.short_reads = true;
  f.fail_nth = 2;  // the second block decode fails once
  auto src = std::make_shared<FaultySource>(inner, f);
  auto reader = path_->Open(src, FileContext{});
  std::vector<uint8_t> buf(300000);
  // A random read goes direct; the source's short reads are continued.
  Result<size_t> n = reader->Read(5 * kMiB + 17, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, buf.size());
  EXPECT_TRUE(Check(buf, 5 * kMiB + 17, *n));
  // A sequential pass: one decode fails (that read gets EIO), a retry of the range works.
  auto seq = path_->Open(src, FileContext{});
  int failures = 0;
  std::vector<uint8_t> block(kMiB);
  for (uint64_t b = 0; b < 8; ++b) {
    Result<size_t> r = seq->Read(b * kMiB, block);
    if (!r.ok()) {
      ++failures;
      r = seq->Read(b * kMiB, block);
    }
    ASSERT_TRUE(r.ok()) << b;
    EXPECT_TRUE(Check(block, b * kMiB, *r)) << b;
  }
  WaitIdle();
  EXPECT_LE(failures, 1);
  EXPECT_GE(src->decodes(), 2u);
}

TEST(CachedReadPathScanTest, SequentialScanLeavesRamToThePageCacheWhenSsdKeepsBlocks) {
  Metrics metrics;
  MemoryBlockCache ram(256 * kMiB, nullptr);
  MemoryBlockCache ssd(256 * kMiB, nullptr);  // stands in for the SSD tier
  ThreadPool pool(4, 4);
  ReadPathOptions o;
  o.prefetch_window_bytes = 16 * kMiB;
  auto path = std::make_unique<CachedReadPath>(o, &ram, &ssd, &pool, &metrics);
  // Reads `src` whole in 1 MiB requests, then waits until its prefetches are done.
  auto scan = [&](const std::shared_ptr<PatternSource>& src, const FileContext& context) {
    {
      auto reader = path->Open(src, context);
      std::vector<uint8_t> buf(kMiB);
      for (uint64_t b = 0; b < src->Size() / kMiB; ++b) {
        ASSERT_TRUE(reader->Read(b * kMiB, buf).ok());
        ASSERT_TRUE(Check(buf, b * kMiB, buf.size()));
      }
    }
    for (int i = 0; i < 5000 && (path->inflight_bytes() > 0 || !pool.idle()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  auto src = std::make_shared<PatternSource>(40 * kMiB, true, "scan");
  ASSERT_NO_FATAL_FAILURE(scan(src, FileContext{}));
  EXPECT_EQ(ssd.bytes(), 40 * kMiB);  // every block kept on the slower tier
  EXPECT_LE(ram.bytes(), 20 * kMiB);  // consumed prefetched blocks left RAM
  EXPECT_LE(src->decodes.load(), 40u);

  // A file read with direct I/O (a live stream's frame) leaves nothing in the page cache: the
  // same scan keeps its blocks in RAM.
  FileContext direct;
  direct.page_cached = false;
  ASSERT_NO_FATAL_FAILURE(scan(std::make_shared<PatternSource>(16 * kMiB, true, "direct"), direct));
  for (uint64_t b = 0; b < 16; ++b) {
    EXPECT_TRUE(ram.Contains(BlockKey{"direct", b})) << "block " << b;
  }
}

}  // namespace
}  // namespace daqfs

namespace daqfs {
namespace {

// Files of one directory read whole, one after another (a `cat frames/*`): each file's start
// prefetches the next window of siblings, opening each sibling once however many files start
// after it; files read as part of the scan leave their blocks to the page cache when the SSD
// tier keeps them, so RAM holds about one window, not the whole folder.
TEST(CachedReadPathScanTest, DirectoryScanOpensEachSiblingOnceAndRecyclesRam) {
  Metrics metrics;
  MemoryBlockCache ram(512 * kMiB, nullptr);
  MemoryBlockCache ssd(512 * kMiB, nullptr);  // stands in for the SSD tier
  ThreadPool pool(4, 4);
  ReadPathOptions o;
  o.prefetch_window_bytes = 8 * kMiB;
  o.prefetch_budget_bytes = 64 * kMiB;
  auto path = std::make_unique<CachedReadPath>(o, &ram, &ssd, &pool, &metrics);
  constexpr int kFiles = 40;
  std::vector<std::shared_ptr<PatternSource>> files;
  std::vector<std::atomic<int>> opens(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    files.push_back(std::make_shared<PatternSource>(2 * kMiB, true, "f" + std::to_string(i)));
  }
  auto context = [&](int i) {
    FileContext c;
    c.source = 1;
    c.dir = "frames";
    c.name = "f" + std::to_string(i);
    c.next_siblings = [&, i](size_t max) {
      std::vector<Sibling> out;
      for (int k = i + 1; k < kFiles && out.size() < max; ++k) {
        out.push_back(Sibling{"f" + std::to_string(k), files[k]->Size(),
                              [&, k] {
                                ++opens[k];
                                return std::shared_ptr<ByteSource>(files[k]);
                              },
                              nullptr});
      }
      return out;
    };
    return c;
  };
  std::vector<uint8_t> buf(kMiB);
  for (int i = 0; i < kFiles; ++i) {
    auto r = path->Open(files[i], context(i));
    for (uint64_t off = 0; off < 2 * kMiB; off += kMiB) {
      ASSERT_TRUE(r->Read(off, buf).ok()) << i;
      ASSERT_TRUE(Check(buf, off, buf.size())) << i;
    }
  }
  for (int i = 0; i < 5000 && (path->inflight_bytes() > 0 || !pool.idle()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int sibling_opens = 0;
  for (int k = 0; k < kFiles; ++k) {
    EXPECT_LE(opens[k].load(), 1) << k;
    sibling_opens += opens[k].load();
  }
  EXPECT_GE(sibling_opens, kFiles - 3);  // all but the first two were prefetched as siblings
  uint64_t decodes = 0;
  for (const auto& f : files) decodes += f->decodes.load();
  EXPECT_LE(decodes, 2u * kFiles);  // each block decoded once
  EXPECT_EQ(ssd.bytes(), 2 * kFiles * kMiB);
  EXPECT_LE(ram.bytes(), 16 * kMiB);  // about one window (8 MiB) ahead, not the 80 MiB read

  // A second pass over the folder prefetches again (the RAM copies were released): each file
  // after the first two is opened once more as a sibling, ahead of its reader.
  for (auto& o : opens) o = 0;
  for (int i = 0; i < kFiles; ++i) {
    auto r = path->Open(files[i], context(i));
    for (uint64_t off = 0; off < 2 * kMiB; off += kMiB) {
      ASSERT_TRUE(r->Read(off, buf).ok()) << i;
    }
  }
  for (int i = 0; i < 5000 && (path->inflight_bytes() > 0 || !pool.idle()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  sibling_opens = 0;
  for (int k = 0; k < kFiles; ++k) {
    EXPECT_LE(opens[k].load(), 1) << k;
    sibling_opens += opens[k].load();
  }
  EXPECT_GE(sibling_opens, kFiles - 3);
}

}  // namespace
}  // namespace daqfs
