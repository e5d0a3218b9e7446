// The stream backend without FUSE: series folder names from templates, the source type's keys
// (file:line errors), the spill (frames written to segment blobs read back byte-equal; the
// oldest segment goes when the spill is full), and a Vfs over a started backend where the kernel
// forgets frame inodes while the announcer tells it of new ones (a lock-order deadlock before).
#include "backends/stream/stream_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backends/common/image_stack.h"
#include "backends/stream/stream_encode.h"
#include "backends/stream/stream_frame_units.h"
#include "backends/stream/stream_source_type.h"
#include "backends/stream/stream_spill.h"
#include "fs/config.h"
#include "tests/testing/backend_listing.h"
#include "tests/testing/files.h"
#include "tests/testing/folder_blob_store.h"
#include "tests/testing/stream_publisher.h"
#include "tests/testing/vfs_mount.h"
#include "tests/testing/wait.h"

namespace daqfs {
namespace {

using testing::WaitFor;

// A tiny raw frame (4 x 3 uint8) as the stream2 encoder sends it.
SimFrame TinyFrame() {
  const PixelType u8{PixelKind::kUnsigned, 1};
  std::vector<uint8_t> px(12, 3);
  return EncodeSimFrame(px, 4, 3, u8, SimEncoding::kRaw, StreamProtocol::kDectrisStream2);
}

// Whether `path` ("a/b/c") resolves in the backend's tree, which holds what the announcer has
// told it so far (the ledger counts a change before the ingest thread queues its announcement).
bool Resolves(StreamBackend& b, const std::string& path) {
  NodeId node = kRootNode;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    Result<NodeId> next = b.Lookup(node, std::string_view(path).substr(begin, end - begin));
    if (!next.ok()) return false;
    node = *next;
    begin = end + 1;
  }
  return true;
}

StreamSeriesInfo Info(uint64_t id, nlohmann::json header = nullptr) {
  StreamSeriesInfo i;
  i.id = id;
  i.seq = 7;
  i.unique = "01GRX";
  i.header = std::move(header);
  return i;
}

TEST(SeriesNameTest, TemplatesExpandOverSeriesFieldsAndHeaderKeys) {
  EXPECT_EQ(ExpandSeriesName("series_{series:06}", Info(42)), "series_000042");
  EXPECT_EQ(ExpandSeriesName("{seq}-{unique}", Info(42)), "7-01GRX");
  nlohmann::json h = {{"beamtime", "mx-2026/17"}, {"run", 3}, {"user", ".."}};
  // '/' inside a value is not a folder; '/' in the template is.
  EXPECT_EQ(ExpandSeriesName("{beamtime}/run{run:03}/{series}", Info(5, h)), "mx-2026_17/run003/5");
  EXPECT_EQ(ExpandSeriesName("{missing}", Info(5, h)), "");  // the caller uses the default
  EXPECT_EQ(ExpandSeriesName("{user}", Info(5, h)), "");     // ".." names nothing
  EXPECT_EQ(ExpandSeriesName("a//{series}", Info(5, h)), "");
  EXPECT_EQ(CheckSeriesName("series_{series:06}"), "");
  EXPECT_NE(CheckSeriesName("{series"), "");
  EXPECT_NE(CheckSeriesName("series}"), "");
  EXPECT_NE(CheckSeriesName("{series:6}"), "");
  EXPECT_NE(CheckSeriesName("{se ries}"), "");
  EXPECT_NE(CheckSeriesName(""), "");
}

Result<Config> Parse(const std::string& keys) {
  SourceTypeRegistry types;
  EXPECT_TRUE(RegisterStreamSourceType(types).ok());
  return ParseConfig("[cache]\ndir = /c\n[source live]\ntype = stream\n" + keys, "t.ini", types);
}

TEST(StreamSourceTypeTest, KeysParseAndBadValuesNameTheirLine) {
  Result<Config> c = Parse(
      "endpoint = tcp://a:1, tcp://b:2\nprotocol = dectris-v1\nsocket = sub\nbind = yes\n"
      "formats = raw,tiff\nkeep_series = 3\nseries_name = {series}\nspill = 2G\nmode = 0700\n"
      "uid = 1234\ngid = 0\narray_frame_key = image_number\ndirect_io = no\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& o = static_cast<const StreamOptions&>(*c->sources[0].options);
  EXPECT_EQ(o.endpoints, (std::vector<std::string>{"tcp://a:1", "tcp://b:2"}));
  EXPECT_EQ(o.protocol, StreamProtocol::kDectrisV1);
  EXPECT_TRUE(o.sub);
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.tiff && o.raw);
  EXPECT_EQ(o.keep_series, 3u);
  EXPECT_EQ(o.spill_bytes, 2ull << 30);
  EXPECT_EQ(o.mode, 0700u);
  EXPECT_EQ(o.uid, 1234u);
  EXPECT_EQ(o.array_keys.frame, "image_number");
  EXPECT_FALSE(o.direct_io);
  EXPECT_TRUE(
      static_cast<const StreamOptions&>(*Parse("endpoint = tcp://a:1\n")->sources[0].options)
          .direct_io);  // the default
  // Read back from its own formatting.
  Result<Config> again = Parse([&] {
    std::string t;
    StreamSourceType type;
    for (const auto& [k, v] : type.FormatKeys(o)) t += k + " = " + v + "\n";
    return t;
  }());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(static_cast<const StreamOptions&>(*again->sources[0].options).spill_bytes, 2ull << 30);
  EXPECT_FALSE(static_cast<const StreamOptions&>(*again->sources[0].options).direct_io);

  struct Bad {
    std::string keys;
    std::string message;
  };
  for (const Bad& b : std::vector<Bad>{
           {"protocol = dectris-v1\n", "t.ini:3: [source live] needs 'endpoint'"},
           {"endpoint = http://x:1\n", "t.ini:5: bad value"},
           {"endpoint = tcp://x\n", "tcp:// needs HOST:PORT"},
           {"endpoint = tcp://x:99999\n", "above 65535"},
           {"endpoint = tcp://x:1\nprotocol = v3\n", "t.ini:6:"},
           {"endpoint = tcp://x:1\nsocket = dealer\n", "pull or sub"},
           {"endpoint = tcp://x:1\nformats = png\n", "'png' is not tiff or raw"},
           {"endpoint = tcp://x:1\nkeep_series = 0\n", "1 to 100000"},
           {"endpoint = tcp://x:1\ndirect_io = maybe\n", "t.ini:6: bad value"},
           {"endpoint = tcp://x:1\nseries_name = {x\n", "without '}'"},
           {"endpoint = tcp://x:1\nspill = 0\n", "above 0"},
           {"endpoint = tcp://x:1\nmode = 4755\n", "octal"},
           {"endpoint = tcp://x:1\nuid = nosuchuser-daqfs\n", "user name"},
           {"endpoint = tcp://x:1\nring = 1G\n", "unknown key 'ring' in [source live]"},
       }) {
    Result<Config> r = Parse(b.keys);
    ASSERT_FALSE(r.ok()) << b.keys;
    EXPECT_NE(r.status().message().find(b.message), std::string::npos)
        << b.keys << " -> " << r.status().message();
  }
}

// A frame in RAM of `bytes` payload bytes (its own buffer).
StreamLedger::Change Put(StreamLedger& l, uint64_t series, uint64_t n, size_t bytes) {
  auto keep = std::make_shared<std::string>(bytes, static_cast<char>('a' + n % 26));
  StreamEvent e;
  e.kind = StreamEvent::Kind::kFrame;
  e.series = series;
  e.frame = n;
  StreamImage i;
  i.width = static_cast<uint32_t>(bytes);
  i.height = 1;
  i.type = PixelType{PixelKind::kUnsigned, 1};
  i.payload = std::span(reinterpret_cast<const uint8_t*>(keep->data()), keep->size());
  e.images.push_back(i);
  return l.Apply(std::move(e), keep);
}

TEST(StreamSpillTest, OldFramesMoveToSegmentsAndReadBackAndAFullSpillDropsTheOldest) {
  testing::TempDir dir("stream-spill");
  testing::MakeDirs(dir.path() + "/s");
  testing::MakeDirs(dir.path() + "/l");
  FolderBlobStore blobs(dir.path() + "/s", dir.path() + "/l");
  const uint64_t frame = 256 << 10;
  StreamLedger ledger(10, 8 * frame);  // the ring holds 8 frames; spilling starts past 4
  std::atomic<uint64_t> dropped{0};
  StreamSpillOptions so;
  so.name = "t";
  so.ring_bytes = 8 * frame;
  so.segment_bytes = 4 * frame;
  so.limit_bytes = 12 * frame;  // three segments
  StreamSpill spill(so, &blobs, &ledger, [&](StreamSpill::Dropped d) { dropped += d.size(); });
  spill.Start();
  std::shared_ptr<StreamSeries> s;
  for (uint64_t n = 0; n < 12; ++n) {
    StreamLedger::Change c = Put(ledger, 1, n, frame);
    s = c.series;
    spill.Poke();
    ASSERT_TRUE(WaitFor([&] { return spill.Idle(); }));
  }
  StreamCounters c = ledger.counters();
  EXPECT_LE(c.held_bytes, 4 * frame);
  EXPECT_GE(c.spilled_frames, 8u);
  EXPECT_EQ(c.evicted, 0u);
  // Every frame, spilled or not, reads back as received (the units decode raw payloads).
  for (uint64_t n = 0; n < 12; ++n) {
    std::shared_ptr<const StreamFrame> f = ledger.Frame(*s, n);
    ASSERT_TRUE(f) << n;
    StreamFrameUnits units(f, 0, "t:" + std::to_string(n));
    Bytes out(frame);
    ASSERT_TRUE(units.ReadBlock(0, out).ok()) << n;
    EXPECT_EQ(std::string(out.begin(), out.end()), std::string(frame, 'a' + n % 26)) << n;
  }
  // A reader holds a spilled frame of the first segment.
  std::shared_ptr<const StreamFrame> held = ledger.Frame(*s, 0);
  ASSERT_TRUE(held && held->spill);
  // 12 more: the spill's limit makes the oldest segments go; the newest frames stay.
  for (uint64_t n = 12; n < 24; ++n) {
    Put(ledger, 1, n, frame);
    spill.Poke();
    ASSERT_TRUE(WaitFor([&] { return spill.Idle(); }));
  }
  c = ledger.counters();
  EXPECT_GT(c.evicted, 0u);
  EXPECT_EQ(dropped.load(), c.evicted);
  EXPECT_LE(spill.disk_bytes(), 12 * frame);
  EXPECT_FALSE(ledger.Frame(*s, 0));  // the oldest went
  EXPECT_TRUE(ledger.Frame(*s, 23));  // never the newest
  StreamFrameUnits units(held, 0, "t:0");
  Bytes out(frame);
  ASSERT_TRUE(units.ReadBlock(0, out).ok());  // the reader's frame stays readable
  EXPECT_EQ(out[0], 'a');
  spill.Stop();
}

// Series folders from a template: sub-folders made as needed and removed once their last series
// was forgotten (keep_series); the same name twice gets _2.
TEST(StreamBackendTest, TemplateFoldersComeAndGoWithTheirSeries) {
  StreamBackendOptions o;
  o.receiver.endpoints = {"tcp://127.0.0.1:*"};
  o.receiver.bind = true;
  o.receiver.protocol = StreamProtocol::kDectrisStream2;
  o.series_name = "{unique}/s{series:03}";
  o.keep_series = 1;
  StreamBackend b("t", o);
  NullInvalidator inv;
  Metrics metrics;
  SystemClock clock;
  BackendEnv env;
  env.invalidator = &inv;
  env.metrics = &metrics;
  env.clock = &clock;
  ASSERT_TRUE(b.Start(env).ok());
  const SimFrame f = TinyFrame();
  // One series, sent and waited for until `latest` names `folder` and its end.json is
  // announced (every change of the series before it is too: the announcer keeps their order).
  auto series = [&](uint64_t id, const std::string& unique, const std::string& folder) {
    testing::PushMessages(
        b.endpoints().at(0),
        {Stream2Start(id, unique, f), Stream2Image(id, unique, 0, f), Stream2End(id, unique)});
    ASSERT_TRUE(WaitFor([&] {
      Result<std::string> latest = b.ReadLink(3);
      return latest.ok() && *latest == folder && Resolves(b, folder + "/end.json");
    })) << folder;
  };
  series(1, "run-a", "run-a/s001");
  series(1, "run-a", "run-a/s001_2");  // a restarted publisher: the same name
  EXPECT_EQ(testing::ListNames(b, kRootNode),
            (std::vector<std::string>{"status", "latest", "run-a"}));
  Result<NodeId> a = b.Lookup(kRootNode, "run-a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(b.Lookup(*a, "s001").ok());
  EXPECT_TRUE(b.Lookup(*a, "s001_2").ok());
  EXPECT_EQ(*b.ReadLink(3), "run-a/s001_2");
  series(2, "run-b", "run-b/s002");
  series(3, "run-c", "run-c/s003");  // run-a's series are forgotten: its folder goes
  EXPECT_EQ(testing::ListNames(b, kRootNode),
            (std::vector<std::string>{"status", "latest", "run-b", "run-c"}));
  EXPECT_FALSE(b.Lookup(kRootNode, "run-a").ok());
  b.Stop();
}

TEST(StreamBackendVfsTest, ForgettingFrameInodesWhileFramesArriveNeverDeadlocks) {
  StreamBackendOptions o;
  o.receiver.endpoints = {"tcp://127.0.0.1:*"};
  o.receiver.bind = true;
  o.receiver.protocol = StreamProtocol::kDectrisStream2;
  o.ring_bytes = 64 << 20;
  auto owned = std::make_unique<StreamBackend>("t", o);
  StreamBackend* backend = owned.get();
  testing::VfsMount m(std::move(owned), CachePolicy::kMemory, 0, 2);
  ASSERT_TRUE(m.vfs->Start(VfsEnv{}).ok());
  const uint64_t frames = 3000;
  std::thread publisher([&] {
    const SimFrame f = TinyFrame();
    std::vector<std::vector<std::string>> messages = {Stream2Start(1, "u", f)};
    for (uint64_t n = 0; n < frames; ++n) messages.push_back(Stream2Image(1, "u", n, f));
    messages.push_back(Stream2End(1, "u"));
    testing::PushMessages(backend->endpoints().at(0), messages);
  });
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t n = 0;
    while (n < frames) {
      Result<uint64_t> ino = m.Ino("series_000001/frames/" + FrameFileName(n, "tif"));
      if (!ino.ok()) {
        std::this_thread::yield();
        continue;
      }
      m.vfs->Forget(*ino, 1);  // the kernel drops it at once
      ++n;
    }
    done = true;
  });
  publisher.join();
  const bool finished = WaitFor([&] { return done.load(); });
  if (!finished) {
    ADD_FAILURE() << "lookups and forgets stopped: deadlock";
    std::abort();  // a hung test would only time out
  }
  reader.join();
  // The end is announced after every frame (the announcer keeps the ingest order).
  EXPECT_TRUE(WaitFor([&] { return m.Ino("series_000001/end.json").ok(); }));
  EXPECT_EQ(backend->ledger()->counters().frames, frames);
  // The kernel forgets a frame and looks it up again before the forget is processed: the node
  // it holds goes on answering after the announcer has dropped forgotten nodes.
  Result<uint64_t> ino = m.Ino("series_000001/frames/000007.tif");
  ASSERT_TRUE(ino.ok());
  m.vfs->Forget(*ino, 1);
  Result<uint64_t> again = m.Ino("series_000001/frames/000007.tif");
  ASSERT_TRUE(again.ok());
  testing::PushMessages(backend->endpoints().at(0), {Stream2Start(2, "v", TinyFrame())});
  // Series 2 is announced: the announcer ran and dropped the forgotten nodes first.
  ASSERT_TRUE(WaitFor([&] { return m.Ino("series_000002").ok(); }));
  EXPECT_TRUE(m.vfs->GetAttr(*again).ok());
  m.vfs->Stop();
}

}  // namespace
}  // namespace daqfs
