// End-to-end tests of tar archives on a real mount: GNU tar and bsdtar archives in every format
// read byte-identical to GNU tar's own extraction, with the metadata tar reports; writes refused;
// permissions of the backing archive enforced; hostile and damaged archives survived.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

class TarE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
    data_ = dir_ / "data";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(Sh("mkdir -p " + Q(data_) + " " + Q(mnt_)).exit_code, 0);
  }
  void TearDown() override {
    if (HasFailure() && daemon_.pid() > 0)
      std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
  }

  // Builds a varied tree to archive: nested folders, long names, links, odd modes and times.
  void MakeTree(const std::string& root) {
    std::string r = Q(root);
    std::string long_dir = std::string(120, 'd');
    std::string long_file = std::string(150, 'f');
    ASSERT_EQ(Sh("set -e; mkdir -p " + r + "/sub/deeper " + r + "/" + long_dir + "/" + long_dir +
                 "; cd " + r +
                 "; head -c 3000000 /dev/urandom > big.bin;"
                 "printf 'hello\\n' > sub/hello.txt; : > empty; "
                 "head -c 12345 /dev/urandom > " +
                 long_dir + "/" + long_dir + "/" + long_file +
                 "; printf 'x' > 'sp ace €.txt'; chmod 0640 sub/hello.txt; chmod 0751 sub/deeper;"
                 "chmod 4755 big.bin; ln -s sub/hello.txt rel-link; ln -s /etc/hostname abs-link;"
                 "ln -s " +
                 long_dir + "/" + long_dir + "/" + long_file +
                 " long-link;"
                 "ln big.bin hard.bin; chown 1234:5678 empty; chown 3000000:3000001 sub/hello.txt;"
                 "touch -d '2001-02-03 04:05:06' sub/hello.txt; touch -h -d '1999-12-31' rel-link;"
                 "TZ=UTC touch -d '2010-10-10 10:10:10' sub")
                  .exit_code,
              0);
  }

  // Compares every entry below `extracted` with the same path below `mounted`.
  void ExpectSameTree(const std::string& extracted, const std::string& mounted, bool dir_times) {
    CmdResult diff = Sh("diff -r --no-dereference " + Q(extracted) + " " + Q(mounted));
    EXPECT_EQ(diff.exit_code, 0) << diff.output;
    CmdResult list = Sh("cd " + Q(extracted) + " && find . -mindepth 1 -printf '%P\\n'");
    ASSERT_EQ(list.exit_code, 0);
    std::istringstream names(list.output);
    std::string name;
    int checked = 0;
    while (std::getline(names, name)) {
      struct stat a, b;
      ASSERT_EQ(lstat((extracted + "/" + name).c_str(), &a), 0) << name;
      ASSERT_EQ(lstat((mounted + "/" + name).c_str(), &b), 0) << name;
      EXPECT_EQ(a.st_mode & S_IFMT, b.st_mode & S_IFMT) << name;
      EXPECT_EQ(a.st_uid, b.st_uid) << name;
      EXPECT_EQ(a.st_gid, b.st_gid) << name;
      if (!S_ISLNK(a.st_mode)) {
        // As extracted, but never setuid or setgid (the mount is nosuid as well).
        EXPECT_EQ(a.st_mode & 07777 & ~(S_ISUID | S_ISGID), b.st_mode & 07777) << name;
      }
      // GNU tar does not restore directory times from bsdtar's archives ("./sub" after
      // "./sub/..."); those are checked against the stored time by the caller instead.
      if (S_ISREG(a.st_mode) || (S_ISDIR(a.st_mode) && dir_times)) {
        EXPECT_EQ(a.st_mtime, b.st_mtime) << name;
      }
      if (S_ISREG(a.st_mode)) {
        EXPECT_EQ(a.st_size, b.st_size) << name;
      }
      if (S_ISLNK(a.st_mode)) {
        char ta[4096], tb[4096];
        ssize_t na = readlink((extracted + "/" + name).c_str(), ta, sizeof ta);
        ssize_t nb = readlink((mounted + "/" + name).c_str(), tb, sizeof tb);
        EXPECT_EQ(std::string(ta, na), std::string(tb, nb)) << name;
      }
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }

  void Mount(const std::vector<std::string>& args) {
    ASSERT_TRUE(daemon_.Start(args, mnt_, dir_ / "daqfs.log"));
  }
  void UnmountClean() { EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log(); }

  TempDir dir_;
  std::string data_, mnt_;
  DaqfsProcess daemon_;
};

TEST_F(TarE2eTest, EveryFormatReadsLikeGnuTarExtraction) {
  std::string src = dir_ / "src";
  MakeTree(src);
  struct Maker {
    std::string name, cmd;
    int exit_code;  // GNU tar's ustar leaves out the long names and large ids, exiting 2
  };
  std::vector<Maker> makers = {{"gnu.tar", "tar --format=gnu -cf", 0},
                               {"ustar.tar", "tar --format=ustar -cf", 2},
                               {"pax.tar", "tar --format=pax -cf", 0},
                               {"posix.tar", "tar --format=posix --xattrs -cf", 0},
                               {"bsd-pax.tar", "bsdtar --format=pax -cf", 0},
                               {"bsd-ustar.tar", "bsdtar --format=ustar -cf", 0},
                               {"bsd-gnu.tar", "bsdtar --format=gnutar -cf", 0}};
  for (const Maker& m : makers) {
    CmdResult r = Sh("cd " + Q(src) + " && " + m.cmd + " " + Q(data_ + "/" + m.name) + " .");
    ASSERT_EQ(r.exit_code, m.exit_code) << m.name << r.output;
  }
  Mount({"--source", data_, mnt_});
  for (const Maker& m : makers) {
    SCOPED_TRACE(m.name);
    std::string ex = dir_ / ("x-" + m.name);
    ASSERT_EQ(Sh("mkdir " + Q(ex) + " && tar -xpf " + Q(data_ + "/" + m.name) +
                 " --numeric-owner -C " + Q(ex))
                  .exit_code,
              0);
    ExpectSameTree(ex, mnt_ + "/" + m.name, m.name.rfind("bsd", 0) != 0);
    struct stat sub;
    ASSERT_EQ(stat((mnt_ + "/" + m.name + "/sub").c_str(), &sub), 0);
    EXPECT_EQ(sub.st_mtime, 1286705410) << "sub's stored mtime, 2010-10-10 10:10:10 UTC";
  }
  // Hard links share the node: same inode number, nlink 2, same bytes.
  struct stat a, b;
  ASSERT_EQ(stat((mnt_ + "/gnu.tar/big.bin").c_str(), &a), 0);
  ASSERT_EQ(stat((mnt_ + "/gnu.tar/hard.bin").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  // ls -l of the mount shows what tar -tv shows (sizes, modes, owners): spot check one line.
  CmdResult ls = Sh("ls -ln --time-style=+%Y-%m-%d " + Q(mnt_ + "/gnu.tar/sub/hello.txt"));
  EXPECT_NE(ls.output.find("-rw-r----- 1 3000000 3000001 6 2001-02-03"), std::string::npos)
      << ls.output;
  UnmountClean();
}

TEST_F(TarE2eTest, TenThousandMembersListAndRead) {
  std::string src = dir_ / "many";
  ASSERT_EQ(Sh("mkdir -p " + Q(src) + " && cd " + Q(src) +
               " && for d in $(seq 0 99); do mkdir d$d; for f in $(seq 0 99); do "
               "echo \"$d/$f\" > d$d/f$f; done; done && tar -cf " +
               Q(data_ + "/many.tar") + " .")
                .exit_code,
            0);
  Mount({"--source", data_ + "/many.tar", mnt_});
  CmdResult n = Sh("find " + Q(mnt_ + "/many.tar") + " -type f | wc -l");
  EXPECT_EQ(n.output, "10000\n");
  CmdResult lsr = Sh("ls -lR " + Q(mnt_) + " | wc -l");
  EXPECT_EQ(lsr.exit_code, 0);
  EXPECT_EQ(Slurp(mnt_ + "/many.tar/d42/f17"), "42/17\n");
  CmdResult diff = Sh("diff -r " + Q(src) + " " + Q(mnt_ + "/many.tar"));
  EXPECT_EQ(diff.exit_code, 0) << diff.output.substr(0, 2000);
  UnmountClean();
}

void ExpectErrno(int rc, int want, const char* what) {
  int err = errno;
  EXPECT_EQ(rc, -1) << what;
  EXPECT_EQ(err, want) << what << ": " << strerror(err);
}

void ExpectWritesRefused(const std::string& root) {
  std::string f = root + "/a.tar/sub/hello.txt";
  ExpectErrno(open(f.c_str(), O_WRONLY), EROFS, "open O_WRONLY");
  ExpectErrno(open(f.c_str(), O_RDWR), EROFS, "open O_RDWR");
  ExpectErrno(open(f.c_str(), O_RDONLY | O_TRUNC), EROFS, "open O_TRUNC");
  ExpectErrno(open((root + "/a.tar/new").c_str(), O_CREAT | O_WRONLY, 0644), EROFS, "create");
  ExpectErrno(mkdir((root + "/a.tar/newdir").c_str(), 0755), EROFS, "mkdir");
  ExpectErrno(unlink(f.c_str()), EROFS, "unlink");
  ExpectErrno(rmdir((root + "/a.tar/sub/deeper").c_str()), EROFS, "rmdir");
  ExpectErrno(rename(f.c_str(), (root + "/a.tar/moved").c_str()), EROFS, "rename");
  ExpectErrno(chmod(f.c_str(), 0777), EROFS, "chmod");
  ExpectErrno(truncate(f.c_str(), 0), EROFS, "truncate");
  ExpectErrno(symlink("x", (root + "/a.tar/sl").c_str()), EROFS, "symlink");
  ExpectErrno(link(f.c_str(), (root + "/a.tar/hl").c_str()), EROFS, "link");
  ExpectErrno(setxattr(f.c_str(), "user.x", "1", 1, 0), EROFS, "setxattr");
  ExpectErrno(access(f.c_str(), W_OK), EROFS, "access W_OK");
  EXPECT_EQ(access(f.c_str(), R_OK), 0);
  EXPECT_EQ(Slurp(f), "hello\n");  // content unharmed
}

TEST_F(TarE2eTest, WritesAreRefusedWithoutReadOnlyOption) {
  MakeTree(dir_ / "src");
  ASSERT_EQ(Sh("cd " + Q(dir_ / "src") + " && tar -cf " + Q(data_ + "/a.tar") + " .").exit_code, 0);
  Mount({"--source", data_, mnt_});
  ExpectWritesRefused(mnt_);
  UnmountClean();
}

TEST_F(TarE2eTest, WritesAreRefusedWithReadOnlyOption) {
  MakeTree(dir_ / "src");
  ASSERT_EQ(Sh("cd " + Q(dir_ / "src") + " && tar -cf " + Q(data_ + "/a.tar") + " .").exit_code, 0);
  Mount({"--source", data_, mnt_, "-o", "ro"});
  ExpectWritesRefused(mnt_);
  struct statvfs sv;
  ASSERT_EQ(statvfs(mnt_.c_str(), &sv), 0);
  EXPECT_TRUE(sv.f_flag & ST_RDONLY);
  UnmountClean();
}

TEST_F(TarE2eTest, OtherUserDeniedMemberOfUnreadableArchive) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) +
               " && mkdir s && echo secret > s/m.txt && chmod 644 s/m.txt && "
               "tar -cf data/closed.tar -C s m.txt && tar -cf data/open.tar -C s m.txt && "
               "chmod 600 data/closed.tar && chmod 644 data/open.tar")
                .exit_code,
            0);
  std::string cfg = dir_ / "daqfs.ini";
  WriteFile(cfg, "[mount]\nallow_other = true\n[cache]\ndir = " + dir_ / "cache" +
                     "\n[source arch]\ntype = archive\npath = " + data_ + "\n");
  Mount({cfg, mnt_});
  const std::string nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  CmdResult open_ok = Sh(nobody + "cat " + Q(mnt_ + "/arch/open.tar/m.txt"));
  EXPECT_EQ(open_ok.exit_code, 0) << open_ok.output;
  EXPECT_EQ(open_ok.output, "secret\n");
  CmdResult denied = Sh(nobody + "cat " + Q(mnt_ + "/arch/closed.tar/m.txt"));
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("Permission denied"), std::string::npos) << denied.output;
  // The member's own mode is enforced by the kernel (default_permissions).
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && chmod 600 s/m.txt && tar -cf data2.tar -C s m.txt")
                .exit_code,
            0);
  EXPECT_EQ(Slurp(mnt_ + "/arch/closed.tar/m.txt"), "secret\n");  // root may
  UnmountClean();
}

TEST_F(TarE2eTest, MissingNamesAreEnoentEveryTime) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  Mount({"--source", data_, mnt_});
  for (int i = 0; i < 2; ++i) {
    struct stat st;
    ExpectErrno(stat((mnt_ + "/a.tar/nope").c_str(), &st), ENOENT, "stat missing member");
    ExpectErrno(stat((mnt_ + "/nope.tar").c_str(), &st), ENOENT, "stat missing archive");
    ExpectErrno(stat((mnt_ + "/a.tar/f/below-a-file").c_str(), &st), ENOTDIR, "below a file");
  }
  std::string stats = Slurp(mnt_ + "/.daqfs/stats");
  EXPECT_NE(stats.find("\nlookup "), std::string::npos) << stats;
  UnmountClean();
}

TEST_F(TarE2eTest, ParallelRandomReadersSeeSourceBytes) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) +
               " && mkdir s && head -c 50000000 /dev/urandom > s/r.bin && "
               "tar -cf data/r.tar -C s r.bin")
                .exit_code,
            0);
  Mount({"--source", data_, mnt_});
  std::string want = Slurp(dir_ / "s/r.bin");
  std::atomic<int> mismatches{0}, reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      int fd = open((mnt_ + "/r.tar/r.bin").c_str(), O_RDONLY);
      if (fd < 0) {
        mismatches++;
        return;
      }
      std::mt19937_64 rng(t);
      std::vector<char> buf(300000);
      for (int i = 0; i < 200; ++i) {
        uint64_t off = rng() % (want.size() + 1000);
        size_t len = 1 + rng() % buf.size();
        ssize_t n = pread(fd, buf.data(), len, static_cast<off_t>(off));
        size_t expect = off >= want.size() ? 0 : std::min<size_t>(len, want.size() - off);
        if (n != static_cast<ssize_t>(expect) ||
            memcmp(buf.data(), want.data() + std::min<size_t>(off, want.size()), expect) != 0) {
          mismatches++;
        }
        reads++;
      }
      close(fd);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(reads.load(), 1600);
  UnmountClean();
}

// A tar with one member whose header we can damage by hand.
std::string Header(const std::string& name, size_t size, char type = '0') {
  std::string h(512, '\0');
  memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  snprintf(&h[100], 8, "%07o", 0644);
  snprintf(&h[108], 8, "%07o", 0);
  snprintf(&h[116], 8, "%07o", 0);
  snprintf(&h[124], 12, "%011zo", size);
  snprintf(&h[136], 12, "%011o", 1234567890);
  h[156] = type;
  memcpy(&h[257],
         "ustar\0"
         "00",
         8);
  memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  snprintf(&h[148], 8, "%06o", sum);
  return h;
}
std::string Member(const std::string& name, const std::string& data) {
  std::string m = Header(name, data.size()) + data;
  m.resize((m.size() + 511) / 512 * 512, '\0');
  return m;
}

TEST_F(TarE2eTest, HostileAndDamagedArchivesDoNotHurtTheMount) {
  ASSERT_EQ(
      Sh("cd " + Q(dir_.path()) + " && echo good > g.txt && tar -cf data/good.tar g.txt").exit_code,
      0);
  std::string end(1024, '\0');
  WriteFile(data_ + "/hostile.tar", Member("../escape.txt", "evil") + Member("/etc/evil", "evil") +
                                        Member("a/../../b", "evil") + Member("ok.txt", "fine") +
                                        end);
  std::string truncated = Member("first.txt", "one") + Member("second.txt", std::string(5000, 's'));
  truncated.resize(512 + 512 + 512 + 2000);  // cut inside second.txt's data
  WriteFile(data_ + "/truncated.tar", truncated);
  std::string badsum = Member("before.txt", "kept") + Member("after.txt", "lost");
  badsum[512 + 512 + 10] ^= 0x55;  // corrupt after.txt's header
  WriteFile(data_ + "/badsum.tar", badsum + end);
  WriteFile(data_ + "/garbage.tar", std::string(4096, '\x7f'));
  WriteFile(data_ + "/empty.tar", "");
  Mount({"--source", data_, mnt_});
  EXPECT_EQ(Slurp(mnt_ + "/good.tar/g.txt"), "good\n");
  EXPECT_EQ(Slurp(mnt_ + "/hostile.tar/ok.txt"), "fine");
  CmdResult hostile = Sh("find " + Q(mnt_ + "/hostile.tar") + " -mindepth 1 -printf '%P\\n'");
  EXPECT_EQ(hostile.output, "ok.txt\n");
  EXPECT_EQ(Slurp(mnt_ + "/truncated.tar/first.txt"), "one");
  struct stat st;
  EXPECT_NE(stat((mnt_ + "/truncated.tar/second.txt").c_str(), &st), 0);
  EXPECT_EQ(Slurp(mnt_ + "/badsum.tar/before.txt"), "kept");
  EXPECT_NE(stat((mnt_ + "/badsum.tar/after.txt").c_str(), &st), 0);
  CmdResult ls = Sh("ls -lR " + Q(mnt_));
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  std::string log = daemon_.Log();
  EXPECT_NE(log.find("truncated.tar"), std::string::npos) << log;
  EXPECT_NE(log.find("badsum.tar"), std::string::npos) << log;
  EXPECT_NE(log.find("../escape.txt"), std::string::npos) << log;
  UnmountClean();
}

TEST_F(TarE2eTest, ArchiveShrunkAfterMountGivesEioNotGarbage) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) +
               " && head -c 3000000 /dev/urandom > big && echo s > small && "
               "tar -cf data/a.tar small big")
                .exit_code,
            0);
  Mount({"--source", data_, mnt_});
  ASSERT_EQ(truncate((data_ + "/a.tar").c_str(), 1024 * 1024), 0);
  int fd = open((mnt_ + "/a.tar/big").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<char> buf(65536);
  ExpectErrno(static_cast<int>(pread(fd, buf.data(), buf.size(), 2000000)), EIO, "read past cut");
  close(fd);
  EXPECT_EQ(Slurp(mnt_ + "/a.tar/small"), "s\n");  // the mount stays up
  UnmountClean();
}

TEST_F(TarE2eTest, XattrsListPaxAndDaqfsAttributes) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  Mount({"--source", data_, mnt_});
  // daqfs's own attributes are read by name; listings hold only the member's own.
  CmdResult attrs = Sh("getfattr -n user.daqfs.archive " + Q(mnt_ + "/a.tar/f") +
                       "; getfattr -n user.daqfs.offset " + Q(mnt_ + "/a.tar/f"));
  EXPECT_NE(attrs.output.find("user.daqfs.archive=\"" + data_ + "/a.tar\""), std::string::npos)
      << attrs.output;
  EXPECT_NE(attrs.output.find("user.daqfs.offset=\"512\""), std::string::npos) << attrs.output;
  CmdResult listed = Sh("getfattr -d -m - " + Q(mnt_ + "/a.tar/f"));
  EXPECT_EQ(listed.output.find("user.daqfs."), std::string::npos) << listed.output;
  UnmountClean();
}

TEST_F(TarE2eTest, SigtermUnmountsAndExitsZero) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  Mount({"--source", data_, mnt_});
  EXPECT_EQ(daemon_.Signal(SIGTERM), 0) << daemon_.Log();
  EXPECT_FALSE(IsMounted(mnt_));
}

// The kernel may hand a process's SIGTERM to any thread that does not block it: one taken by a
// decode thread must end the daemon too (libfuse 3.14 alone only set its exit flag then, and the
// daemon kept running).
TEST_F(TarE2eTest, SigtermTakenByAnyThreadUnmounts) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  for (const std::string comm : {"daqfs-decode", "daqfs-notify"}) {
    SCOPED_TRACE(comm);
    Mount({"--source", data_, mnt_});
    // (A thread names itself once it runs: looked for until it has.)
    pid_t tid = 0;
    for (int i = 0; i < 500 && tid == 0; ++i) {
      for (const auto& t : std::filesystem::directory_iterator(
               "/proc/" + std::to_string(daemon_.pid()) + "/task")) {
        if (Slurp(t.path() / "comm") == comm + "\n") tid = std::stoi(t.path().filename());
      }
      if (tid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(tid, 0) << "no " << comm << " thread";
    EXPECT_EQ(daemon_.SignalThread(tid, SIGTERM), 0) << daemon_.Log();
    EXPECT_FALSE(IsMounted(mnt_));
  }
}

TEST_F(TarE2eTest, BackgroundModeFromMountFuse3LikeFstab) {
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  std::string cfg = dir_ / "daqfs.ini";
  WriteFile(cfg, "[cache]\ndir = " + dir_ / "cache" +
                     "\n[source arch]\ntype = archive\npath = " + data_ + "\n");
  // mount.fuse3 runs "daqfs CONFIG MOUNTPOINT -o ro,allow_other,dev,suid" with a minimal PATH
  // and waits for it to exit: the daemon must detach only once the mount works.
  CmdResult m =
      Sh("env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin mount.fuse3 " +
         Q(std::string(DaqfsBinary()) + "#" + cfg) + " " + Q(mnt_) + " -o ro,allow_other,dev,suid");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_EQ(Slurp(mnt_ + "/arch/a.tar/f"), "x\n");
  // In the background the daemon logs to syslog, and .daqfs/config says so.
  std::string shown = Slurp(mnt_ + "/.daqfs/config");
  EXPECT_NE(shown.find("\nlog = syslog\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("; log: the configuration says stderr"), std::string::npos) << shown;
  std::vector<pid_t> daemons = ProcessesRunning(DaqfsBinary(), cfg);
  ASSERT_EQ(daemons.size(), 1u) << "the detached daemon of " << cfg << " is not running";
  EXPECT_EQ(Sh("fusermount3 -u " + Q(mnt_)).exit_code, 0);
  EXPECT_FALSE(IsMounted(mnt_));
  // The detached daemon ends by itself after the unmount.
  {
    std::string p = std::to_string(daemons[0]);
    EXPECT_EQ(Sh("for i in $(seq 100); do kill -0 " + p +
                 " 2>/dev/null || exit 0; sleep 0.1; done; exit 1")
                  .exit_code,
              0);
  }
}

TEST_F(TarE2eTest, CommandLineErrorsHaveDocumentedExitCodes) {
  std::string bin = Q(DaqfsBinary());
  CmdResult help = Sh(bin + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("usage: daqfs"), std::string::npos);
  EXPECT_EQ(Sh(bin + " --version").exit_code, 0);
  EXPECT_EQ(Sh(bin + " --bogus x y").exit_code, 1);
  std::string nomp =
      WriteConfig(dir_, "no-mountpoint.ini", "[source s]\ntype = archive\npath = " + data_ + "\n");
  CmdResult one = Sh(bin + " " + Q(nomp));
  EXPECT_EQ(one.exit_code, 1) << one.output;
  EXPECT_NE(one.output.find("no MOUNTPOINT"), std::string::npos) << one.output;
  std::string cfg = WriteConfig(dir_, "bad.ini", "[mount]\nthreads = 4\nfrobnicate = 1\n");
  CmdResult bad = Sh(bin + " -f " + Q(cfg) + " " + Q(mnt_));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find(cfg + ":3:"), std::string::npos) << bad.output;
  CmdResult missing = Sh(bin + " -f --source " + Q(dir_ / "nothing-here") + " " + Q(mnt_));
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && echo x > f && tar -cf data/a.tar f").exit_code, 0);
  CmdResult nomnt = Sh(bin + " -f --source " + Q(data_) + " " + Q(dir_ / "no-such-mnt"));
  EXPECT_EQ(nomnt.exit_code, 4) << nomnt.output;
}

}  // namespace
}  // namespace daqfs::e2e
