#include "backends/stream/stream_spill.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "fs/log.h"

namespace daqfs {

StreamSpill::StreamSpill(StreamSpillOptions options, BlobStore* blobs, StreamLedger* ledger,
                         OnDropped on_dropped)
    : options_(std::move(options)),
      blobs_(blobs),
      ledger_(ledger),
      on_dropped_(std::move(on_dropped)) {
  if (options_.segment_bytes == 0) {
    options_.segment_bytes =
        std::clamp<uint64_t>(options_.ring_bytes / 8, uint64_t{4} << 20, uint64_t{256} << 20);
  }
}

StreamSpill::~StreamSpill() { Stop(); }

void StreamSpill::Start() {
  if (thread_.joinable() || !blobs_ || options_.ring_bytes == 0) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-spill");
    Loop();
  });
}

void StreamSpill::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (blobs_) {
    for (const Segment& s : segments_) blobs_->Erase(s.name);
  }
  segments_.clear();
  segment_count_ = 0;
  disk_bytes_ = 0;
}

void StreamSpill::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);  // held by the spill thread only to wait
    poked_ = true;
  }
  cv_.notify_one();
}

bool StreamSpill::Idle() const { return !busy_.load() && !Over(); }

bool StreamSpill::Over() const {
  return options_.ring_bytes > 0 && ledger_->counters().held_bytes > options_.ring_bytes / 2;
}

void StreamSpill::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return poked_ || stop_; });
      if (stop_) return;
      poked_ = false;
      busy_ = true;
    }
    Reap();
    while (Over() && SpillOnce()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    busy_ = false;
  }
}

void StreamSpill::Reap() {
  for (auto it = segments_.begin(); it != segments_.end();) {
    bool live = std::any_of(it->frames.begin(), it->frames.end(),
                            [](const auto& f) { return !f.second.expired(); });
    if (live) {
      ++it;
      continue;
    }
    blobs_->Erase(it->name);
    disk_bytes_ -= it->bytes;
    it = segments_.erase(it);
    segment_count_ = segments_.size();
  }
}

bool StreamSpill::DropOldest() {
  if (segments_.empty()) return false;
  Segment s = std::move(segments_.front());
  segments_.pop_front();
  Dropped dropped = ledger_->DropSpilled(s.frames);
  blobs_->Erase(s.name);  // gone now, or when the last reader's frame closes
  disk_bytes_ -= s.bytes;
  segment_count_ = segments_.size();
  dropped_segments_.fetch_add(1);
  if (!dropped.empty() && on_dropped_) on_dropped_(std::move(dropped));
  return true;
}

bool StreamSpill::SpillOnce() {
  std::vector<StreamLedger::InRam> frames = ledger_->OldestInRam(options_.segment_bytes);
  if (frames.empty()) return false;
  uint64_t total = 0;
  for (const StreamLedger::InRam& f : frames) total += f.frame->bytes;
  // Room under the spill's own limit: the oldest segments go first.
  while (options_.limit_bytes > 0 && disk_bytes_ + total > options_.limit_bytes) {
    if (!DropOldest()) break;
  }
  if (options_.limit_bytes > 0 && disk_bytes_ + total > options_.limit_bytes) return false;
  const std::string name =
      "segment-" + std::to_string(options_.nonce) + "-" + std::to_string(next_segment_++);
  std::unique_ptr<BlobWriter> writer;
  for (;;) {
    Result<std::unique_ptr<BlobWriter>> w = blobs_->Create(name, total);
    if (w.ok()) {
      writer = std::move(*w);
      break;
    }
    if (w.status().code() == Code::kNoSpace && DropOldest()) continue;
    write_errors_.fetch_add(1);
    log_.Log(LogLevel::kWarn, options_.name + ": cannot spill frames: " + w.status().message());
    return false;
  }
  struct Placed {
    std::vector<uint64_t> offsets, sizes;
  };
  std::vector<Placed> placed(frames.size());
  uint64_t at = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    for (const StreamImage& image : frames[i].frame->images) {
      Status s = writer->Append(image.payload);
      // A writer is dead after an error: room made, this segment starts again.
      if (s.code() == Code::kNoSpace && DropOldest()) return true;
      if (!s.ok()) {
        write_errors_.fetch_add(1);
        log_.Log(LogLevel::kWarn, options_.name + ": cannot spill frames: " + s.message());
        return false;
      }
      placed[i].offsets.push_back(at);
      placed[i].sizes.push_back(image.payload.size());
      at += image.payload.size();
    }
  }
  Result<std::shared_ptr<Blob>> blob = writer->Commit();
  if (!blob.ok()) {
    write_errors_.fetch_add(1);
    log_.Log(LogLevel::kWarn, options_.name + ": cannot spill frames: " + blob.status().message());
    return false;
  }
  Segment seg;
  seg.name = name;
  seg.blob = *blob;
  seg.bytes = at;
  for (size_t i = 0; i < frames.size(); ++i) {
    const StreamFrame& old = *frames[i].frame;
    auto spill = std::make_shared<StreamFrameSpill>();
    spill->segment = *blob;
    spill->offsets = std::move(placed[i].offsets);
    spill->sizes = std::move(placed[i].sizes);
    auto f = std::make_shared<StreamFrame>();
    f->number = old.number;
    f->images = old.images;
    for (StreamImage& image : f->images) image.payload = {};
    f->meta = old.meta;
    f->bytes = old.bytes;
    f->received = old.received;
    f->serial = old.serial;
    f->spill = std::move(spill);
    std::weak_ptr<const StreamFrame> weak = f;
    if (ledger_->SwapSpilled(frames[i], std::move(f))) {
      seg.frames.emplace_back(frames[i].series, std::move(weak));
      spilled_total_.fetch_add(1);
    }
  }
  frames.clear();  // the RAM copies go (unless a reader holds one)
  disk_bytes_ += seg.bytes;
  segments_.push_back(std::move(seg));
  segment_count_ = segments_.size();
  return true;
}

}  // namespace daqfs
