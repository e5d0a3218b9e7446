#include "cache/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace daqfs {
namespace {

TEST(ThreadPoolTest, RunsEveryTask) {
  std::atomic<int> n{0};
  {
    ThreadPool pool(4);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(pool.Submit([&] { n++; }));
    while (n.load() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(n.load(), 1000);
}

TEST(ThreadPoolTest, DestructionDropsQueuedTasksAndJoins) {
  std::atomic<int> started{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 100; ++i) {
      pool.Submit([&] {
        started++;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LT(started.load(), 100);
}

TEST(ThreadPoolTest, ExceptionInTaskDoesNotKillWorker) {
  ThreadPool pool(1);
  std::atomic<bool> ran{false};
  pool.Submit([] { throw std::runtime_error("boom"); });
  pool.Submit([&] { ran = true; });
  for (int i = 0; i < 1000 && !ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace daqfs
