// StreamSpill: moves a stream's oldest frames out of the RAM ring into segment files on the
// node's SSD, asynchronously, so a burst larger than the ring stays readable.
//
// One thread ("daqfs-spill") per stream source. When the frames held in RAM pass half the ring,
// it takes the oldest (arrival order) up to a segment's size, appends their payloads as
// received (compressed) to one new blob in the source's BlobStore (a large sequential write;
// segments count against `[cache] disk` like every blob), commits it, and swaps each frame in
// the ledger for a copy that reads from the segment (StreamFrameSpill), which frees the RAM.
// A segment whose frames have all gone (series forgotten, no reader holding one) is erased.
//
// Full: when the spill's own limit (`limit_bytes`) or the store (kNoSpace: the SSD budget or
// the disk) has no room, the oldest segment goes first: its frames leave the listing, counted
// as evicted by the ledger, and the backend is told (`on_dropped`). Never the newest. When even
// that frees nothing, the frames stay in RAM, where the ring drops the oldest when full.
//
// The ingest thread only calls Poke() (an atomic flag and a notify): it never waits for the
// disk. A write error is logged (rate-bounded) and counted; the frames stay in RAM.
//
// Thread safety: Start/Stop from one thread; Poke and the counters from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/stream/stream_ledger.h"
#include "fs/blob_store.h"
#include "fs/log.h"

namespace daqfs {

struct StreamSpillOptions {
  std::string name;            // the source's name, for logs and blob names
  uint64_t ring_bytes = 0;     // the RAM ring; spilling starts past half of it (0: never)
  uint64_t limit_bytes = 0;    // segment bytes at most; 0 = as much as the store allows
  uint64_t segment_bytes = 0;  // one segment's target size; 0 = ring/8 within 4..256 MiB
  uint64_t nonce = 0;          // in blob names: a restarted daemon never reuses one
};

class StreamSpill {
 public:
  using Dropped = std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>>;
  using OnDropped = std::function<void(Dropped)>;

  StreamSpill(StreamSpillOptions options, BlobStore* blobs, StreamLedger* ledger,
              OnDropped on_dropped);
  ~StreamSpill();  // Stop()
  StreamSpill(const StreamSpill&) = delete;
  StreamSpill& operator=(const StreamSpill&) = delete;

  void Start();
  // Ends the thread and erases every segment (frames still held by readers keep theirs until
  // they close). Idempotent.
  void Stop();
  // RAM use may have grown: look again (never blocks on the disk).
  void Poke();

  uint64_t disk_bytes() const { return disk_bytes_.load(std::memory_order_relaxed); }
  uint64_t segments() const { return segment_count_.load(std::memory_order_relaxed); }
  uint64_t spilled_frames_total() const { return spilled_total_.load(std::memory_order_relaxed); }
  uint64_t segments_dropped() const { return dropped_segments_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }
  // For tests: the spill has nothing more to do right now.
  bool Idle() const;

 private:
  struct Segment {
    std::string name;
    // Held until the segment goes (here, on the spill thread): the frames' handles are then
    // never the last, so the ingest thread never releases a blob (the store's lock, unlinks).
    std::shared_ptr<Blob> blob;
    uint64_t bytes = 0;
    std::vector<std::pair<std::weak_ptr<StreamSeries>, std::weak_ptr<const StreamFrame>>> frames;
  };
  void Loop();
  bool SpillOnce();   // false: nothing (more) to do now
  void Reap();        // segments whose frames all went
  bool DropOldest();  // false: no segment to drop
  bool Over() const;

  StreamSpillOptions options_;
  BlobStore* blobs_;
  StreamLedger* ledger_;
  OnDropped on_dropped_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false;
  bool stop_ = false;
  std::atomic<bool> busy_{false};
  std::thread thread_;

  RateLimitedLog log_;
  std::deque<Segment> segments_;  // oldest first; the spill thread's own
  uint64_t next_segment_ = 0;
  std::atomic<uint64_t> disk_bytes_{0};
  std::atomic<uint64_t> segment_count_{0};
  std::atomic<uint64_t> spilled_total_{0};
  std::atomic<uint64_t> dropped_segments_{0};
  std::atomic<uint64_t> write_errors_{0};
};

}  // namespace daqfs
