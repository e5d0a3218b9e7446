#include "fs/drop_behind.h"

#include <algorithm>
#include <string>
#include <utility>

#include "fs/log.h"

namespace daqfs {

DropBehind::DropBehind(uint64_t keep, uint64_t page, DropFn drop, Counter* dropped_bytes,
                       Counter* kept_files)
    : keep_(keep),
      page_(std::max<uint64_t>(1, page)),
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
    if (auto d = dropped_upto_.find(ino);
        d != dropped_upto_.end() && offset < d->second.upto && reader.id != d->second.reader) {
      // Pages dropped before are asked for again by another open file: this file is read more
      // than once.
      LogDebug("drop_behind: inode " + std::to_string(ino) + " read again at " +
               std::to_string(offset) + " (dropped up to " + std::to_string(d->second.upto) +
               "): kept in the page cache from now on");
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
    const uint64_t expected = reader.next;
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
  const uint64_t ino = r.ino, lo = r.lo, hi = r.hi;
  if (kept_.count(ino) != 0) return;
  uint64_t a = (lo + page_ - 1) / page_ * page_;
  uint64_t b = r.to_end ? (hi + page_ - 1) / page_ * page_ : hi / page_ * page_;
  auto [d, fresh] = dropped_upto_.try_emplace(ino);
  // The page holding `lo` goes too when the drop before it ended at that page's start (the
  // bytes between were the end of the range dropped then).
  if (!fresh && d->second.upto == lo / page_ * page_) a = d->second.upto;
  if (a >= b) return;
  d->second.reader = r.reader;
  d->second.upto = std::max(d->second.upto, b);
  if (fresh) {
    dropped_order_.push_back(ino);
    if (dropped_order_.size() > kMaxDroppedFiles) {
      dropped_upto_.erase(dropped_order_.front());
      dropped_order_.pop_front();
    }
  }
  dropped_bytes_->Add(b - a);
  if (!out->empty() && out->back().ino == ino && out->back().hi == a) {
    out->back().hi = b;
  } else {
    out->push_back(Range{ino, a, b});
  }
}

void DropBehind::Closed(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  readers_.erase(handle);
}

uint64_t DropBehind::dropped_bytes() const { return dropped_bytes_->Get(); }

uint64_t DropBehind::kept_files() const { return kept_files_->Get(); }

}  // namespace daqfs
