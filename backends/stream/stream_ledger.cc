#include "backends/stream/stream_ledger.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <utility>

namespace daqfs {

namespace {

uint64_t RandomInstance() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof v)) {
    // No entropy yet (a mount early at boot) or none at all: the clock, the pid and an address
    // still differ between two daemons and two ledgers.
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    v = static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
    v ^= (static_cast<uint64_t>(getpid()) << 40) ^ reinterpret_cast<uintptr_t>(&v);
  }
  return v;
}

}  // namespace

StreamLedger::StreamLedger(size_t keep_series, uint64_t ring_bytes)
    : keep_series_(keep_series < 1 ? 1 : keep_series),
      ring_bytes_(ring_bytes),
      instance_(RandomInstance()) {}

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
  // The frames go now (their memory is what the next frames reuse), whoever still holds the
  // series; readers keep the frames they hold.
  for (auto& [n, f] : s->frames) {
    if (f->spill) {
      counters_.spilled_bytes -= f->bytes;
      --counters_.spilled_frames;
    } else {
      counters_.held_bytes -= f->bytes;
    }
  }
  for (auto& [n, f] : s->frames) garbage_.push_back(std::move(f));
  s->frames.clear();
}

void StreamLedger::MakeRoom(Change* change) {
  // The frame just received is the last arrival: it never leaves here.
  while (ring_bytes_ > 0 && counters_.held_bytes > ring_bytes_ && arrivals_.size() > 1) {
    Arrival a = arrivals_.front();
    arrivals_.pop_front();
    std::shared_ptr<StreamSeries> s = a.series.lock();
    if (!s || next_.count(s.get()) == 0) continue;  // forgotten
    auto it = s->frames.find(a.frame);
    if (it == s->frames.end() || it->second->spill) continue;  // gone, or on disk now
    counters_.held_bytes -= it->second->bytes;
    garbage_.push_back(std::move(it->second));
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
  // Frames that leave (a forgotten series, the ring's oldest) are freed after the lock: memory
  // given back never delays readers waiting for it.
  std::vector<std::shared_ptr<const StreamFrame>> garbage;
  std::lock_guard<std::mutex> lock(mu_);
  struct Collect {
    std::vector<std::shared_ptr<const StreamFrame>>& to;
    std::vector<std::shared_ptr<const StreamFrame>>& from;
    ~Collect() { to.swap(from); }
  } collect{garbage, garbage_};
  change.seq = ++applied_;
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
  // A frame of the series that just ended (a straggler from another endpoint of a fan-in):
  // kept in it (below as every frame: counted as out of order), not a new series.
  std::shared_ptr<StreamSeries> target;
  if (!open_ && !series_.empty() && series_.back()->ended && series_.back()->id == event.series &&
      (event.series_unique.empty() || event.series_unique == series_.back()->unique) &&
      next_.count(series_.back().get()) > 0 && series_.back()->frames.count(event.frame) == 0 &&
      event.frame < next_[series_.back().get()]) {
    target = series_.back();
  } else {
    // Of the open series, or the first of a new one (its start was not received).
    if (!open_ || open_->id != event.series ||
        (!event.series_unique.empty() && !open_->unique.empty() &&
         event.series_unique != open_->unique)) {
      Cut(&change);
      Begin(event, &change);
      change.series_started = true;
    }
    target = open_;
  }
  StreamSeries& s = *target;
  if (s.unique.empty() && !event.series_unique.empty()) {
    s.unique = event.series_unique;  // the first message that tells it
  }
  change.series = target;
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
  if (event.frame >= next) next = event.frame == UINT64_MAX ? UINT64_MAX : event.frame + 1;
  auto f = std::make_shared<StreamFrame>();
  f->number = event.frame;
  f->images = std::move(event.images);
  f->meta = std::move(event.meta);
  f->keep = std::move(keep);
  f->serial = ++serials_;
  clock_gettime(CLOCK_REALTIME, &f->received);
  for (const StreamImage& i : f->images) f->bytes += i.payload.size();
  counters_.frames += 1;
  counters_.bytes += f->bytes;
  counters_.held_bytes += f->bytes;
  s.frames.emplace(f->number, f);
  if (ring_bytes_ > 0) arrivals_.push_back(Arrival{target, f->number});
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

uint64_t StreamLedger::applied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
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

void StreamLedger::Clear() {
  std::vector<std::shared_ptr<StreamSeries>> series;
  std::vector<std::shared_ptr<const StreamFrame>> frames;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::shared_ptr<StreamSeries>& s : series_) {
      for (auto& [n, f] : s->frames) frames.push_back(std::move(f));
      s->frames.clear();
      next_.erase(s.get());
    }
    series.assign(series_.begin(), series_.end());
    series_.clear();
    open_ = nullptr;
    arrivals_.clear();
    counters_.held_bytes = counters_.spilled_bytes = counters_.spilled_frames = 0;
  }
}

std::vector<StreamLedger::InRam> StreamLedger::OldestInRam(uint64_t max_bytes) {
  std::vector<InRam> out;
  uint64_t bytes = 0;
  std::lock_guard<std::mutex> lock(mu_);
  bool front = true;
  for (auto a = arrivals_.begin(); a != arrivals_.end() && (out.empty() || bytes < max_bytes);) {
    std::shared_ptr<StreamSeries> s = a->series.lock();
    std::shared_ptr<const StreamFrame> f;
    if (s && next_.count(s.get()) > 0) {
      auto it = s->frames.find(a->frame);
      if (it != s->frames.end() && !it->second->spill) f = it->second;
    }
    if (!f) {  // gone or spilled: never needed again by the ring or the spill
      if (front) {
        a = arrivals_.erase(a);
        continue;
      }
      ++a;
      continue;
    }
    front = false;
    if (!out.empty() && bytes + f->bytes > max_bytes) break;
    bytes += f->bytes;
    out.push_back(InRam{std::move(s), std::move(f)});
    ++a;
  }
  return out;
}

bool StreamLedger::SwapSpilled(const InRam& from, std::shared_ptr<const StreamFrame> to) {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_.count(from.series.get()) == 0) return false;  // forgotten
  auto it = from.series->frames.find(from.frame->number);
  if (it == from.series->frames.end() || it->second != from.frame) return false;
  counters_.held_bytes -= from.frame->bytes;
  counters_.spilled_bytes += to->bytes;
  ++counters_.spilled_frames;
  it->second = std::move(to);
  return true;
}

std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> StreamLedger::DropSpilled(
    const std::vector<std::pair<std::weak_ptr<StreamSeries>, std::weak_ptr<const StreamFrame>>>&
        frames) {
  std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> out;
  std::vector<std::shared_ptr<const StreamFrame>> freed;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [ws, wf] : frames) {
    std::shared_ptr<StreamSeries> s = ws.lock();
    std::shared_ptr<const StreamFrame> f = wf.lock();
    if (!s || !f || next_.count(s.get()) == 0) continue;
    auto it = s->frames.find(f->number);
    if (it == s->frames.end() || it->second != f) continue;
    counters_.spilled_bytes -= f->bytes;
    --counters_.spilled_frames;
    ++counters_.evicted;
    freed.push_back(std::move(it->second));
    s->frames.erase(it);
    out.emplace_back(std::move(s), f->number);
  }
  return out;
}

std::vector<std::shared_ptr<const StreamFrame>> StreamLedger::FramesFrom(const StreamSeries& series,
                                                                         uint64_t from,
                                                                         size_t max) const {
  std::vector<std::shared_ptr<const StreamFrame>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = series.frames.lower_bound(from); it != series.frames.end() && out.size() < max;
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

void StreamLedger::ForEachFrame(
    const StreamSeries& series,
    const std::function<bool(const std::shared_ptr<const StreamFrame>&)>& fn) const {
  for (uint64_t from = 0;;) {
    std::vector<std::shared_ptr<const StreamFrame>> batch = FramesFrom(series, from, 4096);
    if (batch.empty()) return;
    for (const auto& f : batch) {
      if (!fn(f)) return;
    }
    if (batch.back()->number == UINT64_MAX) return;
    from = batch.back()->number + 1;
  }
}

}  // namespace daqfs
