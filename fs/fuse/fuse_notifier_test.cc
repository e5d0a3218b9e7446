#include "fs/fuse/fuse_notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <future>
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
                                }};
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
                                      nullptr},
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

}  // namespace
}  // namespace daqfs
