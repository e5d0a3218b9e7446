#include "fs/fuse/fuse_notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace daqfs {
namespace {

struct Recorder {
  std::mutex mu;
  std::vector<std::string> calls;
  std::set<std::thread::id> threads;
  int rc = 0;
  FuseNotifier::Sender Sender() {
    return FuseNotifier::Sender{[this](uint64_t parent, const std::string& name) {
                                  std::lock_guard<std::mutex> l(mu);
                                  calls.push_back("entry " + std::to_string(parent) + " " + name);
                                  threads.insert(std::this_thread::get_id());
                                  return rc;
                                },
                                [this](uint64_t ino) {
                                  std::lock_guard<std::mutex> l(mu);
                                  calls.push_back("inode " + std::to_string(ino));
                                  threads.insert(std::this_thread::get_id());
                                  return rc;
                                },
                                [this](uint64_t ino, uint64_t off, uint64_t len) {
                                  std::lock_guard<std::mutex> l(mu);
                                  calls.push_back("pages " + std::to_string(ino) + " " +
                                                  std::to_string(off) + " " + std::to_string(len));
                                  threads.insert(std::this_thread::get_id());
                                  return rc;
                                },
                                nullptr};
  }
};

TEST(FuseNotifierTest, SendsInOrderOnItsOwnThreadAndDropsForgottenInodes) {
  Recorder r;
  FuseNotifier n(r.Sender(), [](uint64_t ino) { return ino != 13; });
  n.Start();
  n.NotifyInvalEntry(1, "new.tar");
  n.NotifyInvalInode(1);
  n.NotifyInvalInode(13);  // the kernel forgot it meanwhile
  n.NotifyInvalEntry(13, "x");
  n.Drain();
  EXPECT_EQ(r.calls, (std::vector<std::string>{"entry 1 new.tar", "inode 1"}));
  ASSERT_EQ(r.threads.size(), 1u);
  EXPECT_NE(*r.threads.begin(), std::this_thread::get_id());  // never the caller's thread
  EXPECT_EQ(n.sent(), 2u);
  EXPECT_EQ(n.dropped(), 2u);
}

// DropBehind's page ranges go out as ranges, in order with the other events, and not for an
// inode the kernel forgot.
TEST(FuseNotifierTest, SendsPageRanges) {
  Recorder r;
  FuseNotifier n(r.Sender(), [](uint64_t ino) { return ino != 13; });
  n.Start();
  n.NotifyInvalRange(5, 4096, 1 << 20);
  n.NotifyInvalInode(6);
  n.NotifyInvalRange(13, 0, 4096);
  n.Drain();
  EXPECT_EQ(r.calls, (std::vector<std::string>{"pages 5 4096 1048576", "inode 6"}));
  EXPECT_EQ(n.sent(), 2u);
  EXPECT_EQ(n.dropped(), 1u);
}

// Page ranges are hints: contiguous ones of an inode merge into one notice, and at most
// kMaxQueuedRanges wait, so a flood of them never pushes out an entry invalidation.
TEST(FuseNotifierTest, PageRangesMergeAndNeverCrowdOutOtherEvents) {
  Recorder r;
  FuseNotifier n(r.Sender(), nullptr);  // not started: everything stays queued
  n.NotifyInvalRange(5, 0, 4096);
  n.NotifyInvalRange(5, 4096, 8192);  // continues the last one: merged
  for (size_t i = 0; i < FuseNotifier::kMaxQueuedRanges + 100; ++i) {
    n.NotifyInvalRange(6 + i % 2, i * 1000000, 4096);  // alternating inodes: no merging
  }
  n.NotifyInvalEntry(1, "new.tar");
  EXPECT_EQ(n.dropped(), 101u);  // the ranges beyond the cap
  n.Start();
  n.Drain();
  ASSERT_GE(r.calls.size(), 2u);
  EXPECT_EQ(r.calls.front(), "pages 5 0 12288");
  EXPECT_EQ(r.calls.back(), "entry 1 new.tar");
  EXPECT_EQ(r.calls.size(), FuseNotifier::kMaxQueuedRanges + 1);
}

TEST(FuseNotifierTest, CallersNeverWaitForABlockedKernel) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  FuseNotifier n(FuseNotifier::Sender{[&](uint64_t, const std::string&) {
                                        released.wait();
                                        return ++calls, 0;
                                      },
                                      [&](uint64_t) {
                                        released.wait();
                                        return ++calls, 0;
                                      },
                                      nullptr, nullptr},
                 nullptr);
  n.Start();
  for (int i = 0; i < 1000; ++i) n.NotifyInvalInode(5);  // the thread is stuck in the first
  EXPECT_LE(calls.load(), 0);
  release.set_value();
  n.Drain();
  EXPECT_EQ(calls.load(), 1000);
}

TEST(FuseNotifierTest, KernelEnoentIsNoErrorAndStopDropsTheRest) {
  Recorder r;
  r.rc = -ENOENT;
  FuseNotifier n(r.Sender(), nullptr);
  n.NotifyInvalInode(7);  // queued before Start: sent once it runs
  n.Start();
  n.Drain();
  EXPECT_EQ(n.sent(), 1u);
  n.Stop();
  n.NotifyInvalInode(8);  // after Stop: dropped, never sent
  EXPECT_EQ(r.calls, (std::vector<std::string>{"inode 7"}));
  EXPECT_EQ(n.dropped(), 1u);
  n.Stop();  // idempotent
}

// Pieces as a read returns them (a TIFF header, then the pixels of units), sent as runs that
// start and end at page boundaries: whole pages straight from a piece, a page made of several
// pieces copied into one buffer, the tail last.
TEST(FuseNotifierTest, StoresGoOutAsPageAlignedRunsWithTheSameBytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<std::vector<uint8_t>> parts = {std::vector<uint8_t>(100), std::vector<uint8_t>(5000),
                                             std::vector<uint8_t>(3 * page),
                                             std::vector<uint8_t>(7)};
  std::vector<uint8_t> all;
  std::vector<ReadPiece> pieces;
  uint8_t v = 0;
  for (auto& p : parts) {
    for (uint8_t& b : p) b = v++;
    all.insert(all.end(), p.begin(), p.end());
    pieces.push_back(ReadPiece{nullptr, p.data(), p.size()});
  }
  std::vector<uint8_t> got;
  int zero_copy = 0;
  int rc = ForEachPageAlignedRun(0, pieces, [&](uint64_t off, const uint8_t* p, size_t n) {
    EXPECT_EQ(off, got.size());
    EXPECT_EQ(off % page, 0u) << off;
    EXPECT_TRUE(n % page == 0 || off + n == all.size()) << off << " " << n;
    for (auto& part : parts) zero_copy += p >= part.data() && p < part.data() + part.size();
    got.insert(got.end(), p, p + n);
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(got, all);
  EXPECT_GE(zero_copy, 1);  // the pages inside the third piece were not copied
  // The first error stops it and is returned.
  int calls = 0;
  EXPECT_EQ(ForEachPageAlignedRun(
                0, pieces, [&](uint64_t, const uint8_t*, size_t) { return ++calls, -ENOENT; }),
            -ENOENT);
  EXPECT_EQ(calls, 1);
}

TEST(FuseNotifierTest, StoresWaitForInvalidationsAreBoundedAndReported) {
  Recorder r;
  FuseNotifier::Sender sender = r.Sender();
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::atomic<bool> in_store{false};
  sender.store = [&](uint64_t ino, uint64_t off, const std::vector<ReadPiece>& data) {
    in_store = true;
    open.wait();  // the first store holds the thread until the test has queued the rest
    std::lock_guard<std::mutex> l(r.mu);
    size_t n = 0;
    for (const ReadPiece& p : data) n += p.size;
    r.calls.push_back("store " + std::to_string(ino) + " " + std::to_string(off) + " " +
                      std::to_string(n));
    return 0;
  };
  FuseNotifier n(sender, nullptr);
  std::vector<std::string> reported;
  n.OnStored([&](uint64_t ino, uint64_t off, uint64_t len) {
    reported.push_back(std::to_string(ino) + " " + std::to_string(off) + " " + std::to_string(len));
  });
  auto keep = std::make_shared<std::vector<uint8_t>>(1 << 20);
  auto piece = [&](size_t size) {
    return std::vector<ReadPiece>{ReadPiece{keep, keep->data(), size}};
  };
  std::mutex done_mu;
  std::vector<std::string> done;  // each store's outcome, as its `done` callback told it
  auto outcome = [&](int ino) {
    return [&, ino](bool taken) {
      std::lock_guard<std::mutex> l(done_mu);
      done.push_back(std::to_string(ino) + (taken ? " taken" : " dropped"));
    };
  };
  n.Start();
  EXPECT_TRUE(n.NotifyStore(5, 0, piece(1000), outcome(5)));
  while (!in_store) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // it waits in it
  EXPECT_TRUE(n.NotifyStore(6, 0, piece(2000), outcome(6)));
  n.NotifyInvalInode(7);  // queued after store 6, sent before it
  // Beyond kMaxQueuedStoreBytes queued: refused, nothing queued.
  std::vector<ReadPiece> huge;
  for (uint64_t b = 0; b <= FuseNotifier::kMaxQueuedStoreBytes >> 20; ++b) {
    huge.push_back(ReadPiece{keep, keep->data(), keep->size()});
  }
  EXPECT_FALSE(n.NotifyStore(8, 0, std::move(huge), outcome(8)));  // refused: never told
  EXPECT_FALSE(n.NotifyStore(9, 0, {}, outcome(9)));               // nothing to store
  // A store queued before its inode's invalidation is stale: dropped, never sent.
  EXPECT_TRUE(n.NotifyStore(11, 0, piece(500), outcome(11)));
  n.NotifyInvalInode(11);
  gate.set_value();
  n.Drain();
  EXPECT_EQ(r.calls,
            (std::vector<std::string>{"store 5 0 1000", "inode 7", "inode 11", "store 6 0 2000"}));
  EXPECT_EQ(reported, (std::vector<std::string>{"5 0 1000", "6 0 2000"}));
  EXPECT_EQ(n.stored_bytes(), 3000u);
  EXPECT_EQ(keep.use_count(), 1);  // sent and refused stores let their pieces go
  EXPECT_EQ(done, (std::vector<std::string>{"11 dropped", "5 taken", "6 taken"}));
  n.Stop();
  EXPECT_FALSE(n.NotifyStore(10, 0, piece(10), outcome(10)));  // stopped
  EXPECT_EQ(done.size(), 3u);
}

// Stores that the kernel refuses, that wait when the notifier stops, or whose inode the kernel
// has forgotten are told they were dropped.
TEST(FuseNotifierTest, StoresNotTakenAreToldSo) {
  Recorder r;
  FuseNotifier::Sender sender = r.Sender();
  sender.store = [](uint64_t ino, uint64_t, const std::vector<ReadPiece>&) {
    return ino == 2 ? -ENOMEM : 0;
  };
  FuseNotifier n(sender, [](uint64_t ino) { return ino != 3; });  // 3 is forgotten
  auto keep = std::make_shared<std::vector<uint8_t>>(100);
  std::mutex mu;
  std::map<uint64_t, bool> told;
  auto outcome = [&](uint64_t ino) {
    return [&, ino](bool taken) {
      std::lock_guard<std::mutex> l(mu);
      EXPECT_EQ(told.count(ino), 0u) << ino;  // once
      told[ino] = taken;
    };
  };
  n.Start();
  for (uint64_t ino : {1, 2, 3}) {
    EXPECT_TRUE(n.NotifyStore(ino, 0, {ReadPiece{keep, keep->data(), 100}}, outcome(ino)));
  }
  n.Drain();
  EXPECT_EQ(told, (std::map<uint64_t, bool>{{1, true}, {2, false}, {3, false}}));
  // Queued when the notifier stops (its thread is held in an invalidation meanwhile).
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::atomic<bool> in_inval{false};
  FuseNotifier::Sender held = r.Sender();
  held.inval_inode = [&](uint64_t) {
    in_inval = true;
    open.wait();
    return 0;
  };
  held.store = sender.store;
  FuseNotifier m(held, nullptr);
  m.Start();
  m.NotifyInvalInode(9);
  while (!in_inval) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(m.NotifyStore(4, 0, {ReadPiece{keep, keep->data(), 100}}, outcome(4)));
  std::thread stopper([&] { m.Stop(); });
  while (m.dropped() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // stopping
  gate.set_value();
  stopper.join();
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(told.count(4), 1u);
  EXPECT_FALSE(told[4]);
}

// Without a store function (a sender of tests, a kernel without it) stores are refused.
TEST(FuseNotifierTest, WithoutStoreFunctionStoresAreRefused) {
  Recorder r;
  FuseNotifier n(r.Sender(), nullptr);
  n.Start();
  auto keep = std::make_shared<std::vector<uint8_t>>(10);
  EXPECT_FALSE(n.NotifyStore(1, 0, {ReadPiece{keep, keep->data(), 10}}));
}

}  // namespace
}  // namespace daqfs
