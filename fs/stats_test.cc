#include "fs/stats.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "fs/version.h"

namespace daqfs {
namespace {

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// A Stats as a mount has it: sources, both cache tiers, prefetch and an archive source's
// counters, with some traffic.
void Populate(Stats& s) {
  s.AddSource(0, ".daqfs");
  s.AddSource(1, "mwa");
  s.AddSource(2, "eiger b7");
  s.Count(Op::kRead, false, 0.002);
  s.Count(Op::kRead, true, 0.02);
  s.Count(Op::kLookup, false, 0.0001);
  s.CountOpen(1);
  s.CountRead(1, 1 << 20);
  s.CountRead(2, 10);
  s.CountReadError(2, true);
  Metrics& m = s.metrics();
  for (const char* tier : {"memory", "ssd"}) {
    std::string t = Label("tier", tier);
    m.AddCounter("daqfs_cache_hits_total", "hits", t).Add(tier[0] == 'm' ? 11 : 22);
    m.AddCounter("daqfs_cache_misses_total", "misses", t).Add(3);
    m.AddGauge(
        "daqfs_cache_bytes", "bytes", [] { return 4096.0; }, t);
    m.AddGauge(
        "daqfs_cache_budget_bytes", "budget", [] { return 1 << 30; }, t);
  }
  m.AddCounter("daqfs_cache_checksum_failures_total", "bad", Label("tier", "ssd")).Add(1);
  m.AddCounter("daqfs_prefetch_issued_total", "issued").Add(8);
  m.AddCounter("daqfs_archive_index_errors_total", "index", Label("source", "mwa")).Add(1);
  m.AddCounter("daqfs_index_file_rejected_total", "rejected", Label("source", "mwa")).Add(2);
  std::string b7 = Label("source", "eiger b7");
  m.AddCounter("daqfs_hdf5_units_read_total", "units", b7 + "," + Label("path", "fallback"))
      .Add(40);
  m.AddCounter("daqfs_hdf5_units_read_total", "units", b7 + "," + Label("path", "fast")).Add(1200);
  m.AddCounter("daqfs_hdf5_read_errors_total", "errors", b7).Add(3);
  m.AddCounter("daqfs_hdf5_file_errors_total", "files", b7).Add(1);
  m.AddGauge(
      "daqfs_hdf5_open_files", "open", [] { return 7.0; }, b7);
  m.AddCounter("daqfs_something_new_total", "unknown to the layout").Add(5);
}

TEST(StatsTest, PrometheusHasBuildInfoStartTimeAndPerSourceSeries) {
  Stats s;
  Populate(s);
  std::string text = s.Prometheus();
  EXPECT_NE(text.find("# TYPE daqfs_build_info gauge\ndaqfs_build_info{version=\"" +
                      std::string(DaqfsVersion()) + "\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_FALSE(std::string(DaqfsVersion()).empty());
  std::optional<double> start = s.metrics().Value("daqfs_start_time_seconds");
  ASSERT_TRUE(start);
  EXPECT_NEAR(*start, static_cast<double>(time(nullptr)), 60);
  EXPECT_NE(text.find("daqfs_read_bytes_total{source=\"mwa\"} 1048576\n"), std::string::npos);
  EXPECT_NE(text.find("daqfs_read_errors_total{source=\"eiger b7\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("daqfs_corrupt_reads_total{source=\"eiger b7\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("daqfs_opens_total{source=\".daqfs\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE daqfs_fuse_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("daqfs_fuse_errors_total{op=\"read\"} 1\n"), std::string::npos);
  // One family, one HELP.
  EXPECT_EQ(CountOf(text, "# HELP daqfs_fuse_requests_total "), 1);
  EXPECT_EQ(s.bytes_read(), (1u << 20) + 10);
}

TEST(StatsTest, PrometheusPassesPromtoolCheckMetrics) {
  ASSERT_EQ(system("command -v promtool >/dev/null"), 0)
      << "promtool missing: run tools/install-deps.sh (Debian package prometheus)";
  Stats s;
  Populate(s);
  char path[] = "/tmp/daqfs-stats-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << s.Prometheus();
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  unlink(path);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << out;
  EXPECT_EQ(out, "") << out;
}

TEST(StatsTest, FormatShowsEachFigureOnce) {
  Stats s;
  Populate(s);
  std::string text = s.Format();
  EXPECT_EQ(text.rfind("daqfs " + std::string(DaqfsVersion()) + ", started ", 0), 0u) << text;
  // The operations table has one row per operation, with requests and errors side by side.
  EXPECT_EQ(CountOf(text, "\nread                    2        1 "), 1) << text;
  EXPECT_NE(text.find("\nall                     3        1"), std::string::npos) << text;
  // Per source, once each.
  EXPECT_EQ(CountOf(text, "\nmwa "), 1) << text;
  EXPECT_EQ(CountOf(text, "\neiger b7 "), 1) << text;
  EXPECT_EQ(CountOf(text, "1048576 (1.0 MiB)"), 1) << text;
  // The tiers side by side in one table.
  EXPECT_NE(text.find("cache                              memory                      ssd\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nhits                                   11                       22\n"),
            std::string::npos)
      << text;
  // Errors: the archive source's and the SSD's.
  EXPECT_NE(text.find("archive index errors mwa     1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("index files rejected mwa     2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ssd checksum failures        1\n"), std::string::npos) << text;
  // The HDF5 source's figures.
  EXPECT_NE(text.find("hdf5 eiger b7    1200 units decoded by the fast path, 40 read with H5Dread, "
                      "7 files open\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hdf5 read errors eiger b7    3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hdf5 files skipped eiger b7  1\n"), std::string::npos) << text;
  // No registered figure is dumped again by its metric name, but unknown ones are not lost.
  for (const char* name :
       {"daqfs_fuse_requests_total", "daqfs_fuse_errors_total", "daqfs_read_bytes_total",
        "daqfs_cache_hits_total", "daqfs_prefetch_issued_total", "daqfs_build_info",
        "daqfs_archive_index_errors_total", "daqfs_hdf5_units_read_total", "daqfs_hdf5_open_files",
        "daqfs_hdf5_read_errors_total"}) {
    EXPECT_EQ(text.find(name), std::string::npos) << name << "\n" << text;
  }
  EXPECT_EQ(CountOf(text, "daqfs_something_new_total 5\n"), 1) << text;
}

}  // namespace
}  // namespace daqfs
