#include "tools/daqfs_sim.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backends/stream/stream_receiver.h"
#include "tests/testing/wait.h"
#include "tools/daqfs_sim_args.h"

namespace daqfs {
namespace {

using testing::WaitFor;

CliOutcome Parse(std::vector<const char*> args, SimOptions* o) {
  args.insert(args.begin(), "daqfs-sim");
  return ParseSimArgs(static_cast<int>(args.size()), args.data(), o);
}

TEST(DaqfsSimArgsTest, OptionsAndErrors) {
  SimOptions o;
  CliOutcome c = Parse({"--protocol",
                        "dectris-stream2",
                        "--endpoint=tcp://127.0.0.1:5555",
                        "--connect",
                        "--pub",
                        "--rate",
                        "250.5",
                        "--frames",
                        "7",
                        "--series",
                        "3",
                        "--first-series",
                        "9",
                        "--first-frame",
                        "1",
                        "--encoding",
                        "lz4",
                        "--size",
                        "64x32",
                        "--type",
                        "uint32",
                        "--wait",
                        "0",
                        "--hwm",
                        "5"},
                       &o);
  ASSERT_TRUE(c.run) << c.err;
  EXPECT_EQ(o.protocol, StreamProtocol::kDectrisStream2);
  EXPECT_EQ(o.endpoint, "tcp://127.0.0.1:5555");
  EXPECT_TRUE(o.connect);
  EXPECT_TRUE(o.pub);
  EXPECT_EQ(o.rate, 250.5);
  EXPECT_EQ(o.frames, 7u);
  EXPECT_EQ(o.series, 3u);
  EXPECT_EQ(o.first_series, 9u);
  EXPECT_EQ(o.first_frame, 1u);
  EXPECT_EQ(o.encoding, SimEncoding::kLz4);
  EXPECT_EQ(o.width, 64u);
  EXPECT_EQ(o.height, 32u);
  EXPECT_EQ(o.type, (PixelType{PixelKind::kUnsigned, 4}));
  EXPECT_EQ(o.wait_seconds, 0);
  EXPECT_EQ(o.send_hwm, 5);
  for (const auto& [args, want] : std::vector<std::pair<std::vector<const char*>, std::string>>{
           {{"--protocol", "eiger"}, "--protocol 'eiger'"},
           {{"--rate", "-1"}, "--rate '-1'"},
           {{"--frames", "0"}, "--frames '0'"},
           {{"--size", "64"}, "--size '64'"},
           {{"--type", "uint64"}, "--type 'uint64'"},
           {{"--encoding", "zstd"}, "--encoding 'zstd'"},
           {{"--connect"}, "--connect needs an endpoint without '*'"},
           {{"--bogus"}, "unknown option --bogus"},
           {{"extra"}, "unexpected argument extra"},
           {{"--frames"}, "--frames needs a value"},
       }) {
    SimOptions d;
    CliOutcome bad = Parse(args, &d);
    EXPECT_FALSE(bad.run) << want;
    EXPECT_EQ(bad.exit_code, 1) << want;
    EXPECT_NE(bad.err.find(want), std::string::npos) << bad.err;
  }
  SimOptions d;
  CliOutcome help = Parse({"--help"}, &d);
  EXPECT_FALSE(help.run);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: daqfs-sim"), std::string::npos);
  CliOutcome version = Parse({"-V"}, &d);
  EXPECT_NE(version.out.find("daqfs-sim "), std::string::npos);
}

// Every protocol and encoding arrives whole at a receiver, pixels as SimPattern says.
TEST(DaqfsSimTest, EveryProtocolAndEncodingArrivesAsThePattern) {
  for (StreamProtocol p :
       {StreamProtocol::kDectrisV1, StreamProtocol::kDectrisStream2, StreamProtocol::kArray}) {
    for (SimEncoding e : {SimEncoding::kRaw, SimEncoding::kLz4, SimEncoding::kBitshuffleLz4}) {
      const std::string what = std::string(StreamProtocolName(p)) + " " + SimEncodingName(e);
      StreamLedger ledger(10);
      StreamReceiverOptions ro;
      ro.endpoints = {"tcp://127.0.0.1:*"};
      ro.bind = true;
      ro.protocol = p;
      ro.name = "test";
      StreamReceiver receiver(ro, &ledger, nullptr);
      ASSERT_TRUE(receiver.Start().ok());
      SimOptions o;
      o.protocol = p;
      o.encoding = e;
      o.endpoint = receiver.endpoints()[0];
      o.connect = true;
      o.frames = 12;
      o.series = 2;
      o.first_series = 5;
      o.width = 100;
      o.height = 60;
      o.wait_seconds = 0;
      std::thread sim([&] {
        // The receiver is there: wait until connected before sending (nothing is dropped).
        Result<SimResult> r = RunSim(o, nullptr);
        ASSERT_TRUE(r.ok()) << what << ": " << r.status().ToString();
        EXPECT_EQ(r->sent + r->dropped, 24u) << what;
      });
      sim.join();
      ASSERT_TRUE(WaitFor([&] { return ledger.counters().frames >= 24; }))
          << what << ": " << ledger.counters().frames << " frames";
      std::vector<std::shared_ptr<StreamSeries>> series = ledger.Series();
      ASSERT_EQ(series.size(), 2u) << what;
      for (const std::shared_ptr<StreamSeries>& s : series) {
        EXPECT_EQ(ledger.Info(*s).id, s == series[0] ? 5u : 6u) << what;
        if (p != StreamProtocol::kArray) {  // array-1.0 has no end
          EXPECT_TRUE(WaitFor([&] { return ledger.Info(*s).ended; })) << what;
        }
        for (uint64_t f = 0; f < 12; ++f) {
          std::shared_ptr<const StreamFrame> frame = ledger.Frame(*s, f);
          ASSERT_TRUE(frame) << what << " frame " << f;
          std::vector<uint8_t> px(frame->images[0].DecodedBytes());
          ASSERT_TRUE(DecodeStreamImage(frame->images[0], px).ok()) << what;
          EXPECT_EQ(px, SimPattern(f, 100, 60, PixelType{PixelKind::kUnsigned, 2})) << what;
        }
      }
      EXPECT_EQ(ledger.counters().lost, 0u) << what;
      EXPECT_EQ(ledger.counters().malformed, 0u) << what;
    }
  }
}

TEST(DaqfsSimTest, FramesNobodyTakesAreDroppedAndCountedNotWaitedFor) {
  SimOptions o;
  o.endpoint = "tcp://127.0.0.1:*";  // bound, and nobody connects
  o.frames = 50;
  o.width = 16;
  o.height = 16;
  o.wait_seconds = 0;
  auto start = std::chrono::steady_clock::now();
  Result<SimResult> r = RunSim(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sent, 0u);
  EXPECT_EQ(r->dropped, 50u);
  // Only the series start and end wait (up to 1 s each).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  o.endpoint = "bogus://x";
  Result<SimResult> bad = RunSim(o, nullptr);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bogus://x"), std::string::npos);
}

}  // namespace
}  // namespace daqfs
