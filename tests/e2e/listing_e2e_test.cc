// How listings reach the kernel ([mount] readdirplus) on a real mount: after a shell's glob over
// a folder of 400 files, `cat` of every one asks daqfs no lookup with `always` (each listing
// batch carried the entries and their attributes), one per file with `auto` (the kernel sends
// attributes with the first batch only). With `always` the kernel knows every file, so the
// sibling prefetch hands most of them to its page cache before `cat` opens them (few reads
// reach daqfs); the bytes are the same either way.
#include <string>

#include "e2e_harness.h"

namespace daqfs::e2e {
namespace {

constexpr int kFiles = 400;

class ListingE2eTest : public MountTest {
 protected:
  ListingE2eTest() : MountTest("daqfs-listing-e2e") {}
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    // 400 members of 4 KiB..8 KiB with names long enough for several listing batches.
    ASSERT_EQ(
        Sh("set -e; mkdir -p " + Q(dir_ / "src/frames") + "; cd " + Q(dir_ / "src") +
           "; for i in $(seq -w 1 " + std::to_string(kFiles) +
           "); do head -c $((4096 + 10#$i)) /dev/urandom > frames/frame_of_a_long_series_$i.bin;"
           " done; tar --sort=name -cf " +
           Q(dir_ / "frames.tar") + " frames")
            .exit_code,
        0);
  }
  struct Counts {
    double lookups = 0, reads = 0, stored = 0;
  };
  // Mounts with `readdirplus`, cats every member through a glob, compares the bytes with the
  // tar's, and returns the lookups and reads daqfs answered meanwhile and the files it stored.
  Counts GlobScan(const std::string& readdirplus) {
    // cache = memory: members go through the block cache and its sibling prefetch.
    MountConfig("[mount]\nreaddirplus = " + readdirplus + "\n[source s]\ntype = archive\npath = " +
                (dir_ / "frames.tar") + "\ncache = memory\n");
    const std::string folder = mnt_ + "/s/frames.tar/frames";
    EXPECT_EQ(Sh("ls " + Q(folder) + " | wc -l").output, std::to_string(kFiles) + "\n");
    const std::string lookups = "daqfs_fuse_requests_total{op=\"lookup\"}";
    const std::string reads = "daqfs_fuse_requests_total{op=\"read\"}";
    std::string before = Slurp(mnt_ + "/.daqfs/metrics");
    CmdResult cat = Sh("cd " + Q(folder) + " && cat frame_of_a_long_series_*.bin | md5sum");
    std::string after = Slurp(mnt_ + "/.daqfs/metrics");
    CmdResult want = Sh("tar -xOf " + Q(dir_ / "frames.tar") + " | md5sum");
    EXPECT_EQ(cat.exit_code, 0) << cat.output;
    EXPECT_EQ(cat.output, want.output);
    EXPECT_EQ(daemon_.Unmount(), 0);
    EXPECT_GE(Series(before, lookups), 0);
    return Counts{Series(after, lookups) - Series(before, lookups),
                  Series(after, reads) - Series(before, reads),
                  Series(after, "daqfs_prefetch_stored_files_total")};
  }
};

TEST_F(ListingE2eTest, AlwaysMeansNoLookupPerFileAfterAGlobAndFilesReachThePageCacheFirst) {
  // Each mount starts with a cold kernel: nothing is cached from the other.
  Counts always = GlobScan("always");
  Counts automatic = GlobScan("auto");
  EXPECT_LT(always.lookups, 10);
  EXPECT_GT(automatic.lookups, kFiles / 2);
  // Nearly every file was in the page cache before `cat` opened it: far fewer reads than files
  // (without a store each file costs at least one).
  EXPECT_GT(always.stored, kFiles / 2);
  EXPECT_LT(always.reads, kFiles / 2);
  EXPECT_GE(automatic.reads + automatic.stored, kFiles - 2);
}

}  // namespace
}  // namespace daqfs::e2e
