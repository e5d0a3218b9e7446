// Mount point checks without FUSE: canonical paths, the mount table, and the refusals a real
// mount point (a tmpfs of the test's own) and folders with files get. The dead-mount case needs
// a FUSE daemon that dies: tests/e2e/safety_e2e_test.cc.
#include "fs/fuse/mount_point.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

class MountPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char real[PATH_MAX];
    ASSERT_NE(realpath(temp_.path().c_str(), real), nullptr);
    dir_ = real;
  }
  void TearDown() override {
    if (tmpfs_) std::system(("umount " + dir_ + "/m").c_str());
  }
  testing::TempDir temp_{"mountpoint"};
  std::string dir_;
  bool tmpfs_ = false;
};

TEST_F(MountPointTest, CanonicalFormResolvesTheParentOnly) {
  ASSERT_EQ(mkdir((dir_ + "/m").c_str(), 0755), 0);
  ASSERT_EQ(symlink((dir_ + "/m").c_str(), (dir_ + "/link").c_str()), 0);
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/m"), dir_ + "/m");
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/m///"), dir_ + "/m");
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/./m"), dir_ + "/m");
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/m/."), dir_ + "/m");
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/link"), dir_ + "/m");  // the kernel mounts on the target
  EXPECT_EQ(*CanonicalMountPoint(dir_ + "/not-yet"), dir_ + "/not-yet");  // itself never resolved
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  Result<std::string> rel = CanonicalMountPoint("m");
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_EQ(*rel, dir_ + "/m");
  EXPECT_FALSE(CanonicalMountPoint(dir_ + "/no/such/m").ok());
  EXPECT_FALSE(CanonicalMountPoint("").ok());
}

TEST_F(MountPointTest, FindMountReadsTheMountTable) {
  std::optional<MountEntry> proc = FindMount("/proc");
  ASSERT_TRUE(proc.has_value());
  EXPECT_EQ(proc->fstype, "proc");
  EXPECT_FALSE(IsDaqfsMount(*proc));
  EXPECT_FALSE(FindMount(dir_).has_value());
  EXPECT_TRUE(IsDaqfsMount(MountEntry{"/m", "fuse.daqfs", "daqfs", 0}));
}

TEST_F(MountPointTest, MistakesAreRefusedWithWhatToDo) {
  Result<std::string> missing = PrepareMountPoint(dir_ + "/m", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "mount point " + dir_ + "/m: No such file or directory");
  std::ofstream(dir_ + "/file") << "x";
  Result<std::string> file = PrepareMountPoint(dir_ + "/file", false);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), "mount point " + dir_ + "/file is not a folder");
  ASSERT_EQ(mkdir((dir_ + "/m").c_str(), 0755), 0);
  EXPECT_EQ(*PrepareMountPoint(dir_ + "/m", false), dir_ + "/m");
  std::ofstream(dir_ + "/m/a") << "x";
  std::ofstream(dir_ + "/m/b") << "x";
  Result<std::string> full = PrepareMountPoint(dir_ + "/m", false);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("is not empty (2 entries: "), std::string::npos)
      << full.status().message();
  EXPECT_NE(full.status().message().find("-o nonempty"), std::string::npos);
  EXPECT_EQ(*PrepareMountPoint(dir_ + "/m", true), dir_ + "/m");
}

TEST_F(MountPointTest, ALiveMountIsNeverStacked) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  ASSERT_EQ(mkdir((dir_ + "/m").c_str(), 0755), 0);
  ASSERT_EQ(std::system(("mount -t tmpfs -o size=1m tmpfs " + dir_ + "/m").c_str()), 0);
  tmpfs_ = true;
  for (bool nonempty : {false, true}) {
    Result<std::string> r = PrepareMountPoint(dir_ + "/m/", nonempty);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "mount point " + dir_ +
                                        "/m is already a mount point (tmpfs from tmpfs); daqfs " +
                                        "does not stack mounts: unmount it first (fusermount3 -u " +
                                        dir_ + "/m) or choose another folder");
  }
}

}  // namespace
}  // namespace daqfs
