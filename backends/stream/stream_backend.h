// StreamBackend: a live detector stream (`type = stream`) as a tree that fills while the
// detector runs.
//
//   status                 text: endpoint, protocol, connected, current series, frames, bytes,
//                          lost, malformed, rates, ring and spill use (rendered per open)
//   latest -> series_000042
//   series_000042/         one folder per series (name from `series_name` over header fields)
//     header.json          the series start as JSON (absent when the start was not received)
//     frames/000000.tif    one file per complete frame (and/or .raw), numbered as sent;
//                          frames/<channel>/ when the images have several channels
//     data.npy             the whole series once it ended, while every frame is still kept
//                          (data_<channel>.npy per channel)
//     end.json             the end message, once received
//     INCOMPLETE           text, when the series was cut (another series started before its end)
//
// Who does what: the receiver's ingest thread (stream_receiver.h) only receives and applies
// messages to the ledger (stream_ledger.h), where frames become readable at once; it hands each
// change to this backend's announcer queue and never waits on anything else. The announcer
// thread builds the series folders and tells the kernel about new and removed entries through
// the Invalidator (the notifier thread turns them into kernel invalidations). The spill thread
// (stream_spill.h) moves the oldest frames from the RAM ring into segment blobs on the SSD.
//
// Frames are immutable once visible: frame files and finished series are cached by the kernel
// like archive members; folders that still grow have short cache lifetimes (and every new entry
// is announced). A frame that leaves the ring and the spill disappears from the listing; an open
// file keeps its frame readable. Everything under the source has the configured uid, gid and
// mode (files without the execute bits).
//
// Thread safety: every Backend method may be called concurrently.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/stream/stream_ledger.h"
#include "backends/stream/stream_receiver.h"
#include "fs/backend.h"
#include "fs/metrics.h"

namespace daqfs {

class StreamSpill;
class ImageStack;

struct StreamBackendOptions {
  StreamReceiverOptions receiver;
  size_t keep_series = 10;  // ended or cut series kept listed
  // RAM for received frames (the source's share of [cache] ring); 0 = take BackendEnv's.
  uint64_t ring_bytes = 0;
  // Bytes of spill segments at most (0 = as much as [cache] disk allows); spill = false: none.
  bool spill = true;
  uint64_t spill_bytes = 0;
  bool tiff = true;  // frames/NNNNNN.tif
  bool raw = false;  // frames/NNNNNN.raw
  // Frame files are read with direct I/O (Attr::direct_io): the ring holds them already.
  bool direct_io = true;
  // The series folder's path: {key} or {key:0N} over the series' fields (series, seq, unique)
  // and the header's top-level keys; '/' makes sub-folders.
  std::string series_name = "series_{series:06}";
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0750;
  // Seconds the kernel may cache a growing folder's listing (new entries are announced too).
  double running_cache_seconds = 1.0;
};

// Expands `pattern` for a series (see series_name above). A key the series does not have, an
// empty result or a component "." or ".." gives "" (the caller falls back to the default name).
// '/' inside a value becomes '_'.
std::string ExpandSeriesName(const std::string& pattern, const StreamSeriesInfo& series);
// Checks a pattern's syntax (braces, keys, widths); "" when valid, else the reason.
std::string CheckSeriesName(const std::string& pattern);

class StreamBackend final : public Backend {
 public:
  StreamBackend(std::string name, StreamBackendOptions options);
  ~StreamBackend() override;

  Status Start(BackendEnv& env) override;
  void Stop() override;
  void Forget(NodeId node) override;

  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;
  Result<std::vector<std::string>> ListXattr(NodeId node) override;
  Result<std::string> GetXattr(NodeId node, const std::string& name) override;
  std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max) override;
  uint64_t TotalBytes() const override;
  uint64_t TotalNodes() const override;

  // For tests and tools: the ledger (null before Start), the receiver's bound endpoints, the
  // status text, and the announcer having caught up with every change the ledger applied so
  // far (the ledger applies a change before the ingest thread queues its announcement).
  StreamLedger* ledger() { return ledger_.get(); }
  std::vector<std::string> endpoints() const;
  std::string StatusText() const;
  void WaitAnnounced() const;

 private:
  enum class Kind : uint8_t {
    kRoot,
    kStatus,
    kLatest,
    kDir,  // a folder of the series name template
    kSeries,
    kHeader,
    kEnd,
    kIncomplete,
    kFrames,
    kChannel,
    kFrame,
    kNpy,
  };
  struct SeriesEntry;
  struct Node {
    Node() = default;
    Node(Kind k, std::shared_ptr<SeriesEntry> s = nullptr, uint32_t c = 0, uint64_t n = 0,
         uint8_t x = 0)
        : kind(k), series(std::move(s)), channel(c), number(n), ext(x) {}
    Kind kind = Kind::kRoot;
    std::shared_ptr<SeriesEntry> series;  // series nodes and below
    uint32_t channel = 0;                 // kChannel, kFrame, kNpy
    uint64_t number = 0;                  // kFrame
    uint8_t ext = 0;                      // kFrame: 0 tif, 1 raw
  };
  struct Dir {  // root and template folders: children in creation order (stable cookies)
    std::map<std::string, NodeId, std::less<>> by_name;
    std::map<NodeId, std::string> by_id;
  };
  // One announced change, without the frame itself (a lagging announcer pins no pixels).
  struct Announcement {
    std::shared_ptr<StreamSeries> series;
    bool started = false;
    std::shared_ptr<StreamSeries> cut;
    bool frame = false;
    uint64_t number = 0;
    bool ended = false;
    std::vector<std::shared_ptr<StreamSeries>> forgotten;
    std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> evicted;
  };

  void OnChange(const StreamLedger::Change& change);
  void OnSpillDropped(std::vector<std::pair<std::shared_ptr<StreamSeries>, uint64_t>> dropped);
  void AnnouncerLoop();
  void Announce(Announcement& a);
  void SampleRates();

  // Under mu_.
  NodeId NewNode(Node node);
  std::shared_ptr<SeriesEntry> EntryOf(const StreamSeries* s) const;
  void AddSeries(const std::shared_ptr<StreamSeries>& s);
  void RemoveSeries(const std::shared_ptr<StreamSeries>& s);
  const std::vector<std::string>& Channels(SeriesEntry& e);
  NodeId FrameNode(SeriesEntry& e, uint32_t channel, uint64_t number, uint8_t ext);
  NodeId FilesDir(SeriesEntry& e, uint32_t channel);
  Attr DirAttr(double cache_seconds) const;
  Attr FileAttr(uint64_t size, timespec mtime, double cache_seconds) const;
  // A frame file's: immutable, read with direct I/O unless the source says otherwise.
  Attr FrameAttr(uint64_t size, timespec received) const;
  Result<Attr> AttrLocked(NodeId id, const Node& n);
  std::string LatestTarget() const;
  // What opening a frame or data.npy needs of a series, copied under mu_ and used after it.
  struct View {
    std::shared_ptr<StreamSeries> s;
    std::string key;
    std::vector<std::string> channels;
  };
  View ViewOf(const SeriesEntry& e) const;
  // The identity of a frame's units: the series, channel, number, and the ledger's instance and
  // the frame's serial (unique to this frame as received by this daemon).
  std::string FrameIdentity(const View& v, uint32_t channel, const StreamFrame& f) const;
  // The frame's one-frame stack (its views' sizes come from it); null when the frame has no
  // image of that channel or the image has no views.
  // `sizes_only`: a stack for its views' sizes (no identity computed).
  std::shared_ptr<const ImageStack> FrameStack(const View& v, uint32_t channel,
                                               const std::shared_ptr<const StreamFrame>& f,
                                               bool sizes_only) const;
  Result<uint64_t> FrameFileSize(const SeriesEntry& e, uint32_t channel,
                                 const std::shared_ptr<const StreamFrame>& f, uint8_t ext);
  Result<std::shared_ptr<ByteSource>> OpenNpy(const View& e, uint32_t channel);
  void CheckNpy(SeriesEntry& e);
  bool SeriesRunning(const SeriesEntry& e) const;
  std::string StatusTextLocked() const;

  const std::string name_;
  StreamBackendOptions options_;
  const uint64_t run_nonce_;  // in spill segment names: a restarted daemon never reuses one

  std::unique_ptr<StreamLedger> ledger_;
  std::unique_ptr<StreamReceiver> receiver_;
  std::unique_ptr<StreamSpill> spill_;
  Invalidator* invalidator_ = nullptr;
  timespec start_time_{};

  mutable std::mutex mu_;  // the tree; taken before the ledger's lock, never the other way
  std::unordered_map<NodeId, Node> nodes_;
  std::unordered_map<NodeId, Dir> dirs_;  // kRoot and kDir nodes
  std::map<const StreamSeries*, std::shared_ptr<SeriesEntry>> entries_;
  std::shared_ptr<SeriesEntry> latest_;
  NodeId next_id_ = 4;  // 1 root, 2 status, 3 latest
  std::map<std::tuple<uint32_t, uint32_t, uint8_t, uint8_t>, std::pair<uint64_t, uint64_t>>
      sizes_;  // (w, h, pixel kind, bytes) -> (tif, raw) sizes

  // Frame nodes the kernel forgot, dropped by the announcer (Forget cannot take mu_).
  void DropForgotten();
  std::mutex forget_mu_;
  std::vector<NodeId> forgotten_;

  // The announcer's queue (the ingest thread only appends).
  mutable std::mutex queue_mu_;
  mutable std::condition_variable queue_cv_;
  std::deque<Announcement> queue_;
  uint64_t queued_ = 0;      // announcements queued so far
  uint64_t announced_ = 0;   // announcements done
  uint64_t queued_seq_ = 0;  // the seq of the last ledger change queued
  bool stopping_ = false;
  std::thread announcer_;

  // Rates, sampled about once a second by the announcer.
  mutable std::mutex rate_mu_;
  double frames_per_s_ = 0;
  double bytes_per_s_ = 0;
  uint64_t rate_frames_ = 0;
  uint64_t rate_bytes_ = 0;
  std::chrono::steady_clock::time_point rate_at_{};

  std::atomic<bool> started_{false};
};

}  // namespace daqfs
