// ThreadPool: a fixed set of worker threads running queued tasks in FIFO order; the Executor
// the prefetcher decodes on. Destruction drops tasks not yet started and joins the workers.
//
// Thread safety: Submit is thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fs/read_path.h"

namespace daqfs {

class ThreadPool final : public Executor {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  bool Submit(std::function<void()> task) override;
  size_t queued() const;

 private:
  void Work();
  mutable std::mutex mu_;  // guards queue_, stop_
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace daqfs
