#include "cache/prefetch_planner.h"

#include <algorithm>

namespace daqfs {

std::vector<uint64_t> PrefetchPlanner::OnRead(uint64_t first, uint64_t last, uint64_t block_count) {
  std::vector<uint64_t> out;
  if (max_window_ == 0 || block_count == 0) return out;
  last = std::min(last, block_count - 1);
  first = std::min(first, last);
  uint64_t slack = std::max<uint64_t>(window_, 4);
  bool sequential;
  if (!started_) {
    // A file read from its start; concurrent read-ahead requests may deliver block 1..3 first.
    sequential = first < 4;
  } else {
    uint64_t low = next_expected_ > slack ? next_expected_ - slack : 0;
    uint64_t high = std::max(next_expected_, issued_until_) + 1;
    sequential = window_ > 0 || next_expected_ > 0 ? (first >= low && first <= high) : false;
  }
  started_ = true;
  last_sequential_ = sequential;

  if (sequential) {
    next_expected_ = std::max(next_expected_, last + 1);
    ++streak_;
    // After random access, one read that happens to follow the previous one is no evidence:
    // wait for a second before prefetching (a file read from its start begins at once).
    if (!in_order_ && streak_ < 2) {
      last_first_ = static_cast<int64_t>(first);
      return out;
    }
    window_ = window_ == 0 ? 1 : std::min(window_ * 2, max_window_);
    stride_hits_ = 0;
    uint64_t from = std::max(issued_until_, next_expected_);
    uint64_t to = std::min(block_count, next_expected_ + window_);
    for (uint64_t b = from; b < to; ++b) out.push_back(b);
    issued_until_ = std::max(issued_until_, to);
  } else {
    in_order_ = false;
    streak_ = 0;
    window_ = 0;
    next_expected_ = last + 1;
    issued_until_ = last + 1;
    int64_t d = last_first_ < 0 ? 0 : static_cast<int64_t>(first) - last_first_;
    if (d > 1 && d == stride_) {
      ++stride_hits_;
      uint64_t depth = std::min<uint64_t>(uint64_t{1} << std::min(stride_hits_, 20), max_window_);
      for (uint64_t k = 1; k <= depth; ++k) {
        int64_t b = static_cast<int64_t>(first) + d * static_cast<int64_t>(k);
        if (b >= static_cast<int64_t>(block_count)) break;
        if (b <= stride_issued_until_) continue;
        out.push_back(static_cast<uint64_t>(b));
        stride_issued_until_ = b;
      }
    } else {
      stride_ = d;
      stride_hits_ = 0;
      stride_issued_until_ = -1;
    }
  }
  last_first_ = static_cast<int64_t>(first);
  return out;
}

void PrefetchPlanner::NotIssued(uint64_t block) {
  if (block < issued_until_) issued_until_ = std::max(block, next_expected_);
  if (static_cast<int64_t>(block) <= stride_issued_until_) {
    stride_issued_until_ = static_cast<int64_t>(block) - 1;
  }
}

}  // namespace daqfs
