#define FUSE_USE_VERSION 312
#include "fs/fuse/fuse_notifier.h"

#include <fuse_lowlevel.h>
#include <pthread.h>

#include <cerrno>
#include <cstring>

#include "fs/log.h"

namespace daqfs {

FuseNotifier::FuseNotifier(::fuse_session* session, std::function<bool(uint64_t)> alive)
    : FuseNotifier(Sender{[session](uint64_t parent, const std::string& name) {
                            return fuse_lowlevel_notify_inval_entry(session, parent, name.data(),
                                                                    name.size());
                          },
                          [session](uint64_t ino) {
                            return fuse_lowlevel_notify_inval_inode(session, ino, 0, 0);
                          },
                          [session](uint64_t ino, uint64_t offset, uint64_t length) {
                            return fuse_lowlevel_notify_inval_inode(session, ino,
                                                                    static_cast<off_t>(offset),
                                                                    static_cast<off_t>(length));
                          }},
                   std::move(alive)) {}

FuseNotifier::FuseNotifier(Sender sender, std::function<bool(uint64_t)> alive)
    : sender_(std::move(sender)), alive_(std::move(alive)) {}

FuseNotifier::~FuseNotifier() { Stop(); }

void FuseNotifier::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-notify");
    Loop();
  });
}

void FuseNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    dropped_ += queue_.size();
    queue_.clear();
    queued_ranges_ = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FuseNotifier::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || stop_ || !thread_.joinable(); });
}

void FuseNotifier::NotifyInvalEntry(uint64_t parent_ino, std::string_view name) {
  Push(Event{parent_ino, true, std::string(name)});
}

void FuseNotifier::NotifyInvalInode(uint64_t ino) { Push(Event{ino, false, {}}); }

void FuseNotifier::NotifyInvalRange(uint64_t ino, uint64_t offset, uint64_t length) {
  Push(Event{ino, false, {}, true, offset, length});
}

void FuseNotifier::Push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.range && !queue_.empty() && queue_.back().range && queue_.back().ino == e.ino &&
        queue_.back().offset + queue_.back().length == e.offset) {
      queue_.back().length += e.length;  // continues the last one: one notice
      return;
    }
    if (stop_ || queue_.size() >= kMaxQueued || (e.range && queued_ranges_ >= kMaxQueuedRanges)) {
      ++dropped_;
      return;
    }
    if (e.range) ++queued_ranges_;
    queue_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void FuseNotifier::Loop() {
  RateLimitedLog errors;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    Event e = std::move(queue_.front());
    queue_.pop_front();
    if (e.range) --queued_ranges_;
    busy_ = true;
    lock.unlock();
    int rc = 0;
    bool sent = false;
    if (!alive_ || alive_(e.ino)) {
      if (e.entry) {
        rc = sender_.inval_entry(e.ino, e.name);
      } else if (e.range && sender_.inval_range) {
        rc = sender_.inval_range(e.ino, e.offset, e.length);
      } else {
        rc = sender_.inval_inode(e.ino);
      }
      sent = true;
    }
    if (rc < 0 && rc != -ENOENT && rc != -ENOTCONN && rc != -ENODEV) {
      errors.Log(LogLevel::kWarn, std::string("kernel cache invalidation of inode ") +
                                      std::to_string(e.ino) + " failed: " + std::strerror(-rc));
    }
    lock.lock();
    busy_ = false;
    if (sent) {
      ++sent_;
    } else {
      ++dropped_;
    }
    cv_.notify_all();
  }
  busy_ = false;
  cv_.notify_all();
}

uint64_t FuseNotifier::sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t FuseNotifier::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace daqfs
