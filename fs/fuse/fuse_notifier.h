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

// Cuts `data` (the bytes from `offset` on) into runs the kernel can mark as read: each starts at
// a page boundary and ends at one (or where the data ends). Runs inside one piece are passed as
// they are; a page made of several pieces is copied into one buffer. The kernel marks a stored
// page up to date only if one store covers it whole; libfuse copies a multi-buffer store into
// a fresh buffer of its own first. Stops at the first non-zero result of `send` and returns it.
int ForEachPageAlignedRun(uint64_t offset, const std::vector<ReadPiece>& data,
                          const std::function<int(uint64_t, const uint8_t*, size_t)>& send);

class FuseNotifier final : public KernelNotifier {
 public:
  static constexpr size_t kMaxQueued = 1 << 16;
  // Page ranges (NotifyInvalRange) are only a hint: at most this many wait in the queue (more
  // are dropped first), so they never crowd out the invalidations that keep listings right; a
  // range that continues the last queued one of its inode is merged into it.
  static constexpr size_t kMaxQueuedRanges = 4096;
  // Stores (NotifyStore) are an optimisation too: they wait in a queue of their own, sent only
  // when no invalidation waits, at most this many bytes of them (more are refused).
  static constexpr uint64_t kMaxQueuedStoreBytes = 256ull << 20;

  // What the thread does with an event: by default the libfuse calls on `session`. Tests pass
  // their own sender. Both return 0 or a negative errno, as libfuse does.
  struct Sender {
    std::function<int(uint64_t parent, const std::string& name)> inval_entry;
    std::function<int(uint64_t ino)> inval_inode;
    // Pages [offset, offset + length) of `ino`; null: inval_inode.
    std::function<int(uint64_t ino, uint64_t offset, uint64_t length)> inval_range;
    // The bytes of `ino` from `offset` into the kernel's page cache; null: stores refused.
    std::function<int(uint64_t ino, uint64_t offset, const std::vector<ReadPiece>& data)> store;
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
  bool NotifyStore(uint64_t ino, uint64_t offset, std::vector<ReadPiece> data,
                   std::function<void(bool taken)> done = nullptr) override;
  // Called on the notifier thread after the kernel took a store (DropBehind counts those bytes
  // as read). Set before Start().
  void OnStored(std::function<void(uint64_t ino, uint64_t offset, uint64_t length)> fn) {
    on_stored_ = std::move(fn);
  }

  uint64_t sent() const;
  uint64_t dropped() const;       // forgotten inodes, a full queue, or stopped
  uint64_t stored_bytes() const;  // bytes the kernel took through stores

 private:
  struct Event {
    uint64_t ino = 0;
    bool entry = false;
    std::string name;
    bool range = false;  // pages [offset, offset + length) only
    uint64_t offset = 0;
    uint64_t length = 0;
    std::vector<ReadPiece> data;     // a store (queued in stores_)
    std::function<void(bool)> done;  // a store's: called once sent (true: taken) or dropped
  };
  void Push(Event e);
  void Loop();
  // Calls a store's `done` (once; an exception is logged, never thrown on). Without mu_ held.
  static void Tell(Event& e, bool taken);

  Sender sender_;
  std::function<bool(uint64_t)> alive_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Event> queue_;
  std::deque<Event> stores_;  // sent when queue_ is empty
  uint64_t queued_store_bytes_ = 0;
  uint64_t stored_bytes_ = 0;
  std::function<void(uint64_t, uint64_t, uint64_t)> on_stored_;
  bool stop_ = false;
  bool busy_ = false;  // the thread is sending an event taken from the queue
  uint64_t sent_ = 0, dropped_ = 0;
  size_t queued_ranges_ = 0;
  std::thread thread_;
};

}  // namespace daqfs
