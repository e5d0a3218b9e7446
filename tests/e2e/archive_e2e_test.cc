// End-to-end tests of compressed archives on a real mount: zstd members made by the zstd CLI,
// pzstd and the seekable format, whole .tar.zst archives, corrupt frames, the merged layout,
// persistent indexes and rescans. Every byte is compared with `tar -x` + `zstd -d`.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

class ArchiveE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "needs root and /dev/fuse";
    data_ = dir_ / "data";
    mnt_ = dir_ / "mnt";
    src_ = dir_ / "src";
    // Beamline-like samples (12-bit values in 16-bit words) in a few files and folders.
    ASSERT_EQ(Sh("set -e; mkdir -p " + Q(data_) + " " + Q(mnt_) + " " + Q(src_ + "/run1/ch109") +
                 " " + Q(src_ + "/run1/ch110") + "; cd " + Q(src_) +
                 "; /usr/bin/python3 -c 'import numpy as np, sys; r=np.random.default_rng(1);\n"
                 "for i,n in enumerate((3000000, 700001, 1, 0, 5000000)):\n"
                 "  d=(2048+r.normal(0,60,n//2)).astype(np.uint16)&0x0fff\n"
                 "  open(sys.argv[1+i],\"wb\").write(d.tobytes()+(b\"x\" if n%2 else b\"\"))' "
                 "run1/ch109/a.dat run1/ch109/b.dat run1/ch110/c.dat run1/ch110/empty.dat big.dat")
                  .exit_code,
              0);
  }
  void TearDown() override {
    if (HasFailure() && daemon_.pid() > 0) {
      std::fprintf(stderr, "daqfs log:\n%s\n", daemon_.Log().c_str());
    }
  }
  // A copy of src/ whose *.dat files are compressed by `compress` (a shell command taking the
  // file name as $f and writing $f.zst), archived as data/NAME.
  void MakeZstdTar(const std::string& name, const std::string& compress) {
    std::string work = dir_ / ("w-" + name);
    ASSERT_EQ(Sh("set -e; cp -a " + Q(src_) + " " + Q(work) + "; cd " + Q(work) +
                 "; for f in $(find . -name \"*.dat\"); do " + compress +
                 "; rm $f; done; tar -cf " + Q(data_ + "/" + name) + " .")
                  .exit_code,
              0);
  }
  std::string Config(const std::string& source_extra = "") {
    std::string cfg = dir_ / "daqfs.ini";
    WriteFile(cfg, "[cache]\ndir = " + (dir_ / "cache") +
                       "\nmemory = 256M\ndisk = 1G\n"
                       "[source s]\ntype = archive\npath = " +
                       data_ + "\n" + source_extra);
    return cfg;
  }
  void Mount(const std::string& cfg, DaqfsProcess* d = nullptr) {
    ASSERT_TRUE((d ? d : &daemon_)->Start({cfg, mnt_}, mnt_, dir_ / "daqfs.log"));
  }
  // diff -r of src/ against a folder of the mount.
  void ExpectSameAsSource(const std::string& mounted) {
    CmdResult d = Sh("diff -r " + Q(src_) + " " + Q(mounted));
    EXPECT_EQ(d.exit_code, 0) << d.output.substr(0, 3000);
  }

  TempDir dir_;
  std::string data_, mnt_, src_;
  DaqfsProcess daemon_;
};

TEST_F(ArchiveE2eTest, ZstdMembersFromEveryCompressorReadLikeTarAndZstd) {
  MakeZstdTar("cli.tar", "zstd -q -3 $f -o $f.zst");
  MakeZstdTar("pipe.tar", "zstd -q -c < $f > $f.zst");  // no content size in the frame
  MakeZstdTar("pzstd.tar", "pzstd -q -p 2 $f -o $f.zst");
  ASSERT_EQ(
      Sh("cd " + Q(src_) + " && tar --zstd -cf " + Q(data_ + "/whole.tar.zst") + " .").exit_code,
      0);
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf - . | pzstd -q -p 2 -c > " +
               Q(data_ + "/whole-pzstd.tar.zst"))
                .exit_code,
            0);
  Mount(Config());
  for (const char* a :
       {"cli.tar", "pipe.tar", "pzstd.tar", "whole.tar.zst", "whole-pzstd.tar.zst"}) {
    SCOPED_TRACE(a);
    ExpectSameAsSource(mnt_ + "/s/" + a);
  }
  // Sizes are the decompressed sizes; stat agrees with what tar -x + zstd -d give.
  struct stat st;
  ASSERT_EQ(stat((mnt_ + "/s/cli.tar/big.dat").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5000000);
  // The member's frames and archive are visible as extended attributes.
  std::string big = Q(mnt_ + "/s/pzstd.tar/big.dat");
  CmdResult x = Sh("getfattr -n user.daqfs.frames " + big +
                   "; getfattr -n user.daqfs.compressed_size " + big);
  EXPECT_NE(x.output.find("user.daqfs.frames="), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("user.daqfs.compressed_size="), std::string::npos) << x.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(ArchiveE2eTest, SeekableMembersFromDaqfsRepack) {
  std::string repack = std::string(DAQFS_BINARY_DIR) + "/daqfs-repack";
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf " + Q(dir_ / "in.tar") + " .").exit_code, 0);
  CmdResult r =
      Sh(repack + " -o " + Q(data_) + " --frame-size 256K --verify " + Q(dir_ / "in.tar"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The printed ratio is output/input, as zstd reports it and the README quotes it.
  unsigned long long in = 0, out = 0;
  double ratio = 0;
  const char* summary = std::strstr(r.output.c_str(), "input ");
  ASSERT_NE(summary, nullptr) << r.output;
  ASSERT_EQ(std::sscanf(summary, "input %llu bytes (%*[^)]), output %llu bytes (%*[^)]), ratio %lf",
                        &in, &out, &ratio),
            3)
      << r.output;
  ASSERT_GT(in, 0u);
  EXPECT_NEAR(ratio, static_cast<double>(out) / static_cast<double>(in), 0.006) << r.output;
  EXPECT_LT(ratio, 1.0) << r.output;
  Mount(Config());
  ExpectSameAsSource(mnt_ + "/s/in.tar");
  CmdResult x = Sh("getfattr --only-values -n user.daqfs.frames " + Q(mnt_ + "/s/in.tar/big.dat"));
  EXPECT_NE(x.output.find("seek table"), std::string::npos) << x.output;
  EXPECT_EQ(daemon_.Unmount(), 0);
}

TEST_F(ArchiveE2eTest, CorruptFrameGivesEioForItsReadsOnly) {
  // big.dat as five frames (one per 1 MB chunk, sizes recorded); the last frame's checksum is
  // then damaged, so only reads of the member's end need the bad frame.
  MakeZstdTar("bad.tar", "zstd -q $f -o $f.zst");
  std::string w = dir_ / "w-bad.tar";
  ASSERT_EQ(Sh("set -e; cd " + Q(w) + "; mkdir chunks; split -b 1000000 " + Q(src_ + "/big.dat") +
               " chunks/c.; for c in chunks/c.*; do zstd -q $c -o $c.zst; done; "
               "cat chunks/c.*.zst > big.dat.zst; rm -r chunks; "
               "printf '\\xff' | dd of=big.dat.zst bs=1 seek=$(( $(stat -c %s big.dat.zst) - 1 )) "
               "conv=notrunc status=none; tar -cf " +
               Q(data_ + "/bad.tar") + " .")
                .exit_code,
            0);
  Mount(Config());
  struct stat st;
  ASSERT_EQ(stat((mnt_ + "/s/bad.tar/big.dat").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5000000);
  CmdResult cat = Sh("cat " + Q(mnt_ + "/s/bad.tar/big.dat") + " > /dev/null");
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_NE(cat.output.find("Input/output error"), std::string::npos) << cat.output;
  // The rest of the damaged member and every other member stay readable.
  EXPECT_EQ(
      Sh("cmp -n 3900000 " + Q(mnt_ + "/s/bad.tar/big.dat") + " " + Q(src_ + "/big.dat")).exit_code,
      0);
  EXPECT_EQ(Sh("diff -r " + Q(src_ + "/run1") + " " + Q(mnt_ + "/s/bad.tar/run1")).exit_code, 0);
  EXPECT_NE(daemon_.Log().find("bad.tar"), std::string::npos);
  EXPECT_EQ(daemon_.Unmount(), 0);
}

TEST_F(ArchiveE2eTest, TruncatedCompressedArchiveKeepsWhatCameBefore) {
  MakeZstdTar("cut.tar", "zstd -q $f -o $f.zst");
  ASSERT_EQ(
      Sh("cd " + Q(src_) + " && tar --zstd -cf " + Q(data_ + "/cutwhole.tar.zst") + " .").exit_code,
      0);
  ASSERT_EQ(Sh("truncate -s -30000 " + Q(data_ + "/cut.tar") + " && truncate -s 20000 " +
               Q(data_ + "/cutwhole.tar.zst"))
                .exit_code,
            0);
  Mount(Config());
  CmdResult ls = Sh("ls -lR " + Q(mnt_));
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  CmdResult first = Sh("find " + Q(mnt_ + "/s/cut.tar") + " -type f | head -1");
  EXPECT_FALSE(first.output.empty());
  // The truncated .tar.zst keeps the members that decode completely before the cut.
  CmdResult salvaged = Sh("find " + Q(mnt_ + "/s/cutwhole.tar.zst") + " -type f");
  EXPECT_EQ(salvaged.exit_code, 0) << salvaged.output;
  EXPECT_NE(daemon_.Log().find("cut"), std::string::npos);
  EXPECT_EQ(daemon_.Unmount(), 0);
}

TEST_F(ArchiveE2eTest, MergedLayoutLaterArchiveWins) {
  ASSERT_EQ(Sh("set -e; cd " + Q(dir_.path()) +
               "; mkdir -p m1/ch1 m2/ch1 m2/ch2; echo old > m1/ch1/x; "
               "echo one > m1/ch1/y; echo new > m2/ch1/x; echo two > m2/ch2/z; "
               "zstd -q m2/ch2/z -o m2/ch2/z.zst && rm m2/ch2/z; "
               "tar -cf data/0001.tar -C m1 .; tar -cf data/0002.tar -C m2 .")
                .exit_code,
            0);
  Mount(Config("layout = merged\n"));
  EXPECT_EQ(Slurp(mnt_ + "/s/ch1/x"), "new\n");
  EXPECT_EQ(Slurp(mnt_ + "/s/ch1/y"), "one\n");
  EXPECT_EQ(Slurp(mnt_ + "/s/ch2/z"), "two\n");
  CmdResult ls = Sh("cd " + Q(mnt_ + "/s") + " && find . | sort");
  EXPECT_EQ(ls.output, ".\n./ch1\n./ch1/x\n./ch1/y\n./ch2\n./ch2/z\n");
  EXPECT_EQ(daemon_.Unmount(), 0);
}

TEST_F(ArchiveE2eTest, PersistentIndexIsReusedAndRebuiltWhenStale) {
  MakeZstdTar("p.tar", "zstd -q $f -o $f.zst");
  std::string cfg = Config();
  Mount(cfg);
  ExpectSameAsSource(mnt_ + "/s/p.tar");
  EXPECT_EQ(daemon_.Unmount(), 0);
  {
    DaqfsProcess again;
    Mount(cfg, &again);
    ExpectSameAsSource(mnt_ + "/s/p.tar");
    EXPECT_NE(again.Log().find("(saved index)"), std::string::npos) << again.Log();
    EXPECT_EQ(again.Unmount(), 0) << again.Log();
  }
  // A damaged index file is rejected and rebuilt; a changed archive gets a new index.
  // Saved indexes are blobs of the source's namespace in the SSD tier's folder.
  ASSERT_EQ(Sh("n=0; for f in " + Q(dir_ / "cache/blobs-v1/ns") +
               "/*/*.idx@*; do [ -f \"$f\" ] || exit 3; printf x | dd of=\"$f\" bs=1 "
               "seek=50 conv=notrunc status=none || exit 4; n=$((n+1)); done; [ $n -eq 1 ]")
                .exit_code,
            0);
  {
    DaqfsProcess third;
    Mount(cfg, &third);
    ExpectSameAsSource(mnt_ + "/s/p.tar");
    EXPECT_NE(third.Log().find("indexing"), std::string::npos) << third.Log();
    EXPECT_EQ(third.Unmount(), 0);
  }
  ASSERT_EQ(Sh("echo more > " + Q(src_ + "/added.dat") + " && cd " + Q(dir_ / "w-p.tar") +
               " && cp " + Q(src_ + "/added.dat") + " . && tar -cf " + Q(data_ + "/p.tar") + " .")
                .exit_code,
            0);
  DaqfsProcess fourth;
  Mount(cfg, &fourth);
  EXPECT_EQ(Slurp(mnt_ + "/s/p.tar/added.dat"), "more\n");
  EXPECT_EQ(fourth.Unmount(), 0);
}

// .tar.gz from GNU tar, bsdtar and a pigz-like split into gzip members: every byte of every
// member equal to `tar -x`, read whole (cmp) and at random offsets (dd); the checkpoints are
// saved, so a remount lists and reads without inflating the archives again; a damaged
// multi-member archive gives EIO for the reads that need the damaged part only.
TEST_F(ArchiveE2eTest, GzipArchivesReadLikeTarAndRemountReusesTheirCheckpoints) {
  ASSERT_EQ(Sh("set -e; cd " + Q(src_) + "; tar -czf " + Q(data_ + "/gnu.tar.gz") +
               " .; bsdtar -czf " + Q(data_ + "/bsd.tgz") +
               " .; tar -cf - . | split -b 1M "
               "--filter='gzip -1' > " +
               Q(data_ + "/members.tar.gz") + "; tar -cf - . | split -b 1M --filter='gzip -6' > " +
               Q(data_ + "/bad.tar.gz") + "; size=$(stat -c %s " + Q(data_ + "/bad.tar.gz") +
               "); printf '\\377\\377\\377\\377' | dd of=" + Q(data_ + "/bad.tar.gz") +
               " bs=1 seek=$((size - 300000)) conv=notrunc status=none")
                .exit_code,
            0);
  const std::string cfg = Config();
  Mount(cfg);
  for (const char* a : {"gnu.tar.gz", "bsd.tgz", "members.tar.gz"}) {
    SCOPED_TRACE(a);
    ExpectSameAsSource(mnt_ + "/s/" + a);
    // Random 4 KiB reads (each inflates from the checkpoint before it).
    const std::string ref = Q(dir_ / "ref.bin");
    CmdResult dd = Sh("cd " + Q(mnt_ + "/s/" + a) + " && for off in 1465 0 1000 7 333; do dd if=" +
                      Q(src_ + "/big.dat") + " bs=4096 skip=$off count=1 status=none > " + ref +
                      "; dd if=big.dat bs=4096 skip=$off count=1 status=none | cmp - " + ref +
                      " || exit 1; done");
    EXPECT_EQ(dd.exit_code, 0) << dd.output;
  }
  CmdResult x = Sh("getfattr --absolute-names -n user.daqfs.checkpoints --only-values " +
                   Q(mnt_ + "/s/gnu.tar.gz/big.dat"));
  EXPECT_EQ(x.output, "3 (whole archive)") << x.output;  // 8.7 MiB of tar, 4 MiB intervals
  // The damaged archive: the gzip members before the damage read; what needs it is EIO.
  CmdResult good =
      Sh("cmp " + Q(mnt_ + "/s/bad.tar.gz/run1/ch109/a.dat") + " " + Q(src_ + "/run1/ch109/a.dat"));
  EXPECT_EQ(good.exit_code, 0) << good.output;
  CmdResult bad = Sh("cat " + Q(mnt_ + "/s/bad.tar.gz/big.dat") + " > /dev/null");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("Input/output error"), std::string::npos) << bad.output;
  EXPECT_NE(daemon_.Log().find("bad.tar.gz: gzip data at compressed offset"), std::string::npos)
      << daemon_.Log();
  EXPECT_EQ(daemon_.Unmount(), 0);
  DaqfsProcess again;
  Mount(cfg, &again);
  ExpectSameAsSource(mnt_ + "/s/gnu.tar.gz");
  const std::string log = again.Log();
  for (const char* a : {"gnu.tar.gz", "bsd.tgz", "members.tar.gz"}) {
    EXPECT_NE(log.find(std::string(a) + ": 8 members (saved index)"), std::string::npos)
        << a << "\n"
        << log;
  }
  EXPECT_EQ(again.Unmount(), 0) << again.Log();
}

// .tar.xz of many blocks (xz -T: read by block), of one block (xz -T1), .tar.bz2 (bzip2
// streams per 900 kB, as pbzip2 writes: read by bzip2 block) and .tar.lz4 on a real mount: equal
// to the sources; the one-stream kinds decompressed once, so a remount serves them from the
// spill with the saved index; a .tar.bz2 damaged after indexing gives EIO for the reads that
// need the damaged block only.
TEST_F(ArchiveE2eTest, XzBzip2AndLz4ArchivesReadLikeTarAndAreDecompressedOnce) {
  ASSERT_EQ(Sh("set -e; cd " + Q(src_) + "; tar -cf - . | xz -1 -T2 --block-size=2MiB > " +
               Q(data_ + "/a.tar.xz") + "; tar -cf - . | xz -1 -T1 > " + Q(data_ + "/d.txz") +
               "; tar -cf - . | split -b 900K --filter='bzip2 -1' > " + Q(data_ + "/b.tbz2") +
               "; tar -cf - . | lz4 -q > " + Q(data_ + "/c.tar.lz4") +
               "; tar -cf - . | bzip2 -1 > " + Q(data_ + "/e.tar.bz2") + "; cp " +
               Q(data_ + "/e.tar.bz2") + " " + Q(data_ + "/f.tar.bz2"))
                .exit_code,
            0);
  const std::string cfg = Config();
  Mount(cfg);
  for (const char* a : {"a.tar.xz", "b.tbz2", "c.tar.lz4", "d.txz", "e.tar.bz2"}) {
    ExpectSameAsSource(mnt_ + "/s/" + a);
  }
  EXPECT_EQ(daemon_.Unmount(), 0);
  DaqfsProcess again;
  Mount(cfg, &again);
  for (const char* a : {"a.tar.xz", "b.tbz2", "c.tar.lz4", "d.txz", "e.tar.bz2"}) {
    ExpectSameAsSource(mnt_ + "/s/" + a);
  }
  const std::string log = again.Log();
  for (const char* a : {"a.tar.xz", "b.tbz2", "c.tar.lz4", "d.txz", "e.tar.bz2"}) {
    EXPECT_NE(log.find(std::string(a) + ": 8 members (saved index)"), std::string::npos)
        << a << "\n"
        << log;
  }
  CmdResult blocks = Sh("getfattr --absolute-names -n user.daqfs.blocks --only-values " +
                        Q(mnt_ + "/s/a.tar.xz/big.dat"));
  EXPECT_EQ(blocks.output, "5 (whole archive)") << blocks.output;  // 8.7 MiB in 2 MiB blocks
  // bzip2 -1 cuts about every 100 kB: random 4 KiB reads decode one block each.
  CmdResult bz = Sh("getfattr --absolute-names -n user.daqfs.blocks --only-values " +
                    Q(mnt_ + "/s/e.tar.bz2/big.dat"));
  EXPECT_GE(std::atoi(bz.output.c_str()), 60) << bz.output;
  EXPECT_NE(bz.output.find(" (whole archive)"), std::string::npos) << bz.output;
  const std::string ref = Q(dir_ / "ref.bin");
  CmdResult dd = Sh("cd " + Q(mnt_ + "/s/e.tar.bz2") +
                    " && for off in 1465 0 1000 7 333; do dd if=" + Q(src_ + "/big.dat") +
                    " bs=4096 skip=$off count=1 status=none > " + ref +
                    "; dd if=big.dat bs=4096 skip=$off count=1 status=none | cmp - " + ref +
                    " || exit 1; done");
  EXPECT_EQ(dd.exit_code, 0) << dd.output;
  // Damage in the middle of f.tar.bz2 (a copy of e, indexed, never read: nothing of it is
  // cached), inside big.dat (8.7 of its 9 MiB): the reads that need the damaged block fail,
  // the start of big.dat still reads.
  ASSERT_EQ(Sh("size=$(stat -c %s " + Q(data_ + "/f.tar.bz2") +
               "); printf 'XXXXXXXXXXXX' | dd of=" + Q(data_ + "/f.tar.bz2") +
               " bs=1 seek=$((size / 2)) conv=notrunc status=none")
                .exit_code,
            0);
  CmdResult bad = Sh("cat " + Q(mnt_ + "/s/f.tar.bz2/big.dat") + " > /dev/null");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("Input/output error"), std::string::npos) << bad.output;
  CmdResult head = Sh("head -c 100000 " + Q(mnt_ + "/s/f.tar.bz2/big.dat") +
                      " | cmp - <(head -c 100000 " + Q(src_ + "/big.dat") + ")");
  EXPECT_EQ(head.exit_code, 0) << head.output;
  EXPECT_NE(again.Log().find("f.tar.bz2: bzip2 block at bit"), std::string::npos) << again.Log();
  EXPECT_EQ(again.Unmount(), 0) << again.Log();
}

TEST_F(ArchiveE2eTest, MergedLayoutStartingWithOnlyFreshArchivesListsEmptyThenFills) {
  // Archives written just now wait until stable; meanwhile the merged root is empty, not EIO.
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf " + Q(data_ + "/fresh.tar") + " run1").exit_code, 0);
  Mount(Config("layout = merged\nrescan = 0.5\n"));
  CmdResult ls = Sh("ls " + Q(mnt_ + "/s"));
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_EQ(ls.output, "");
  bool seen = false;
  for (int i = 0; i < 150 && !seen; ++i) {
    seen = access((mnt_ + "/s/run1/ch110/c.dat").c_str(), R_OK) == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/s")).output, "run1\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(ArchiveE2eTest, RescanShowsNewArchivesOnceStable) {
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf " + Q(data_ + "/first.tar") +
               " run1 && touch -d '1 minute ago' " + Q(data_ + "/first.tar"))
                .exit_code,
            0);
  Mount(Config("rescan = 0.5\n"));
  EXPECT_TRUE(access((mnt_ + "/s/first.tar/run1/ch109/a.dat").c_str(), R_OK) == 0);
  // An archive dropped in (and already stable) appears after the next rescan.
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf " + Q(dir_ / "second.tar") +
               " big.dat && touch -d '1 minute ago' " + Q(dir_ / "second.tar") + " && mv " +
               Q(dir_ / "second.tar") + " " + Q(data_))
                .exit_code,
            0);
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = access((mnt_ + "/s/second.tar/big.dat").c_str(), R_OK) == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(Sh("cmp " + Q(mnt_ + "/s/second.tar/big.dat") + " " + Q(src_ + "/big.dat")).exit_code,
            0);
  // One still being written (changed just now) waits until it has been stable for 5 s.
  ASSERT_EQ(Sh("cd " + Q(src_) + " && tar -cf " + Q(data_ + "/third.tar") + " run1").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_NE(access((mnt_ + "/s/third.tar").c_str(), F_OK), 0);
  seen = false;
  for (int i = 0; i < 150 && !seen; ++i) {
    seen = access((mnt_ + "/s/third.tar/run1/ch110/c.dat").c_str(), R_OK) == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen);
  // A removed archive leaves the listing.
  ASSERT_EQ(Sh("rm " + Q(data_ + "/first.tar")).exit_code, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Sh("ls " + Q(mnt_ + "/s")).output.find("first.tar") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(daemon_.Unmount(), 0);
}

}  // namespace
}  // namespace daqfs::e2e
