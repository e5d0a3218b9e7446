#include "cache/thread_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "fs/blocking.h"

namespace daqfs {
namespace {

using namespace std::chrono_literals;

// Counts the tasks running at once and the most seen.
struct Concurrency {
  std::atomic<int> now{0}, most{0};
  void Enter() {
    int cur = ++now;
    int m = most.load();
    while (cur > m && !most.compare_exchange_weak(m, cur)) {
    }
  }
  void Leave() { --now; }
};

bool WaitFor(const std::atomic<int>& n, int want) {
  for (int i = 0; i < 20000 && n.load() < want; ++i) std::this_thread::sleep_for(1ms);
  return n.load() == want;
}

TEST(ThreadPoolTest, ComputingTasksRunOnCpusWorkersAndFinishersTakeTheNextWithoutWakeUps) {
  // 16 threads, 2 CPUs: tasks that only compute run two at a time, in order, and a worker that
  // finishes one takes the next itself: 2 wake-ups for 64 tasks, not one per task.
  ThreadPool pool(16, 2);
  Concurrency c;
  std::atomic<int> done{0};
  std::vector<int> order;
  std::mutex order_mu;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(pool.Submit([&, i] {
      c.Enter();
      {
        std::lock_guard<std::mutex> lock(order_mu);
        order.push_back(i);
      }
      auto until = std::chrono::steady_clock::now() + 2ms;
      while (std::chrono::steady_clock::now() < until) {
      }
      c.Leave();
      ++done;
    }));
  }
  ASSERT_TRUE(WaitFor(done, 64));
  EXPECT_LE(c.most.load(), 2);
  EXPECT_LE(pool.wakeups(), 4u);
  // Started in the order queued, give or take the two running at once and a worker preempted
  // between taking its task and recording it.
  for (size_t i = 0; i < order.size(); ++i) EXPECT_LE(std::abs(order[i] - static_cast<int>(i)), 4);
}

TEST(ThreadPoolTest, TasksWaitingOnStorageLetMoreWorkersRunUpToThreads) {
  // Tasks that sleep inside a BlockingScope (storage latency): all 12 threads end up waiting at
  // once, although only 2 CPUs are counted.
  ThreadPool pool(12, 2);
  Concurrency c;
  std::atomic<int> done{0};
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 24; ++i) {
    pool.Submit([&] {
      c.Enter();
      {
        BlockingScope blocking;
        std::this_thread::sleep_for(300ms);
      }
      c.Leave();
      ++done;
    });
  }
  ASSERT_TRUE(WaitFor(done, 24));
  EXPECT_GE(c.most.load(), 8);
  EXPECT_LE(c.most.load(), 12);
  // A few rounds of up to 12, not twelve rounds of 2 (3.6 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
}

TEST(ThreadPoolTest, WorkersWokenWhileOthersWaitedGoBackToSleepOnceTheyCompute) {
  // 8 tasks wait on storage (8 workers awake), then compute; the 40 compute-only tasks queued
  // behind them run on at most 2 workers at once: the others went back to sleep.
  ThreadPool pool(8, 2);
  Concurrency compute_only;
  std::atomic<int> done{0};
  auto spin = [](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
  };
  for (int i = 0; i < 8; ++i) {
    pool.Submit([&] {
      {
        BlockingScope blocking;
        std::this_thread::sleep_for(50ms);
      }
      spin(5ms);
      ++done;
    });
  }
  for (int i = 0; i < 40; ++i) {
    pool.Submit([&] {
      compute_only.Enter();
      spin(2ms);
      compute_only.Leave();
      ++done;
    });
  }
  ASSERT_TRUE(WaitFor(done, 48));
  EXPECT_LE(compute_only.most.load(), 2);
}

TEST(ThreadPoolTest, SubmitWhileWorkersWaitOnStorageWakesAnother) {
  ThreadPool pool(4, 1);
  std::atomic<bool> release{false};
  std::atomic<int> blocked{0}, ran{0};
  pool.Submit([&] {
    BlockingScope blocking;
    ++blocked;
    while (!release) std::this_thread::sleep_for(1ms);
  });
  bool was_blocked = WaitFor(blocked, 1);
  // The only CPU's worker waits on storage: a new task runs at once on another worker.
  pool.Submit([&] { ++ran; });
  bool ran_meanwhile = WaitFor(ran, 1);
  release = true;
  EXPECT_TRUE(was_blocked);
  EXPECT_TRUE(ran_meanwhile);
}

TEST(ThreadPoolTest, UsableCpusIsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(ThreadPool::UsableCpus(), static_cast<unsigned>(CPU_COUNT(&set)));
}

TEST(ThreadPoolTest, RunsEveryTask) {
  std::atomic<int> n{0};
  {
    ThreadPool pool(4, 4);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(pool.Submit([&] { n++; }));
    while (n.load() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(n.load(), 1000);
}

TEST(ThreadPoolTest, DestructionDropsQueuedTasksAndJoins) {
  std::atomic<int> started{0};
  {
    ThreadPool pool(1, 1);
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
  ThreadPool pool(1, 1);
  std::atomic<bool> ran{false};
  pool.Submit([] { throw std::runtime_error("boom"); });
  pool.Submit([&] { ran = true; });
  for (int i = 0; i < 1000 && !ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace daqfs
