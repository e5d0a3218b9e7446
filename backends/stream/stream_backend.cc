#include "backends/stream/stream_backend.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>

#include "backends/common/image_stack.h"
#include "backends/common/stack_views.h"
#include "backends/stream/stream_frame_units.h"
#include "backends/stream/stream_spill.h"
#include "fs/human_bytes.h"
#include "fs/log.h"
#include "fs/thread_priority.h"

namespace daqfs {

namespace {

constexpr NodeId kStatusNode = 2;
constexpr NodeId kLatestNode = 3;
constexpr const char* kDefaultSeriesName = "series_{series:06}";
constexpr uint64_t kMaxCookieNumber = (uint64_t{1} << 60);  // frame cookies stay below 2^62
// Fixed entries of a series folder, by cookie.
constexpr uint64_t kCookieHeader = 1, kCookieFrames = 2, kCookieEnd = 3, kCookieIncomplete = 4,
                   kCookieNpy = 16;  // + channel

// One template field: {key} or {key:0N}.
struct Field {
  std::string key;
  int width = 0;
};

// Splits a pattern into literals and fields; "" error when valid.
std::string ParsePattern(const std::string& p, std::vector<std::pair<std::string, Field>>* out) {
  std::string literal;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '}') return "'}' without '{'";
    if (c != '{') {
      literal += c;
      continue;
    }
    size_t close = p.find('}', i);
    if (close == std::string::npos) return "'{' without '}'";
    std::string inner = p.substr(i + 1, close - i - 1);
    Field f;
    size_t colon = inner.find(':');
    f.key = inner.substr(0, colon);
    if (f.key.empty()) return "empty {} field";
    for (char k : f.key) {
      if (!(isalnum(static_cast<unsigned char>(k)) || k == '_' || k == '-')) {
        return "bad field name '" + f.key + "'";
      }
    }
    if (colon != std::string::npos) {
      std::string w = inner.substr(colon + 1);
      if (w.size() < 2 || w.size() > 3 || w[0] != '0' ||
          !std::all_of(w.begin() + 1, w.end(), [](char d) { return isdigit(d) != 0; })) {
        return "bad width '" + w + "' (write {key:06})";
      }
      f.width = std::stoi(w.substr(1));
      if (f.width < 1 || f.width > 20) return "width of {" + f.key + "} not in 1..20";
    }
    if (out) out->emplace_back(literal, f);
    literal.clear();
    i = close;
  }
  if (out) out->emplace_back(literal, Field{});
  return "";
}

std::string Padded(uint64_t v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
  return s;
}

std::string JsonText(const nlohmann::json& j) {
  if (j.is_null()) return "";
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string ChannelName(const StreamImage& image, size_t index) {
  std::string n = image.channel.empty() ? "channel_" + std::to_string(index) : image.channel;
  for (char& c : n) {
    if (c == '/' || c == '\0') c = '_';
  }
  if (n == "." || n == "..") n = "channel_" + std::to_string(index);
  return n;
}

// The image of `frame` that shows channel `c` of the series (names in `channels`).
const StreamImage* ImageOf(const StreamFrame& f, const std::vector<std::string>& channels,
                           uint32_t c, size_t* index) {
  if (c >= channels.size()) return nullptr;
  if (channels.size() == 1) {
    if (f.images.empty()) return nullptr;
    *index = 0;
    return &f.images[0];
  }
  if (c < f.images.size() && ChannelName(f.images[c], c) == channels[c]) {
    *index = c;
    return &f.images[c];
  }
  for (size_t i = 0; i < f.images.size(); ++i) {
    if (ChannelName(f.images[i], i) == channels[c]) {
      *index = i;
      return &f.images[i];
    }
  }
  return nullptr;
}

std::string XattrValue(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string CheckSeriesName(const std::string& pattern) {
  if (pattern.empty()) return "must not be empty";
  return ParsePattern(pattern, nullptr);
}

std::string ExpandSeriesName(const std::string& pattern, const StreamSeriesInfo& s) {
  std::vector<std::pair<std::string, Field>> parts;
  if (!ParsePattern(pattern, &parts).empty()) return "";
  std::string out;
  for (const auto& [literal, f] : parts) {
    out += literal;
    if (f.key.empty()) continue;
    std::string v;
    if (f.key == "series") {
      v = Padded(s.id, f.width);
    } else if (f.key == "seq") {
      v = Padded(s.seq, f.width);
    } else if (f.key == "unique") {
      v = s.unique;
    } else if (s.header.is_object() && s.header.contains(f.key)) {
      const nlohmann::json& j = s.header[f.key];
      if (j.is_number_unsigned()) {
        v = Padded(j.get<uint64_t>(), f.width);
      } else if (j.is_number_integer() && j.get<int64_t>() >= 0) {
        v = Padded(static_cast<uint64_t>(j.get<int64_t>()), f.width);
      } else {
        v = XattrValue(j);
      }
    } else {
      return "";  // a key the series does not have
    }
    if (v.empty()) return "";
    for (char& c : v) {
      if (c == '/' || c == '\0' || c == '\n') c = '_';
    }
    out += v;
  }
  // Every component names something.
  size_t start = 0;
  for (;;) {
    size_t slash = out.find('/', start);
    std::string comp = out.substr(start, slash == std::string::npos ? slash : slash - start);
    if (comp.empty() || comp == "." || comp == ".." || comp.size() > 200) return "";
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

struct StreamBackend::SeriesEntry {
  std::shared_ptr<StreamSeries> s;
  std::weak_ptr<SeriesEntry> self;
  NodeId parent = 0;
  std::string name;
  std::string path;  // from the source's root
  NodeId dir = 0, frames = 0, header = 0, end = 0, incomplete = 0;
  bool channels_known = false;
  bool channels_announced = false;
  std::vector<std::string> channels;
  std::vector<NodeId> channel_dirs;
  std::vector<NodeId> npy;
  std::vector<std::optional<uint64_t>> npy_size;  // per channel, once ended and whole
  std::map<std::tuple<uint32_t, uint64_t, uint8_t>, NodeId> frame_nodes;
  std::string header_text, end_text, incomplete_text;
  // The series as the detector names it (stream2's unique id when sent, and its number), not
  // daqfs's running number: two daemons receiving the same stream name its frames alike.
  std::string key;
  bool ended = false;
  bool cut = false;
  bool gone = false;
  uint64_t evicted = 0;
  timespec created{};
};

StreamBackend::StreamBackend(std::string name, StreamBackendOptions options)
    : name_(std::move(name)), options_(std::move(options)), run_nonce_(std::random_device{}()) {
  clock_gettime(CLOCK_REALTIME, &start_time_);
  nodes_[kRootNode] = Node{Kind::kRoot};
  nodes_[kStatusNode] = Node{Kind::kStatus};
  nodes_[kLatestNode] = Node{Kind::kLatest};
  dirs_[kRootNode];
  if (options_.receiver.name.empty()) options_.receiver.name = name_;
}

StreamBackend::~StreamBackend() { Stop(); }

Status StreamBackend::Start(BackendEnv& env) {
  if (started_.exchange(true)) return Invalid(name_ + ": started twice");
  invalidator_ = env.invalidator;
  uint64_t ring = options_.ring_bytes ? options_.ring_bytes : env.ring_bytes;
  options_.ring_bytes = ring;
  ledger_ = std::make_unique<StreamLedger>(options_.keep_series, ring);
  if (options_.spill && env.blobs && ring > 0) {
    StreamSpillOptions so;
    so.name = name_;
    so.ring_bytes = ring;
    so.limit_bytes = options_.spill_bytes;
    so.nonce = run_nonce_;
    spill_ = std::make_unique<StreamSpill>(so, env.blobs, ledger_.get(),
                                           [this](StreamSpill::Dropped d) { OnSpillDropped(d); });
  }
  if (env.metrics) {
    StreamLedger* l = ledger_.get();
    const std::string& lb = env.source_label;
    struct Family {
      const char* name;
      const char* help;
      uint64_t StreamCounters::*field;
    };
    static constexpr Family kCounters[] = {
        {"daqfs_stream_series", "Series seen", &StreamCounters::series},
        {"daqfs_stream_frames", "Frames received and kept (complete)", &StreamCounters::frames},
        {"daqfs_stream_received_bytes", "Payload bytes received (as sent, compressed)",
         &StreamCounters::bytes},
        {"daqfs_stream_lost_frames", "Frame numbers skipped within a series (gaps)",
         &StreamCounters::lost},
        {"daqfs_stream_out_of_order_frames", "Frames that arrived after a later one",
         &StreamCounters::out_of_order},
        {"daqfs_stream_duplicate_frames", "Frames received twice (dropped)",
         &StreamCounters::duplicates},
        {"daqfs_stream_malformed_messages",
         "Messages that did not parse (bad JSON or CBOR, part counts, sizes, encodings)",
         &StreamCounters::malformed},
        {"daqfs_stream_incomplete_series", "Series cut before their end",
         &StreamCounters::incomplete},
        {"daqfs_stream_evicted_frames",
         "Frames that left the ring and the spill for room (the oldest)", &StreamCounters::evicted},
    };
    // Monotonic counts, exposed as counters whose value is read when rendered.
    for (const Family& f : kCounters) {
      auto field = f.field;
      env.metrics->AddCounterReader(
          std::string(f.name) + "_total", f.help,
          [l, field] { return static_cast<double>(l->counters().*field); }, lb);
    }
    env.metrics->AddGauge(
        "daqfs_stream_ring_bytes", "Payload bytes of received frames held in RAM",
        [l] { return static_cast<double>(l->counters().held_bytes); }, lb);
    env.metrics->AddGauge(
        "daqfs_stream_ring_limit_bytes",
        "The RAM ring's size (this source's share of [cache] ring)",
        [ring] { return static_cast<double>(ring); }, lb);
    env.metrics->AddGauge(
        "daqfs_stream_spill_bytes", "Payload bytes of frames kept in spill segments on the SSD",
        [l] { return static_cast<double>(l->counters().spilled_bytes); }, lb);
  }
  // The announcer runs before the receiver, so no change waits for it.
  announcer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-announce");
    // New frames become visible through this thread: it runs before readers' copies and
    // decodes when the CPUs are busy (as root; otherwise at the normal priority).
    (void)SetThreadNice(-10);
    AnnouncerLoop();
  });
  if (spill_) spill_->Start();
  // A frame larger than the ring could never be kept beside another: the ring (at least
  // 256 MiB, a 16M detector's raw frame is 72 MB) bounds what one message may claim.
  if (ring > 0) {
    options_.receiver.max_message_bytes =
        std::min(options_.receiver.max_message_bytes, std::max<uint64_t>(ring, 256ull << 20));
  }
  receiver_ = std::make_unique<StreamReceiver>(
      options_.receiver, ledger_.get(), [this](const StreamLedger::Change& c) { OnChange(c); });
  if (Status s = receiver_->Start(); !s.ok()) {
    Stop();
    return s;
  }
  if (env.metrics) {
    StreamReceiver* r = receiver_.get();
    env.metrics->AddGauge(
        "daqfs_stream_connected_peers", "Publishers connected to the stream's socket now",
        [r] { return static_cast<double>(r->connected()); }, env.source_label);
  }
  LogInfo(name_ + ": receiving " + StreamProtocolName(options_.receiver.protocol) + " on " + [&] {
    std::string e;
    for (const std::string& x : receiver_->endpoints()) e += (e.empty() ? "" : ", ") + x;
    return e;
  }());
  return Status::Ok();
}

void StreamBackend::Stop() {
  if (receiver_) receiver_->Stop();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (announcer_.joinable()) announcer_.join();
  // The frames (and the spill segments their blobs are) go now: the blob store may go next.
  if (ledger_) ledger_->Clear();
  if (spill_) spill_->Stop();
}

std::vector<std::string> StreamBackend::endpoints() const {
  return receiver_ ? receiver_->endpoints() : options_.receiver.endpoints;
}

// ---- ingest side ---------------------------------------------------------------------------

void StreamBackend::OnChange(const StreamLedger::Change& c) {
  Announcement a;
  a.series = c.series;
  a.started = c.series_started;
  a.cut = c.cut;
  a.frame = c.frame != nullptr;
  if (c.frame) a.number = c.frame->number;
  a.ended = c.series_ended;
  a.forgotten = c.forgotten;
  a.evicted = c.evicted;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);  // shared with the announcer only
    queue_.push_back(std::move(a));
    ++queued_;
    queued_seq_ = c.seq;
  }
  queue_cv_.notify_one();
  if (spill_ && c.frame) spill_->Poke();
}

void StreamBackend::OnSpillDropped(StreamSpill::Dropped d) {
  Announcement a;
  a.evicted = std::move(d);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(a));
    ++queued_;
  }
  queue_cv_.notify_one();
}

void StreamBackend::WaitAnnounced() const {
  const uint64_t applied = ledger_ ? ledger_->applied() : 0;
  std::unique_lock<std::mutex> lock(queue_mu_);
  // The ingest thread queues what the ledger applied: polled, as the cv's notify_one on the
  // ingest side is the announcer's.
  while (queued_seq_ < applied && !stopping_) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  uint64_t target = queued_;
  queue_cv_.wait(lock, [&] { return announced_ >= target || stopping_; });
}

void StreamBackend::AnnouncerLoop() {
  std::deque<Announcement> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::seconds(1),
                         [this] { return !queue_.empty() || stopping_; });
      if (stopping_) {
        announced_ = queued_;
        queue_cv_.notify_all();
        return;
      }
      batch.swap(queue_);
    }
    SampleRates();
    {
      std::lock_guard<std::mutex> lock(mu_);
      DropForgotten();
      for (Announcement& a : batch) Announce(a);
    }
    if (batch.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      announced_ += batch.size();
    }
    batch.clear();  // series references go outside the tree's lock
    queue_cv_.notify_all();
  }
}

void StreamBackend::SampleRates() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(rate_mu_);
  double dt = std::chrono::duration<double>(now - rate_at_).count();
  if (rate_at_.time_since_epoch().count() != 0 && dt < 1.0) return;
  StreamCounters c = ledger_->counters();
  if (rate_at_.time_since_epoch().count() != 0) {
    frames_per_s_ = (c.frames - rate_frames_) / dt;
    bytes_per_s_ = (c.bytes - rate_bytes_) / dt;
  }
  rate_frames_ = c.frames;
  rate_bytes_ = c.bytes;
  rate_at_ = now;
}

void StreamBackend::Announce(Announcement& a) {
  if (a.cut) {
    if (std::shared_ptr<SeriesEntry> e = EntryOf(a.cut.get()); e && !e->cut) {
      StreamSeriesInfo info = ledger_->Info(*e->s);
      e->cut = true;
      e->incomplete_text =
          "series cut before its end (another series started): " + std::to_string(info.frames) +
          " frames kept, " + std::to_string(info.lost) + " lost\n";
      invalidator_->EntryAdded(e->dir, "INCOMPLETE");
      invalidator_->ContentChanged(e->frames);
    }
  }
  if (a.started && a.series) AddSeries(a.series);
  if (a.frame && a.series) {
    if (std::shared_ptr<SeriesEntry> e = EntryOf(a.series.get())) {
      const std::vector<std::string>& ch = Channels(*e);
      if (e->channels_known && !e->channels_announced) {
        e->channels_announced = true;
        if (ch.size() > 1) {
          for (const std::string& n : ch) invalidator_->EntryAdded(e->frames, n);
        }
      }
      for (uint32_t c = 0; c < ch.size(); ++c) {
        NodeId dir = FilesDir(*e, c);
        if (options_.tiff) invalidator_->EntryAdded(dir, FrameFileName(a.number, "tif"));
        if (options_.raw) invalidator_->EntryAdded(dir, FrameFileName(a.number, "raw"));
      }
    }
  }
  if (a.ended && a.series) {
    if (std::shared_ptr<SeriesEntry> e = EntryOf(a.series.get())) {
      e->ended = true;
      e->end_text = JsonText(ledger_->Info(*e->s).end);
      if (e->end_text.empty()) e->end_text = "{}\n";
      CheckNpy(*e);
      invalidator_->EntryAdded(e->dir, "end.json");
      for (size_t c = 0; c < e->npy_size.size(); ++c) {
        if (!e->npy_size[c]) continue;
        invalidator_->EntryAdded(e->dir, e->channels.size() > 1 ? "data_" + e->channels[c] + ".npy"
                                                                : std::string("data.npy"));
      }
      invalidator_->ContentChanged(e->frames);  // no longer growing: cached for long
      for (NodeId d : e->channel_dirs) invalidator_->ContentChanged(d);
    }
  }
  for (auto& [s, number] : a.evicted) {
    std::shared_ptr<SeriesEntry> e = EntryOf(s.get());
    if (!e) continue;
    ++e->evicted;
    // Its nodes go (the kernel may still ask for them: not found).
    for (uint32_t c = 0; c < std::max<size_t>(e->channels.size(), 1); ++c) {
      for (uint8_t x = 0; x < 2; ++x) {
        auto fn = e->frame_nodes.find(std::make_tuple(c, number, x));
        if (fn == e->frame_nodes.end()) continue;
        nodes_.erase(fn->second);
        e->frame_nodes.erase(fn);
      }
    }
    for (uint32_t c = 0; c < e->channels.size(); ++c) {
      NodeId dir = FilesDir(*e, c);
      if (options_.tiff) invalidator_->EntryRemoved(dir, FrameFileName(number, "tif"));
      if (options_.raw) invalidator_->EntryRemoved(dir, FrameFileName(number, "raw"));
    }
    for (size_t c = 0; c < e->npy_size.size(); ++c) {
      if (!e->npy_size[c]) continue;
      e->npy_size[c].reset();  // no longer the whole series
      invalidator_->EntryRemoved(e->dir, e->channels.size() > 1 ? "data_" + e->channels[c] + ".npy"
                                                                : std::string("data.npy"));
    }
  }
  for (const std::shared_ptr<StreamSeries>& s : a.forgotten) RemoveSeries(s);
}

// ---- the tree (under mu_) ------------------------------------------------------------------

NodeId StreamBackend::NewNode(Node node) {
  NodeId id = next_id_++;
  nodes_.emplace(id, std::move(node));
  return id;
}

std::shared_ptr<StreamBackend::SeriesEntry> StreamBackend::EntryOf(const StreamSeries* s) const {
  auto it = entries_.find(s);
  return it == entries_.end() ? nullptr : it->second;
}

void StreamBackend::AddSeries(const std::shared_ptr<StreamSeries>& s) {
  if (entries_.count(s.get())) return;
  StreamSeriesInfo info = ledger_->Info(*s);
  std::string path = ExpandSeriesName(options_.series_name, info);
  if (path.empty()) path = ExpandSeriesName(kDefaultSeriesName, info);
  auto e = std::make_shared<SeriesEntry>();
  e->s = s;
  e->self = e;
  clock_gettime(CLOCK_REALTIME, &e->created);
  e->header_text = JsonText(info.header);
  e->key = "stream:" + name_ + ":" + (info.unique.empty() ? "" : info.unique + ":") +
           std::to_string(info.id);
  // Folders of the template, then the series' own name (made unique: a restarted publisher
  // may send series 1 again).
  NodeId parent = kRootNode;
  std::vector<std::string> comps;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    comps.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string shown;
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    Dir& d = dirs_[parent];
    auto it = d.by_name.find(comps[i]);
    NodeId id = 0;
    if (it != d.by_name.end() && nodes_.count(it->second) &&
        nodes_[it->second].kind == Kind::kDir) {
      id = it->second;
    } else {
      std::string n = comps[i];
      for (int k = 2;
           d.by_name.count(n) || (parent == kRootNode && (n == "status" || n == "latest")); ++k) {
        n = comps[i] + "_" + std::to_string(k);
      }
      id = NewNode(Node{Kind::kDir});
      d.by_name.emplace(n, id);
      d.by_id.emplace(id, n);
      dirs_[id];
      invalidator_->EntryAdded(parent, n);
      comps[i] = n;
    }
    shown += comps[i] + "/";
    parent = id;
  }
  Dir& d = dirs_[parent];
  std::string n = comps.back();
  for (int k = 2; d.by_name.count(n) || (parent == kRootNode && (n == "status" || n == "latest"));
       ++k) {
    n = comps.back() + "_" + std::to_string(k);
  }
  e->parent = parent;
  e->name = n;
  e->path = shown + n;
  Node base{Kind::kSeries, e};
  e->dir = NewNode(base);
  base.kind = Kind::kFrames;
  e->frames = NewNode(base);
  base.kind = Kind::kHeader;
  e->header = NewNode(base);
  base.kind = Kind::kEnd;
  e->end = NewNode(base);
  base.kind = Kind::kIncomplete;
  e->incomplete = NewNode(base);
  d.by_name.emplace(n, e->dir);
  d.by_id.emplace(e->dir, n);
  entries_[s.get()] = e;
  bool had_latest = latest_ != nullptr;
  latest_ = e;
  invalidator_->EntryAdded(parent, n);
  if (had_latest) {
    invalidator_->ContentChanged(kLatestNode);
  } else {
    invalidator_->EntryAdded(kRootNode, "latest");
  }
}

void StreamBackend::RemoveSeries(const std::shared_ptr<StreamSeries>& s) {
  std::shared_ptr<SeriesEntry> e = EntryOf(s.get());
  if (!e) return;
  entries_.erase(s.get());
  e->gone = true;
  // Its nodes go too (the kernel may still ask for them: not found), and with them the entry.
  for (NodeId id : {e->dir, e->frames, e->header, e->end, e->incomplete}) nodes_.erase(id);
  for (NodeId id : e->channel_dirs) nodes_.erase(id);
  for (NodeId id : e->npy) nodes_.erase(id);
  for (const auto& [key, id] : e->frame_nodes) nodes_.erase(id);
  e->frame_nodes.clear();
  Dir& d = dirs_[e->parent];
  d.by_name.erase(e->name);
  d.by_id.erase(e->dir);
  invalidator_->EntryRemoved(e->parent, e->name);
  // Template folders ({beamtime}/...) left empty go too.
  for (NodeId dir = e->parent; dir != kRootNode;) {
    auto di = dirs_.find(dir);
    if (di == dirs_.end() || !di->second.by_id.empty()) break;
    NodeId parent = kRootNode;
    std::string name;
    for (auto& [pid, pd] : dirs_) {
      auto at = pd.by_id.find(dir);
      if (at == pd.by_id.end()) continue;
      parent = pid;
      name = at->second;
      pd.by_id.erase(at);
      pd.by_name.erase(name);
      break;
    }
    dirs_.erase(di);
    nodes_.erase(dir);
    if (!name.empty()) invalidator_->EntryRemoved(parent, name);
    dir = parent;
  }
  if (latest_ == e) {
    latest_.reset();
    for (const auto& [k, v] : entries_) {
      if (!latest_ || v->s->seq > latest_->s->seq) latest_ = v;
    }
    if (latest_) {
      invalidator_->ContentChanged(kLatestNode);
    } else {
      invalidator_->EntryRemoved(kRootNode, "latest");
    }
  }
}

const std::vector<std::string>& StreamBackend::Channels(SeriesEntry& e) {
  if (e.channels_known) return e.channels;
  std::vector<std::shared_ptr<const StreamFrame>> first = ledger_->FramesFrom(*e.s, 0, 1);
  if (first.empty() || first[0]->images.empty()) return e.channels;
  const StreamFrame& f = *first[0];
  e.channels.clear();
  for (size_t i = 0; i < f.images.size(); ++i) {
    // A folder name: at most 200 bytes, unique among the channels.
    std::string n = ChannelName(f.images[i], i).substr(0, 200);
    if (std::find(e.channels.begin(), e.channels.end(), n) != e.channels.end()) {
      n = "channel_" + std::to_string(i);
    }
    e.channels.push_back(n);
  }
  std::shared_ptr<SeriesEntry> self = e.self.lock();
  for (uint32_t c = 0; c < e.channels.size(); ++c) {
    if (e.channels.size() > 1) e.channel_dirs.push_back(NewNode(Node{Kind::kChannel, self, c}));
    e.npy.push_back(NewNode(Node{Kind::kNpy, self, c}));
  }
  e.npy_size.assign(e.channels.size(), std::nullopt);
  e.channels_known = true;
  return e.channels;
}

NodeId StreamBackend::FilesDir(SeriesEntry& e, uint32_t channel) {
  return e.channels.size() > 1 ? e.channel_dirs[channel] : e.frames;
}

NodeId StreamBackend::FrameNode(SeriesEntry& e, uint32_t channel, uint64_t number, uint8_t ext) {
  auto key = std::make_tuple(channel, number, ext);
  auto it = e.frame_nodes.find(key);
  if (it != e.frame_nodes.end()) return it->second;
  Node n{Kind::kFrame, e.self.lock(), channel, number, ext};
  NodeId id = NewNode(std::move(n));
  e.frame_nodes.emplace(key, id);
  return id;
}

void StreamBackend::Forget(NodeId node) {
  // Called with the Vfs's inode table locked, which the announcer takes (through the
  // Invalidator) while it holds mu_: so not mu_ here, only a list the announcer drains.
  std::lock_guard<std::mutex> lock(forget_mu_);
  forgotten_.push_back(node);
}

void StreamBackend::DropForgotten() {
  std::vector<NodeId> ids;
  {
    std::lock_guard<std::mutex> lock(forget_mu_);
    ids.swap(forgotten_);
  }
  for (NodeId node : ids) {
    auto it = nodes_.find(node);
    if (it == nodes_.end() || it->second.kind != Kind::kFrame) continue;
    // A frame still kept keeps its node: a lookup may have handed the same node to the kernel
    // again after it forgot it (the forget is processed late), and must go on answering. Nodes
    // are dropped once their frame has left (or with their series).
    if (it->second.series && !it->second.series->gone &&
        ledger_->Frame(*it->second.series->s, it->second.number)) {
      continue;
    }
    if (it->second.series) {
      it->second.series->frame_nodes.erase(
          std::make_tuple(it->second.channel, it->second.number, it->second.ext));
    }
    nodes_.erase(it);
  }
}

bool StreamBackend::SeriesRunning(const SeriesEntry& e) const { return !e.ended && !e.cut; }

Attr StreamBackend::DirAttr(double cache_seconds) const {
  Attr a;
  a.type = NodeType::kDirectory;
  a.mode = options_.mode & 07777 & ~uint32_t{06000};
  a.nlink = 2;
  a.uid = options_.uid;
  a.gid = options_.gid;
  a.mtime = start_time_;
  a.cache_seconds = cache_seconds;
  return a;
}

Attr StreamBackend::FileAttr(uint64_t size, timespec mtime, double cache_seconds) const {
  Attr a;
  a.type = NodeType::kFile;
  a.mode = options_.mode & 0666;
  a.uid = options_.uid;
  a.gid = options_.gid;
  a.mtime = mtime;
  a.size = size;
  a.cache_seconds = cache_seconds;
  return a;
}

Attr StreamBackend::FrameAttr(uint64_t size, timespec received) const {
  Attr a = FileAttr(size, received, kCacheForever);
  a.direct_io = options_.direct_io;
  return a;
}

std::string StreamBackend::LatestTarget() const { return latest_ ? latest_->path : ""; }

StreamBackend::View StreamBackend::ViewOf(const SeriesEntry& e) const {
  return View{e.s, e.key, e.channels};
}

std::string StreamBackend::FrameIdentity(const View& v, uint32_t channel,
                                         const StreamFrame& f) const {
  char id[48];
  std::snprintf(id, sizeof id, "%016llx-%llu", static_cast<unsigned long long>(ledger_->instance()),
                static_cast<unsigned long long>(f.serial));
  return v.key + ":" + (channel < v.channels.size() ? v.channels[channel] : std::string()) + ":" +
         std::to_string(f.number) + ":" + id;
}

std::shared_ptr<const ImageStack> StreamBackend::FrameStack(
    const View& v, uint32_t channel, const std::shared_ptr<const StreamFrame>& f,
    bool sizes_only) const {
  size_t index = 0;
  const StreamImage* image = ImageOf(*f, v.channels, channel, &index);
  if (!image) return nullptr;
  ImageStackSpec spec;
  spec.pixel = image->type;
  spec.height = image->height;
  spec.width = image->width;
  // A stack that only tells sizes needs no name.
  spec.identity = sizes_only ? std::string("stream:sizes") : FrameIdentity(v, channel, *f);
  spec.parts.push_back({std::make_shared<StreamFrameUnits>(f, index, spec.identity), 0, 1,
                        static_cast<int64_t>(std::min<uint64_t>(f->number, uint64_t{INT64_MAX}))});
  Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
  return stack.ok() ? *stack : nullptr;
}

Result<uint64_t> StreamBackend::FrameFileSize(const SeriesEntry& e, uint32_t channel,
                                              const std::shared_ptr<const StreamFrame>& f,
                                              uint8_t ext) {
  size_t index = 0;
  const StreamImage* image = ImageOf(*f, e.channels, channel, &index);
  if (!image) return NotFound("frame image");
  auto key = std::make_tuple(image->width, image->height, static_cast<uint8_t>(image->type.kind),
                             static_cast<uint8_t>(image->type.bytes));
  auto it = sizes_.find(key);
  if (it == sizes_.end()) {
    std::shared_ptr<const ImageStack> stack = FrameStack(ViewOf(e), channel, f, true);
    if (!stack) return NotFound("frame without views");
    it = sizes_.emplace(key, std::make_pair(TiffFrameSize(*stack), RawFrameSize(*stack))).first;
  }
  return ext == 0 ? it->second.first : it->second.second;
}

void StreamBackend::CheckNpy(SeriesEntry& e) {
  Channels(e);
  e.npy_size.assign(e.channels.size(), std::nullopt);
  if (e.evicted > 0) return;
  for (uint32_t c = 0; c < e.channels.size(); ++c) {
    uint64_t frames = 0;
    const StreamImage* first = nullptr;
    std::shared_ptr<const StreamFrame> keep_first;
    bool ok = true;
    ledger_->ForEachFrame(*e.s, [&](const std::shared_ptr<const StreamFrame>& f) {
      size_t index = 0;
      const StreamImage* image = ImageOf(*f, e.channels, c, &index);
      if (!image) return ok = false;
      if (!first) {
        first = image;
        keep_first = f;
      } else if (image->width != first->width || image->height != first->height ||
                 image->type.kind != first->type.kind || image->type.bytes != first->type.bytes) {
        return ok = false;
      }
      ++frames;
      return true;
    });
    if (!ok || frames == 0 || !first) {
      if (!ok) {
        LogWarn(name_ + ": " + e.path + ": no data" +
                (e.channels.size() > 1 ? "_" + e.channels[c] : std::string()) +
                ".npy: its frames differ in shape or type, or miss the channel");
      }
      continue;
    }
    std::shared_ptr<const ImageStack> one = FrameStack(ViewOf(e), c, keep_first, true);
    if (!one) continue;
    e.npy_size[c] = one->npy_header()->size() + frames * one->FrameBytes();
  }
}

// ---- Backend methods -----------------------------------------------------------------------

Result<NodeId> StreamBackend::Lookup(NodeId parent, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto pit = nodes_.find(parent);
  if (pit == nodes_.end()) return NotFound(std::string(name));
  const Node& p = pit->second;
  switch (p.kind) {
    case Kind::kRoot:
      if (name == "status") return kStatusNode;
      if (name == "latest") {
        if (latest_) return kLatestNode;
        return NotFound("latest");
      }
      [[fallthrough]];
    case Kind::kDir: {
      auto dit = dirs_.find(parent);
      if (dit == dirs_.end()) return NotFound(std::string(name));
      auto it = dit->second.by_name.find(name);
      if (it == dit->second.by_name.end()) return NotFound(std::string(name));
      return it->second;
    }
    case Kind::kSeries: {
      SeriesEntry& e = *p.series;
      if (e.gone) return NotFound(std::string(name));
      if (name == "header.json" && !e.header_text.empty()) return e.header;
      if (name == "frames") return e.frames;
      if (name == "end.json" && e.ended) return e.end;
      if (name == "INCOMPLETE" && e.cut) return e.incomplete;
      for (uint32_t c = 0; c < e.npy_size.size(); ++c) {
        if (!e.npy_size[c]) continue;
        std::string n = e.channels.size() > 1 ? "data_" + e.channels[c] + ".npy" : "data.npy";
        if (name == n) return e.npy[c];
      }
      return NotFound(std::string(name));
    }
    case Kind::kFrames:
    case Kind::kChannel: {
      SeriesEntry& e = *p.series;
      if (e.gone) return NotFound(std::string(name));
      const std::vector<std::string>& ch = Channels(e);
      uint32_t channel = p.kind == Kind::kChannel ? p.channel : 0;
      if (p.kind == Kind::kFrames && ch.size() > 1) {
        for (uint32_t c = 0; c < ch.size(); ++c) {
          if (ch[c] == name) return e.channel_dirs[c];
        }
        return NotFound(std::string(name));
      }
      if (ch.empty()) return NotFound(std::string(name));
      for (uint8_t ext = 0; ext < 2; ++ext) {
        if ((ext == 0 && !options_.tiff) || (ext == 1 && !options_.raw)) continue;
        std::optional<int64_t> number = ParseFrameFileName(name, ext == 0 ? "tif" : "raw");
        if (!number) continue;
        std::shared_ptr<const StreamFrame> f = ledger_->Frame(*e.s, static_cast<uint64_t>(*number));
        size_t index = 0;
        if (!f || !ImageOf(*f, ch, channel, &index)) return NotFound(std::string(name));
        return FrameNode(e, channel, f->number, ext);
      }
      return NotFound(std::string(name));
    }
    default:
      return Status(Code::kNotDir, std::string(name));
  }
}

Result<Attr> StreamBackend::AttrLocked(NodeId id, const Node& n) {
  const double running = options_.running_cache_seconds;
  switch (n.kind) {
    case Kind::kRoot:
    case Kind::kDir:
      return DirAttr(running);
    case Kind::kStatus: {
      Attr a = FileAttr(StatusTextLocked().size(), start_time_, 0);
      a.dynamic = true;
      return a;
    }
    case Kind::kLatest: {
      if (!latest_) return NotFound("latest");
      Attr a;
      a.type = NodeType::kSymlink;
      a.mode = 0777;
      a.uid = options_.uid;
      a.gid = options_.gid;
      a.mtime = latest_->created;
      a.size = latest_->path.size();
      a.cache_seconds = 0;
      return a;
    }
    default:
      break;
  }
  SeriesEntry& e = *n.series;
  if (e.gone) return NotFound("series gone");
  // A running series' folders: listings cached briefly (every new entry is announced too),
  // missing names not at all (uncached_misses below).
  const double dir_cache = SeriesRunning(e) ? running : kCacheForever;
  switch (n.kind) {
    case Kind::kSeries:
    case Kind::kFrames:
    case Kind::kChannel: {
      Attr a = DirAttr(dir_cache);
      a.mtime = e.created;
      // Frames (and end.json) of a running series: a reader polling for the next one sees it
      // as soon as the ledger has it.
      a.uncached_misses = SeriesRunning(e);
      return a;
    }
    case Kind::kHeader:
      if (e.header_text.empty()) return NotFound("header.json");
      return FileAttr(e.header_text.size(), e.created, kCacheForever);
    case Kind::kEnd:
      if (!e.ended) return NotFound("end.json");
      return FileAttr(e.end_text.size(), e.created, kCacheForever);
    case Kind::kIncomplete:
      if (!e.cut) return NotFound("INCOMPLETE");
      return FileAttr(e.incomplete_text.size(), e.created, kCacheForever);
    case Kind::kNpy:
      if (n.channel >= e.npy_size.size() || !e.npy_size[n.channel]) return NotFound("data.npy");
      return FileAttr(*e.npy_size[n.channel], e.created, kCacheForever);
    case Kind::kFrame: {
      std::shared_ptr<const StreamFrame> f = ledger_->Frame(*e.s, n.number);
      if (!f) return NotFound("frame " + std::to_string(n.number) + " left the ring");
      Result<uint64_t> size = FrameFileSize(e, n.channel, f, n.ext);
      if (!size.ok()) return size.status();
      return FrameAttr(*size, f->received);
    }
    default:
      return NotFound("node");
  }
  (void)id;
}

Result<Attr> StreamBackend::GetAttr(NodeId node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return NotFound("stream node " + std::to_string(node));
  return AttrLocked(node, it->second);
}

Status StreamBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(dir);
  if (it == nodes_.end()) return NotFound("stream node " + std::to_string(dir));
  const Node& n = it->second;
  auto entry = [&](const std::string& name, NodeId id, uint64_t next) {
    auto nit = nodes_.find(id);
    if (nit == nodes_.end()) return true;
    Result<Attr> a = AttrLocked(id, nit->second);
    if (!a.ok()) return true;  // gone meanwhile: left out
    return emit(DirEntry{name, id, *a}, next);
  };
  switch (n.kind) {
    case Kind::kRoot:
    case Kind::kDir: {
      // status and latest first (cookies 1, 2), then children in creation order (id + 2).
      if (n.kind == Kind::kRoot) {
        if (cookie < 1 && !entry("status", kStatusNode, 1)) return Status::Ok();
        if (cookie < 2 && latest_ && !entry("latest", kLatestNode, 2)) return Status::Ok();
      }
      const Dir& d = dirs_[dir];
      for (auto c = d.by_id.upper_bound(cookie >= 2 ? cookie - 2 : 0); c != d.by_id.end(); ++c) {
        if (c->first + 2 <= cookie) continue;
        if (!entry(c->second, c->first, c->first + 2)) break;
      }
      return Status::Ok();
    }
    case Kind::kSeries: {
      SeriesEntry& e = *n.series;
      if (e.gone) return NotFound("series gone");
      Channels(e);
      struct Fixed {
        uint64_t cookie;
        std::string name;
        NodeId id;
      };
      std::vector<Fixed> fixed;
      if (!e.header_text.empty()) fixed.push_back({kCookieHeader, "header.json", e.header});
      fixed.push_back({kCookieFrames, "frames", e.frames});
      if (e.ended) fixed.push_back({kCookieEnd, "end.json", e.end});
      if (e.cut) fixed.push_back({kCookieIncomplete, "INCOMPLETE", e.incomplete});
      for (uint32_t c = 0; c < e.npy_size.size(); ++c) {
        if (!e.npy_size[c]) continue;
        fixed.push_back({kCookieNpy + c,
                         e.channels.size() > 1 ? "data_" + e.channels[c] + ".npy" : "data.npy",
                         e.npy[c]});
      }
      for (const Fixed& f : fixed) {
        if (f.cookie <= cookie) continue;
        if (!entry(f.name, f.id, f.cookie)) break;
      }
      return Status::Ok();
    }
    case Kind::kFrames:
    case Kind::kChannel: {
      SeriesEntry& e = *n.series;
      if (e.gone) return NotFound("series gone");
      const std::vector<std::string>& ch = Channels(e);
      if (n.kind == Kind::kFrames && ch.size() > 1) {
        for (uint32_t c = 0; c < ch.size(); ++c) {
          if (c + 1 <= cookie) continue;
          if (!entry(ch[c], e.channel_dirs[c], c + 1)) break;
        }
        return Status::Ok();
      }
      if (ch.empty()) return Status::Ok();
      const uint32_t channel = n.kind == Kind::kChannel ? n.channel : 0;
      // (number, ext) has cookie 2 * number + ext + 1.
      uint64_t from = cookie / 2;
      for (;;) {
        std::vector<std::shared_ptr<const StreamFrame>> batch =
            ledger_->FramesFrom(*e.s, from, 256);
        if (batch.empty()) return Status::Ok();
        for (const auto& f : batch) {
          if (f->number >= kMaxCookieNumber) return Status::Ok();
          size_t index = 0;
          if (!ImageOf(*f, ch, channel, &index)) continue;
          for (uint8_t ext = 0; ext < 2; ++ext) {
            if ((ext == 0 && !options_.tiff) || (ext == 1 && !options_.raw)) continue;
            uint64_t next = 2 * f->number + ext + 1;
            if (next <= cookie) continue;
            Result<uint64_t> size = FrameFileSize(e, channel, f, ext);
            if (!size.ok()) continue;
            NodeId id = FrameNode(e, channel, f->number, ext);
            DirEntry d{FrameFileName(static_cast<int64_t>(f->number), ext == 0 ? "tif" : "raw"), id,
                       FrameAttr(*size, f->received)};
            if (!emit(d, next)) return Status::Ok();
          }
        }
        from = batch.back()->number + 1;
      }
    }
    default:
      return Status(Code::kNotDir, "stream node");
  }
}

std::vector<DirEntry> StreamBackend::NextSiblings(NodeId dir, std::string_view name, size_t max) {
  std::vector<DirEntry> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(dir);
  if (it == nodes_.end()) return out;
  const Node& n = it->second;
  if (n.kind != Kind::kFrames && n.kind != Kind::kChannel) return out;
  SeriesEntry& e = *n.series;
  if (e.gone) return out;
  const std::vector<std::string>& ch = Channels(e);
  if (ch.empty() || (n.kind == Kind::kFrames && ch.size() > 1)) return out;
  const uint32_t channel = n.kind == Kind::kChannel ? n.channel : 0;
  std::optional<int64_t> number = ParseFrameFileName(name, "tif");
  uint8_t ext = 0;
  if (!number) {
    number = ParseFrameFileName(name, "raw");
    ext = 1;
  }
  if (!number) return out;
  // The same format of the next frames (a reader of .tif files reads .tif files).
  std::vector<std::shared_ptr<const StreamFrame>> next =
      ledger_->FramesFrom(*e.s, static_cast<uint64_t>(*number) + 1, max);
  for (const auto& f : next) {
    Result<uint64_t> size = FrameFileSize(e, channel, f, ext);
    if (!size.ok()) continue;
    out.push_back(DirEntry{FrameFileName(static_cast<int64_t>(f->number), ext == 0 ? "tif" : "raw"),
                           FrameNode(e, channel, f->number, ext), FrameAttr(*size, f->received)});
  }
  return out;
}

Result<std::shared_ptr<ByteSource>> StreamBackend::OpenNpy(const View& e, uint32_t channel) {
  ImageStackSpec spec;
  spec.identity = e.key + ":" + e.channels[channel] + ":npy";
  std::string missing;
  ledger_->ForEachFrame(*e.s, [&](const std::shared_ptr<const StreamFrame>& f) {
    size_t index = 0;
    const StreamImage* image = ImageOf(*f, e.channels, channel, &index);
    if (!image) {
      missing = "data.npy: a frame misses its channel";
      return false;
    }
    if (spec.parts.empty()) {
      spec.pixel = image->type;
      spec.height = image->height;
      spec.width = image->width;
    }
    if (f->number > uint64_t{INT64_MAX}) {
      missing = "data.npy: frame number too large";
      return false;
    }
    // Each frame's unit has the identity its frame files use: one decode and one cached copy
    // for both views.
    spec.parts.push_back(
        {std::make_shared<StreamFrameUnits>(f, index, FrameIdentity(e, channel, *f)), 0, 1,
         static_cast<int64_t>(f->number)});
    return true;
  });
  if (!missing.empty()) return NotFound(missing);
  if (spec.parts.empty()) return NotFound("data.npy: no frames");
  Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
  if (!stack.ok()) return NotFound("data.npy: " + stack.status().message());
  return MakeNpy(**stack);
}

Result<std::shared_ptr<ByteSource>> StreamBackend::Open(NodeId node, const Caller&) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return NotFound("stream node " + std::to_string(node));
  const Node& n = it->second;
  auto text = [&](const std::string& t, const std::string& what) {
    return Result<std::shared_ptr<ByteSource>>(std::shared_ptr<ByteSource>(
        std::make_shared<MemorySource>(t, "stream:" + name_ + ":" + what)));
  };
  switch (n.kind) {
    case Kind::kRoot:
    case Kind::kDir:
    case Kind::kSeries:
    case Kind::kFrames:
    case Kind::kChannel:
      return Status(Code::kIsDir, "stream folder");
    case Kind::kLatest:
      return Status(Code::kInvalid, "latest is a symlink");
    case Kind::kStatus:
      return text(StatusTextLocked(), "status");
    default:
      break;
  }
  SeriesEntry& e = *n.series;
  if (e.gone) return NotFound("series gone");
  switch (n.kind) {
    case Kind::kHeader:
      if (e.header_text.empty()) return NotFound("header.json");
      return text(e.header_text, e.path + "/header.json");
    case Kind::kEnd:
      if (!e.ended) return NotFound("end.json");
      return text(e.end_text, e.path + "/end.json");
    case Kind::kIncomplete:
      if (!e.cut) return NotFound("INCOMPLETE");
      return text(e.incomplete_text, e.path + "/INCOMPLETE");
    case Kind::kNpy:
    case Kind::kFrame:
      break;
    default:
      return NotFound("node");
  }
  // Frames and data.npy: what they need is copied here, the stack built after mu_ (data.npy's
  // walks every frame: never while lookups and the announcer wait).
  const View view = ViewOf(e);
  const Kind kind = n.kind;
  const uint32_t channel = n.channel;
  const uint64_t number = n.number;
  const uint8_t ext = n.ext;
  std::optional<uint64_t> npy_size;
  if (kind == Kind::kNpy) {
    if (channel >= e.npy_size.size() || !e.npy_size[channel]) return NotFound("data.npy");
    npy_size = e.npy_size[channel];
  }
  lock.unlock();
  if (kind == Kind::kNpy) {
    Result<std::shared_ptr<ByteSource>> npy = OpenNpy(view, channel);
    if (npy.ok() && (*npy)->Size() != *npy_size) return NotFound("data.npy: frames left the ring");
    return npy;
  }
  std::shared_ptr<const StreamFrame> f = ledger_->Frame(*view.s, number);
  if (!f) return NotFound("frame " + std::to_string(number) + " left the ring");
  std::shared_ptr<const ImageStack> stack = FrameStack(view, channel, f, false);
  if (!stack) return NotFound("frame without views");
  return ext == 0 ? MakeTiffFrame(*stack, 0) : MakeRawFrame(*stack, 0);
}

Result<std::string> StreamBackend::ReadLink(NodeId node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (node != kLatestNode) return Status(Code::kNotLink, "not a symlink");
  if (!latest_) return NotFound("latest");
  return latest_->path;
}

Result<std::vector<std::string>> StreamBackend::ListXattr(NodeId node) {
  Result<std::vector<std::string>> out = std::vector<std::string>{};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.kind != Kind::kFrame) return out;
  const Node& n = it->second;
  std::shared_ptr<const StreamFrame> f = ledger_->Frame(*n.series->s, n.number);
  if (!f) return NotFound("frame left the ring");
  if (f->meta.is_object()) {
    for (const auto& [k, v] : f->meta.items()) {
      // Names the kernel takes: at most 255 bytes, no NUL.
      if (k.empty() || k.size() > 200 || k.find('\0') != std::string::npos) continue;
      out->push_back("user." + k);
    }
  }
  return out;
}

Result<std::string> StreamBackend::GetXattr(NodeId node, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.kind != Kind::kFrame || name.rfind("user.", 0) != 0) {
    return Status(Code::kNoAttr, name);
  }
  const Node& n = it->second;
  std::shared_ptr<const StreamFrame> f = ledger_->Frame(*n.series->s, n.number);
  if (!f) return NotFound("frame left the ring");
  std::string key = name.substr(5);
  if (!f->meta.is_object() || !f->meta.contains(key)) return Status(Code::kNoAttr, name);
  return XattrValue(f->meta[key]);
}

uint64_t StreamBackend::TotalBytes() const {
  if (!ledger_) return 0;
  StreamCounters c = ledger_->counters();
  return c.held_bytes + c.spilled_bytes;
}

uint64_t StreamBackend::TotalNodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_.size();
}

std::string StreamBackend::StatusText() const {
  std::lock_guard<std::mutex> lock(mu_);
  return StatusTextLocked();
}

std::string StreamBackend::StatusTextLocked() const {
  std::ostringstream o;
  o << "source: " << name_ << "\n";
  for (const std::string& e : endpoints()) {
    o << "endpoint: " << e << (options_.receiver.bind ? " (bound)" : " (connected to)") << "\n";
  }
  o << "socket: " << (options_.receiver.sub ? "sub" : "pull") << "\n";
  o << "protocol: " << StreamProtocolName(options_.receiver.protocol) << "\n";
  o << "connected: " << (receiver_ ? receiver_->connected() : 0) << "\n";
  if (!ledger_) return o.str();
  StreamCounters c = ledger_->counters();
  std::shared_ptr<StreamSeries> open = ledger_->Open();
  if (open) {
    StreamSeriesInfo i = ledger_->Info(*open);
    std::shared_ptr<SeriesEntry> e;
    {
      auto it = entries_.find(open.get());
      if (it != entries_.end()) e = it->second;
    }
    o << "current_series: " << (e ? e->path : std::string("(starting)")) << " (series " << i.id
      << ", " << i.frames << " frames, " << i.lost << " lost)\n";
  } else {
    o << "current_series: none\n";
  }
  o << "series_seen: " << c.series << "\n";
  o << "series_kept: " << entries_.size() << "\n";
  o << "frames: " << c.frames << "\n";
  o << "bytes: " << c.bytes << "\n";
  {
    std::lock_guard<std::mutex> lock(rate_mu_);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", frames_per_s_);
    o << "frames_per_s: " << buf << "\n";
    std::snprintf(buf, sizeof buf, "%.1f", bytes_per_s_ / 1e6);
    o << "mb_per_s: " << buf << "\n";
  }
  o << "lost: " << c.lost << "\n";
  o << "out_of_order: " << c.out_of_order << "\n";
  o << "duplicates: " << c.duplicates << "\n";
  o << "malformed: " << c.malformed << "\n";
  o << "incomplete_series: " << c.incomplete << "\n";
  o << "evicted: " << c.evicted << "\n";
  o << "ring_bytes: " << c.held_bytes << "\n";
  o << "ring_limit_bytes: " << options_.ring_bytes << "\n";
  o << "spill_bytes: " << c.spilled_bytes << "\n";
  o << "spill_frames: " << c.spilled_frames << "\n";
  if (spill_) {
    o << "spill_segments: " << spill_->segments() << "\n";
    o << "spill_limit_bytes: "
      << (options_.spill_bytes ? std::to_string(options_.spill_bytes) : "cache disk") << "\n";
  } else {
    o << "spill: off\n";
  }
  return o.str();
}

}  // namespace daqfs
