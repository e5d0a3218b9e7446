#include "fs/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace daqfs {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(MetricsTest, FamiliesHaveOneHelpAndTypeAndGroupTheirSeries) {
  Metrics m;
  m.AddCounter("daqfs_a_total", "A things", Label("tier", "memory")).Add(2);
  m.AddGauge("daqfs_b_bytes", "B bytes", [] { return 7.0; });
  m.AddCounter("daqfs_a_total", "A things", Label("tier", "ssd")).Add(5);
  std::string text = m.Prometheus();
  EXPECT_EQ(text,
            "# HELP daqfs_a_total A things\n"
            "# TYPE daqfs_a_total counter\n"
            "daqfs_a_total{tier=\"memory\"} 2\n"
            "daqfs_a_total{tier=\"ssd\"} 5\n"
            "# HELP daqfs_b_bytes B bytes\n"
            "# TYPE daqfs_b_bytes gauge\n"
            "daqfs_b_bytes 7\n");
}

TEST(MetricsTest, RegisteringASeriesAgainSharesItInsteadOfDuplicatingIt) {
  Metrics m;
  Counter& a = m.AddCounter("daqfs_x_total", "X", Label("source", "s"));
  Counter& b = m.AddCounter("daqfs_x_total", "X", Label("source", "s"));
  EXPECT_EQ(&a, &b);
  Histogram& h1 = m.AddHistogram("daqfs_t_seconds", "T");
  Histogram& h2 = m.AddHistogram("daqfs_t_seconds", "T");
  EXPECT_EQ(&h1, &h2);
  m.AddGauge("daqfs_g", "G", [] { return 1.0; });
  m.AddGauge("daqfs_g", "G", [] { return 2.0; });  // the later reader wins
  a.Add(3);
  std::string text = m.Prometheus();
  EXPECT_EQ(CountOf(text, "daqfs_x_total{source=\"s\"} "), 1) << text;
  EXPECT_EQ(CountOf(text, "\ndaqfs_g "), 1) << text;
  EXPECT_EQ(m.Value("daqfs_x_total", Label("source", "s")), 3);
  EXPECT_EQ(m.Value("daqfs_g"), 2);
  EXPECT_EQ(m.Value("daqfs_missing"), std::nullopt);
}

TEST(MetricsTest, ACounterReaderIsACounterWhoseValueIsReadWhenRendered) {
  Metrics m;
  uint64_t kept = 3;
  m.AddCounterReader(
      "daqfs_kept_total", "Kept", [&kept] { return static_cast<double>(kept); },
      Label("source", "s"));
  std::string text = m.Prometheus();
  EXPECT_NE(text.find("# TYPE daqfs_kept_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("daqfs_kept_total{source=\"s\"} 3\n"), std::string::npos) << text;
  kept = 5;
  EXPECT_EQ(m.Value("daqfs_kept_total", Label("source", "s")), 5.0);
  EXPECT_EQ(m.RemoveLabelled(Label("source", "s")), 1u);
  EXPECT_EQ(m.Value("daqfs_kept_total", Label("source", "s")), std::nullopt);
}

TEST(MetricsTest, TwoKindsUnderOneNameIsAProgrammingError) {
  EXPECT_DEATH(
      {
        Metrics m;
        m.AddCounter("daqfs_y_total", "Y");
        m.AddGauge("daqfs_y_total", "Y", [] { return 0.0; });
      },
      "two kinds");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(Label("source", "a\"b\\c\nd"), "source=\"a\\\"b\\\\c\\nd\"");
  Metrics m;
  m.AddCounter("daqfs_z_total", "line one\nback\\slash", Label("source", "q\"q"));
  std::string text = m.Prometheus();
  EXPECT_NE(text.find("# HELP daqfs_z_total line one\\nback\\\\slash\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("daqfs_z_total{source=\"q\\\"q\"} 0\n"), std::string::npos) << text;
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndInfEqualsCount) {
  Metrics m;
  Histogram& h = m.AddHistogram("daqfs_op_seconds", "Op time", Label("op", "read"), {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = m.Prometheus();
  EXPECT_NE(text.find("# TYPE daqfs_op_seconds histogram\n"
                      "daqfs_op_seconds_bucket{op=\"read\",le=\"0.1\"} 1\n"
                      "daqfs_op_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
                      "daqfs_op_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
                      "daqfs_op_seconds_sum{op=\"read\"} 6.05\n"
                      "daqfs_op_seconds_count{op=\"read\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(h.Quantile(0.5), 1);
  EXPECT_EQ(m.Value("daqfs_op_seconds", Label("op", "read")), 4);
  EXPECT_EQ(m.FindHistogram("daqfs_op_seconds", Label("op", "read")), &h);
}

TEST(MetricsTest, SamplesCarryNoTimestamps) {
  // The node_exporter textfile collector rejects samples with timestamps: every sample line is
  // exactly "series value".
  Metrics m;
  m.AddCounter("daqfs_a_total", "A", Label("k", "v w")).Add(1);
  m.AddGauge("daqfs_b", "B", [] { return 0.25; });
  m.AddHistogram("daqfs_c_seconds", "C").Observe(0.001);
  for (const std::string& line : Lines(m.Prometheus())) {
    if (line.rfind("#", 0) == 0) continue;
    size_t brace = line.rfind('}');
    std::string rest = line.substr(brace != std::string::npos ? brace + 1 : line.find(' '));
    ASSERT_FALSE(rest.empty()) << line;
    EXPECT_EQ(rest[0], ' ') << line;
    EXPECT_EQ(rest.find(' ', 1), std::string::npos) << "a timestamp follows the value: " << line;
  }
}

TEST(MetricsTest, TextSkipsTheFamiliesShownElsewhere) {
  Metrics m;
  m.AddCounter("daqfs_shown_total", "S").Add(1);
  m.AddCounter("daqfs_rest_total", "R").Add(2);
  m.AddHistogram("daqfs_empty_seconds", "E");
  std::string text = m.Text({"daqfs_shown_total"});
  EXPECT_EQ(text, "daqfs_rest_total 2\n");  // the empty histogram is left out too
}

}  // namespace
}  // namespace daqfs

namespace daqfs {
namespace {

TEST(MetricsRemovalTest, RemovedSeriesAreNoLongerRenderedOthersStay) {
  Metrics m;
  Counter& a = m.AddCounter("daqfs_frames_total", "Frames", Label("source", "a"));
  Counter& b = m.AddCounter("daqfs_frames_total", "Frames", Label("source", "b"));
  m.AddGauge(
      "daqfs_ring_bytes", "Ring", [] { return 7.0; }, Label("source", "a"));
  a.Add(2);
  b.Add(3);
  m.Remove("daqfs_frames_total", Label("source", "a"));
  EXPECT_FALSE(m.Value("daqfs_frames_total", Label("source", "a")));
  EXPECT_EQ(m.Value("daqfs_frames_total", Label("source", "b")), 3);
  a.Add();  // a holder may still update it: harmless
  std::string text = m.Prometheus();
  EXPECT_EQ(text.find("source=\"a\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("daqfs_ring_bytes{source=\"a\"} 7"), std::string::npos) << text;
  m.Remove("daqfs_no_such_total");  // ignored
}

TEST(MetricsRemovalTest, RemoveLabelledDropsEverySeriesOfASourceAndEmptyFamilies) {
  Metrics m;
  m.AddCounter("daqfs_frames_total", "Frames", Label("source", "gone")).Add();
  m.AddCounter("daqfs_frames_total", "Frames", Label("source", "gone2")).Add();
  m.AddCounter("daqfs_lost_total", "Lost", Label("source", "gone") + "," + Label("kind", "x"));
  m.AddHistogram("daqfs_wait_seconds", "Wait", Label("source", "gone"));
  bool destroyed = false;
  auto token = std::shared_ptr<int>(new int(1), [&destroyed](int* p) {
    destroyed = true;
    delete p;
  });
  m.AddGauge(
      "daqfs_ring_bytes", "Ring", [token] { return 1.0; }, Label("source", "gone"));
  token.reset();
  EXPECT_EQ(m.RemoveLabelled(Label("source", "gone")), 4u);
  EXPECT_TRUE(destroyed);  // the gauge's reader (and what it holds) went with it
  std::string text = m.Prometheus();
  EXPECT_EQ(text.find("\"gone\""), std::string::npos) << text;
  EXPECT_NE(text.find("source=\"gone2\""), std::string::npos) << text;  // a prefix is no match
  EXPECT_EQ(text.find("daqfs_lost_total"), std::string::npos) << text;  // no empty family
  EXPECT_EQ(text.find("daqfs_wait_seconds"), std::string::npos) << text;
  // Registered again later (the source is back): a fresh series.
  m.AddCounter("daqfs_frames_total", "Frames", Label("source", "gone")).Add(5);
  EXPECT_EQ(m.Value("daqfs_frames_total", Label("source", "gone")), 5);
}

}  // namespace
}  // namespace daqfs
