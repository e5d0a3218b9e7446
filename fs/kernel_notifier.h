// KernelNotifier: where the Vfs sends the kernel cache invalidations its backends announce.
//
// The Vfs turns a backend's Invalidator events (source, node) into inode numbers the kernel
// knows (InodeTable) and calls these. The FUSE adapter (fs/fuse/) implements them by queueing:
// a notifier thread of its own drains the queue into fuse_lowlevel_notify_inval_entry /
// _inval_inode, never from a request handler (the kernel holds the folder's lock while it waits
// for our reply: notifying then deadlocks) and never on the caller's thread (a notification can
// block until the kernel is done with the inode). Tests record the calls instead.
//
// Thread safety: implementations are thread-safe and must not block (queue and return).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "fs/read_path.h"

namespace daqfs {

class KernelNotifier {
 public:
  virtual ~KernelNotifier() = default;
  // The kernel's entry `name` in folder `parent_ino` (and any negative entry) is stale.
  virtual void NotifyInvalEntry(uint64_t parent_ino, std::string_view name) = 0;
  // The attributes and cached content (a folder's cached listing, a file's pages) of `ino` are
  // stale.
  virtual void NotifyInvalInode(uint64_t ino) = 0;
  // The kernel may drop its cached pages of `ino` in [offset, offset + length) (they are still
  // valid: the pages are simply not needed; DropBehind). Default: the whole inode.
  virtual void NotifyInvalRange(uint64_t ino, uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
    NotifyInvalInode(ino);
  }
  // Hands the kernel the bytes of `ino` from `offset` on (`data`, kept alive until sent): its
  // page cache holds them as if they had been read, so a reader about to read the file finds
  // them there (the sibling prefetch of a folder scan). Only for content that never changes.
  // Returns false if nothing was queued (no room, or not supported): the kernel asks as usual.
  // `done` (may be null) is called once, later and on another thread, if they were queued:
  // with true once the kernel holds the bytes, false if they were dropped.
  virtual bool NotifyStore(uint64_t ino, uint64_t offset, std::vector<ReadPiece> data,
                           std::function<void(bool taken)> done = nullptr) {
    (void)ino;
    (void)offset;
    (void)data;
    (void)done;
    return false;
  }
};

}  // namespace daqfs
