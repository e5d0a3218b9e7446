// End-to-end tests of what makes a mount safe on a shared node and predictable for an admin:
// nosuid,nodev whatever fstab says, permissions that follow the backing file at open time,
// mount-time mistakes refused with documented exit codes (and a killed daemon's dead mount
// replaced), a root that holds only data, statfs from the cache, SIGHUP, --check-config and
// systemd's readiness notification. Permission cases run as uid 65534.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

const std::string kNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

bool HasOption(const std::string& options, const std::string& opt) {
  std::string padded = "," + options.substr(0, options.find('\n')) + ",";
  return padded.find("," + opt + ",") != std::string::npos;
}

// Waits until no process has `pid` (a detached daemon we did not fork ourselves).
bool WaitGone(const std::string& pid) {
  return Sh("for i in $(seq 200); do kill -0 " + pid +
            " 2>/dev/null || exit 0; sleep 0.05; done;"
            " exit 1")
             .exit_code == 0;
}

class SafetyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
    data_ = dir_ / "data";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(Sh("mkdir -p " + Q(data_) + " " + Q(mnt_) + " && cd " + Q(dir_.path()) +
                 " && mkdir src && echo data > src/f && tar -cf data/a.tar -C src f")
                  .exit_code,
              0);
  }
  void TearDown() override {
    if (HasFailure() && daemon_.pid() > 0) {
      std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
    }
  }
  void Mount(const std::vector<std::string>& args) {
    ASSERT_TRUE(daemon_.Start(args, mnt_, dir_ / "daqfs.log"));
  }
  // A configuration with its own cache folder inside the test's folder.
  std::string Config(const std::string& extra_mount = "", const std::string& extra_cache = "") {
    std::string cfg = dir_ / "daqfs.ini";
    WriteFile(cfg, "[mount]\n" + extra_mount + "[cache]\ndir = " + dir_ / "cache" + "\n" +
                       extra_cache + "[source arch]\ntype = archive\npath = " + data_ + "\n");
    return cfg;
  }

  TempDir dir_;
  std::string data_, mnt_;
  DaqfsProcess daemon_;
};

// Unmounts a tmpfs the test mounted, whatever happens.
struct TmpfsMount {
  explicit TmpfsMount(std::string p) : path(std::move(p)) {}
  ~TmpfsMount() { Sh("umount " + Q(path)); }
  std::string path;
};

TEST_F(SafetyE2eTest, SetuidProgramInAnArchiveNeverRunsAsItsOwner) {
  // Control: the same program, setuid root on a filesystem mounted suid, does run as root; so
  // the check below can only pass because of the daqfs mount.
  std::string suid_dir = dir_ / "suid";
  ASSERT_EQ(
      Sh("mkdir -p " + Q(suid_dir) + " && mount -t tmpfs -o suid,size=8m tmpfs " + Q(suid_dir))
          .exit_code,
      0);
  TmpfsMount guard(suid_dir);
  ASSERT_EQ(
      Sh("set -e; cp " + Q(DAQFS_PRINT_IDS) + " " + Q(suid_dir + "/print_ids") + "; chown 0:0 " +
         Q(suid_dir + "/print_ids") + "; chmod 6755 " + Q(suid_dir + "/print_ids") + "; tar -cf " +
         Q(data_ + "/prog.tar") + " -C " + Q(suid_dir) + " print_ids")
          .exit_code,
      0);
  EXPECT_EQ(Sh(kNobody + Q(suid_dir + "/print_ids")).output, "euid=0 egid=0\n");
  CmdResult listed = Sh("tar -tvf " + Q(data_ + "/prog.tar"));
  EXPECT_NE(listed.output.find("-rwsr-sr-x root/root"), std::string::npos) << listed.output;

  // As the README's fstab line mounts it: mount(8) -> mount.fuse3 -> "daqfs CONFIG MOUNTPOINT
  // -o ro,allow_other,dev,suid" (mount.fuse3 adds dev,suid for root). mount(8) runs helpers
  // with PATH=/usr/local/sbin:/usr/local/bin:..., so the daqfs under test is put in
  // /usr/local/sbin inside a private mount namespace (the host is untouched), where the
  // mount, the checks and the unmount all happen.
  // An installed package's mount helper would run /usr/bin/daqfs, not the daqfs under test.
  ASSERT_NE(access("/sbin/mount.fuse.daqfs", F_OK), 0)
      << "/sbin/mount.fuse.daqfs exists (daqfs package installed): remove it to test this build";
  std::string cfg = Config();
  std::string bin = dir_ / "bin";
  ASSERT_EQ(
      Sh("mkdir " + Q(bin) + " && ln -s " + Q(DaqfsBinary()) + " " + Q(bin + "/daqfs")).exit_code,
      0);
  std::string prog = mnt_ + "/arch/prog.tar/print_ids";
  std::string script = "set -u; mount --bind " + Q(bin) +
                       " /usr/local/sbin || exit 90\n"
                       "trap 'umount " +
                       Q(mnt_) +
                       " 2>/dev/null' EXIT\n"
                       "mount -t fuse.daqfs -o ro,allow_other " +
                       Q(cfg) + " " + Q(mnt_) +
                       " 2>&1 || exit 91\n"
                       "echo \"OPTS=$(awk -v m=" +
                       Q(mnt_) +
                       " '$2 == m {print $4}' /proc/mounts)\"\n"
                       "echo \"MODE=$(stat -c '%a %u' " +
                       Q(prog) +
                       ")\"\n"
                       "echo \"RUN=$(" +
                       kNobody + Q(prog) +
                       ")\"\n"
                       "echo \"PID=$(pgrep -n -f -- " +
                       Q(cfg + " " + mnt_) +
                       ")\"\n"
                       "umount " +
                       Q(mnt_) + " && echo UNMOUNTED\n";
  WriteFile(dir_ / "ns.sh", script);
  CmdResult r = Sh("unshare --mount --propagation private bash " + Q(dir_ / "ns.sh"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mount option dev,suid ignored: daqfs always mounts nosuid,nodev"),
            std::string::npos)
      << r.output;
  auto field = [&](const std::string& key) {
    size_t at = r.output.find(key + "=");
    if (at == std::string::npos) return std::string();
    size_t start = at + key.size() + 1;
    return r.output.substr(start, r.output.find('\n', start) - start);
  };
  std::string opts = field("OPTS");
  EXPECT_TRUE(HasOption(opts, "nosuid")) << r.output;
  EXPECT_TRUE(HasOption(opts, "nodev")) << r.output;
  EXPECT_TRUE(HasOption(opts, "ro")) << r.output;
  EXPECT_EQ(field("MODE"), "755 0") << r.output;  // stored 6755: no setuid/setgid bit shown
  EXPECT_EQ(field("RUN"), "euid=65534 egid=65534") << r.output;
  EXPECT_NE(r.output.find("UNMOUNTED"), std::string::npos) << r.output;
  std::string pid = field("PID");
  ASSERT_FALSE(pid.empty()) << r.output;
  EXPECT_TRUE(WaitGone(pid));  // the detached daemon ended with its unmount
  EXPECT_FALSE(IsMounted(mnt_));
}

TEST_F(SafetyE2eTest, OpeningAMemberFollowsTheArchivesModeNow) {
  Mount({"-o", "allow_other", "--source", data_, mnt_});  // rescan = 0
  std::string f = Q(mnt_ + "/a.tar/f");
  EXPECT_EQ(Sh(kNobody + "cat " + f).output, "data\n");
  ASSERT_EQ(chmod((data_ + "/a.tar").c_str(), 0600), 0);
  CmdResult denied = Sh(kNobody + "cat " + f);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("Permission denied"), std::string::npos) << denied.output;
  EXPECT_EQ(Sh("cat " + f).output, "data\n");  // root still reads
  ASSERT_EQ(chmod((data_ + "/a.tar").c_str(), 0644), 0);
  EXPECT_EQ(Sh(kNobody + "cat " + f).output, "data\n");
  // A folder on the way to the archive that the user may not search.
  ASSERT_EQ(chmod(data_.c_str(), 0700), 0);
  EXPECT_NE(Sh(kNobody + "cat " + f).output.find("Permission denied"), std::string::npos);
  ASSERT_EQ(chmod(data_.c_str(), 0755), 0);
  // Refusals are logged with the archive, the uid and the reason.
  EXPECT_NE(daemon_.Log().find("open denied: " + data_ + "/a.tar: uid 65534 may not open it"),
            std::string::npos)
      << daemon_.Log();
  // A new owner counts at once too.
  ASSERT_EQ(
      Sh("chown 65534 " + Q(data_ + "/a.tar") + " && chmod 0400 " + Q(data_ + "/a.tar")).exit_code,
      0);
  EXPECT_EQ(Sh(kNobody + "cat " + f).output, "data\n");
  // The archive's folder takes the archive's owner and mode, so a locked archive's names close.
  ASSERT_EQ(chown((data_ + "/a.tar").c_str(), 0, 0), 0);
  ASSERT_EQ(chmod((data_ + "/a.tar").c_str(), 0600), 0);
  EXPECT_EQ(Sh("for i in $(seq 60); do " + kNobody + "ls " + Q(mnt_ + "/a.tar") +
               " >/dev/null 2>&1 || exit 0; sleep 0.1; done; exit 1")
                .exit_code,
            0);
  EXPECT_NE(Sh(kNobody + "getfattr -d " + f).exit_code, 0);
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, ASymlinkOrAMoveCannotLeadPastAPrivateFolder) {
  // A world-writable drop folder served as the source, where a user links to an archive that
  // sits in a private folder; and an archive moved into a private folder after indexing.
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && mkdir -p secret/pub && chmod 0700 secret && " +
               "echo s3cr3t > secret/pub/s && tar -cf secret/pub/b.tar -C secret/pub s && " +
               "chmod 1777 data && ln -s " + Q(dir_ / "secret/pub/b.tar") + " data/evil.tar")
                .exit_code,
            0);
  EXPECT_NE(Sh(kNobody + "cat " + Q(dir_ / "secret/pub/b.tar")).exit_code, 0);  // directly
  Mount({"-o", "allow_other", "--source", data_, mnt_});
  CmdResult evil = Sh(kNobody + "cat " + Q(mnt_ + "/evil.tar/s"));
  EXPECT_NE(evil.exit_code, 0);
  EXPECT_EQ(evil.output.find("s3cr3t"), std::string::npos) << evil.output;
  EXPECT_EQ(Sh("cat " + Q(mnt_ + "/evil.tar/s")).output, "s3cr3t\n");  // root may
  EXPECT_EQ(Sh(kNobody + "cat " + Q(mnt_ + "/a.tar/f")).output, "data\n");
  ASSERT_EQ(rename((data_ + "/a.tar").c_str(), (dir_ / "secret/moved.tar").c_str()), 0);
  CmdResult moved = Sh(kNobody + "cat " + Q(mnt_ + "/a.tar/f"));
  EXPECT_NE(moved.exit_code, 0);
  EXPECT_EQ(moved.output.find("data"), std::string::npos) << moved.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, AnArchiveSwappedForASymlinkLeadsNowhere) {
  // After indexing, the archive is replaced by a symlink into the mount itself (the access
  // check would wait on its own mount) or to a /proc magic link to the daemon's open file.
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && cp data/a.tar data/b.tar").exit_code, 0);
  Mount({"-o", "allow_other", "--source", data_, mnt_});
  EXPECT_EQ(Sh(kNobody + "cat " + Q(mnt_ + "/a.tar/f") + " " + Q(mnt_ + "/b.tar/f")).output,
            "data\ndata\n");
  ASSERT_EQ(Sh("cd " + Q(data_) + " && rm a.tar b.tar && ln -s " + Q(mnt_ + "/a.tar/f") +
               " a.tar && ln -s /proc/self/fd/3 b.tar")
                .exit_code,
            0);
  for (const char* member : {"/a.tar/f", "/b.tar/f"}) {
    CmdResult r = Sh("timeout -s KILL 20 " + kNobody + "cat " + Q(mnt_ + member));
    EXPECT_NE(r.exit_code, 0) << member;
    EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << member << r.output;
  }
  EXPECT_NE(daemon_.Log().find("has a symlink on its way now"), std::string::npos) << daemon_.Log();
  // The mount answers, and the daemon ends cleanly.
  EXPECT_EQ(Sh("timeout -s KILL 10 ls " + Q(mnt_)).output, "a.tar\nb.tar\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, ALiveMountIsNeverStacked) {
  Mount({"--source", data_, mnt_});
  CmdResult second = Sh(Q(DaqfsBinary()) + " -f --source " + Q(data_) + " " + Q(mnt_));
  EXPECT_EQ(second.exit_code, 4) << second.output;
  EXPECT_NE(second.output.find("mount point " + mnt_ + " is already a mount point (fuse.daqfs"),
            std::string::npos)
      << second.output;
  EXPECT_EQ(Sh("grep -c ' " + mnt_ + " ' /proc/mounts").output, "1\n");
  EXPECT_EQ(Slurp(mnt_ + "/a.tar/f"), "data\n");
  // A daemon that is stuck (stopped here) answers nothing: refused after a few seconds with how
  // to end it, instead of waiting forever.
  ASSERT_EQ(kill(daemon_.pid(), SIGSTOP), 0);
  CmdResult stuck =
      Sh("timeout -s KILL 30 " + Q(DaqfsBinary()) + " -f --source " + Q(data_) + " " + Q(mnt_));
  ASSERT_EQ(kill(daemon_.pid(), SIGCONT), 0);
  EXPECT_EQ(stuck.exit_code, 4) << stuck.output;
  EXPECT_NE(stuck.output.find("mount that does not answer (its daemon is stuck)"),
            std::string::npos)
      << stuck.output;
  EXPECT_EQ(Slurp(mnt_ + "/a.tar/f"), "data\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, ADeadMountLeftByKillIsReplaced) {
  Mount({"--source", data_, mnt_});
  EXPECT_EQ(daemon_.Signal(SIGKILL), -1);
  struct statvfs sv;
  ASSERT_NE(statvfs(mnt_.c_str(), &sv), 0);
  ASSERT_EQ(errno, ENOTCONN);  // "Transport endpoint is not connected"
  EXPECT_TRUE(IsMounted(mnt_));
  DaqfsProcess again;
  ASSERT_TRUE(again.Start({"--source", data_, mnt_}, mnt_, dir_ / "again.log"));
  EXPECT_NE(again.Log().find("held a dead daqfs mount (its daemon was killed); detached it"),
            std::string::npos)
      << again.Log();
  EXPECT_EQ(Slurp(mnt_ + "/a.tar/f"), "data\n");
  EXPECT_EQ(again.Unmount(), 0) << again.Log();
  EXPECT_FALSE(IsMounted(mnt_));  // nothing left behind, not even the detached one
}

TEST_F(SafetyE2eTest, SourcesWithNothingToServeExitThreeNamingWhatWasFound) {
  std::string bin = Q(DaqfsBinary()) + " -f --source ";
  WriteFile(dir_ / "notes.txt", "beam = 12.4\n");
  CmdResult text = Sh(bin + Q(dir_ / "notes.txt") + " " + Q(mnt_));
  EXPECT_EQ(text.exit_code, 3) << text.output;
  EXPECT_NE(text.output.find(dir_ / "notes.txt" + ": not an archive: text"), std::string::npos)
      << text.output;
  ASSERT_EQ(Sh("mkdir " + Q(dir_ / "h5") + " && printf '\\x89HDF\\r\\n\\x1a\\n....' > " +
               Q(dir_ / "h5/b_master.h5") + " && echo x | gzip > " + Q(dir_ / "h5/c.tar.gz"))
                .exit_code,
            0);
  CmdResult folder = Sh(bin + Q(dir_ / "h5") + " " + Q(mnt_));
  EXPECT_EQ(folder.exit_code, 3) << folder.output;
  EXPECT_NE(folder.output.find("no archive in this folder (2 files: c.tar.gz (gzip-compressed "
                               "data (not a tar)), b_master.h5 (an HDF5 file))"),
            std::string::npos)
      << folder.output;
  CmdResult glob = Sh(bin + Q(dir_ / "h5/*.tar") + " " + Q(mnt_));
  EXPECT_EQ(glob.exit_code, 3) << glob.output;
  EXPECT_NE(glob.output.find("the pattern matches no file"), std::string::npos) << glob.output;
  EXPECT_FALSE(IsMounted(mnt_));
}

TEST_F(SafetyE2eTest, AnUnusableReadyFdIsExitOneBeforeMounting) {
  std::string cmd = Q(DaqfsBinary()) + " -f --ready-fd 57 --source " + Q(data_) + " " + Q(mnt_);
  CmdResult closed = Sh(cmd);
  EXPECT_EQ(closed.exit_code, 1) << closed.output;
  EXPECT_NE(closed.output.find("--ready-fd 57: not an open file descriptor"), std::string::npos)
      << closed.output;
  CmdResult readonly = Sh(cmd + " 57</dev/null");
  EXPECT_EQ(readonly.exit_code, 1) << readonly.output;
  EXPECT_NE(readonly.output.find("--ready-fd 57: not open for writing"), std::string::npos)
      << readonly.output;
  EXPECT_FALSE(IsMounted(mnt_));
}

TEST_F(SafetyE2eTest, ANonEmptyMountPointNeedsNonempty) {
  WriteFile(mnt_ + "/hidden-by-a-mount", "x");
  CmdResult r = Sh(Q(DaqfsBinary()) + " -f --source " + Q(data_) + " " + Q(mnt_));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("is not empty (1 entries: hidden-by-a-mount)"), std::string::npos)
      << r.output;
  EXPECT_FALSE(IsMounted(mnt_));
  Mount({"-o", "nonempty", "--source", data_, mnt_});
  EXPECT_EQ(Slurp(mnt_ + "/a.tar/f"), "data\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
  EXPECT_EQ(Slurp(mnt_ + "/hidden-by-a-mount"), "x");
}

TEST_F(SafetyE2eTest, TheRootHoldsOnlyDataForTarCpRsyncAndFind) {
  // A pax archive with an extended attribute of its own.
  ASSERT_EQ(Sh("cd " + Q(dir_.path()) + " && setfattr -n user.beamline -v b7 src/f && " +
               "head -c 300000 /dev/urandom > src/g && tar --xattrs --format=pax -cf " +
               "data/x.tar -C src f g && mkdir ref && tar --xattrs -xf data/x.tar -C ref")
                .exit_code,
            0);
  Mount({"--source", data_, mnt_});
  CmdResult ls = Sh("ls -a " + Q(mnt_));
  EXPECT_EQ(ls.output, ".\n..\na.tar\nx.tar\n");
  EXPECT_NE(Slurp(mnt_ + "/.daqfs/stats").find("\nlookup "), std::string::npos);  // by name
  CmdResult find = Sh("find " + Q(mnt_) + " -name '*daqfs*' | wc -l");
  EXPECT_EQ(find.output, "0\n");
  CmdResult tar = Sh("tar -cf " + Q(dir_ / "copy.tar") + " -C " + Q(mnt_) + " .");
  EXPECT_EQ(tar.exit_code, 0) << tar.output;
  EXPECT_EQ(Sh("tar -tf " + Q(dir_ / "copy.tar") + " | grep -c daqfs").output, "0\n");
  // cp -a and rsync -a of the whole root succeed and hold the data only.
  CmdResult cp_root = Sh("cp -a " + Q(mnt_) + " " + Q(dir_ / "rootcp"));
  EXPECT_EQ(cp_root.exit_code, 0) << cp_root.output;
  CmdResult rsync_root = Sh("rsync -a " + Q(mnt_ + "/") + " " + Q(dir_ / "rootrsync/"));
  EXPECT_EQ(rsync_root.exit_code, 0) << rsync_root.output;
  for (const char* copy : {"rootcp", "rootrsync"}) {
    EXPECT_EQ(Sh("ls -A " + Q(dir_ / copy)).output, "a.tar\nx.tar\n") << copy;
    EXPECT_EQ(Sh("diff -r " + Q(dir_ / "ref") + " " + Q(dir_ / copy + "/x.tar")).exit_code, 0)
        << copy;
  }
  // cp -a and rsync -aX copy the member's own attribute and nothing of daqfs's.
  ASSERT_EQ(Sh("cp -a " + Q(mnt_ + "/x.tar") + " " + Q(dir_ / "cp")).exit_code, 0);
  ASSERT_EQ(Sh("rsync -aX " + Q(mnt_ + "/x.tar/") + " " + Q(dir_ / "rsync/")).exit_code, 0);
  std::string want = Sh("cd " + Q(dir_ / "ref") + " && getfattr -d -m - f g").output;
  EXPECT_NE(want.find("user.beamline=\"b7\""), std::string::npos) << want;
  for (const char* copy : {"cp", "rsync"}) {
    SCOPED_TRACE(copy);
    EXPECT_EQ(Sh("diff -r " + Q(dir_ / "ref") + " " + Q(dir_ / copy)).exit_code, 0);
    EXPECT_EQ(Sh("cd " + Q(dir_ / copy) + " && getfattr -d -m - f g").output, want);
  }
  // tar --xattrs of the mount equals tar --xattrs of the extraction.
  auto xattr_listing = [&](const std::string& root) {
    return Sh("tar --xattrs --format=pax -cf - -C " + Q(root) + " f g | tar --xattrs -tvvf - " +
              "| grep -v '^-' ; tar --xattrs --format=pax -cf - -C " + Q(root) +
              " f g | tar --xattrs --xattrs-include='*' -xf - -C " + Q(dir_ / "chk") +
              " && getfattr -d -m - " + Q(dir_ / "chk/f") + " " + Q(dir_ / "chk/g") +
              " | sed 's|^# file: .*/|# file: |'; rm -rf " + Q(dir_ / "chk") + "/*")
        .output;
  };
  ASSERT_EQ(Sh("mkdir -p " + Q(dir_ / "chk")).exit_code, 0);
  std::string from_ref = xattr_listing(dir_ / "ref");
  EXPECT_NE(from_ref.find("user.beamline"), std::string::npos) << from_ref;
  EXPECT_EQ(xattr_listing(mnt_ + "/x.tar"), from_ref);
  // daqfs's own attributes: readable by name, not listed.
  EXPECT_EQ(
      Sh("getfattr --absolute-names --only-values -n user.daqfs.member " + Q(mnt_ + "/x.tar/g"))
          .output,
      "g");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();

  // On request they are listed.
  Mount({Config("list_daqfs_xattrs = true\n"), mnt_});
  CmdResult all = Sh("getfattr -d -m - " + Q(mnt_ + "/arch/x.tar/g"));
  EXPECT_NE(all.output.find("user.daqfs.member=\"g\""), std::string::npos) << all.output;
  EXPECT_EQ(Sh("ls -a " + Q(mnt_)).output, ".\n..\narch\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, StatfsReportsTheSsdCacheSoDfIsNotFull) {
  Mount({Config("", "disk = 1G\nmemory = 64M\n"), mnt_});
  CmdResult st = Sh("stat -f -c '%S %b %f %a %c %d' " + Q(mnt_));
  unsigned long long bsize = 0, blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
  ASSERT_EQ(std::sscanf(st.output.c_str(), "%llu %llu %llu %llu %llu %llu", &bsize, &blocks, &bfree,
                        &bavail, &files, &ffree),
            6)
      << st.output;
  EXPECT_EQ(bsize * blocks, 1ull << 30);
  EXPECT_GT(bfree, 0u);
  EXPECT_LE(bfree, blocks);
  EXPECT_EQ(bavail, bfree);
  EXPECT_GT(files, 0u);
  EXPECT_GT(ffree, 0u);
  CmdResult df = Sh("df --output=pcent,ipcent " + Q(mnt_) + " | tail -1");
  EXPECT_EQ(df.output.find("100%"), std::string::npos) << df.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, SighupReopensTheLogFileAndKeepsTheMount) {
  std::string log = dir_ / "out.log";
  Mount({Config("log = " + log + "\n"), mnt_});
  EXPECT_NE(Slurp(log).find("mounted on " + mnt_), std::string::npos) << Slurp(log);
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);  // as logrotate does
  ASSERT_EQ(kill(daemon_.pid(), SIGHUP), 0);
  EXPECT_EQ(Sh("for i in $(seq 100); do grep -q 'SIGHUP' " + Q(log) +
               " 2>/dev/null && exit 0; sleep 0.05; done; exit 1")
                .exit_code,
            0);
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_EQ(Slurp(mnt_ + "/arch/a.tar/f"), "data\n");
  ASSERT_EQ(kill(daemon_.pid(), SIGHUP), 0);  // a second one too
  EXPECT_EQ(Sh("for i in $(seq 100); do [ $(grep -c SIGHUP " + Q(log) +
               ") = 2 ] && exit 0; sleep 0.05; done; exit 1")
                .exit_code,
            0);
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
  EXPECT_NE(Slurp(log).find("unmounted " + mnt_), std::string::npos) << Slurp(log);
  EXPECT_EQ(Slurp(log + ".1").find("unmounted"), std::string::npos);
}

TEST_F(SafetyE2eTest, CheckConfigValidatesWithoutMounting) {
  std::string bin = Q(DaqfsBinary()) + " --check-config ";
  std::string cfg = Config("mountpoint = " + mnt_ + "\n");
  CmdResult ok = Sh(bin + Q(cfg));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find(cfg + ": configuration valid"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("source arch (archive): " + data_ + ": 1 archive files"),
            std::string::npos)
      << ok.output;
  EXPECT_FALSE(IsMounted(mnt_));
  std::string bad = WriteConfig(dir_, "bad.ini", "[mount]\nthreads = 4\nlog = relative.log\n");
  CmdResult b = Sh(bin + Q(bad));
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.output.find(bad + ":3: bad value 'relative.log' for log"), std::string::npos)
      << b.output;
  std::string nolog = WriteConfig(dir_, "nolog.ini",
                                  "[mount]\nlog = " + dir_ / "no-such-folder/x.log" +
                                      "\n[source s]\ntype = archive\npath = " + data_ + "\n");
  CmdResult l = Sh(bin + Q(nolog));
  EXPECT_EQ(l.exit_code, 2) << l.output;
  EXPECT_NE(l.output.find("[mount] log: cannot write " + dir_ / "no-such-folder/x.log"),
            std::string::npos)
      << l.output;
  ASSERT_EQ(Sh("mkdir " + Q(dir_ / "nothing")).exit_code, 0);
  std::string empty = WriteConfig(dir_, "empty.ini",
                                  "[source e]\ntype = archive\npath = " + dir_ / "nothing" + "\n");
  CmdResult e = Sh(bin + Q(empty));
  EXPECT_EQ(e.exit_code, 3) << e.output;
  EXPECT_NE(e.output.find("source e: " + dir_ / "nothing" + ": no archive in this folder"),
            std::string::npos)
      << e.output;
  // The mount point comes from the file when the command line names none.
  ASSERT_TRUE(daemon_.Start({cfg}, mnt_, dir_ / "daqfs.log"));
  EXPECT_EQ(Slurp(mnt_ + "/arch/a.tar/f"), "data\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, StartUpErrorsReachTheTerminalAlsoWithALogFile) {
  Mount({"--source", data_, mnt_});
  std::string log = dir_ / "second.log";
  std::string cfg = Config("log = " + log + "\n");
  CmdResult second = Sh(Q(DaqfsBinary()) + " -f " + Q(cfg) + " " + Q(mnt_));
  EXPECT_EQ(second.exit_code, 4);
  EXPECT_NE(second.output.find("daqfs: mount point " + mnt_ + " is already a mount point"),
            std::string::npos)
      << second.output;
  EXPECT_NE(Slurp(log).find("is already a mount point"), std::string::npos) << Slurp(log);
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, ConfigShowsWhatTheMountRunsWith) {
  // -o allow_other, the mount point, and why the SSD tier is off (its folder cannot be made).
  std::string cfg = dir_ / "c.ini";
  WriteFile(cfg,
            "[cache]\ndir = /proc/daqfs-no-cache-here\n[source arch]\ntype = archive\n"
            "path = " +
                data_ + "\n");
  Mount({"-o", "allow_other", cfg, mnt_});
  std::string shown = Slurp(mnt_ + "/.daqfs/config");
  EXPECT_NE(shown.find("\nallow_other = true\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\nmountpoint = " + mnt_ + "\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("; the SSD tier is off: "), std::string::npos) << shown;
  // It reads back as a configuration (notes included).
  WriteFile(dir_ / "shown.ini", shown);
  CmdResult again = Sh(Q(DaqfsBinary()) + " --check-config " + Q(dir_ / "shown.ini"));
  EXPECT_EQ(again.exit_code, 0) << again.output << shown;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(SafetyE2eTest, SystemdHearsReadyOnlyOnceTheMountAnswers) {
  // PID 1 here is not systemd: play its part with a datagram socket of our own.
  std::string sock_path = dir_ / "notify.sock";
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{60, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // A read-ahead no kernel picks by itself: it is written once the kernel's INIT is answered,
  // just before readiness is reported, so at READY=1 it must already be there.
  std::string cfg = Config("read_ahead_kb = 1236\n");
  CmdResult pid = Sh("NOTIFY_SOCKET=" + Q(sock_path) + " setsid " + Q(DaqfsBinary()) + " -f " +
                     Q(cfg) + " " + Q(mnt_) + " >" + Q(dir_ / "n.log") + " 2>&1 & echo $!");
  ASSERT_EQ(pid.exit_code, 0);
  std::string daemon_pid = pid.output.substr(0, pid.output.find('\n'));
  char buf[4096];
  ssize_t n = recv(sock, buf, sizeof buf, 0);
  ASSERT_GT(n, 0) << "no notification; log:\n" << Slurp(dir_ / "n.log");
  std::string msg(buf, static_cast<size_t>(n));
  EXPECT_NE(msg.find("READY=1"), std::string::npos) << msg;
  // The moment READY=1 arrives the mount must answer: INIT done (the read-ahead written after
  // it is in place; read from the mount table and sysfs, which never wait for the daemon) and
  // a statfs, which always goes to the daemon, answered at once.
  CmdResult bdi = Sh("findmnt -n -o MAJ:MIN " + Q(mnt_) + " | tr -d ' '");
  ASSERT_EQ(bdi.exit_code, 0) << bdi.output;
  std::string dev = bdi.output.substr(0, bdi.output.find('\n'));
  EXPECT_EQ(Slurp("/sys/class/bdi/" + dev + "/read_ahead_kb"), "1236\n") << "bdi " << dev;
  EXPECT_EQ(Sh("timeout 2 stat -f " + Q(mnt_)).exit_code, 0);
  EXPECT_EQ(Slurp(mnt_ + "/arch/a.tar/f"), "data\n");
  EXPECT_NE(msg.find("STATUS=serving " + mnt_), std::string::npos) << msg;
  EXPECT_EQ(Sh("fusermount3 -u " + Q(mnt_)).exit_code, 0);
  n = recv(sock, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "STOPPING=1");
  EXPECT_TRUE(WaitGone(daemon_pid));
  close(sock);
}

}  // namespace
}  // namespace daqfs::e2e
