// End-to-end test of the per-source in-flight limit (fs/inflight_limit.h): a source whose
// storage stops answering holds at most max_inflight FUSE workers; other sources and .daqfs/
// keep answering, and the stuck source's further reads fail with EIO after stuck_timeout,
// counted in daqfs_source_stuck_total. The stuck storage is simulate_latency_ms: every read of
// the slow source takes 4 s, far longer than the 0.5 s stuck_timeout.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

TEST(StuckE2eTest, AStuckSourceHoldsOnlyItsLimitAndFailsFurtherReadsWithEio) {
  if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
  TempDir dir;
  std::string mnt = dir / "mnt";
  ASSERT_EQ(
      Sh("mkdir -p " + Q(mnt) + " " + Q(dir / "slow") + " " + Q(dir / "fast") + " " +
         Q(dir / "src") + " && cd " + Q(dir / "src") +
         " && head -c 65536 /dev/urandom > a.bin && head -c 65536 /dev/urandom > b.bin"
         " && head -c 65536 /dev/urandom > c.bin && tar -cf " +
         Q(dir / "slow/s.tar") + " a.bin b.bin && tar -cf " + Q(dir / "fast/f.tar") + " c.bin")
          .exit_code,
      0);
  std::string cfg = dir / "daqfs.ini";
  // No prefetch, no cache: the only reads of the slow source are the test's own.
  WriteFile(cfg, "[mount]\nthreads = 8\n[cache]\ndir = " + dir / "cache" +
                     "\ndisk = 0\nprefetch_window = 0\n"
                     "[source slow]\ntype = archive\npath = " +
                     dir / "slow" +
                     "\ncache = none\nsimulate_latency_ms = 4000\nmax_inflight = 1\n"
                     "stuck_timeout = 0.5\n"
                     "[source fast]\ntype = archive\npath = " +
                     dir / "fast" + "\n");
  DaqfsProcess daemon;
  ASSERT_TRUE(daemon.Start({cfg, mnt}, mnt, dir / "daqfs.log"));
  const std::string kInflight = "daqfs_source_inflight{source=\"slow\"}";
  const std::string kStuck = "daqfs_source_stuck_total{source=\"slow\"}";
  EXPECT_EQ(Series(Slurp(mnt + "/.daqfs/metrics"), kStuck), 0);

  // Opened while the source answers; read once it is stuck.
  int fd_b = open((mnt + "/slow/s.tar/b.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd_b, 0) << daemon.Log();

  // A reader of the slow source takes its only slot for 4 s.
  auto stuck_reader = std::async(std::launch::async, [&] {
    return Sh("cat " + Q(mnt + "/slow/s.tar/a.bin") + " > /dev/null");
  });
  SteadyClock::time_point deadline = SteadyClock::now() + std::chrono::seconds(3);
  while (Series(Slurp(mnt + "/.daqfs/metrics"), kInflight) != 1 && SteadyClock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(Series(Slurp(mnt + "/.daqfs/metrics"), kInflight), 1) << daemon.Log();
  SteadyClock::time_point stuck_since = SteadyClock::now();

  // The other source and .daqfs/ answer meanwhile.
  EXPECT_EQ(Slurp(mnt + "/fast/f.tar/c.bin"), Slurp(dir / "src/c.bin"));
  EXPECT_NE(Slurp(mnt + "/.daqfs/stats"), "");
  EXPECT_EQ(Sh("ls " + Q(mnt)).output, "fast\nslow\n");

  // A second read of the stuck source waits stuck_timeout, then fails with EIO.
  char buf[4096];
  SteadyClock::time_point start = SteadyClock::now();
  ssize_t n = pread(fd_b, buf, sizeof buf, 0);
  int err = errno;
  double waited = Seconds(start);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EIO);
  EXPECT_GE(waited, 0.5);
  // All of the above happened while the first reader was still stuck.
  EXPECT_LT(Seconds(stuck_since), 3.5);
  EXPECT_EQ(Series(Slurp(mnt + "/.daqfs/metrics"), kInflight), 1);
  // Counted: once or twice (the kernel's page cache retries a failed read-ahead page once).
  double stuck = Series(Slurp(mnt + "/.daqfs/metrics"), kStuck);
  EXPECT_GE(stuck, 1);
  EXPECT_LE(stuck, 2);

  // Once the storage answers, the slot is free and the source reads again.
  stuck_reader.wait();
  EXPECT_EQ(Series(Slurp(mnt + "/.daqfs/metrics"), kInflight), 0);
  close(fd_b);
  EXPECT_EQ(daemon.Unmount(), 0) << daemon.Log();
}

}  // namespace
}  // namespace daqfs::e2e
