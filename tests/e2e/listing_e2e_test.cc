// How listings reach the kernel ([mount] readdirplus) on a real mount: after a shell's glob over
// a folder of 400 files, `cat` of every one asks daqfs no lookup with `always` (each listing
// batch carried the entries and their attributes), one per file with `auto` (the kernel sends
// attributes with the first batch only); the bytes are the same either way.
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
  // Mounts with `readdirplus`, cats every member through a glob, compares the bytes with the
  // tar's, and returns the lookups daqfs answered meanwhile.
  double LookupsOfAGlobScan(const std::string& readdirplus) {
    MountConfig("[mount]\nreaddirplus = " + readdirplus +
                "\n[source s]\ntype = archive\npath = " + (dir_ / "frames.tar") + "\n");
    const std::string folder = mnt_ + "/s/frames.tar/frames";
    EXPECT_EQ(Sh("ls " + Q(folder) + " | wc -l").output, std::to_string(kFiles) + "\n");
    double before =
        Series(Slurp(mnt_ + "/.daqfs/metrics"), "daqfs_fuse_requests_total{op=\"lookup\"}");
    CmdResult cat = Sh("cd " + Q(folder) + " && cat frame_of_a_long_series_*.bin | md5sum");
    double after =
        Series(Slurp(mnt_ + "/.daqfs/metrics"), "daqfs_fuse_requests_total{op=\"lookup\"}");
    CmdResult want = Sh("tar -xOf " + Q(dir_ / "frames.tar") + " | md5sum");
    EXPECT_EQ(cat.exit_code, 0) << cat.output;
    EXPECT_EQ(cat.output, want.output);
    EXPECT_EQ(daemon_.Unmount(), 0);
    EXPECT_GE(before, 0);
    return after - before;
  }
};

TEST_F(ListingE2eTest, AlwaysMeansNoLookupPerFileAfterAGlob) {
  // Each mount starts with a cold kernel: nothing is cached from the other.
  double always = LookupsOfAGlobScan("always");
  double automatic = LookupsOfAGlobScan("auto");
  EXPECT_LT(always, 10) << "lookups with readdirplus = always";
  EXPECT_GT(automatic, kFiles / 2) << "lookups with readdirplus = auto";
}

}  // namespace
}  // namespace daqfs::e2e
