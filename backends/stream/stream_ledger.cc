#include "backends/stream/stream_ledger.h"

#include <utility>

namespace daqfs {

std::shared_ptr<StreamSeries> StreamLedger::Begin(const StreamEvent& e, Change* change) {
  auto s = std::make_shared<StreamSeries>();
  s->id = e.series;
  s->unique = e.series_unique;
  s->seq = ++seq_;
  series_.push_back(s);
  open_ = s;
  next_.erase(s.get());
  ++counters_.series;
  change->series = s;
  change->series_started = true;
  // Ended or cut series beyond keep_series go, oldest first (the open one stays).
  size_t closed = series_.size() - 1;
  while (closed > keep_series_) {
    change->forgotten.push_back(series_.front());
    Forget(series_.front());
    series_.pop_front();
    --closed;
  }
  // Arrivals of forgotten series (the oldest, at the front) go with them.
  while (!arrivals_.empty()) {
    std::shared_ptr<StreamSeries> front = arrivals_.front().series.lock();
    if (front && next_.count(front.get()) > 0) break;
    arrivals_.pop_front();
  }
  return s;
}

void StreamLedger::Forget(const std::shared_ptr<StreamSeries>& s) {
  next_.erase(s.get());
  for (const auto& [n, f] : s->frames) counters_.held_bytes -= f->bytes;
}

void StreamLedger::MakeRoom(Change* change) {
  // The frame just received is the last arrival: it never leaves here.
  while (ring_bytes_ > 0 && counters_.held_bytes > ring_bytes_ && arrivals_.size() > 1) {
    Arrival a = arrivals_.front();
    arrivals_.pop_front();
    std::shared_ptr<StreamSeries> s = a.series.lock();
    if (!s || next_.count(s.get()) == 0) continue;  // forgotten
    auto it = s->frames.find(a.frame);
    if (it == s->frames.end()) continue;
    counters_.held_bytes -= it->second->bytes;
    s->frames.erase(it);
    ++counters_.evicted;
    change->evicted.emplace_back(std::move(s), a.frame);
  }
}

void StreamLedger::Cut(Change* change) {
  if (!open_) return;
  open_->incomplete = true;
  ++counters_.incomplete;
  change->cut = open_;
  open_ = nullptr;
}

StreamLedger::Change StreamLedger::Apply(StreamEvent event, std::shared_ptr<const void> keep) {
  Change change;
  std::lock_guard<std::mutex> lock(mu_);
  switch (event.kind) {
    case StreamEvent::Kind::kIgnored:
      return change;
    case StreamEvent::Kind::kSeriesStart: {
      Cut(&change);
      std::shared_ptr<StreamSeries> s = Begin(event, &change);
      s->header = std::move(event.meta);
      return change;
    }
    case StreamEvent::Kind::kSeriesEnd: {
      if (!open_ || open_->id != event.series ||
          (!event.series_unique.empty() && event.series_unique != open_->unique)) {
        ++counters_.malformed;
        return change;
      }
      open_->end = std::move(event.meta);
      open_->ended = true;
      change.series = open_;
      change.series_ended = true;
      open_ = nullptr;
      return change;
    }
    case StreamEvent::Kind::kFrame:
      break;
  }
  // A frame: of the open series, or the first of a new one (its start was not received).
  if (!open_ || open_->id != event.series ||
      (!event.series_unique.empty() && !open_->unique.empty() &&
       event.series_unique != open_->unique)) {
    Cut(&change);
    Begin(event, &change);
    change.series_started = true;
  }
  StreamSeries& s = *open_;
  if (s.unique.empty()) s.unique = event.series_unique;  // the first message that tells it
  change.series = open_;
  // The first frame sets where numbering starts (0 or 1, or later for a late receiver).
  auto [it, first] = next_.emplace(&s, event.frame);
  uint64_t& next = it->second;
  (void)first;
  if (s.frames.count(event.frame)) {
    ++s.duplicates;
    ++counters_.duplicates;
    return change;
  }
  if (event.frame > next) {
    s.lost += event.frame - next;
    counters_.lost += event.frame - next;
  } else if (event.frame < next) {
    ++s.out_of_order;
    ++counters_.out_of_order;
    // A late frame fills a gap counted as lost.
    if (s.lost > 0) {
      --s.lost;
      --counters_.lost;
    }
  }
  if (event.frame >= next) next = event.frame + 1;
  auto f = std::make_shared<StreamFrame>();
  f->number = event.frame;
  f->images = std::move(event.images);
  f->meta = std::move(event.meta);
  f->keep = std::move(keep);
  for (const StreamImage& i : f->images) f->bytes += i.payload.size();
  counters_.frames += 1;
  counters_.bytes += f->bytes;
  counters_.held_bytes += f->bytes;
  s.frames.emplace(f->number, f);
  if (ring_bytes_ > 0) arrivals_.push_back(Arrival{open_, f->number});
  change.frame = std::move(f);
  MakeRoom(&change);
  return change;
}

void StreamLedger::Malformed() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.malformed;
}

StreamCounters StreamLedger::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::vector<std::shared_ptr<StreamSeries>> StreamLedger::Series() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::shared_ptr<StreamSeries>>(series_.begin(), series_.end());
}

std::shared_ptr<StreamSeries> StreamLedger::Open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

StreamSeriesInfo StreamLedger::Info(const StreamSeries& s) const {
  std::lock_guard<std::mutex> lock(mu_);
  StreamSeriesInfo i;
  i.id = s.id;
  i.unique = s.unique;
  i.seq = s.seq;
  i.header = s.header;
  i.end = s.end;
  i.ended = s.ended;
  i.incomplete = s.incomplete;
  i.lost = s.lost;
  i.out_of_order = s.out_of_order;
  i.duplicates = s.duplicates;
  i.frames = s.frames.size();
  return i;
}

std::shared_ptr<const StreamFrame> StreamLedger::Frame(const StreamSeries& series,
                                                       uint64_t number) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series.frames.find(number);
  return it == series.frames.end() ? nullptr : it->second;
}

std::vector<uint64_t> StreamLedger::FrameNumbers(const StreamSeries& series) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  out.reserve(series.frames.size());
  for (const auto& [n, f] : series.frames) out.push_back(n);
  return out;
}

}  // namespace daqfs
