// The backend conformance suite on the live stream backend, fed by a test publisher once
// started: four series of DECTRIS stream2 messages (1 MiB bslz4 frames; one 8.8 MB lz4 frame,
// which the read path sees as 1 MiB sub-blocks of one group; tiny raw u8 frames; 8.8 MB raw
// frames, served from the received messages themselves as resident sub-blocks), each shown as
// frames/NNNNNN.tif and .raw and, once ended, data.npy. The suite's growth test sends further
// series while it lists the root. Expected bytes: the pixels daqfs-sim's pattern gives (computed
// here, sent encoded), TIFFs written by libtiff from them, data.npy written by numpy.save; never
// daqfs's own output.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/image_stack.h"
#include "backends/stream/stream_backend.h"
#include "backends/stream/stream_encode.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/conformance/libtiff_frame.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/stream_publisher.h"
#include "tests/testing/wait.h"

namespace daqfs::testing {
namespace {

// The pattern daqfs-sim sends (a deterministic function of the frame number and position),
// written here again so the expected bytes do not come from the code under test.
std::string Pattern(uint64_t frame, uint32_t w, uint32_t h, PixelType t) {
  std::string px(uint64_t{w} * h * t.bytes, '\0');
  for (uint64_t i = 0; i < uint64_t{w} * h; ++i) {
    uint64_t v = (i * 2654435761u + frame * 40503u) % 251;
    for (uint32_t b = 0; b < t.bytes; ++b) {
      px[i * t.bytes + b] = static_cast<char>(b == 0 ? v : (b == 1 ? (v >> 4) & 3 : 0));
    }
  }
  return px;
}

struct SeriesSpec {
  uint64_t id;
  uint32_t w, h;
  PixelType type;
  SimEncoding encoding;
  uint64_t frames;
};

class StreamFlavour final : public ConformanceFlavour {
 public:
  std::string Name() const override { return "StreamDectrisStream2"; }
  bool UnitNamesPerInstance() const override { return true; }
  bool HasResidentBlocks() const override { return true; }

  std::map<std::string, std::string> MakeData(const std::string& dir) override {
    dir_ = dir;
    const PixelType u16{PixelKind::kUnsigned, 2}, u8{PixelKind::kUnsigned, 1};
    series_ = {{900, 1030, 514, u16, SimEncoding::kBitshuffleLz4, 3},
               {901, 2100, 2100, u16, SimEncoding::kLz4, 1},
               {902, 7, 5, u8, SimEncoding::kRaw, 2},
               {903, 2100, 2100, u16, SimEncoding::kRaw, 2}};
    std::map<std::string, std::string> expected;
    for (const SeriesSpec& s : series_) {
      char name[32];
      std::snprintf(name, sizeof name, "series_%06llu", static_cast<unsigned long long>(s.id));
      std::string all;
      for (uint64_t n = 0; n < s.frames; ++n) {
        const std::string px = Pattern(n, s.w, s.h, s.type);
        const std::string base = std::string(name) + "/frames/" + FrameFileName(n, "");
        expected[base + "raw"] = px;
        expected[base + "tif"] = LibtiffFrame(px, s.w, s.h, s.type, dir + "/scratch.tif");
        all += px;
      }
      WriteFile(dir + "/all.bin", all);
      RunPython(
          "import numpy as np\n"
          "a = np.fromfile('all.bin', dtype='<u" +
              std::to_string(s.type.bytes) + "').reshape((" + std::to_string(s.frames) + ", " +
              std::to_string(s.h) + ", " + std::to_string(s.w) +
              "))\n"
              "np.save('all.npy', a)\n",
          dir);
      expected[std::string(name) + "/data.npy"] = Slurp(dir + "/all.npy");
    }
    return expected;
  }

  Result<std::unique_ptr<Backend>> MakeBackend(const std::string& dir, bool rescan) override {
    (void)dir;
    (void)rescan;  // a stream grows by itself
    StreamBackendOptions o;
    o.receiver.endpoints = {"tcp://127.0.0.1:*"};
    o.receiver.bind = true;
    o.receiver.protocol = StreamProtocol::kDectrisStream2;
    o.raw = true;
    o.ring_bytes = 256 << 20;
    return std::unique_ptr<Backend>(std::make_unique<StreamBackend>("conformance", o));
  }

  void AfterStart(Backend& backend) override {
    auto& b = static_cast<StreamBackend&>(backend);
    endpoint_ = b.endpoints().at(0);
    backend_ = &b;
    std::vector<std::vector<std::string>> messages;
    uint64_t frames = 0;
    for (const SeriesSpec& s : series_) {
      AddSeries(s, &messages);
      frames += s.frames;
    }
    Send(messages);
    // Every frame in and every series ended (data.npy exists once its series ended).
    ASSERT_TRUE(WaitFor([&] {
      if (b.ledger()->counters().frames != frames) return false;
      std::vector<std::shared_ptr<StreamSeries>> all = b.ledger()->Series();
      if (all.size() != series_.size()) return false;
      for (const auto& s : all) {
        if (!b.ledger()->Info(*s).ended) return false;
      }
      return true;
    }));
    b.WaitAnnounced();
  }

  // One more series, numbered below the first: its folder name sorts before every entry.
  std::string Grow(const std::string& dir, int n) override {
    (void)dir;
    SeriesSpec s{static_cast<uint64_t>(100 + n),
                 4,
                 3,
                 PixelType{PixelKind::kUnsigned, 1},
                 SimEncoding::kRaw,
                 1};
    std::vector<std::vector<std::string>> messages;
    AddSeries(s, &messages);
    Send(messages);
    char name[32];
    std::snprintf(name, sizeof name, "series_%06llu", static_cast<unsigned long long>(s.id));
    return name;
  }

 private:
  void AddSeries(const SeriesSpec& s, std::vector<std::vector<std::string>>* out) {
    const std::string unique = "conformance-" + std::to_string(s.id);
    for (uint64_t n = 0; n < s.frames; ++n) {
      const std::string px = Pattern(n, s.w, s.h, s.type);
      SimFrame f = EncodeSimFrame(std::span(reinterpret_cast<const uint8_t*>(px.data()), px.size()),
                                  s.w, s.h, s.type, s.encoding, StreamProtocol::kDectrisStream2);
      if (n == 0) out->push_back(Stream2Start(s.id, unique, f));
      out->push_back(Stream2Image(s.id, unique, n, f));
    }
    out->push_back(Stream2End(s.id, unique));
  }
  void Send(const std::vector<std::vector<std::string>>& messages) {
    PushMessages(endpoint_, messages);
    if (backend_) backend_->WaitAnnounced();
  }

  std::string dir_;
  std::vector<SeriesSpec> series_;
  std::string endpoint_;
  StreamBackend* backend_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Stream, BackendConformanceTest,
                         ::testing::Values(std::make_shared<StreamFlavour>()), FlavourName);

}  // namespace
}  // namespace daqfs::testing
