#include "backends/stream/stream_receiver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "tests/testing/wait.h"

namespace daqfs {
namespace {

using json = nlohmann::json;

using testing::WaitFor;

std::string Pixels(uint64_t frame, size_t n) {
  std::string p(n, '\0');
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 31 + frame * 7) & 0xff);
  return p;
}

// A DECTRIS v1 sender on a PUSH socket of its own context.
class V1Sender {
 public:
  explicit V1Sender(zmq::socket_type type = zmq::socket_type::push) : socket_(context_, type) {
    socket_.set(zmq::sockopt::linger, 2000);
  }
  std::string Bind() {
    socket_.bind("tcp://127.0.0.1:*");
    return socket_.get(zmq::sockopt::last_endpoint);
  }
  void Connect(const std::string& e) { socket_.connect(e); }
  void Send(const std::vector<std::string>& parts) {
    for (size_t i = 0; i < parts.size(); ++i) {
      socket_.send(zmq::buffer(parts[i]),
                   i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  void Header(uint64_t series) {
    Send({json{{"htype", "dheader-1.0"}, {"series", series}, {"header_detail", "none"}}.dump()});
  }
  void Image(uint64_t series, uint64_t frame) {
    std::string px = Pixels(frame, 32 * 16 * 2);
    Send({json{{"htype", "dimage-1.0"}, {"series", series}, {"frame", frame}, {"hash", ""}}.dump(),
          json{{"htype", "dimage_d-1.0"},
               {"shape", {32, 16}},
               {"type", "uint16"},
               {"encoding", "<"},
               {"size", px.size()}}
              .dump(),
          px, json{{"htype", "dconfig-1.0"}}.dump()});
  }
  void End(uint64_t series) {
    Send({json{{"htype", "dseries_end-1.0"}, {"series", series}}.dump()});
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

StreamReceiverOptions Options(std::vector<std::string> endpoints, bool bind = false) {
  StreamReceiverOptions o;
  o.endpoints = std::move(endpoints);
  o.bind = bind;
  o.name = "test";
  return o;
}

TEST(StreamReceiverTest, ASeriesArrivesWholeWithItsPixelsAsSent) {
  V1Sender sender;
  const std::string endpoint = sender.Bind();
  StreamLedger ledger(10);
  std::mutex mu;
  int started = 0, frames = 0, ended = 0;
  StreamReceiver r(Options({endpoint}), &ledger, [&](const StreamLedger::Change& c) {
    std::lock_guard<std::mutex> lock(mu);
    started += c.series_started;
    frames += c.frame != nullptr;
    ended += c.series_ended;
  });
  ASSERT_TRUE(r.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return r.connected() == 1; }));
  sender.Header(3);
  for (uint64_t f = 0; f < 50; ++f) sender.Image(3, f);
  sender.End(3);
  ASSERT_TRUE(WaitFor([&] { return ledger.counters().frames == 50 && !ledger.Open(); }));
  r.Stop();
  EXPECT_EQ(r.received(), 52u);
  std::vector<std::shared_ptr<StreamSeries>> series = ledger.Series();
  ASSERT_EQ(series.size(), 1u);
  StreamSeriesInfo info = ledger.Info(*series[0]);
  EXPECT_TRUE(info.ended);
  EXPECT_EQ(info.header["series"], 3);
  EXPECT_EQ(info.frames, 50u);
  for (uint64_t f = 0; f < 50; ++f) {
    std::shared_ptr<const StreamFrame> frame = ledger.Frame(*series[0], f);
    ASSERT_TRUE(frame) << f;
    ASSERT_EQ(frame->images.size(), 1u);
    const std::span<const uint8_t> p = frame->images[0].payload;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data()), p.size()),
              Pixels(f, 32 * 16 * 2))
        << f;
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(frames, 50);
  EXPECT_EQ(ended, 1);
}

TEST(StreamReceiverTest, MalformedMessagesAreCountedAndTheStreamGoesOn) {
  V1Sender sender;
  StreamLedger ledger(10);
  StreamReceiver r(Options({sender.Bind()}), &ledger, nullptr);
  ASSERT_TRUE(r.Start().ok());
  sender.Header(1);
  sender.Image(1, 0);
  sender.Send({"not json"});
  sender.Send({json{{"htype", "dimage-1.0"}, {"series", 1}, {"frame", 1}}.dump()});  // 1 part
  sender.Send({json{{"htype", "dheader-1.0"}, {"series", 1}, {"header_detail", "odd"}}.dump()});
  sender.Image(1, 2);  // frame 1 was lost
  sender.End(1);
  ASSERT_TRUE(WaitFor([&] { return r.received() == 7 && !ledger.Open(); }));
  StreamCounters n = ledger.counters();
  EXPECT_EQ(n.malformed, 3u);
  EXPECT_EQ(n.frames, 2u);
  EXPECT_EQ(n.lost, 1u);
}

TEST(StreamReceiverTest, SeveralSendersFanInToABoundReceiver) {
  StreamLedger ledger(10);
  StreamReceiver r(Options({"tcp://127.0.0.1:*"}, true), &ledger, nullptr);
  ASSERT_TRUE(r.Start().ok());
  ASSERT_EQ(r.endpoints().size(), 1u);
  EXPECT_NE(r.endpoints()[0].find("tcp://127.0.0.1:"), std::string::npos);
  EXPECT_EQ(r.endpoints()[0].find('*'), std::string::npos);  // the port it got
  V1Sender a, b;
  a.Connect(r.endpoints()[0]);
  b.Connect(r.endpoints()[0]);
  ASSERT_TRUE(WaitFor([&] { return r.connected() == 2; }));
  a.Header(1);
  ASSERT_TRUE(WaitFor([&] { return ledger.Open() != nullptr; }));
  for (uint64_t f = 0; f < 40; f += 2) {
    a.Image(1, f);
    b.Image(1, f + 1);
  }
  ASSERT_TRUE(WaitFor([&] { return ledger.counters().frames == 40; }));
  EXPECT_EQ(ledger.FrameNumbers(*ledger.Open()).size(), 40u);
}

TEST(StreamReceiverTest, SubscribersGetEveryMessage) {
  V1Sender pub(zmq::socket_type::pub);
  const std::string endpoint = pub.Bind();
  StreamLedger ledger(10);
  StreamReceiverOptions o = Options({endpoint});
  o.sub = true;
  StreamReceiver r(o, &ledger, nullptr);
  ASSERT_TRUE(r.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return r.connected() == 1; }));
  // A subscription takes a moment to reach the publisher: send until the first arrives.
  ASSERT_TRUE(WaitFor([&] {
    pub.Header(9);
    return ledger.Open() != nullptr;
  }));
  for (uint64_t f = 0; f < 10; ++f) pub.Image(9, f);
  ASSERT_TRUE(WaitFor([&] { return ledger.counters().frames == 10; }));
}

TEST(StreamReceiverTest, BadEndpointsAreErrorsAndStopIsPrompt) {
  StreamLedger ledger(10);
  StreamReceiver bad(Options({"nonsense://x"}), &ledger, nullptr);
  Status s = bad.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nonsense://x"), std::string::npos) << s.ToString();
  StreamReceiver idle(Options({"tcp://127.0.0.1:1"}), &ledger, nullptr);  // nobody there
  ASSERT_TRUE(idle.Start().ok());
  auto start = std::chrono::steady_clock::now();
  idle.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(idle.connected(), 0);
}

}  // namespace
}  // namespace daqfs
