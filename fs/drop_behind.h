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
// What counts: a read at the start of a file, or within kSlack of where the same open file's
// previous read ended (the kernel's asynchronous read-ahead arrives a little out of order), is
// sequential; the bytes it returned join a FIFO of consumed ranges (adjacent ranges of one
// inode merge). When the FIFO holds more than `keep` + kBatch bytes, its oldest ranges are
// dropped down to `keep` (so a notice covers at least kBatch bytes, not every read), trimmed to
// whole pages (the page holding the end of the file goes too: a second reader must ask for the
// whole file again, or its read-ahead would never see the end). Reads further than kSlack from
// where their open file last read are not added (random access is not dropped behind).
//
// A file whose dropped pages are asked for again is read more than once (a second pass, a
// training loop's next epoch) and is kept from then on: it is not dropped again while this
// object lives (up to kMaxKept files, oldest forgotten first). "Again" means: by another open
// file, or by the same one more than max(2 x kSlack, keep) behind where it has read to; the
// same open file asking for pages just behind its front is not a second pass: the kernel's
// read-ahead ran further ahead of the reader than `keep` (seen with 16 MiB on a loaded
// machine), and those pages are read and dropped again. Each file remembers at most
// kMaxIntervals dropped ranges (closest ones merged beyond that), so parallel readers of
// disjoint parts of one file (a loader with several workers) do not count as second passes.
// A memory map reads through the same path (page faults become reads): dropped pages are
// unmapped and read again, with the same bytes, if touched again.
//
// Thread safety: every method is thread-safe; the callback is called without the lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fs/metrics.h"

namespace daqfs {

class DropBehind {
 public:
  static constexpr uint64_t kSlack = 16ull << 20;
  static constexpr uint64_t kBatch = 8ull << 20;
  static constexpr size_t kMaxIntervals = 16;
  static constexpr size_t kMaxKept = 1 << 16;
  static constexpr size_t kMaxDroppedFiles = 1 << 16;
  using DropFn = std::function<void(uint64_t ino, uint64_t offset, uint64_t length)>;

  // `keep` > 0 bytes; `page` the page size (ranges are trimmed to whole pages). The counters
  // (null: own ones) count dropped bytes and files kept after a second read. `batch`: how far
  // past `keep` the FIFO grows before a drop (kBatch; tests use 0).
  DropBehind(uint64_t keep, uint64_t page, DropFn drop, Counter* dropped_bytes = nullptr,
             Counter* kept_files = nullptr, uint64_t batch = kBatch);

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
  struct Interval {
    uint64_t lo = 0, hi = 0;  // dropped pages [lo, hi)
    uint64_t reader = 0;      // the open file whose reads they were (the last one if merged)
  };
  struct DroppedFile {
    std::vector<Interval> intervals;  // sorted, disjoint, at most kMaxIntervals
  };
  static void AddInterval(DroppedFile& f, Interval in);
  // The interval of `f` holding `offset`, or null.
  static const Interval* Find(const DroppedFile& f, uint64_t offset);
  void Drop(const Range& r, std::deque<Range>* out);

  const uint64_t keep_;
  const uint64_t page_;
  const uint64_t batch_;
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
  // Per inode, what was dropped; oldest inode first in dropped_order_.
  std::unordered_map<uint64_t, DroppedFile> dropped_;
  std::deque<uint64_t> dropped_order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> kept_;
  std::list<uint64_t> kept_order_;
  Counter own_dropped_, own_kept_;
  Counter* dropped_bytes_;
  Counter* kept_files_;
};

}  // namespace daqfs
