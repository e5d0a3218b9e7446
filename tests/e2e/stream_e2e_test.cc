// End-to-end tests of live stream sources on a real mount. Each daqfs binds its stream sources
// on 127.0.0.1 with a port the kernel picks (read back from the source's status file), and the
// publishers (daqfs-sim's RunSim, or a small test publisher for crafted and captured messages)
// connect to it: no fixed ports, nothing shared with another daqfs on the machine.
//
// Checked: series folders, header.json, frames/NNNNNN.tif and .raw, data.npy and end.json for
// every protocol and encoding, byte-equal to the pixels sent (tiffinfo and tifffile read the
// TIFFs); frames listed while a series runs; readers cause no loss (8 readers reading every frame
// as it appears, one holding 50 frames open and reading 4 KiB a second, the sender at 80% of a
// bare receiver's rate: no gaps, no sender drops); a ring overflow spills and every frame stays
// readable; ring and spill both full: the oldest frames go, counted, the newest stay; malformed
// messages of every kind are counted and survived; a publisher restart cuts a series (INCOMPLETE)
// and starts the next cleanly; the captured DECTRIS stream2 messages decode to the pixels the
// bitshuffle library gives; metrics pass promtool.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>
#include <zmq.hpp>

#include "backends/common/image_stack.h"
#include "backends/stream/stream_encode.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/stream_publisher.h"
#include "tests/testing/wait.h"
#include "tools/daqfs_sim.h"

namespace daqfs::e2e {
namespace {

using testing::Slurp;
using testing::WaitFor;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// "key: value" of a status file.
std::string StatusField(const std::string& status, const std::string& key) {
  size_t at = status.find("\n" + key + ": ");
  if (at == std::string::npos) return "";
  at += key.size() + 3;
  return status.substr(at, status.find('\n', at) - at);
}

uint64_t StatusCount(const std::string& status, const std::string& key) {
  std::string v = StatusField(status, key);
  return v.empty() ? ~uint64_t{0} : std::stoull(v);
}

// The TIFF holds the pixels (one strip between its header and its directory). Booleans, so a
// failure does not print megabytes.
bool TiffHolds(const std::string& tif, const std::string& want) {
  return tif.size() > want.size() && tif.find(want) != std::string::npos;
}

std::string Pixels(uint64_t frame, uint32_t w, uint32_t h, PixelType t) {
  std::vector<uint8_t> p = SimPattern(frame, w, h, t);
  return std::string(p.begin(), p.end());
}

class StreamE2eTest : public MountTest {
 protected:
  StreamE2eTest() : MountTest("stream-e2e") {}

  // Mounts [source NAME] sections of type stream bound on 127.0.0.1:* (with `extra` keys each).
  void Mount(const std::vector<std::pair<std::string, std::string>>& sources,
             const std::string& cache = "[cache]\nmemory = 256M\ndisk = 1G\nring = 512M\n") {
    std::string body = cache;
    for (const auto& [name, keys] : sources) {
      body += "[source " + name + "]\ntype = stream\nendpoint = tcp://127.0.0.1:*\nbind = true\n" +
              keys;
    }
    MountConfig(body);
  }
  std::string Status(const std::string& source) { return Slurp(mnt_ + "/" + source + "/status"); }
  // The endpoint a source bound.
  std::string Endpoint(const std::string& source) {
    std::string e = StatusField("\n" + Status(source), "endpoint");
    return e.substr(0, e.find(' '));
  }
  // Runs daqfs-sim's sender against `source`; its result.
  SimResult Send(const std::string& source, SimOptions o) {
    o.endpoint = Endpoint(source);
    o.connect = true;
    o.wait_seconds = 0.2;
    Result<SimResult> r = RunSim(o, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SimResult{};
  }
  // Sends crafted messages (each a list of parts) and waits until they left.
  void Publish(const std::string& source, const std::vector<std::vector<std::string>>& messages) {
    testing::PushMessages(Endpoint(source), messages);
  }
  // Frames folder of a series.
  std::string Frames(const std::string& source, const std::string& series) {
    return mnt_ + "/" + source + "/" + series + "/frames";
  }
  // Waits until `path` exists (10 s at most).
  bool Appears(const std::string& path) {
    return WaitFor([&] { return Exists(path); });
  }
};

// Every protocol and encoding: the files hold exactly the pixels sent.
TEST_F(StreamE2eTest, EveryProtocolAndEncodingShowsThePixelsSent) {
  if (IsSkipped()) return;
  Mount({{"v1", "protocol = dectris-v1\nformats = tiff,raw\n"},
         {"s2", "protocol = dectris-stream2\nformats = tiff,raw\n"},
         {"arr", "protocol = array-1.0\nformats = tiff,raw\n"}});
  struct Case {
    std::string source;
    StreamProtocol protocol;
    SimEncoding encoding;
    PixelType type;
  };
  const PixelType u16{PixelKind::kUnsigned, 2}, u32{PixelKind::kUnsigned, 4},
      u8{PixelKind::kUnsigned, 1}, f32{PixelKind::kFloat, 4};
  std::vector<Case> cases;
  for (SimEncoding enc : {SimEncoding::kBitshuffleLz4, SimEncoding::kLz4, SimEncoding::kRaw}) {
    cases.push_back({"v1", StreamProtocol::kDectrisV1, enc, u16});
    cases.push_back({"s2", StreamProtocol::kDectrisStream2, enc, u32});
  }
  cases.push_back({"v1", StreamProtocol::kDectrisV1, SimEncoding::kBitshuffleLz4, u8});
  cases.push_back({"s2", StreamProtocol::kDectrisStream2, SimEncoding::kBitshuffleLz4, u16});
  cases.push_back({"arr", StreamProtocol::kArray, SimEncoding::kRaw, u16});
  cases.push_back({"arr", StreamProtocol::kArray, SimEncoding::kRaw, f32});
  std::map<std::string, uint64_t> next_series;
  const uint32_t w = 97, h = 61;  // odd sizes: no block or row alignment to lean on
  const uint64_t frames = 6;
  for (const Case& c : cases) {
    uint64_t series = ++next_series[c.source];
    SCOPED_TRACE(c.source + " " + SimEncodingName(c.encoding) + " series " +
                 std::to_string(series));
    SimOptions o;
    o.protocol = c.protocol;
    o.encoding = c.encoding;
    o.type = c.type;
    o.width = w;
    o.height = h;
    o.frames = frames;
    o.first_series = series;
    o.first_frame = c.protocol == StreamProtocol::kArray ? 0 : 1;
    SimResult r = Send(c.source, o);
    EXPECT_EQ(r.sent, frames);
    EXPECT_EQ(r.dropped, 0u);
    char name[32];
    std::snprintf(name, sizeof name, "series_%06llu", static_cast<unsigned long long>(series));
    const std::string dir = mnt_ + "/" + c.source + "/" + name;
    if (c.protocol != StreamProtocol::kArray) {
      ASSERT_TRUE(Appears(dir + "/end.json")) << Status(c.source);
      EXPECT_NE(Slurp(dir + "/header.json").find("{"), std::string::npos);
    } else {
      // array-1.0 has no end message: the series is the open one.
      ASSERT_TRUE(Appears(dir + "/frames/" + FrameFileName(frames - 1, "raw")));
    }
    std::string npy;
    for (uint64_t i = 0; i < frames; ++i) {
      const uint64_t n = o.first_frame + i;
      const std::string want = Pixels(n, w, h, c.type);
      npy += want;
      EXPECT_TRUE(Slurp(dir + "/frames/" + FrameFileName(n, "raw")) == want) << n;
      const std::string tif = dir + "/frames/" + FrameFileName(n, "tif");
      CmdResult info = Sh("tiffinfo " + Q(tif) + " 2>&1");
      EXPECT_EQ(info.exit_code, 0) << info.output;
      EXPECT_NE(info.output.find("Image Width: 97 Image Length: 61"), std::string::npos)
          << info.output;
      EXPECT_TRUE(TiffHolds(Slurp(tif), want)) << tif;
    }
    if (c.protocol != StreamProtocol::kArray) {
      std::string got = Slurp(dir + "/data.npy");
      ASSERT_GE(got.size(), npy.size());
      EXPECT_TRUE(got.substr(got.size() - npy.size()) == npy);
      EXPECT_NE(Slurp(dir + "/end.json").find("{"), std::string::npos);
    }
    EXPECT_EQ(Sh("readlink " + Q(mnt_ + "/" + c.source + "/latest")).output,
              std::string(name) + "\n");
  }
  // tifffile and numpy agree with the raw files.
  Python(
      "import numpy as np, tifffile, glob\n"
      "for d in glob.glob('" +
      mnt_ +
      "/*/series_*/'):\n"
      "  for t in sorted(glob.glob(d + 'frames/*.tif')):\n"
      "    a = tifffile.imread(t)\n"
      "    r = np.fromfile(t[:-4] + '.raw', dtype=a.dtype.newbyteorder('<'))\n"
      "    assert (a.ravel() == r).all(), t\n"
      "  try:\n"
      "    n = np.load(d + 'data.npy')\n"
      "  except FileNotFoundError:\n"
      "    continue\n"
      "  for i, t in enumerate(sorted(glob.glob(d + 'frames/*.tif'))):\n"
      "    assert (n[i] == tifffile.imread(t)).all(), (d, i)\n");
  std::string st = Status("s2");
  EXPECT_EQ(StatusCount(st, "lost"), 0u) << st;
  EXPECT_EQ(StatusCount(st, "malformed"), 0u) << st;
  EXPECT_EQ(StatusCount(st, "frames"), 4 * frames) << st;
  // Per-frame metadata as extended attributes.
  CmdResult x = Sh("getfattr --absolute-names -n user.image_id --only-values " +
                   Q(mnt_ + "/s2/series_000001/frames/000002.tif"));
  EXPECT_EQ(x.output, "2");
  // Everything has the source's owner and mode: 0750 folders, 0640 files.
  struct stat st_dir, st_file;
  ASSERT_EQ(stat((mnt_ + "/s2/series_000001").c_str(), &st_dir), 0);
  ASSERT_EQ(stat((mnt_ + "/s2/series_000001/frames/000001.tif").c_str(), &st_file), 0);
  EXPECT_EQ(st_dir.st_mode & 07777, 0750u);
  EXPECT_EQ(st_file.st_mode & 07777, 0640u);
  // The metrics stay valid Prometheus text with the stream families in.
  std::string metrics = Slurp(mnt_ + "/.daqfs/metrics");
  EXPECT_NE(metrics.find("daqfs_stream_frames_total{source=\"s2\"} 24"), std::string::npos);
  CmdResult prom = Sh("promtool check metrics < " + Q(mnt_ + "/.daqfs/metrics") + " 2>&1");
  EXPECT_EQ(prom.exit_code, 0) << prom.output;
}

// Frame files are read with direct I/O by default: a raw frame straight from the received
// message (large frames: resident 1 MiB sub-blocks), no shared mmap (ENODEV) but reads and
// private mappings; `direct_io = false` gives page-cached files a shared mmap works on. Both
// show the same bytes; data.npy is page-cached either way (np.load with mmap_mode works).
TEST_F(StreamE2eTest, FrameFilesAreReadWithDirectIoUnlessConfigured) {
  if (IsSkipped()) return;
  Mount({{"dio", "protocol = dectris-stream2\nformats = tiff,raw\n"},
         {"cached", "protocol = dectris-stream2\nformats = tiff,raw\ndirect_io = false\n"}});
  const PixelType u16{PixelKind::kUnsigned, 2};
  struct Case {
    SimEncoding encoding;
    uint32_t w, h;
  };
  uint64_t series = 0;
  for (const Case& c : {Case{SimEncoding::kRaw, 2100, 2100}, Case{SimEncoding::kRaw, 97, 61},
                        Case{SimEncoding::kBitshuffleLz4, 2100, 2100}}) {
    ++series;
    SCOPED_TRACE(std::string(SimEncodingName(c.encoding)) + " " + std::to_string(c.w));
    for (const char* source : {"dio", "cached"}) {
      SimOptions o;
      o.protocol = StreamProtocol::kDectrisStream2;
      o.encoding = c.encoding;
      o.type = u16;
      o.width = c.w;
      o.height = c.h;
      o.frames = 3;
      o.first_series = series;
      SimResult r = Send(source, o);
      EXPECT_EQ(r.dropped, 0u);
      char name[32];
      std::snprintf(name, sizeof name, "series_%06llu", static_cast<unsigned long long>(series));
      const std::string dir = mnt_ + "/" + source + "/" + name;
      ASSERT_TRUE(Appears(dir + "/end.json")) << Status(source);
      for (uint64_t n = 0; n < 3; ++n) {
        EXPECT_TRUE(Slurp(dir + "/frames/" + FrameFileName(n, "raw")) == Pixels(n, c.w, c.h, u16))
            << source << " frame " << n;
      }
    }
    const std::string a = mnt_ + "/dio/series_00000" + std::to_string(series);
    const std::string b = mnt_ + "/cached/series_00000" + std::to_string(series);
    CmdResult same = Sh("cmp " + Q(a + "/frames/000001.tif") + " " + Q(b + "/frames/000001.tif") +
                        " && cmp " + Q(a + "/data.npy") + " " + Q(b + "/data.npy") + " 2>&1");
    EXPECT_EQ(same.exit_code, 0) << same.output;
  }
  const std::string shared_mmap = DAQFS_DIRECT_IO_SHARED_MMAP ? "True" : "False";
  Python(
      "import errno, glob, mmap, os\n"
      "import numpy as np, tifffile\n"
      "shared_mmap = " +
      shared_mmap +
      "  # libfuse 3.16+: FUSE_DIRECT_IO_ALLOW_MMAP\n"
      "def maps(path, access):\n"
      "    with open(path, 'rb') as f:\n"
      "        with mmap.mmap(f.fileno(), 0, access=access) as m:\n"
      "            return bytes(m)\n"
      "for d in sorted(glob.glob('" +
      mnt_ +
      "/dio/series_*/')):\n"
      "    c = d.replace('/dio/', '/cached/')\n"
      "    npy = np.load(d + 'data.npy', mmap_mode='r')\n"
      "    for i, t in enumerate(sorted(glob.glob(d + 'frames/*.tif'))):\n"
      "        data = open(t, 'rb').read()\n"
      "        if shared_mmap:\n"
      "            assert maps(t, mmap.ACCESS_READ) == data, t\n"
      "        else:\n"
      "            try:\n"
      "                maps(t, mmap.ACCESS_READ)\n"
      "                raise SystemExit('shared mmap of a direct-I/O frame worked: ' + t)\n"
      "            except OSError as e:\n"
      "                assert e.errno == errno.ENODEV, (t, e)\n"
      "        assert maps(t, mmap.ACCESS_COPY) == data, t\n"
      "        ct = t.replace('/dio/', '/cached/')\n"
      "        # cat and cp read st_blksize at a time: a direct-I/O read is one request each\n"
      "        assert os.stat(t).st_blksize == 1 << 20, t\n"
      "        assert os.stat(ct).st_blksize == 128 << 10, ct\n"
      "        assert maps(ct, mmap.ACCESS_READ) == data, ct\n"
      "        assert (tifffile.imread(t) == npy[i]).all(), (t, i)\n"
      "        raw = np.memmap(t[:-4] + '.raw', dtype='<u2', mode='c')\n"
      "        assert (raw == npy[i].ravel()).all(), t\n");
}

// Frames are listed while the series runs; end.json appears once it ended.
TEST_F(StreamE2eTest, FramesAppearWhileTheSeriesRuns) {
  if (IsSkipped()) return;
  Mount({{"live", "protocol = dectris-stream2\n"}});
  SimOptions o;
  o.protocol = StreamProtocol::kDectrisStream2;
  o.frames = 40;
  o.rate = 20;  // 2 s
  o.width = 64;
  o.height = 32;
  std::thread sender([&] { Send("live", o); });
  const std::string frames = Frames("live", "series_000001");
  bool seen_partial = false;
  for (int i = 0; i < 400 && !seen_partial; ++i) {
    CmdResult ls = Sh("ls " + Q(frames) + " 2>/dev/null | wc -l");
    int n = std::atoi(ls.output.c_str());
    if (n > 0 && n < 40) {
      seen_partial = true;
      EXPECT_FALSE(Exists(mnt_ + "/live/series_000001/end.json"));
      EXPECT_NE(Status("live").find("current_series: series_000001"), std::string::npos);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sender.join();
  EXPECT_TRUE(seen_partial);
  ASSERT_TRUE(Appears(mnt_ + "/live/series_000001/end.json"));
  EXPECT_EQ(Sh("ls " + Q(frames) + " | wc -l").output, "40\n");
  EXPECT_TRUE(Exists(mnt_ + "/live/series_000001/data.npy"));
}

// Readers never cost a frame: the sender at 80% of a bare receiver's rate, 8 readers reading
// every frame as it appears and one holding 50 frames open, reading 4 KiB a second.
TEST_F(StreamE2eTest, ReadersCauseNoLoss) {
  if (IsSkipped()) return;
  Mount({{"live", "protocol = dectris-stream2\n"}});
  SimOptions o;
  o.protocol = StreamProtocol::kDectrisStream2;
  o.width = 1030;
  o.height = 514;  // 1 MiB frames, bslz4
  o.frames = 300;
  // The bare receiver: a PULL socket that only counts.
  double bare_fps = 0;
  {
    zmq::context_t ctx(1);
    zmq::socket_t pull(ctx, zmq::socket_type::pull);
    pull.bind("tcp://127.0.0.1:*");
    std::string ep = pull.get(zmq::sockopt::last_endpoint);
    std::atomic<uint64_t> got{0};
    std::thread counter([&] {
      zmq::message_t m;
      while (got < o.frames + 2) {
        if (!pull.recv(m)) break;
        if (!m.more()) ++got;
      }
    });
    SimOptions b = o;
    b.endpoint = ep;
    b.connect = true;
    b.wait_seconds = 0.2;
    Result<SimResult> r = RunSim(b, nullptr);
    ASSERT_TRUE(r.ok());
    counter.join();
    bare_fps = r->sent / std::max(r->seconds, 1e-3);
  }
  o.rate = 0.8 * bare_fps;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> read_frames{0};
  const std::string frames = Frames("live", "series_000001");
  std::vector<std::thread> readers;
  for (int r = 0; r < 8; ++r) {
    readers.emplace_back([&] {
      std::vector<char> buf(1 << 20);
      for (uint64_t n = 0; n < o.frames; ++n) {
        const std::string f = frames + "/" + FrameFileName(n, "tif");
        while (!Exists(f) && !done) std::this_thread::sleep_for(std::chrono::microseconds(200));
        int fd = open(f.c_str(), O_RDONLY);
        if (fd < 0) return;
        while (read(fd, buf.data(), buf.size()) > 0) {
        }
        close(fd);
        ++read_frames;
      }
    });
  }
  std::thread slow([&] {
    std::vector<int> fds;
    for (uint64_t n = 0; n < 50; ++n) {
      const std::string f = frames + "/" + FrameFileName(n, "tif");
      while (!Exists(f) && !done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      int fd = open(f.c_str(), O_RDONLY);
      if (fd >= 0) fds.push_back(fd);
    }
    char b[4096];
    for (size_t i = 0; !done; ++i) {
      if (!fds.empty()) (void)pread(fds[i % fds.size()], b, sizeof b, 4096 * (i / fds.size()));
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    for (int fd : fds) close(fd);
  });
  SimResult sent = Send("live", o);
  ASSERT_TRUE(Appears(mnt_ + "/live/series_000001/end.json"));
  for (std::thread& t : readers) t.join();
  done = true;
  slow.join();
  std::string st = Status("live");
  RecordProperty("bare_fps", std::to_string(bare_fps));
  EXPECT_EQ(sent.dropped, 0u) << "bare " << bare_fps << " frames/s";
  EXPECT_EQ(sent.sent, o.frames);
  EXPECT_EQ(StatusCount(st, "frames"), o.frames) << st;
  EXPECT_EQ(StatusCount(st, "lost"), 0u) << st;
  EXPECT_EQ(StatusCount(st, "evicted"), 0u) << st;
  EXPECT_EQ(read_frames.load(), 8 * o.frames);
}

// A burst larger than the ring spills to the SSD and every frame stays readable; with the spill
// full too, the oldest frames go (counted) and the newest stay.
TEST_F(StreamE2eTest, RingOverflowSpillsAndFullSpillDropsTheOldest) {
  Mount({{"spilled", "protocol = dectris-v1\nformats = raw\n"},
         {"full", "protocol = dectris-v1\nformats = raw\nspill = 6M\n"}},
        "[cache]\nmemory = 64M\ndisk = 1G\nring = 16M\n");  // 8M each
  if (IsSkipped()) return;
  SimOptions o;
  o.protocol = StreamProtocol::kDectrisV1;
  o.encoding = SimEncoding::kRaw;  // 1 MiB payloads: the ring holds 8
  o.width = 1024;
  o.height = 512;
  o.frames = 40;
  o.rate = 100;  // the spill thread keeps up (it never blocks the receiver either way)
  SimResult r = Send("spilled", o);
  ASSERT_EQ(r.sent, 40u);
  ASSERT_TRUE(Appears(mnt_ + "/spilled/series_000001/end.json"));
  std::string st = Status("spilled");
  EXPECT_GT(StatusCount(st, "spill_frames"), 20u) << st;
  EXPECT_LE(StatusCount(st, "ring_bytes"), 8u << 20) << st;
  EXPECT_EQ(StatusCount(st, "evicted"), 0u) << st;
  for (uint64_t n = 0; n < 40; ++n) {
    EXPECT_TRUE(Slurp(Frames("spilled", "series_000001") + "/" + FrameFileName(n, "raw")) ==
                Pixels(n, 1024, 512, o.type))
        << n;
  }
  std::string npy = Slurp(mnt_ + "/spilled/series_000001/data.npy");
  EXPECT_EQ(npy.size(), 128 + 40u * 1024 * 512 * 2);
  // Spilled bytes are in the cache folder's blob store.
  EXPECT_NE(Sh("find " + Q(dir_.path()) + " -name '*segment*' | head -1").output, "");

  // Both full: 8 MiB of RAM and 6 MiB of spill hold at most 14 frames.
  r = Send("full", o);
  ASSERT_EQ(r.sent, 40u);
  ASSERT_TRUE(Appears(mnt_ + "/full/series_000001/end.json"));
  st = Status("full");
  const uint64_t evicted = StatusCount(st, "evicted");
  EXPECT_GE(evicted, 40u - 14) << st;
  EXPECT_EQ(StatusCount(st, "lost"), 0u) << st;  // dropped for room is not a gap
  const std::string ls = Sh("ls " + Q(Frames("full", "series_000001"))).output;
  EXPECT_EQ(ls.find("000000.raw"), std::string::npos) << ls;  // the oldest went
  EXPECT_NE(ls.find("000039.raw"), std::string::npos) << ls;  // never the newest
  EXPECT_TRUE(Slurp(Frames("full", "series_000001") + "/000039.raw") ==
              Pixels(39, 1024, 512, o.type));
  EXPECT_FALSE(Exists(mnt_ + "/full/series_000001/data.npy"));  // no longer the whole series
  EXPECT_FALSE(Exists(Frames("full", "series_000001") + "/000000.raw"));
  std::string metrics = Slurp(mnt_ + "/.daqfs/metrics");
  EXPECT_NE(
      metrics.find("daqfs_stream_evicted_frames_total{source=\"full\"} " + std::to_string(evicted)),
      std::string::npos);
}

// Malformed messages of every kind are counted and logged; the receiver goes on.
TEST_F(StreamE2eTest, MalformedMessagesAreCountedAndSurvived) {
  if (IsSkipped()) return;
  Mount({{"v1", "protocol = dectris-v1\n"},
         {"s2", "protocol = dectris-stream2\n"},
         {"arr", "protocol = array-1.0\n"}});
  const PixelType u16{PixelKind::kUnsigned, 2};
  std::vector<uint8_t> px = SimPattern(0, 16, 8, u16);
  SimFrame raw = EncodeSimFrame(px, 16, 8, u16, SimEncoding::kRaw, StreamProtocol::kDectrisV1);
  std::vector<std::string> good = V1Image(1, 0, raw);
  std::vector<std::string> short_blob = good;
  short_blob[2].resize(100);  // the size does not match the shape
  std::vector<std::string> bad_encoding = good;
  {
    size_t at = bad_encoding[1].find("\"<\"");
    ASSERT_NE(at, std::string::npos) << bad_encoding[1];
    bad_encoding[1].replace(at, 3, "\"zz<\"");
  }
  std::vector<std::string> missing_part(good.begin(), good.begin() + 2);
  std::vector<std::vector<std::string>> v1_bad = {
      {"{not json"}, short_blob, bad_encoding, missing_part, {"{\"htype\":\"dimage-1.0\"}"}};
  std::vector<std::vector<std::string>> v1_msgs = v1_bad;
  v1_msgs.push_back(V1SeriesStart(1, {}));
  v1_msgs.push_back(good);
  v1_msgs.push_back(V1SeriesEnd(1));
  Publish("v1", v1_msgs);
  SimFrame s2f =
      EncodeSimFrame(px, 16, 8, u16, SimEncoding::kBitshuffleLz4, StreamProtocol::kDectrisStream2);
  std::vector<std::string> s2_truncated = Stream2Image(1, "u", 0, s2f);
  s2_truncated[0].resize(s2_truncated[0].size() / 2);
  std::vector<std::vector<std::string>> s2_msgs = {
      {"\xd9\xd9\xf7\xa1"}, s2_truncated, {std::string("\xff\x00\x01", 3)}, {""}};
  s2_msgs.push_back(Stream2Start(1, "u", s2f));
  s2_msgs.push_back(Stream2Image(1, "u", 0, s2f));
  s2_msgs.push_back(Stream2End(1, "u"));
  Publish("s2", s2_msgs);
  Publish("arr", {{"{\"htype\":\"array-1.0\",\"shape\":[8,16],\"type\":\"uint16\",\"frame\":0}",
                   std::string(10, 'x')},
                  {"{\"htype\":\"array-1.0\",\"shape\":[8,16],\"type\":\"complex99\",\"frame\":0}",
                   std::string(256, 'x')},
                  {"[1,2"},
                  ArrayImage(0, 0, raw)});
  ASSERT_TRUE(Appears(mnt_ + "/v1/series_000001/end.json")) << Status("v1");
  ASSERT_TRUE(Appears(mnt_ + "/s2/series_000001/end.json")) << Status("s2");
  ASSERT_TRUE(Appears(Frames("arr", "series_000000") + "/000000.tif")) << Status("arr");
  EXPECT_EQ(StatusCount(Status("v1"), "malformed"), v1_bad.size()) << Status("v1");
  EXPECT_EQ(StatusCount(Status("s2"), "malformed"), 4u) << Status("s2");
  EXPECT_EQ(StatusCount(Status("arr"), "malformed"), 3u) << Status("arr");
  const std::string want(px.begin(), px.end());
  EXPECT_TRUE(TiffHolds(Slurp(Frames("v1", "series_000001") + "/000000.tif"), want));
  EXPECT_TRUE(TiffHolds(Slurp(Frames("s2", "series_000001") + "/000000.tif"), want));
  EXPECT_NE(daemon_.Log().find("malformed message"), std::string::npos);
  // The same counts in the metrics a DAQ's monitoring scrapes.
  std::string metrics = Slurp(mnt_ + "/.daqfs/metrics");
  EXPECT_NE(metrics.find("daqfs_stream_malformed_messages_total{source=\"v1\"} " +
                         std::to_string(v1_bad.size()) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("daqfs_stream_malformed_messages_total{source=\"arr\"} 3\n"),
            std::string::npos);
}

// A publisher that dies mid-series and comes back: the cut series is marked INCOMPLETE, the
// next starts cleanly (same series number: a folder of its own).
TEST_F(StreamE2eTest, PublisherRestartCutsTheSeriesCleanly) {
  if (IsSkipped()) return;
  Mount({{"live", "protocol = dectris-stream2\n"}});
  const PixelType u16{PixelKind::kUnsigned, 2};
  std::vector<std::vector<std::string>> first;
  SimFrame f0 = EncodeSimFrame(SimPattern(0, 32, 16, u16), 32, 16, u16, SimEncoding::kBitshuffleLz4,
                               StreamProtocol::kDectrisStream2);
  first.push_back(Stream2Start(1, "run-a", f0));
  for (uint64_t n = 0; n < 5; ++n) {
    first.push_back(
        Stream2Image(1, "run-a", n,
                     EncodeSimFrame(SimPattern(n, 32, 16, u16), 32, 16, u16,
                                    SimEncoding::kBitshuffleLz4, StreamProtocol::kDectrisStream2)));
  }
  Publish("live", first);  // no end: the publisher "died"
  ASSERT_TRUE(Appears(Frames("live", "series_000001") + "/000004.tif"));
  // The restarted publisher: daqfs-sim sends series 1 again, whole.
  SimOptions o;
  o.protocol = StreamProtocol::kDectrisStream2;
  o.frames = 8;
  o.width = 32;
  o.height = 16;
  Send("live", o);
  ASSERT_TRUE(Appears(mnt_ + "/live/series_000001_2/end.json")) << Sh("ls -R " + Q(mnt_)).output;
  EXPECT_TRUE(Exists(mnt_ + "/live/series_000001/INCOMPLETE"));
  EXPECT_FALSE(Exists(mnt_ + "/live/series_000001/end.json"));
  EXPECT_NE(Slurp(mnt_ + "/live/series_000001/INCOMPLETE").find("5 frames"), std::string::npos);
  EXPECT_FALSE(Exists(mnt_ + "/live/series_000001_2/INCOMPLETE"));
  EXPECT_EQ(Sh("ls " + Q(Frames("live", "series_000001_2")) + " | wc -l").output, "8\n");
  EXPECT_EQ(Sh("readlink " + Q(mnt_ + "/live/latest")).output, "series_000001_2\n");
  std::string st = Status("live");
  EXPECT_EQ(StatusCount(st, "incomplete_series"), 1u) << st;
  EXPECT_EQ(StatusCount(st, "series_kept"), 2u) << st;
  // The kept frames of the cut series stay readable.
  EXPECT_TRUE(
      TiffHolds(Slurp(Frames("live", "series_000001") + "/000003.tif"), Pixels(3, 32, 16, u16)));
}

// daqfs-sim replays recorded frames: an EIGER master's image stack (bitshuffle+LZ4 data files)
// and TIFF pages (a multi-page file and a folder of files); the series daqfs shows hold exactly
// those frames (h5py and tifffile read the originals).
TEST_F(StreamE2eTest, DaqfsSimReplaysHdf5AndTiffFrames) {
  if (IsSkipped()) return;
  Mount({{"live", "protocol = dectris-stream2\nformats = tiff,raw\n"}});
  const std::string gen = dir_.path() + "/gen";
  ASSERT_TRUE(testing::MakeEigerDataset(gen, "--frames 7 --per-file 3 --height 40 --width 56"));
  Python(
      "import numpy as np, tifffile, os\n"
      "rng = np.random.default_rng(7)\n"
      "stack = rng.integers(0, 4000, (5, 33, 47), dtype=np.uint16)\n"
      "tifffile.imwrite('" +
      gen +
      "/multi.tif', stack)\n"
      "os.makedirs('" +
      gen +
      "/folder', exist_ok=True)\n"
      "for i, a in enumerate(stack[::-1]):\n"
      "  tifffile.imwrite('" +
      gen + "/folder/img_%03d.tif' % i, a.astype(np.float32))\n");
  const std::string sim = std::string(DAQFS_BINARY_DIR) + "/daqfs-sim";
  const std::string ep = Endpoint("live");
  const std::string master = Sh("ls " + Q(gen) + "/*_master.h5 | head -1 | tr -d '\\n'").output;
  ASSERT_FALSE(master.empty());
  struct Replay {
    std::string from;
    int series;
    std::string encoding;
  };
  for (const Replay& r : std::vector<Replay>{
           {master, 1, "bslz4"}, {gen + "/multi.tif", 2, "lz4"}, {gen + "/folder", 3, "raw"}}) {
    CmdResult out = Sh(Q(sim) + " --protocol dectris-stream2 --connect --endpoint " + Q(ep) +
                       " --wait 0.2 --frames 7 --first-series " + std::to_string(r.series) +
                       " --encoding " + r.encoding + " --from " + Q(r.from));
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_NE(out.output.find("daqfs-sim: replaying " + r.from), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("dropped 0"), std::string::npos) << out.output;
    ASSERT_TRUE(Appears(mnt_ + "/live/series_00000" + std::to_string(r.series) + "/end.json"));
  }
  Python(
      "import numpy as np, h5py, tifffile, glob\n"
      "def frames(s):\n"
      "  return np.stack([tifffile.imread(t) for t in sorted(glob.glob('" +
      mnt_ +
      "/live/series_%06d/frames/*.tif' % s))])\n"
      "with h5py.File('" +
      master +
      "', 'r') as m:\n"
      "  g = m['/entry/data']\n"
      "  want = np.concatenate([g[k][()] for k in sorted(g) if k.startswith('data_')])\n"
      "got = frames(1)\n"
      "assert got.shape == want.shape and (got == want).all(), (got.shape, want.shape)\n"
      "assert (np.load('" +
      mnt_ +
      "/live/series_000001/data.npy') == want).all()\n"
      "stack = tifffile.imread('" +
      gen +
      "/multi.tif')\n"
      "got = frames(2)\n"
      "assert (got[:5] == stack).all() and (got[5:] == stack[:2]).all()  # cycled\n"
      "got = frames(3)\n"
      "assert got.dtype == np.float32 and (got[:5] == stack[::-1].astype(np.float32)).all()\n");
  // A damaged TIFF (cut short): an error naming it, exit 2, nothing sent.
  std::string tif = testing::Slurp(gen + "/multi.tif");
  testing::WriteFile(gen + "/cut.tif", std::string_view(tif).substr(0, tif.size() / 3));
  CmdResult cut = Sh(Q(sim) + " --connect --endpoint " + Q(ep) + " --from " + Q(gen + "/cut.tif"));
  EXPECT_EQ(cut.exit_code, 2) << cut.output;
  EXPECT_NE(cut.output.find(gen + "/cut.tif"), std::string::npos) << cut.output;
  // A file that is neither: a clear error, exit 2.
  testing::WriteFile(gen + "/notes.txt", "hello\n");
  CmdResult bad =
      Sh(Q(sim) + " --connect --endpoint " + Q(ep) + " --from " + Q(gen + "/notes.txt"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("not an HDF5 file, a TIFF file or a folder of TIFF files"),
            std::string::npos)
      << bad.output;
}

// A port nobody listens on now (the kernel's pick; released for the publisher to bind).
int FreePort() {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::pull);
  s.bind("tcp://127.0.0.1:*");
  std::string e = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(e.substr(e.rfind(':') + 1));
}

// The default connect mode with several PULL endpoints fanning in (two senders of one series,
// array-1.0), a SUB socket on a PUB publisher, and who may look: uid/gid/mode, checked by the
// kernel with allow_other for another user.
TEST_F(StreamE2eTest, ConnectsToSeveralPublishersSubscribesAndKeepsOthersOut) {
  if (IsSkipped()) return;
  const int p1 = FreePort(), p2 = FreePort(), p3 = FreePort();
  auto ep = [](int p) { return "tcp://127.0.0.1:" + std::to_string(p); };
  MountConfig(
      "[mount]\nallow_other = true\n[cache]\nmemory = 64M\ndisk = 256M\n"
      "[source fan]\ntype = stream\nprotocol = array-1.0\nformats = raw\nendpoint = " +
      ep(p1) + ", " + ep(p2) +
      "\n"
      "[source sub]\ntype = stream\nprotocol = dectris-v1\nsocket = sub\nendpoint = " +
      ep(p3) + "\nmode = 0700\n");
  const std::string sim = std::string(DAQFS_BINARY_DIR) + "/daqfs-sim";
  // Two senders bind (as detectors do) and daqfs connects to both: frames 0-9 and 10-19 of
  // series 0 arrive interleaved into one series.
  auto a = std::async(std::launch::async, [&] {
    return Sh(Q(sim) + " --protocol array-1.0 --endpoint " + Q(ep(p1)) +
              " --frames 10 --first-series 0 --size 16x8 --rate 200 --wait 1.5");
  });
  auto b = std::async(std::launch::async, [&] {
    return Sh(Q(sim) + " --protocol array-1.0 --endpoint " + Q(ep(p2)) +
              " --frames 10 --first-series 0 --first-frame 10 --size 16x8 --rate 200 --wait 1.5");
  });
  CmdResult ra = a.get(), rb = b.get();
  EXPECT_NE(ra.output.find("dropped 0"), std::string::npos) << ra.output;
  EXPECT_NE(rb.output.find("dropped 0"), std::string::npos) << rb.output;
  const PixelType u16{PixelKind::kUnsigned, 2};
  ASSERT_TRUE(Appears(Frames("fan", "series_000000") + "/000019.raw")) << Status("fan");
  ASSERT_TRUE(Appears(Frames("fan", "series_000000") + "/000009.raw")) << Status("fan");
  for (uint64_t n : {0, 9, 10, 19}) {
    EXPECT_TRUE(Slurp(Frames("fan", "series_000000") + "/" + FrameFileName(n, "raw")) ==
                Pixels(n, 16, 8, u16))
        << n;
  }
  std::string st = Status("fan");
  EXPECT_EQ(StatusCount(st, "frames"), 20u) << st;
  EXPECT_EQ(StatusCount(st, "lost"), 0u) << st;
  // Both senders have exited: status tells nobody is connected.
  EXPECT_TRUE(WaitFor([&] { return StatusCount(Status("fan"), "connected") == 0; })) << st;
  // SUB: the publisher's series arrives whole.
  CmdResult pub = Sh(Q(sim) + " --pub --endpoint " + Q(ep(p3)) +
                     " --frames 12 --size 16x8 --rate 200 --wait 1.5");
  EXPECT_NE(pub.output.find("dropped 0"), std::string::npos) << pub.output;
  ASSERT_TRUE(Appears(mnt_ + "/sub/series_000001/end.json")) << Status("sub");
  EXPECT_EQ(Sh("ls " + Q(Frames("sub", "series_000001")) + " | wc -l").output, "12\n");
  // mode = 0700: another user cannot list or read the live source; the owner can.
  const std::string nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  CmdResult denied = Sh(nobody + "ls " + Q(mnt_ + "/sub") + " 2>&1");
  EXPECT_NE(denied.exit_code, 0) << denied.output;
  EXPECT_NE(denied.output.find("Permission denied"), std::string::npos) << denied.output;
  CmdResult fan = Sh(nobody + "cat " + Q(Frames("fan", "series_000000") + "/000000.raw") +
                     " >/dev/null 2>&1; echo $?");
  EXPECT_NE(fan.output, "0\n");  // 0750 and the daemon's group: not for uid 65534 either
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/sub")).exit_code, 0);
}

// `daqfs --source tcp://HOST:PORT MOUNTPOINT`: one dectris-stream2 stream without a
// configuration file, the root is the stream (connected to a bound detector).
TEST_F(StreamE2eTest, SourceEndpointMountsOneStreamWithoutAConfiguration) {
  if (IsSkipped()) return;
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(daemon_.Start({"--source", ep, mnt_}, mnt_, dir_.path() + "/daqfs.log"));
  EXPECT_NE(Slurp(mnt_ + "/status").find("endpoint: " + ep + " (connected to)"), std::string::npos);
  CmdResult out =
      Sh(Q(std::string(DAQFS_BINARY_DIR) + "/daqfs-sim") +
         " --protocol dectris-stream2 --endpoint " + Q(ep) + " --frames 5 --size 16x8 --wait 1");
  EXPECT_NE(out.output.find("dropped 0"), std::string::npos) << out.output;
  ASSERT_TRUE(Appears(mnt_ + "/series_000001/end.json")) << Slurp(mnt_ + "/status");
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/latest/frames") + " | wc -l").output, "5\n");
}

#if DAQFS_HAVE_SAMPLE_DATA
// The captured DECTRIS stream2 messages (../shared/data/stream/PROVENANCE.md), sent as they were
// captured: three channels per frame, each frame decoded to the pixels the bitshuffle library
// gives.
TEST_F(StreamE2eTest, CapturedStream2MessagesShowTheirPixels) {
  if (IsSkipped()) return;
  Mount({{"eiger", "protocol = dectris-stream2\nformats = tiff,raw\n"}});
  const std::string dir =
      std::string(DAQFS_SAMPLE_DATA) + "/stream/dectris-stream2-r500k-bslz4-16bit";
  std::vector<std::vector<std::string>> msgs;
  for (int i = 1; i <= 10; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/%06d.cbor", i);
    msgs.push_back({Slurp(dir + name)});
    ASSERT_FALSE(msgs.back()[0].empty()) << name;
  }
  Publish("eiger", msgs);
  ASSERT_TRUE(Appears(Frames("eiger", "series_000001") + "/threshold_1/000009.tif"))
      << Sh("ls -R " + Q(mnt_)).output << Status("eiger");
  Python(
      "import cbor2, numpy as np, bitshuffle, tifffile\n"
      "for i in range(1, 11):\n"
      "  m = cbor2.loads(open('" +
      dir +
      "/%06d.cbor' % i, 'rb').read())\n"
      "  for name, v in m['data'].items():\n"
      "    shape, typed = v.value\n"
      "    codec, elem, payload = typed.value.value\n"
      "    block = int.from_bytes(payload[8:12], 'big') // elem\n"
      "    want = bitshuffle.decompress_lz4(np.frombuffer(payload[12:], np.uint8), "
      "tuple(shape), np.dtype('<u2'), block)\n"
      "    f = '" +
      Frames("eiger", "series_000001") +
      "/%s/%06d' % (name, i - 1)\n"
      "    assert (tifffile.imread(f + '.tif') == want).all(), f\n"
      "    r = np.fromfile(f + '.raw', '<u2').reshape(want.shape)\n"
      "    assert (r == want).all(), f\n");
  // No start message was captured: the series began with its first frame.
  EXPECT_FALSE(Exists(mnt_ + "/eiger/series_000001/header.json"));
  EXPECT_EQ(StatusCount(Status("eiger"), "frames"), 10u);
}
#endif

}  // namespace
}  // namespace daqfs::e2e
