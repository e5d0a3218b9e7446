// PrefetchPlanner: decides, per open file, which blocks to decode ahead of the reader.
//
// Works in block units. A read is sequential when it starts near where the reader has been
// going: at or just behind the next expected block (requests of one reader arrive out of order
// when the kernel's read-ahead and a multi-threaded FUSE loop run several at once), or anywhere
// up to the end of what has already been prefetched. Sequential reads grow the window 1, 2, 4 ...
// blocks up to the cap; the planner then asks for the blocks from the end of what was issued to
// `next expected + window`. Any other read is random: the window resets to zero and nothing is
// prefetched, unless the last reads were a constant stride apart (d > 1 blocks, seen twice),
// in which case the next strided blocks are asked for, as many as the (reset and regrown)
// window allows.
//
// Thread safety: none; the owner serialises calls.
#pragma once

#include <cstdint>
#include <vector>

namespace daqfs {

class PrefetchPlanner {
 public:
  explicit PrefetchPlanner(uint64_t max_window_blocks) : max_window_(max_window_blocks) {}

  // A read covering blocks [first, last] of a file with `block_count` blocks. Returns the blocks
  // to prefetch now, in order, none of them at or past block_count.
  std::vector<uint64_t> OnRead(uint64_t first, uint64_t last, uint64_t block_count);
  // The caller could not issue `block` (budget full): it, and the blocks after it that were
  // planned in the same call, will be asked for again by a later read.
  void NotIssued(uint64_t block);

  uint64_t window() const { return window_; }
  // True while every read so far has been sequential starting at block 0.
  bool in_order_from_start() const { return in_order_; }
  // True if the last read was classified sequential (prefetching may still wait for a second).
  bool last_sequential() const { return last_sequential_; }
  // The block after the highest block read sequentially.
  uint64_t next_expected() const { return next_expected_; }

 private:
  uint64_t max_window_;
  uint64_t window_ = 0;         // blocks; 0 = not sequential
  uint64_t next_expected_ = 0;  // block after the highest one read in sequence
  uint64_t issued_until_ = 0;   // blocks before this were asked for already
  bool started_ = false;
  bool in_order_ = true;
  int streak_ = 0;  // sequential reads in a row
  bool last_sequential_ = false;
  // Stride detection.
  int64_t last_first_ = -1;
  int64_t stride_ = 0;
  int stride_hits_ = 0;
  int64_t stride_issued_until_ = -1;
};

}  // namespace daqfs
