// StreamLedger: what one stream has received, as series of frames, with the loss accounting a
// DAQ expects. The ingest thread feeds it events (stream_messages.h) in arrival order; readers
// look at immutable snapshots of its series. It never waits for readers: a reader holds a
// shared_ptr to a series or frame; the ledger only takes its own short lock.
//
// Rules:
//   - A series starts with its start message, or with its first frame when the start was not
//     received (a receiver that connected late, a captured stream without it).
//   - A start, or a frame of another series, while a series is open (no end received) cuts the
//     open one: it is marked incomplete (a publisher that died mid-series and came back).
//   - Frames are numbered by the message; the first frame of a series sets where its numbering
//     starts (detectors count from 0 or 1); a frame number above the next expected one counts
//     the numbers skipped as lost (gaps); a number below it (late) is kept, counted as out of
//     order and no longer as lost; a frame received twice is dropped and counted.
//   - An end closes its series (an end of another series than the open one is counted as
//     malformed and ignored).
//   - Malformed messages (parse errors) are counted by the caller through Malformed().
//   - At most `keep_series` ended or cut series stay; the oldest beyond that are forgotten
//     (their frames go at once, also when someone still holds the series; a reader holding a
//     frame keeps that frame).
//   - The ring: the payload bytes of the frames kept stay within `ring_bytes`; past it, the
//     oldest frames received (over all series) leave, counted as `evicted`, never the newest
//     (the frame just received stays even when it alone is larger). A reader that holds a
//     frame keeps it readable.
//
// Thread safety: every method is thread-safe; Apply and Malformed are meant for one thread (the
// ingest thread), the others for any.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/stream/stream_messages.h"
#include "fs/blob_store.h"

namespace daqfs {

// Where a spilled frame's payloads are: one range per image in a segment blob.
struct StreamFrameSpill {
  std::shared_ptr<Blob> segment;  // pinned while the frame lives
  std::vector<uint64_t> offsets;  // per image: where its payload starts in the segment
  std::vector<uint64_t> sizes;    // per image: its payload's size
};

// One received frame: its images (payload spans into `keep`, or, once spilled, empty spans and
// `spill` saying where the payloads are on disk) and metadata. Immutable.
struct StreamFrame {
  uint64_t number = 0;
  std::vector<StreamImage> images;
  nlohmann::json meta;
  std::shared_ptr<const void> keep;  // the received message the payloads point into
  uint64_t bytes = 0;                // payload bytes as received
  timespec received{};               // when it arrived (CLOCK_REALTIME): its files' mtime
  std::shared_ptr<const StreamFrameSpill> spill;  // null while the payloads are in RAM
  // The ledger's running number of the frames it took in (from 1; a spilled frame keeps it):
  // with the ledger's instance() it names the frame's decoded units in the caches.
  uint64_t serial = 0;
};

// One series. The ingest thread changes it under the ledger's lock while it is open: other
// threads read it through the ledger (Info, Frame, FrameNumbers), never directly.
struct StreamSeries {
  uint64_t id = 0;            // the series number as sent
  std::string unique;         // stream2 series_unique_id
  uint64_t seq = 0;           // this ledger's running number of the series (from 1)
  nlohmann::json header;      // the start message (null if not received)
  nlohmann::json end;         // the end message (null until received)
  bool ended = false;         // its end was received
  bool incomplete = false;    // cut: another series started before its end
  uint64_t lost = 0;          // frame numbers skipped
  uint64_t out_of_order = 0;  // frames below the next expected number (kept)
  uint64_t duplicates = 0;    // frames received twice (dropped)
  std::map<uint64_t, std::shared_ptr<const StreamFrame>> frames;  // guarded by the ledger
};

// A consistent copy of a series' fields (its frames left out), for readers.
struct StreamSeriesInfo {
  uint64_t id = 0;
  std::string unique;
  uint64_t seq = 0;
  nlohmann::json header;
  nlohmann::json end;
  bool ended = false;
  bool incomplete = false;
  uint64_t lost = 0;
  uint64_t out_of_order = 0;
  uint64_t duplicates = 0;
  uint64_t frames = 0;  // frames kept
};

struct StreamCounters {
  uint64_t series = 0;  // series seen
  uint64_t frames = 0;  // frames kept
  uint64_t bytes = 0;   // payload bytes kept (as received)
  uint64_t lost = 0;    // frame numbers skipped, over all series
  uint64_t out_of_order = 0;
  uint64_t duplicates = 0;
  uint64_t malformed = 0;       // messages that did not parse, and ends of no open series
  uint64_t incomplete = 0;      // series cut before their end
  uint64_t evicted = 0;         // frames that left the ring and the spill (the oldest, for room)
  uint64_t held_bytes = 0;      // payload bytes of the frames kept in RAM now
  uint64_t spilled_bytes = 0;   // payload bytes of the frames kept in spill segments now
  uint64_t spilled_frames = 0;  // frames kept in spill segments now
};

class StreamLedger {
 public:
  // `ring_bytes` 0: no bound.
  explicit StreamLedger(size_t keep_series, uint64_t ring_bytes = 0);

  // Random, drawn when the ledger is made: frame serials of two ledgers (two sources, a
  // restarted daemon whose disk cache still holds the last one's units) never name the same
  // frame.
  uint64_t instance() const { return instance_; }

  // What an event changed, for the caller to announce (new entries in the tree).
  struct Change {
    std::shared_ptr<StreamSeries> series;      // the series the event went to (null: none)
    bool series_started = false;               // `series` is new
    std::shared_ptr<StreamSeries> cut;         // a series marked incomplete by this event
    std::shared_ptr<const StreamFrame> frame;  // a frame added
    bool series_ended = false;
    std::vector<std::shared_ptr<StreamSeries>> forgotten;  // series dropped beyond keep_series
    // Frames that left the ring to make room: (series, frame number).
    std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> evicted;
    uint64_t seq = 0;  // the event's place among every one applied: 1, 2, ...
  };
  // Applies one parsed event; `keep` owns the message its payloads point into.
  Change Apply(StreamEvent event, std::shared_ptr<const void> keep);
  void Malformed();
  // Drops every series and frame (Stop: the blobs spilled frames hold go before the blob store
  // does). Readers keep the frames they hold.
  void Clear();

  StreamCounters counters() const;
  // How many events were applied so far (the last Change's seq).
  uint64_t applied() const;
  // The series kept, oldest first, and the open one (null if none).
  std::vector<std::shared_ptr<StreamSeries>> Series() const;
  std::shared_ptr<StreamSeries> Open() const;
  StreamSeriesInfo Info(const StreamSeries& series) const;
  // Frame `number` of `series`, or null; the frame numbers of a series, in order.
  std::shared_ptr<const StreamFrame> Frame(const StreamSeries& series, uint64_t number) const;
  std::vector<uint64_t> FrameNumbers(const StreamSeries& series) const;
  // Up to `max` frames of `series` numbered `from` or more, in order.
  std::vector<std::shared_ptr<const StreamFrame>> FramesFrom(const StreamSeries& series,
                                                             uint64_t from, size_t max) const;
  // Calls `fn` for every frame of `series` in order (taken in batches under the lock, `fn`
  // called outside it) until it returns false.
  void ForEachFrame(const StreamSeries& series,
                    const std::function<bool(const std::shared_ptr<const StreamFrame>&)>& fn) const;

  // The spill (stream_spill.h). A frame in RAM that the spill thread has written to a segment
  // is swapped for a copy that reads from there; a MakeRoom then skips it.
  struct InRam {
    std::shared_ptr<StreamSeries> series;
    std::shared_ptr<const StreamFrame> frame;
  };
  // The oldest frames held in RAM (arrival order), together at most `max_bytes` (at least one).
  std::vector<InRam> OldestInRam(uint64_t max_bytes);
  // Replaces `from` (still in RAM) by `to` (its spilled copy). False when `from` is gone.
  bool SwapSpilled(const InRam& from, std::shared_ptr<const StreamFrame> to);
  // Spilled frames whose segment goes: removed where still kept (counted as evicted); returns
  // the (series, number) removed.
  std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> DropSpilled(
      const std::vector<std::pair<std::weak_ptr<StreamSeries>, std::weak_ptr<const StreamFrame>>>&
          frames);

 private:
  std::shared_ptr<StreamSeries> Begin(const StreamEvent& e, Change* change);
  void Cut(Change* change);

  void Forget(const std::shared_ptr<StreamSeries>& s);
  void MakeRoom(Change* change);

  const size_t keep_series_;
  const uint64_t ring_bytes_;
  // Frames in arrival order, for the ring (entries of forgotten series or frames gone are
  // skipped when reached).
  struct Arrival {
    std::weak_ptr<StreamSeries> series;
    uint64_t frame = 0;
  };
  std::deque<Arrival> arrivals_;
  mutable std::mutex mu_;  // guards everything below and every series' frames and fields
  std::deque<std::shared_ptr<StreamSeries>> series_;
  std::shared_ptr<StreamSeries> open_;
  // The next expected frame number of each series that has frames.
  std::map<const StreamSeries*, uint64_t> next_;
  StreamCounters counters_;
  uint64_t seq_ = 0;
  uint64_t applied_ = 0;
  uint64_t serials_ = 0;
  const uint64_t instance_;
  // Frames that left during the Apply under way, freed after its lock.
  std::vector<std::shared_ptr<const StreamFrame>> garbage_;
};

}  // namespace daqfs
