// The page cache behind sequential readers ([mount] drop_behind, fs/drop_behind.h) on a real
// mount: `fincore` counts the pages the kernel holds of a file read through daqfs. A scan keeps
// only about the last drop_behind bytes; a second pass marks the file as re-read and it stays
// whole from then on; with drop_behind = 0 the kernel keeps everything; the bytes are right in
// every case.
#include <string>
#include <thread>

#include "e2e_harness.h"

namespace daqfs::e2e {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kMemberBytes = 96 * kMiB;

class PageCacheE2eTest : public MountTest {
 protected:
  PageCacheE2eTest() : MountTest("page-cache") {}
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    ASSERT_EQ(Sh("set -e; mkdir -p " + Q(dir_ / "src") + "; head -c " +
                 std::to_string(kMemberBytes) + " /dev/urandom > " + Q(dir_ / "src/member.bin") +
                 "; tar -cf " + Q(dir_ / "plain.tar") + " -C " + Q(dir_ / "src") + " member.bin")
                  .exit_code,
              0);
    member_ = mnt_ + "/s/plain.tar/member.bin";
  }
  void Mount(const std::string& drop_behind) {
    MountConfig("[mount]\nlog_level = debug\ndrop_behind = " + drop_behind +
                "\n[cache]\nmemory = 64M\ndisk = 0\n[source s]\ntype = archive\npath = " +
                (dir_ / "plain.tar") + "\n");
  }
  // Bytes of `path` in the page cache (fincore, util-linux).
  static uint64_t Resident(const std::string& path) {
    CmdResult r = Sh("fincore --bytes --noheadings --output RES " + Q(path));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return std::stoull(r.output);
  }
  // Waits up to 5 s for the notifier thread to have sent the drops (resident <= most).
  static uint64_t ResidentAtMost(const std::string& path, uint64_t most) {
    uint64_t res = Resident(path);
    for (int i = 0; i < 100 && res > most; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      res = Resident(path);
    }
    return res;
  }
  uint64_t Metric(const std::string& name) {
    CmdResult r = Sh("grep '^" + name + " ' " + Q(mnt_ + "/.daqfs/metrics") + " | cut -d' ' -f2");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output.empty() ? 0 : std::stoull(r.output);
  }

  std::string member_;
};

TEST_F(PageCacheE2eTest, AScanKeepsOnlyTheLastPagesAndARereadFileStaysWhole) {
  Mount("16M");
  ASSERT_EQ(Sh("cat " + Q(member_) + " > /dev/null").exit_code, 0);
  // The last 16 MiB read, plus what read-ahead fetched beyond the reader (4 MiB) and pages
  // being dropped.
  uint64_t res = ResidentAtMost(member_, 24 * kMiB);
  EXPECT_LE(res, 24 * kMiB);
  EXPECT_GE(res, 8 * kMiB);  // the recent pages stay
  EXPECT_GE(Metric("daqfs_page_cache_dropped_bytes_total"), kMemberBytes - 24 * kMiB);
  EXPECT_EQ(Metric("daqfs_page_cache_kept_files_total"), 0u);
  // A second pass asks for dropped pages again: the bytes are right, and the file is kept.
  CmdResult cmp = Sh("cmp " + Q(member_) + " " + Q(dir_ / "src/member.bin"));
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  EXPECT_EQ(Metric("daqfs_page_cache_kept_files_total"), 1u);
  ASSERT_EQ(Sh("cat " + Q(member_) + " > /dev/null").exit_code, 0);
  EXPECT_GE(Resident(member_), kMemberBytes - kMiB);  // (the kernel may have let a few go)
  EXPECT_EQ(Metric("daqfs_page_cache_kept_files_total"), 1u);
  EXPECT_EQ(daemon_.Unmount(), 0);
}

// 1 MiB reads far apart through one open file (more than 16 MiB from where the last one
// ended), 24 MiB in all against 16 MiB kept (and 8 MiB of batch): random access, never dropped
// behind. Then a memory map read
// whole (numpy.memmap: page faults become reads) is dropped behind like a scan, and its bytes
// are right (dropped pages are unmapped and read again when touched).
TEST_F(PageCacheE2eTest, RandomReadsAreNotDroppedAndAMemoryMapReadsRightBytes) {
  Mount("16M");
  std::string script = dir_ / "far_reads.py";
  WriteFile(script,
            "import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no kernel read-ahead\n"
            "for mib in (20, 60, 38, 80, 56, 2, 30, 70, 10, 50, 90, 27, 67, 5, 45, 85, 24, 64,\n"
            "            12, 52, 92, 33, 73, 15):\n"
            "    assert len(os.pread(fd, 1 << 20, mib << 20)) == 1 << 20\n");
  CmdResult r = Sh("/usr/bin/python3 " + Q(script) + " " + Q(member_));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Metric("daqfs_page_cache_dropped_bytes_total"), 0u);
  EXPECT_GE(Resident(member_), 24 * kMiB);
  script = dir_ / "memmap.py";
  WriteFile(script,
            "import sys, numpy\n"
            "m = numpy.memmap(sys.argv[1], dtype=numpy.uint8, mode='r')\n"
            "want = numpy.fromfile(sys.argv[2], dtype=numpy.uint8)\n"
            "for a in range(0, len(want), 1 << 20):\n"
            "    assert numpy.array_equal(m[a:a + (1 << 20)], want[a:a + (1 << 20)]), a\n"
            "assert numpy.array_equal(m, want)\n");
  r = Sh("/usr/bin/python3 " + Q(script) + " " + Q(member_) + " " + Q(dir_ / "src/member.bin"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(Metric("daqfs_page_cache_dropped_bytes_total"), 0u);
  EXPECT_EQ(daemon_.Unmount(), 0);
}

TEST_F(PageCacheE2eTest, OffKeepsEverything) {
  Mount("0");
  ASSERT_EQ(Sh("cat " + Q(member_) + " > /dev/null").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GE(Resident(member_), kMemberBytes - kMiB);  // (the kernel may have let a few go)
  CmdResult r = Sh("grep -c daqfs_page_cache_dropped_bytes_total " + Q(mnt_ + "/.daqfs/metrics"));
  EXPECT_EQ(r.output, "0\n");  // no drop-behind, no metric
  EXPECT_EQ(daemon_.Unmount(), 0);
}

}  // namespace
}  // namespace daqfs::e2e
