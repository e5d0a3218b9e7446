#include "cache/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <exception>

#include "fs/log.h"

namespace daqfs {

ThreadPool::ThreadPool(unsigned threads, unsigned cpus)
    : cpus_(std::clamp(cpus, 1u, std::max(threads, 1u))) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

ThreadPool::~ThreadPool() {
  std::deque<std::function<void()>> dropped;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

unsigned ThreadPool::UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

bool ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    queue_.push_back(std::move(task));
    MaybeWake();
  }
  return true;
}

void ThreadPool::MaybeWake() {
  // Queued work that the awake workers (and those already woken) do not cover yet.
  if (queue_.size() <= permits_ || sleeping_ <= permits_) return;
  if (awake_ - blocked_ >= cpus_) return;
  ++permits_;
  ++awake_;
  ++wakeups_;
  cv_.notify_one();
}

size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

bool ThreadPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.empty() && awake_ == 0;
}

uint64_t ThreadPool::wakeups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wakeups_;
}

void ThreadPool::Observer::BlockingStarted() {
  std::lock_guard<std::mutex> lock(pool_->mu_);
  ++pool_->blocked_;
  pool_->MaybeWake();
}

void ThreadPool::Observer::BlockingEnded() {
  std::lock_guard<std::mutex> lock(pool_->mu_);
  --pool_->blocked_;
}

void ThreadPool::Work() {
  pthread_setname_np(pthread_self(), "daqfs-decode");
  SetBlockingObserver(&observer_);
  std::unique_lock<std::mutex> lock(mu_);
  bool awake = false;  // counted in awake_
  for (;;) {
    if (stop_) break;
    // Work for this worker: queued tasks beyond those promised to woken workers, and a CPU:
    // fewer than cpus_ running, or (if it runs already) no more than cpus_ with it. Workers
    // woken while others waited on storage go back to sleep once those compute again.
    const unsigned running = awake_ - blocked_;
    bool take = queue_.size() > permits_ && (awake ? running <= cpus_ : running < cpus_);
    if (!take) {
      if (awake) --awake_;
      awake = false;
      ++sleeping_;
      cv_.wait(lock, [this] { return stop_ || permits_ > 0; });
      --sleeping_;
      if (stop_) break;
      --permits_;  // awake_ was counted by the waker
      awake = true;
      continue;
    }
    if (!awake) ++awake_;
    awake = true;
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      LogError(std::string("decode task failed: ") + e.what());
    } catch (...) {
      LogError("decode task failed");
    }
    task = nullptr;  // its captures are released outside the lock
    lock.lock();
  }
  SetBlockingObserver(nullptr);
}

}  // namespace daqfs
