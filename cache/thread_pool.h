// ThreadPool: worker threads running queued tasks in FIFO order; the Executor the prefetcher
// decodes on. Destruction drops tasks not yet started and joins the workers.
//
// `threads` bounds how many tasks can wait on storage at once; `cpus` how many the pool keeps
// running otherwise. A task is handed to a sleeping worker only while fewer than `cpus` workers
// are running tasks outside a BlockingScope (fs/blocking.h); otherwise it waits for a running
// worker to finish its task (no wake-up, no context switch) or for one to block on storage. A
// pool of threads that are all computing behaves as a pool of `cpus` threads; a pool whose
// workers wait on slow storage grows up to `threads` reads in flight.
//
// Thread safety: Submit is thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fs/blocking.h"
#include "fs/read_path.h"

namespace daqfs {

class ThreadPool final : public Executor {
 public:
  // `threads` and `cpus` of 0 count as 1; `cpus` is capped at `threads`.
  ThreadPool(unsigned threads, unsigned cpus);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  bool Submit(std::function<void()> task) override;
  size_t queued() const;
  // Nothing queued and no task running (tests).
  bool idle() const;
  // For tests: workers woken so far (a worker that finds queued work after a task is not woken).
  uint64_t wakeups() const;

  // The CPUs this process may run on (its affinity mask: a Slurm job's or cgroup's cpuset), at
  // least 1.
  static unsigned UsableCpus();

 private:
  class Observer final : public BlockingObserver {
   public:
    explicit Observer(ThreadPool* pool) : pool_(pool) {}
    void BlockingStarted() override;
    void BlockingEnded() override;

   private:
    ThreadPool* pool_;
  };

  void Work();
  // Wakes one sleeping worker if queued work waits and fewer than cpus_ workers run. mu_ held.
  void MaybeWake();

  const unsigned cpus_;
  Observer observer_{this};
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  unsigned awake_ = 0;     // workers not asleep (running a task, or woken and about to)
  unsigned blocked_ = 0;   // awake workers inside a BlockingScope
  unsigned sleeping_ = 0;  // workers waiting for a wake-up
  unsigned permits_ = 0;   // wake-ups granted, not yet taken by a sleeping worker
  uint64_t wakeups_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace daqfs
