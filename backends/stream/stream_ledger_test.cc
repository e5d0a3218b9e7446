#include "backends/stream/stream_ledger.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

StreamEvent Start(uint64_t series) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kSeriesStart;
  e.series = series;
  e.meta = {{"series", series}};
  return e;
}
StreamEvent End(uint64_t series) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kSeriesEnd;
  e.series = series;
  e.meta = {{"end", series}};
  return e;
}
StreamEvent Frame(uint64_t series, uint64_t frame, size_t bytes = 100) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kFrame;
  e.series = series;
  e.frame = frame;
  StreamImage img;
  static const std::vector<uint8_t> payload(1 << 16);
  img.payload = std::span<const uint8_t>(payload.data(), bytes);
  e.images.push_back(img);
  return e;
}

TEST(StreamLedgerTest, SeriesFillInOrderAndEnd) {
  StreamLedger l(10);
  StreamLedger::Change c = l.Apply(Start(4), nullptr);
  ASSERT_TRUE(c.series);
  EXPECT_TRUE(c.series_started);
  EXPECT_EQ(c.series->id, 4u);
  EXPECT_EQ(c.series->seq, 1u);
  EXPECT_EQ(c.series->header["series"], 4);
  auto keep = std::make_shared<int>(7);
  for (uint64_t f = 0; f < 5; ++f) {
    c = l.Apply(Frame(4, f), keep);
    ASSERT_TRUE(c.frame);
    EXPECT_EQ(c.frame->number, f);
    EXPECT_FALSE(c.series_started);
  }
  EXPECT_EQ(keep.use_count(), 6);  // each frame holds its message
  EXPECT_EQ(l.FrameNumbers(*l.Open()), (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  c = l.Apply(End(4), nullptr);
  EXPECT_TRUE(c.series_ended);
  EXPECT_TRUE(c.series->ended);
  EXPECT_EQ(c.series->end["end"], 4);
  EXPECT_EQ(l.Open(), nullptr);
  StreamSeriesInfo info = l.Info(*c.series);
  EXPECT_EQ(info.id, 4u);
  EXPECT_EQ(info.seq, 1u);
  EXPECT_TRUE(info.ended);
  EXPECT_FALSE(info.incomplete);
  EXPECT_EQ(info.frames, 5u);
  EXPECT_EQ(info.header["series"], 4);
  EXPECT_EQ(info.end["end"], 4);
  StreamCounters n = l.counters();
  EXPECT_EQ(n.series, 1u);
  EXPECT_EQ(n.frames, 5u);
  EXPECT_EQ(n.bytes, 500u);
  EXPECT_EQ(n.lost, 0u);
  EXPECT_EQ(n.malformed, 0u);
  EXPECT_EQ(n.incomplete, 0u);
}

TEST(StreamLedgerTest, GapsLateFramesAndDuplicatesAreCounted) {
  StreamLedger l(10);
  l.Apply(Start(1), nullptr);
  l.Apply(Frame(1, 1), nullptr);  // numbering starts at 1 here: nothing lost before it
  l.Apply(Frame(1, 2), nullptr);
  l.Apply(Frame(1, 6), nullptr);  // 3, 4, 5 skipped
  EXPECT_EQ(l.counters().lost, 3u);
  l.Apply(Frame(1, 4), nullptr);  // late: kept, no longer lost
  l.Apply(Frame(1, 4), nullptr);  // twice: dropped
  std::shared_ptr<StreamSeries> s = l.Open();
  EXPECT_EQ(s->lost, 2u);
  EXPECT_EQ(s->out_of_order, 1u);
  EXPECT_EQ(s->duplicates, 1u);
  EXPECT_EQ(l.FrameNumbers(*s), (std::vector<uint64_t>{1, 2, 4, 6}));
  StreamCounters n = l.counters();
  EXPECT_EQ(n.lost, 2u);
  EXPECT_EQ(n.frames, 4u);
  EXPECT_EQ(n.duplicates, 1u);
  EXPECT_EQ(n.out_of_order, 1u);
}

TEST(StreamLedgerTest, APublisherThatComesBackCutsTheOpenSeries) {
  StreamLedger l(10);
  l.Apply(Start(1), nullptr);
  l.Apply(Frame(1, 0), nullptr);
  // A new start before the end: series 1 is incomplete.
  StreamLedger::Change c = l.Apply(Start(2), nullptr);
  ASSERT_TRUE(c.cut);
  EXPECT_EQ(c.cut->id, 1u);
  EXPECT_TRUE(c.cut->incomplete);
  EXPECT_FALSE(c.cut->ended);
  // A frame of another series without its start: series 2 is cut, series 3 begins with it.
  l.Apply(Frame(2, 0), nullptr);
  c = l.Apply(Frame(3, 0), nullptr);
  EXPECT_TRUE(c.series_started);
  ASSERT_TRUE(c.cut);
  EXPECT_EQ(c.cut->id, 2u);
  EXPECT_TRUE(c.series->header.is_null());  // its start was not received
  // An end of a series that is not open is malformed; the open series stays open.
  l.Apply(End(2), nullptr);
  EXPECT_EQ(l.counters().malformed, 1u);
  ASSERT_TRUE(l.Open());
  EXPECT_EQ(l.Open()->id, 3u);
  l.Malformed();
  StreamCounters n = l.counters();
  EXPECT_EQ(n.malformed, 2u);
  EXPECT_EQ(n.incomplete, 2u);
  EXPECT_EQ(n.series, 3u);
  // stream2: the same series number with another unique id is another series.
  StreamEvent f = Frame(3, 1);
  f.series_unique = "B";
  l.Apply(f, nullptr);
  StreamEvent g = Frame(3, 2);
  g.series_unique = "C";
  c = l.Apply(g, nullptr);
  EXPECT_TRUE(c.series_started);
  EXPECT_EQ(c.series->unique, "C");
}

TEST(StreamLedgerTest, OnlyKeepSeriesClosedSeriesStayAndReadersKeepTheirFrames) {
  StreamLedger l(2);
  std::shared_ptr<StreamSeries> first;
  std::shared_ptr<const StreamFrame> held;  // a reader's open frame of series 1
  std::weak_ptr<const void> message_of_2;   // the received message of series 2's frame
  for (uint64_t s = 1; s <= 5; ++s) {
    StreamLedger::Change c = l.Apply(Start(s), nullptr);
    if (s == 1) first = c.series;
    if (s == 4) {
      ASSERT_EQ(c.forgotten.size(), 1u);
      EXPECT_EQ(c.forgotten[0]->id, 1u);
    }
    auto message = std::make_shared<int>(1);
    if (s == 2) message_of_2 = message;
    StreamLedger::Change f = l.Apply(Frame(s, 0), std::move(message));
    if (s == 1) held = f.frame;
    l.Apply(End(s), nullptr);
  }
  std::vector<std::shared_ptr<StreamSeries>> kept = l.Series();
  ASSERT_EQ(kept.size(), 3u);  // 2 closed and the last one (closed too, kept until the next)
  EXPECT_EQ(kept[0]->id, 3u);
  // A forgotten series gives its frames back at once, also while someone holds the series
  // (the memory a new frame reuses); a frame a reader holds stays readable.
  EXPECT_EQ(first->frames.size(), 0u);
  EXPECT_TRUE(message_of_2.expired());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->number, 0u);
  EXPECT_TRUE(l.Frame(*kept[2], 0));
  EXPECT_FALSE(l.Frame(*kept[2], 1));
}

TEST(StreamLedgerTest, AStragglerAfterTheEndJoinsItsSeriesAndTheLastNumberDoesNotWrap) {
  StreamLedger l(4);
  l.Apply(Start(1), nullptr);
  l.Apply(Frame(1, 0), std::make_shared<int>(1));
  l.Apply(Frame(1, 2), std::make_shared<int>(1));  // 1 is late (another endpoint of a fan-in)
  l.Apply(End(1), nullptr);
  StreamLedger::Change c = l.Apply(Frame(1, 1), std::make_shared<int>(1));
  ASSERT_TRUE(c.series);
  EXPECT_FALSE(c.series_started);  // no bogus new series
  EXPECT_TRUE(c.frame);
  StreamCounters k = l.counters();
  EXPECT_EQ(k.series, 1u);
  EXPECT_EQ(k.lost, 0u);
  EXPECT_EQ(k.out_of_order, 1u);
  EXPECT_EQ(l.FrameNumbers(*c.series), (std::vector<uint64_t>{0, 1, 2}));
  // A frame number at the top of the range: no wrap to 0 (which would count every later
  // number as a gap of billions).
  l.Apply(Start(2), nullptr);
  l.Apply(Frame(2, UINT64_MAX), std::make_shared<int>(1));
  l.Apply(Frame(2, 5), std::make_shared<int>(1));
  EXPECT_LT(l.counters().lost, 1000u);
}

TEST(StreamLedgerTest, TheRingKeepsTheNewestFramesWithinItsBytes) {
  StreamLedger l(10, 250);
  auto keep = std::make_shared<int>(1);
  l.Apply(Start(1), nullptr);
  l.Apply(Frame(1, 0), keep);
  l.Apply(Frame(1, 1), keep);
  StreamLedger::Change c = l.Apply(Frame(1, 2), keep);  // 300 bytes: the oldest goes
  ASSERT_EQ(c.evicted.size(), 1u);
  EXPECT_EQ(c.evicted[0].first->id, 1u);
  EXPECT_EQ(c.evicted[0].second, 0u);
  EXPECT_EQ(keep.use_count(), 3);  // frames 1 and 2 hold it; frame 0's hold is gone
  EXPECT_EQ(l.FrameNumbers(*l.Open()), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(l.counters().held_bytes, 200u);
  // Across series, oldest first; a reader's frame stays readable.
  std::shared_ptr<const StreamFrame> held = l.Frame(*l.Open(), 1);
  l.Apply(End(1), nullptr);
  l.Apply(Start(2), nullptr);
  c = l.Apply(Frame(2, 0), keep);
  ASSERT_EQ(c.evicted.size(), 1u);
  EXPECT_EQ(c.evicted[0].first->id, 1u);
  EXPECT_EQ(c.evicted[0].second, 1u);
  EXPECT_EQ(held->number, 1u);
  // A frame larger than the ring alone stays (never the newest), the others go.
  c = l.Apply(Frame(2, 1, 400), keep);
  EXPECT_EQ(c.evicted.size(), 2u);
  EXPECT_EQ(l.counters().held_bytes, 400u);
  EXPECT_EQ(l.FrameNumbers(*l.Open()), (std::vector<uint64_t>{1}));
  StreamCounters n = l.counters();
  EXPECT_EQ(n.evicted, 4u);
  EXPECT_EQ(n.frames, 5u);
  EXPECT_EQ(n.lost, 0u);  // evicted frames were received: not lost
}

TEST(StreamLedgerTest, ForgottenSeriesGiveTheirBytesBack) {
  StreamLedger l(1, 1 << 20);
  for (uint64_t s = 1; s <= 3; ++s) {
    l.Apply(Start(s), nullptr);
    l.Apply(Frame(s, 0, 1000), nullptr);
    l.Apply(Frame(s, 1, 1000), nullptr);
    l.Apply(End(s), nullptr);
  }
  // Series 1 was forgotten when series 3 started: its 2000 bytes are not held any more.
  EXPECT_EQ(l.counters().held_bytes, 4000u);
  EXPECT_EQ(l.counters().evicted, 0u);
}

}  // namespace
}  // namespace daqfs
