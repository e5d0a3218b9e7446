// Kernel notifications end to end: with the kernel allowed to cache entries, listings and
// negative lookups for an hour (entry_timeout = 3600), a rescanned archive folder still shows
// new archives and drops removed ones within a rescan period and a little, because the daemon
// invalidates what the kernel cached (fs/fuse/fuse_notifier.h).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "e2e_harness.h"

namespace daqfs::e2e {
namespace {

class NotifyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
    data_ = dir_ / "data";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(Sh("mkdir -p " + Q(data_) + " " + Q(mnt_) + " " + Q(dir_ / "src")).exit_code, 0);
  }
  void TearDown() override {
    if (HasFailure() && daemon_.pid() > 0) {
      std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
    }
  }
  // A stable archive data/NAME holding one file NAME.txt (moved into place, already old).
  void AddArchive(const std::string& name) {
    ASSERT_EQ(Sh("set -e; cd " + Q(dir_ / "src") + "; echo " + name + " > " + name +
                 ".txt; tar -cf ../" + name + " " + name + ".txt; touch -d '1 minute ago' ../" +
                 name + "; mv ../" + name + " " + Q(data_))
                  .exit_code,
              0);
  }
  void Mount(const std::string& layout) {
    std::string cfg = dir_ / "daqfs.ini";
    WriteFile(cfg, "[mount]\nentry_timeout = 3600\n[cache]\ndir = " + (dir_ / "cache") +
                       "\nmemory = 64M\ndisk = 0\n[source s]\ntype = archive\npath = " + data_ +
                       "\nrescan = 0.5\nlayout = " + layout + "\n");
    ASSERT_TRUE(daemon_.Start({cfg, mnt_}, mnt_, dir_ / "daqfs.log"));
  }
  // Polls `ok` every 50 ms for up to `seconds`; true when it held. Returns the time it took.
  static bool Within(double seconds, const std::function<bool()>& ok, double* took) {
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      if (ok()) {
        *took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return true;
      }
      if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(seconds)) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::string Ls(const std::string& path) { return Sh("ls " + Q(path)).output; }
  bool Exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }

  TempDir dir_;
  std::string data_, mnt_;
  DaqfsProcess daemon_;
};

TEST_F(NotifyE2eTest, PerArchiveFolderShowsAddedAndRemovedArchivesDespiteLongTimeouts) {
  AddArchive("a.tar");
  Mount("per-archive");
  std::string root = mnt_ + "/s";
  EXPECT_EQ(Ls(root), "a.tar\n");         // the kernel caches this listing ...
  EXPECT_FALSE(Exists(root + "/b.tar"));  // ... and this negative entry, for an hour
  AddArchive("b.tar");
  double took = 0;
  EXPECT_TRUE(Within(
      3, [&] { return Ls(root) == "a.tar\nb.tar\n"; }, &took))
      << Ls(root);
  EXPECT_TRUE(Exists(root + "/b.tar"));
  EXPECT_EQ(Slurp(root + "/b.tar/b.tar.txt"), "b.tar\n");
  std::fprintf(stderr, "new archive listed after %.2f s (rescan 0.5 s)\n", took);

  ASSERT_TRUE(Exists(root + "/a.tar/a.tar.txt"));  // the kernel holds its entry now
  ASSERT_EQ(Sh("rm " + Q(data_ + "/a.tar")).exit_code, 0);
  EXPECT_TRUE(Within(
      3, [&] { return Ls(root) == "b.tar\n"; }, &took))
      << Ls(root);
  EXPECT_FALSE(Exists(root + "/a.tar"));
  EXPECT_FALSE(Exists(root + "/a.tar/a.tar.txt"));
  std::fprintf(stderr, "removed archive gone after %.2f s\n", took);
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(NotifyE2eTest, MergedTreeShowsAddedAndRemovedMembersDespiteLongTimeouts) {
  AddArchive("a.tar");
  Mount("merged");
  std::string root = mnt_ + "/s";
  EXPECT_EQ(Ls(root), "a.tar.txt\n");
  EXPECT_FALSE(Exists(root + "/b.tar.txt"));
  AddArchive("b.tar");
  double took = 0;
  EXPECT_TRUE(Within(
      3, [&] { return Ls(root) == "a.tar.txt\nb.tar.txt\n"; }, &took))
      << Ls(root);
  EXPECT_EQ(Slurp(root + "/b.tar.txt"), "b.tar\n");
  ASSERT_TRUE(Exists(root + "/a.tar.txt"));
  ASSERT_EQ(Sh("rm " + Q(data_ + "/a.tar")).exit_code, 0);
  EXPECT_TRUE(Within(
      3, [&] { return Ls(root) == "b.tar.txt\n"; }, &took))
      << Ls(root);
  EXPECT_FALSE(Exists(root + "/a.tar.txt"));
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

}  // namespace
}  // namespace daqfs::e2e
