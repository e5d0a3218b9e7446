// FuseNotifier: the KernelNotifier of a mounted session. Events are queued (never blocking the
// caller, never calling the kernel on the caller's thread) and a notifier thread of its own
// drains them into fuse_lowlevel_notify_inval_entry / fuse_lowlevel_notify_inval_inode.
//
// Why a thread: a notification waits for the kernel's lock of the inode or folder; a request
// handler that notified about its own folder would wait for itself (libfuse: "must not be
// called while executing a related filesystem operation"), and a backend thread that notified
// directly could be held up by any request in flight. The thread is started by Start() and
// ended by Stop(), which the FuseServer calls after its loop ends and before
// fuse_session_destroy; events still queued then are dropped.
//
// Events for inodes the kernel forgot in the meantime are dropped before sending (`alive`),
// and the kernel's -ENOENT (it holds no such entry or inode any more: nothing to invalidate)
// and -ENOTCONN/-ENODEV (unmounted) answers are not errors. The queue holds at most
// kMaxQueued events; beyond that new events are dropped and counted (the kernel then keeps its
// cache until the entry timeout).
//
// Thread safety: NotifyInvalEntry/NotifyInvalInode are thread-safe and non-blocking;
// Start/Stop are called by one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "fs/kernel_notifier.h"

struct fuse_session;

namespace daqfs {

class FuseNotifier final : public KernelNotifier {
 public:
  static constexpr size_t kMaxQueued = 1 << 16;
  // Page ranges (NotifyInvalRange) are only a hint: at most this many wait in the queue (more
  // are dropped first), so they never crowd out the invalidations that keep listings right; a
  // range that continues the last queued one of its inode is merged into it.
  static constexpr size_t kMaxQueuedRanges = 4096;

  // What the thread does with an event: by default the libfuse calls on `session`. Tests pass
  // their own sender. Both return 0 or a negative errno, as libfuse does.
  struct Sender {
    std::function<int(uint64_t parent, const std::string& name)> inval_entry;
    std::function<int(uint64_t ino)> inval_inode;
    // Pages [offset, offset + length) of `ino`; null: inval_inode.
    std::function<int(uint64_t ino, uint64_t offset, uint64_t length)> inval_range;
  };
  // `alive(ino)`: whether the kernel still holds `ino` (the Vfs's inode table); not called with
  // the queue's lock held.
  FuseNotifier(::fuse_session* session, std::function<bool(uint64_t ino)> alive);
  FuseNotifier(Sender sender, std::function<bool(uint64_t ino)> alive);
  ~FuseNotifier() override;  // Stop()
  FuseNotifier(const FuseNotifier&) = delete;
  FuseNotifier& operator=(const FuseNotifier&) = delete;

  void Start();
  // Ends the thread; queued events are dropped. Idempotent.
  void Stop();
  // Blocks until every event queued so far was sent or dropped (tests).
  void Drain();

  void NotifyInvalEntry(uint64_t parent_ino, std::string_view name) override;
  void NotifyInvalInode(uint64_t ino) override;
  void NotifyInvalRange(uint64_t ino, uint64_t offset, uint64_t length) override;

  uint64_t sent() const;
  uint64_t dropped() const;  // forgotten inodes, a full queue, or stopped

 private:
  struct Event {
    uint64_t ino = 0;
    bool entry = false;
    std::string name;
    bool range = false;  // pages [offset, offset + length) only
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  void Push(Event e);
  void Loop();

  Sender sender_;
  std::function<bool(uint64_t)> alive_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool stop_ = false;
  bool busy_ = false;  // the thread is sending an event taken from the queue
  uint64_t sent_ = 0, dropped_ = 0;
  size_t queued_ranges_ = 0;
  std::thread thread_;
};

}  // namespace daqfs
