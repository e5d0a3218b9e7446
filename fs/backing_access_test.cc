// The backing-file access check as the kernel decides it: run as root (the e2e and CI user), for
// uid 65534, against real files, folders, symlinks, a moved archive and an ACL.
#include "fs/backing_access.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "fs/unique_fd.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

class BackingAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to check on behalf of another uid";
    dir_ = temp_.path();
    nobody_.uid = nobody_.gid = 65534;
  }
  void Run(const std::string& cmd) {
    ASSERT_EQ(std::system(("bash -c '" + cmd + "'").c_str()), 0) << cmd;
  }
  UniqueFd Open(const std::string& path) {
    Result<UniqueFd> fd = OpenReadOnly(path);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }
  // Both ways of deciding (the kernel's, the mode bits') must agree on the cases both can see.
  void ExpectBoth(const std::string& path, int fd, bool allowed) {
    Status k = CheckBackingFileAccess(nobody_, fd, path);
    Status m = CheckBackingFileAccessByMode(nobody_, fd, path);
    EXPECT_EQ(k.ok(), allowed) << path << ": " << k.ToString();
    EXPECT_EQ(m.ok(), allowed) << path << ": " << m.ToString();
    if (!allowed) {
      EXPECT_EQ(k.code(), Code::kPermission);
      EXPECT_EQ(m.code(), Code::kPermission);
    }
  }
  testing::TempDir temp_{"access"};
  std::string dir_;
  Caller nobody_;
};

TEST_F(BackingAccessTest, ModeOwnerAndGroupCountNow) {
  Run("echo x > " + dir_ + "/a.tar && chmod 0644 " + dir_ + "/a.tar");
  std::string a = dir_ + "/a.tar";
  UniqueFd fd = Open(a);
  ExpectBoth(a, fd.get(), true);
  ASSERT_EQ(chmod(a.c_str(), 0600), 0);
  ExpectBoth(a, fd.get(), false);
  Status k = CheckBackingFileAccess(nobody_, fd.get(), a);
  EXPECT_NE(k.message().find(a + ": uid 65534 may not open it: Permission denied"),
            std::string::npos)
      << k.message();
  ASSERT_EQ(chown(a.c_str(), 0, 4321), 0);
  ASSERT_EQ(chmod(a.c_str(), 0640), 0);
  ExpectBoth(a, fd.get(), false);
  Caller member = nobody_;
  member.groups = {100, 4321};
  EXPECT_TRUE(CheckBackingFileAccess(member, fd.get(), a).ok());
  EXPECT_TRUE(CheckBackingFileAccessByMode(member, fd.get(), a).ok());
  EXPECT_TRUE(CheckBackingFileAccess(Caller{}, fd.get(), a).ok());  // root
  // The thread's own ids are back.
  EXPECT_EQ(setfsuid(static_cast<uid_t>(-1)), 0);
  EXPECT_EQ(setfsgid(static_cast<gid_t>(-1)), 0);
}

TEST_F(BackingAccessTest, AFolderOnTheWayCounts) {
  Run("mkdir -p " + dir_ + "/p/q && echo x > " + dir_ + "/p/q/a.tar && chmod 0644 " + dir_ +
      "/p/q/a.tar");
  std::string a = dir_ + "/p/q/a.tar";
  UniqueFd fd = Open(a);
  ExpectBoth(a, fd.get(), true);
  ASSERT_EQ(chmod((dir_ + "/p").c_str(), 0700), 0);
  ExpectBoth(a, fd.get(), false);
}

TEST_F(BackingAccessTest, ASymlinkCannotLeadPastAFolderTheUserMayNotSearch) {
  // A world-writable drop folder where a user links to an archive inside a private folder. The
  // backend opens the archive and records its canonical path: that is what is checked.
  Run("mkdir -p " + dir_ + "/secret/pub " + dir_ + "/drop && chmod 0700 " + dir_ +
      "/secret && chmod 1777 " + dir_ + "/drop && echo s > " + dir_ +
      "/secret/pub/a.tar && chmod 0644 " + dir_ + "/secret/pub/a.tar && ln -s " + dir_ +
      "/secret/pub/a.tar " + dir_ + "/drop/evil.tar");
  std::string evil = dir_ + "/drop/evil.tar";
  UniqueFd fd = Open(evil);
  char real[PATH_MAX];
  ASSERT_NE(realpath(evil.c_str(), real), nullptr);
  ExpectBoth(real, fd.get(), false);
  ASSERT_EQ(chmod((dir_ + "/secret").c_str(), 0755), 0);
  ExpectBoth(real, fd.get(), true);
}

TEST_F(BackingAccessTest, ASymlinkPutOnTheWayLaterIsNeverFollowed) {
  // Indexed at pub/a.tar; then pub is swapped for a symlink (to the same file, even): the check
  // follows no symlink, so it cannot be led into another user's file, /proc/self/fd or a mount.
  Run("mkdir -p " + dir_ + "/pub " + dir_ + "/elsewhere && echo x > " + dir_ +
      "/pub/a.tar && chmod 0644 " + dir_ + "/pub/a.tar");
  std::string a = dir_ + "/pub/a.tar";
  UniqueFd fd = Open(a);
  ExpectBoth(a, fd.get(), true);
  Run("mv " + dir_ + "/pub/a.tar " + dir_ + "/elsewhere/a.tar && rmdir " + dir_ + "/pub && ln -s " +
      dir_ + "/elsewhere " + dir_ + "/pub");
  ExpectBoth(a, fd.get(), false);
  EXPECT_NE(CheckBackingFileAccess(nobody_, fd.get(), a).message().find("has a symlink on its way"),
            std::string::npos);
  EXPECT_NE(CheckBackingFileAccessByMode(nobody_, fd.get(), a).message().find("has a symlink"),
            std::string::npos);
}

TEST_F(BackingAccessTest, AnArchiveMovedOrReplacedAfterIndexingIsRefused) {
  Run("mkdir -p " + dir_ + "/pub " + dir_ + "/secret && chmod 0700 " + dir_ +
      "/secret && echo x > " + dir_ + "/pub/a.tar && chmod 0644 " + dir_ + "/pub/a.tar");
  std::string a = dir_ + "/pub/a.tar";
  UniqueFd fd = Open(a);
  ExpectBoth(a, fd.get(), true);
  ASSERT_EQ(rename(a.c_str(), (dir_ + "/secret/moved.tar").c_str()), 0);
  ExpectBoth(a, fd.get(), false);  // gone from its path
  Run("echo other > " + a + " && chmod 0644 " + a);
  ExpectBoth(a, fd.get(), false);  // another file in its place
  EXPECT_NE(CheckBackingFileAccess(nobody_, fd.get(), a).message().find("is no longer the file"),
            std::string::npos);
}

TEST_F(BackingAccessTest, AnAclThatDeniesTheUserIsHonoured) {
  Run("echo x > " + dir_ + "/a.tar && chmod 0644 " + dir_ + "/a.tar && setfacl -m u:65534:--- " +
      dir_ + "/a.tar");
  std::string a = dir_ + "/a.tar";
  UniqueFd fd = Open(a);
  // The kernel sees the ACL; the mode bits alone (0644 still shows r for others) do not.
  EXPECT_EQ(CheckBackingFileAccess(nobody_, fd.get(), a).code(), Code::kPermission);
  Run("setfacl -b " + dir_ + "/a.tar");
  EXPECT_TRUE(CheckBackingFileAccess(nobody_, fd.get(), a).ok());
}

}  // namespace
}  // namespace daqfs
