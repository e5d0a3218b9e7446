// End-to-end tests of what operators use on a real mount: .daqfs/metrics passes
// `promtool check metrics` (build info, per-source labels, both cache tiers), the node_exporter
// textfile script writes a valid file atomically, `daqfs-cache stats` counts every file of a
// cache folder, and `daqfs-cache warm` refuses paths outside a daqfs mount and draws its bar
// only on a terminal.
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

std::string Tool(const std::string& name) { return std::string(DAQFS_BINARY_DIR) + "/" + name; }
std::string Script() { return std::string(DAQFS_BINARY_DIR) + "/daqfs-metrics-textfile"; }

class OpsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
    ASSERT_EQ(Sh("command -v promtool").exit_code, 0)
        << "promtool missing: run tools/install-deps.sh (Debian package prometheus)";
    mnt_ = dir_ / "mnt";
    cache_ = dir_ / "cache";
    ASSERT_EQ(Sh("set -e; mkdir -p " + Q(mnt_) + " " + Q(dir_ / "a") + " " + Q(dir_ / "b") + " " +
                 Q(dir_ / "src") + "; cd " + Q(dir_ / "src") +
                 "; head -c 3M /dev/urandom > one.bin; head -c 100K /dev/urandom > two.bin;"
                 " tar -cf ../a/a.tar one.bin two.bin; tar -cf ../b/b.tar two.bin")
                  .exit_code,
              0);
    // Two sources; "beam b" has a space (labels are quoted); cache = disk sends plain tar
    // members through both tiers.
    WriteFile(dir_ / "daqfs.ini", "[cache]\ndir = " + cache_ +
                                      "\nmemory = 64M\ndisk = 1G\n[source alpha]\ntype = archive\n"
                                      "path = " +
                                      dir_ / "a" +
                                      "\ncache = disk\n"
                                      "[source beam b]\ntype = archive\npath = " +
                                      dir_ / "b" + "\n");
  }
  void TearDown() override {
    if (HasFailure() && daemon_.pid() > 0) {
      std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
    }
  }
  void Mount() { ASSERT_TRUE(daemon_.Start({dir_ / "daqfs.ini", mnt_}, mnt_, dir_ / "log")); }
  // Reads one.bin twice (the second time with O_DIRECT, past the page cache, so daqfs serves it
  // again) and two.bin from the other source.
  void ReadSome() {
    std::string one = Q(mnt_ + "/alpha/a.tar/one.bin");
    ASSERT_EQ(Sh("cat " + one + " > /dev/null && dd if=" + one +
                 " of=/dev/null bs=1M iflag=direct status=none && cat " +
                 Q(mnt_ + "/beam b/b.tar/two.bin") + " > /dev/null")
                  .exit_code,
              0);
  }

  TempDir dir_;
  std::string mnt_, cache_;
  DaqfsProcess daemon_;
};

TEST_F(OpsE2eTest, MetricsPassPromtoolWithBuildInfoSourcesAndTiers) {
  Mount();
  ReadSome();
  // A read of a missing member and a failed lookup count as errors, not as malformed output.
  Sh("cat " + Q(mnt_ + "/alpha/a.tar/missing") + " 2>/dev/null");
  std::string metrics = Slurp(mnt_ + "/.daqfs/metrics");
  WriteFile(dir_ / "metrics.prom", metrics);
  CmdResult check = Sh("promtool check metrics < " + Q(dir_ / "metrics.prom"));
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << metrics;
  EXPECT_EQ(check.output, "") << "promtool complained:\n" << check.output;

  EXPECT_NE(metrics.find("\ndaqfs_build_info{version=\""), std::string::npos) << metrics;
  EXPECT_GT(Series(metrics, "daqfs_start_time_seconds"), 1.7e9) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_read_bytes_total{source=\"alpha\"}"), 6 << 20) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_read_bytes_total{source=\"beam b\"}"), 100 << 10) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_opens_total{source=\"alpha\"}"), 2) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_read_errors_total{source=\"alpha\"}"), 0) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_archive_index_errors_total{source=\"alpha\"}"), 0) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_index_file_rejected_total{source=\"beam b\"}"), 0) << metrics;
  // Both tiers under the same names. Every block read asks the memory tier first (whether it
  // hits depends on timing: a scanned block leaves RAM once the SSD tier keeps it).
  EXPECT_GE(Series(metrics, "daqfs_cache_hits_total{tier=\"memory\"}") +
                Series(metrics, "daqfs_cache_misses_total{tier=\"memory\"}"),
            3)
      << metrics;
  EXPECT_GE(Series(metrics, "daqfs_cache_hits_total{tier=\"ssd\"}"), 0) << metrics;
  EXPECT_GE(Series(metrics, "daqfs_cache_misses_total{tier=\"ssd\"}"), 1) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_cache_budget_bytes{tier=\"memory\"}"), 64 << 20) << metrics;
  EXPECT_EQ(Series(metrics, "daqfs_cache_budget_bytes{tier=\"ssd\"}"), 1 << 30) << metrics;
  EXPECT_EQ(metrics.find("daqfs_disk_cache_"), std::string::npos) << metrics;

  // The human view shows the sources and the tiers side by side.
  std::string stats = Slurp(mnt_ + "/.daqfs/stats");
  EXPECT_NE(stats.find("\nalpha "), std::string::npos) << stats;
  EXPECT_NE(stats.find("\nbeam b "), std::string::npos) << stats;
  EXPECT_NE(stats.find("memory                      ssd\n"), std::string::npos) << stats;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(OpsE2eTest, TextfileScriptWritesAValidFileAtomically) {
  Mount();
  ReadSome();
  std::string out_dir = dir_ / "textfile";
  ASSERT_EQ(Sh("mkdir -p " + Q(out_dir)).exit_code, 0);
  std::string prom = out_dir + "/daqfs-daq.prom";
  CmdResult once = Sh(Script() + " " + Q(mnt_) + " " + Q(out_dir) + " daq");
  ASSERT_EQ(once.exit_code, 0) << once.output;
  CmdResult check = Sh("promtool check metrics < " + Q(prom));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "") << check.output;
  EXPECT_NE(Slurp(prom).find("daqfs_read_bytes_total{source=\"alpha\"}"), std::string::npos);

  // Atomic: every run replaces the file by rename (a new inode), leaving no temp file behind.
  struct stat before, after;
  ASSERT_EQ(stat(prom.c_str(), &before), 0);
  ASSERT_EQ(Sh(Script() + " " + Q(mnt_) + " " + Q(out_dir) + " daq").exit_code, 0);
  ASSERT_EQ(stat(prom.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(Sh("ls -A " + Q(out_dir)).output, "daqfs-daq.prom\n");
  EXPECT_EQ(after.st_mode & 0777, 0644u);
  // While the script rewrites the file over and over, every read sees a whole exposition.
  CmdResult race = Sh("(for i in $(seq 40); do " + Script() + " " + Q(mnt_) + " " + Q(out_dir) +
                      " daq || exit 1; done) & w=$!; bad=0; for i in $(seq 400); do "
                      "tail -c 1 " +
                      Q(prom) +
                      " | od -An -c | grep -q '\\\\n' || bad=1; "
                      "grep -q '^daqfs_build_info{' " +
                      Q(prom) +
                      " || bad=1; done; "
                      "wait $w || bad=2; echo bad=$bad");
  EXPECT_NE(race.output.find("bad=0"), std::string::npos) << race.output;

  // A mount that is gone leaves no stale file.
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
  CmdResult gone = Sh(Script() + " " + Q(mnt_) + " " + Q(out_dir) + " daq");
  EXPECT_EQ(gone.exit_code, 1) << gone.output;
  EXPECT_EQ(Sh("ls -A " + Q(out_dir)).output, "");
}

TEST_F(OpsE2eTest, CacheStatsCountsEveryFileOfTheFolder) {
  // A .tar.zst written by `tar --zstd` is one frame: it is spilled decompressed (a blob).
  ASSERT_EQ(Sh("cd " + Q(dir_ / "src") + " && tar --zstd -cf ../a/c.tar.zst two.bin").exit_code, 0);
  Mount();
  ReadSome();
  ASSERT_EQ(Sh("cat " + Q(mnt_ + "/alpha/c.tar.zst/two.bin") + " > /dev/null").exit_code, 0);
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
  // Plus what a crash leaves and what someone else dropped there.
  WriteFile(cache_ + "/v1/tmp/crashed.tmp", std::string(123, 'x'));
  WriteFile(cache_ + "/notes.txt", "hello\n");

  CmdResult stats = Sh(Tool("daqfs-cache") + " stats --dir " + Q(cache_));
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  CmdResult sum =
      Sh("find " + Q(cache_) + " ! -type d -printf '%s\\n' | awk '{s+=$1} END {print s}'");
  CmdResult files = Sh("find " + Q(cache_) + " ! -type d | wc -l");
  std::string want_total = "total       " + std::to_string(std::stoull(files.output)) + " files, " +
                           std::to_string(std::stoull(sum.output)) + " bytes";
  EXPECT_NE(stats.output.find(want_total), std::string::npos) << want_total << "\n" << stats.output;
  for (const char* kind : {"blocks      ", "blobs       ", "lru         "}) {
    size_t at = stats.output.find(std::string("\n") + kind);
    ASSERT_NE(at, std::string::npos) << kind << "\n" << stats.output;
    EXPECT_NE(stats.output.compare(at + 13, 2, "0 "), 0) << kind << " counted nothing\n"
                                                         << stats.output;
  }
  EXPECT_NE(stats.output.find("\ntemp files  1 files, 123 bytes"), std::string::npos)
      << stats.output;
  EXPECT_NE(stats.output.find("\nother       1 files, 6 bytes"), std::string::npos) << stats.output;
}

TEST_F(OpsE2eTest, WarmRefusesPathsOutsideADaqfsMount) {
  CmdResult r = Sh(Tool("daqfs-cache") + " warm " + Q(dir_ / "src"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is not inside a daqfs mount"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("warmed"), std::string::npos) << r.output;
  // Also when only one of several paths is outside, and for the folder under a mount point.
  Mount();
  CmdResult mixed = Sh(Tool("daqfs-cache") + " warm " + Q(mnt_ + "/alpha") + " " + Q(dir_ / "src"));
  EXPECT_EQ(mixed.exit_code, 1) << mixed.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
  CmdResult under = Sh(Tool("daqfs-cache") + " warm " + Q(mnt_));
  EXPECT_EQ(under.exit_code, 1) << under.output;
}

TEST_F(OpsE2eTest, WarmDoesNotFollowSymlinksOutOfTheMountOrRoundInCircles) {
  // Members that are symlinks to a big folder outside the mount and to their own parent.
  ASSERT_EQ(Sh("set -e; cd " + Q(dir_ / "src") + "; mkdir -p out; head -c 2M /dev/urandom > " +
               "out/outside.bin; mkdir w; cp two.bin w/; ln -s " + Q(dir_ / "src/out") +
               " w/docs; ln -s .. w/up; tar -cf ../a/w.tar -C w .")
                .exit_code,
            0);
  Mount();
  CmdResult r = Sh(Tool("daqfs-cache") + " warm " + Q(mnt_ + "/alpha/w.tar"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("warmed 1 files, 100.0 KiB", 0), 0u) << r.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(OpsE2eTest, WarmDrawsItsBarOnlyOnATerminal) {
  Mount();
  // Into a pipe: the summary only.
  CmdResult piped = Sh(Tool("daqfs-cache") + " warm " + Q(mnt_ + "/alpha") + " 2>&1 | cat");
  EXPECT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(piped.output.rfind("warmed 2 files, ", 0), 0u) << piped.output;
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find("[#"), std::string::npos) << piped.output;
  // On a terminal (script(1) gives it one) the same command draws the bar.
  CmdResult tty =
      Sh("script -qec " + Q(Tool("daqfs-cache") + " warm " + Q(mnt_ + "/alpha")) + " /dev/null");
  EXPECT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_NE(tty.output.find("\r["), std::string::npos) << tty.output;
  EXPECT_NE(tty.output.find("warmed 2 files, "), std::string::npos) << tty.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

}  // namespace
}  // namespace daqfs::e2e
