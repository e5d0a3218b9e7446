#include "fs/drop_behind.h"

#include <algorithm>
#include <string>
#include <utility>

#include "fs/log.h"

namespace daqfs {

DropBehind::DropBehind(uint64_t keep, uint64_t page, DropFn drop, Counter* dropped_bytes,
                       Counter* kept_files, uint64_t batch)
    : keep_(keep),
      page_(std::max<uint64_t>(1, page)),
      batch_(batch),
      drop_(std::move(drop)),
      dropped_bytes_(dropped_bytes ? dropped_bytes : &own_dropped_),
      kept_files_(kept_files ? kept_files : &own_kept_) {}

void DropBehind::Read(uint64_t handle, uint64_t ino, uint64_t offset, uint64_t length,
                      uint64_t file_size) {
  if (length == 0) return;
  std::deque<Range> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t end = offset + length;
    if (kept_.count(ino) != 0) return;
    auto [it, fresh] = readers_.try_emplace(handle);
    Reader& reader = it->second;
    if (fresh) reader.id = next_id_++;
    const uint64_t expected = reader.next;
    if (auto d = dropped_.find(ino); d != dropped_.end()) {
      const Interval* in = Find(d->second, offset);
      const bool far_behind = offset + std::max(2 * kSlack, keep_) < expected;
      if (in && (in->reader != reader.id || far_behind)) {
        // Dropped pages are asked for again: this file is read more than once.
        LogDebug("drop_behind: inode " + std::to_string(ino) + " read again at " +
                 std::to_string(offset) + ": kept in the page cache from now on");
        kept_order_.push_back(ino);
        kept_[ino] = std::prev(kept_order_.end());
        kept_files_->Add();
        if (kept_.size() > kMaxKept) {
          kept_.erase(kept_order_.front());
          kept_order_.pop_front();
        }
        // Its ranges still in the FIFO stay where they are: they are not dropped (Drop skips
        // kept inodes).
        return;
      }
    }
    const bool sequential =
        offset == 0 || (offset + kSlack >= expected && offset <= expected + kSlack);
    reader.next = std::max(expected, end);
    if (!sequential) return;
    if (!fifo_.empty() && fifo_.back().ino == ino && offset <= fifo_.back().hi &&
        end >= fifo_.back().lo) {
      Range& back = fifo_.back();
      uint64_t before = back.hi - back.lo;
      back.lo = std::min(back.lo, offset);
      back.hi = std::max(back.hi, end);
      back.to_end = back.to_end || end >= file_size;
      back.reader = reader.id;
      fifo_bytes_ += (back.hi - back.lo) - before;
    } else {
      fifo_.push_back(Range{ino, offset, end, end >= file_size, reader.id});
      fifo_bytes_ += length;
    }
    if (fifo_bytes_ <= keep_ + batch_) return;
    while (fifo_bytes_ > keep_ && !fifo_.empty()) {
      Range& front = fifo_.front();
      uint64_t over = fifo_bytes_ - keep_;
      uint64_t len = front.hi - front.lo;
      if (over >= len) {
        Drop(front, &out);
        fifo_bytes_ -= len;
        fifo_.pop_front();
      } else {
        Drop(Range{front.ino, front.lo, front.lo + over, false, front.reader}, &out);
        front.lo += over;
        fifo_bytes_ -= over;
      }
    }
  }
  for (const Range& r : out) drop_(r.ino, r.lo, r.hi - r.lo);
}

// Whole pages of [r.lo, r.hi) (a page the reader has only partly passed stays; the last page of
// the file goes); mu_ held.
void DropBehind::Drop(const Range& r, std::deque<Range>* out) {
  if (kept_.count(r.ino) != 0) return;
  uint64_t a = (r.lo + page_ - 1) / page_ * page_;
  const uint64_t b = r.to_end ? (r.hi + page_ - 1) / page_ * page_ : r.hi / page_ * page_;
  auto [d, fresh] = dropped_.try_emplace(r.ino);
  // The page holding `lo` goes too when an earlier drop ended at that page's start (the bytes
  // between were the end of the range dropped then).
  const uint64_t page_start = r.lo / page_ * page_;
  for (const Interval& in : d->second.intervals) {
    if (in.hi == page_start && page_start < a) a = page_start;
  }
  if (a >= b) return;
  AddInterval(d->second, Interval{a, b, r.reader});
  if (fresh) {
    dropped_order_.push_back(r.ino);
    if (dropped_order_.size() > kMaxDroppedFiles) {
      dropped_.erase(dropped_order_.front());
      dropped_order_.pop_front();
    }
  }
  dropped_bytes_->Add(b - a);
  if (!out->empty() && out->back().ino == r.ino && out->back().hi == a) {
    out->back().hi = b;
  } else {
    out->push_back(Range{r.ino, a, b});
  }
}

void DropBehind::AddInterval(DroppedFile& f, Interval in) {
  std::vector<Interval>& v = f.intervals;
  auto pos = std::lower_bound(v.begin(), v.end(), in.lo,
                              [](const Interval& x, uint64_t lo) { return x.lo < lo; });
  v.insert(pos, in);
  // Merge touching or overlapping neighbours (the newer reader wins).
  std::vector<Interval> merged;
  for (const Interval& x : v) {
    if (!merged.empty() && x.lo <= merged.back().hi) {
      merged.back().hi = std::max(merged.back().hi, x.hi);
      if (x.lo == in.lo && x.hi == in.hi) merged.back().reader = in.reader;
    } else {
      merged.push_back(x);
    }
  }
  // Too many: merge the two closest neighbours (their gap counts as dropped).
  while (merged.size() > kMaxIntervals) {
    size_t best = 0;
    for (size_t k = 1; k + 1 < merged.size(); ++k) {
      if (merged[k + 1].lo - merged[k].hi < merged[best + 1].lo - merged[best].hi) best = k;
    }
    merged[best].hi = merged[best + 1].hi;
    merged[best].reader = merged[best + 1].reader;
    merged.erase(merged.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  v = std::move(merged);
}

const DropBehind::Interval* DropBehind::Find(const DroppedFile& f, uint64_t offset) {
  for (const Interval& in : f.intervals) {
    if (offset >= in.lo && offset < in.hi) return &in;
  }
  return nullptr;
}

void DropBehind::Closed(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  readers_.erase(handle);
}

uint64_t DropBehind::dropped_bytes() const { return dropped_bytes_->Get(); }

uint64_t DropBehind::kept_files() const { return kept_files_->Get(); }

}  // namespace daqfs
