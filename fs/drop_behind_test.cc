#include "fs/drop_behind.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace daqfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kBig = 1ull << 40;  // files far longer than what is read

struct Dropped {
  uint64_t ino, offset, length;
  bool operator==(const Dropped&) const = default;
};

class DropBehindTest : public ::testing::Test {
 protected:
  // Without batching (batch 0: every read past `keep` drops), so amounts are exact.
  explicit DropBehindTest(uint64_t keep = 4 * kMiB, uint64_t batch = 0)
      : drop_(
            keep, 4096,
            [this](uint64_t ino, uint64_t off, uint64_t len) {
              std::lock_guard<std::mutex> lock(mu_);  // called from the readers' threads
              dropped_.push_back(Dropped{ino, off, len});
            },
            nullptr, nullptr, batch) {}
  uint64_t DroppedOf(uint64_t ino) const {
    uint64_t n = 0;
    for (const Dropped& d : dropped_) n += d.ino == ino ? d.length : 0;
    return n;
  }
  std::mutex mu_;
  std::vector<Dropped> dropped_;
  DropBehind drop_;
};

// A 16 MiB file read in 1 MiB pieces keeps the last 4 MiB: 12 MiB dropped, oldest first, in
// order, none of it ahead of the reader.
TEST_F(DropBehindTest, SequentialReaderKeepsOnlyTheLastKeepBytes) {
  for (uint64_t i = 0; i < 16; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  EXPECT_EQ(DroppedOf(7), 12 * kMiB);
  EXPECT_EQ(drop_.dropped_bytes(), 12 * kMiB);
  uint64_t next = 0;
  for (const Dropped& d : dropped_) {
    EXPECT_EQ(d.offset, next);
    next = d.offset + d.length;
  }
  EXPECT_EQ(next, 12 * kMiB);
}

// Pages are dropped whole: a reader that has passed only part of a page keeps it.
TEST_F(DropBehindTest, DropsWholePagesOnly) {
  drop_.Read(1, 7, 0, 5 * kMiB + 100, kBig);
  drop_.Read(1, 7, 5 * kMiB + 100, 3 * kMiB, kBig);
  // The first read leaves [0, 1 MiB + 100) over: whole pages [0, 1 MiB). The second leaves
  // [1 MiB + 100, 4 MiB + 100) over: the page holding 1 MiB + 100 goes with it (the bytes
  // before it in that page went the first time), then whole pages up to 4 MiB.
  ASSERT_EQ(dropped_.size(), 2u);
  EXPECT_EQ(dropped_[0], (Dropped{7, 0, kMiB}));
  EXPECT_EQ(dropped_[1], (Dropped{7, kMiB, 3 * kMiB}));
}

// A file read to its end loses its last page too, though the reader passed only part of it:
// a second reader asks for the whole file again (its read-ahead must reach the end).
TEST_F(DropBehindTest, TheLastPageOfAFileReadToItsEndIsDropped) {
  const uint64_t size = 2 * kMiB + 1000;
  drop_.Read(1, 7, 0, size, size);
  drop_.Read(2, 8, 0, 8 * kMiB, 8 * kMiB);  // pushes file 7 out
  ASSERT_FALSE(dropped_.empty());
  EXPECT_EQ(dropped_[0], (Dropped{7, 0, 2 * kMiB + 4096}));
}

// Read-ahead that arrives a little out of order still counts as sequential.
TEST_F(DropBehindTest, ReorderedReadAheadIsSequential) {
  for (uint64_t i = 0; i < 16; i += 2) {
    drop_.Read(1, 7, (i + 1) * kMiB, kMiB, kBig);
    drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  }
  EXPECT_GE(DroppedOf(7), 11 * kMiB);
}

// Random reads (far from where the handle was) are never dropped.
TEST_F(DropBehindTest, RandomReadsAreNeverDropped) {
  for (uint64_t off : {900 * kMiB, 17 * kMiB, 400 * kMiB, 3 * kMiB, 700 * kMiB, 200 * kMiB}) {
    drop_.Read(1, 7, off + 5, 4 * kMiB, kBig);  // not at the start, far from the last read
  }
  EXPECT_TRUE(dropped_.empty());
}

// Files read one after another (a folder of frames) share the budget: older files go whole.
TEST_F(DropBehindTest, FilesReadOneAfterAnotherShareTheBudget) {
  for (uint64_t ino = 100; ino < 110; ++ino) {
    drop_.Read(ino, ino, 0, kMiB, kBig);
    drop_.Read(ino, ino, kMiB, kMiB, kBig);
    drop_.Closed(ino);
  }
  for (uint64_t ino = 100; ino < 108; ++ino) EXPECT_EQ(DroppedOf(ino), 2 * kMiB) << ino;
  EXPECT_EQ(DroppedOf(108), 0u);
  EXPECT_EQ(DroppedOf(109), 0u);
}

// A file whose dropped pages are asked for again is read more than once: it is kept since.
TEST_F(DropBehindTest, AFileReadAgainIsKeptFromThenOn) {
  for (uint64_t i = 0; i < 16; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  drop_.Closed(1);
  uint64_t first = DroppedOf(7);
  EXPECT_EQ(first, 12 * kMiB);
  // A second pass, by a new open file whose handle happens to be the closed one's.
  for (uint64_t i = 0; i < 16; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  EXPECT_EQ(DroppedOf(7), first);
  EXPECT_EQ(drop_.kept_files(), 1u);
  // Other files are still dropped behind their readers.
  for (uint64_t i = 0; i < 16; ++i) drop_.Read(3, 8, i * kMiB, kMiB, kBig);
  EXPECT_EQ(DroppedOf(8), 12 * kMiB);
}

// The kernel's read-ahead can run further ahead of its reader than `keep`: pages dropped
// before the reader got to them are asked for again by the same open file. That is no second
// pass: the file is not kept, and the pages are dropped again behind it.
TEST_F(DropBehindTest, TheSameOpenFileAskingAgainIsNoSecondPass) {
  for (uint64_t i = 0; i < 16; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  drop_.Read(1, 7, 3 * kMiB, kMiB, kBig);  // dropped already; within the slack of the reader
  EXPECT_EQ(drop_.kept_files(), 0u);
  for (uint64_t i = 16; i < 24; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  EXPECT_EQ(DroppedOf(7), 21 * kMiB);  // 24 + 1 read, 4 kept
}

// Two open files reading disjoint parts of one file (a loader's workers): pages one of them
// dropped are not the other's second pass.
TEST_F(DropBehindTest, ParallelReadersOfDisjointPartsAreNoSecondPass) {
  for (uint64_t i = 0; i < 16; ++i) {
    drop_.Read(1, 7, 1000 * kMiB + i * kMiB, kMiB, kBig);  // worker 1 from 1000 MiB (its own
    drop_.Read(2, 7, i * kMiB, kMiB, kBig);                // reads jump there: not sequential)
  }
  EXPECT_EQ(drop_.kept_files(), 0u);
  EXPECT_GE(DroppedOf(7), 10 * kMiB);
}

// The same open file reading its dropped pages far behind where it has read to (a seek back to
// the start: a second epoch through one handle) is a second pass.
TEST_F(DropBehindTest, TheSameOpenFileFarBehindIsASecondPass) {
  for (uint64_t i = 0; i < 48; ++i) drop_.Read(1, 7, i * kMiB, kMiB, kBig);
  EXPECT_EQ(drop_.kept_files(), 0u);
  drop_.Read(1, 7, 0, kMiB, kBig);  // 48 MiB behind: more than max(2 x 16 MiB, 4 MiB)
  EXPECT_EQ(drop_.kept_files(), 1u);
}

// Many threads reading many files: the total kept stays bounded and nothing is dropped twice.
TEST_F(DropBehindTest, ConcurrentReadersStayConsistent) {
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (uint64_t i = 0; i < 64; ++i) drop_.Read(t, 50 + t, i * kMiB, kMiB, kBig);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(drop_.dropped_bytes(), 4 * 64 * kMiB - 4 * kMiB);
}

}  // namespace
}  // namespace daqfs

namespace daqfs {
namespace {

// With batching (the default kBatch), a drop waits until the FIFO is kBatch past `keep`, then
// goes down to `keep` at once: one notice per 8 MiB or more, not one per read.
TEST(DropBehindBatchTest, DropsInBatches) {
  std::vector<uint64_t> lengths;
  DropBehind drop(4 << 20, 4096, [&](uint64_t, uint64_t, uint64_t len) { lengths.push_back(len); });
  for (uint64_t i = 0; i < 64; ++i) drop.Read(1, 7, i << 20, 1 << 20, 1ull << 40);
  ASSERT_FALSE(lengths.empty());
  for (uint64_t len : lengths) EXPECT_GE(len, DropBehind::kBatch);
  EXPECT_GE(drop.dropped_bytes(), (64u - 4 - 9) << 20);
}

}  // namespace
}  // namespace daqfs
