// DropBehind: sequential readers leave at most `keep` bytes of what they read in the kernel's
// page cache, all of them together; older ranges are dropped as they go (by a callback that
// the FUSE layer turns into fuse_lowlevel_notify_inval_inode on the notifier thread).
//
// Why: a scan of a dataset larger than RAM would otherwise grow the page cache by everything it
// reads, pushing the node's other cached files out, and every page it fills is a fresh page
// (measured on a 2-core VM whose hypervisor reclaims free guest memory: a cold `cat data.npy`
// of 2000 HDF5 frames spent half its CPU time filling fresh page-cache pages, 243 frames/s;
// with 512 MiB kept behind the reader the freed pages are reused at once, 522 frames/s).
//
// What counts: a read at the start of a file, or within kSlack of where the handle's previous
// read ended (the kernel's asynchronous read-ahead arrives a little out of order), is
// sequential; the bytes it returned join a FIFO of consumed ranges (adjacent ranges of one
// inode merge). When the FIFO holds more than `keep` bytes, its oldest ranges are dropped,
// trimmed to whole pages (the page holding the end of the file goes too: a second reader must
// ask for the whole file again, or its read-ahead would never see the end). Random reads are
// never dropped. A file whose dropped pages another open file asks for again (a second pass,
// an epoch of a training loop) is kept from then on: it is not dropped again while this object
// lives (up to kMaxKept files, oldest forgotten first). The open file that read them asking
// again is not a second pass: the kernel's read-ahead ran further ahead of its reader than
// `keep` (seen with 16 MiB on a loaded machine); those pages are read and dropped again.
//
// Thread safety: every method is thread-safe; the callback is called without the lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>

#include "fs/metrics.h"

namespace daqfs {

class DropBehind {
 public:
  static constexpr uint64_t kSlack = 16ull << 20;
  static constexpr size_t kMaxKept = 1 << 16;
  static constexpr size_t kMaxDroppedFiles = 1 << 16;
  using DropFn = std::function<void(uint64_t ino, uint64_t offset, uint64_t length)>;

  // `keep` > 0 bytes; `page` the page size (ranges are trimmed to whole pages). The counters
  // (null: own ones) count dropped bytes and files kept after a second read.
  DropBehind(uint64_t keep, uint64_t page, DropFn drop, Counter* dropped_bytes = nullptr,
             Counter* kept_files = nullptr);

  // Handle `handle` (any unique value per open file) of inode `ino`, a file of `file_size`
  // bytes, was answered `length` bytes at `offset`.
  void Read(uint64_t handle, uint64_t ino, uint64_t offset, uint64_t length, uint64_t file_size);
  // The handle was closed.
  void Closed(uint64_t handle);

  uint64_t dropped_bytes() const;
  uint64_t kept_files() const;  // files asked for again after a drop (kept since)

 private:
  struct Range {
    uint64_t ino, lo, hi;
    bool to_end = false;  // hi is the end of the file
    uint64_t reader = 0;  // the id of the open file that read it
  };
  struct DroppedFile {
    uint64_t upto = 0;    // the end of what was dropped
    uint64_t reader = 0;  // the id of the open file whose reads were dropped last
  };
  void Drop(const Range& r, std::deque<Range>* out);

  const uint64_t keep_;
  const uint64_t page_;
  DropFn drop_;
  mutable std::mutex mu_;  // guards everything below
  // Per open handle: the end of its last sequential read and an id of its own (handles are
  // addresses, reused once closed; the id tells a new open file from the one before).
  struct Reader {
    uint64_t next = 0;
    uint64_t id = 0;
  };
  std::unordered_map<uint64_t, Reader> readers_;
  uint64_t next_id_ = 1;
  std::deque<Range> fifo_;
  uint64_t fifo_bytes_ = 0;
  // Per inode, what was dropped (another open file reading below it asks for dropped pages
  // again); oldest first in dropped_order_.
  std::unordered_map<uint64_t, DroppedFile> dropped_upto_;
  std::deque<uint64_t> dropped_order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> kept_;
  std::list<uint64_t> kept_order_;
  Counter own_dropped_, own_kept_;
  Counter* dropped_bytes_;
  Counter* kept_files_;
};

}  // namespace daqfs
