// End-to-end tests of HDF5 sources on a real mount: a generated NXmx-like master with data
// files, virtual datasets and bad links (every file compared with what h5py reads, .npy files
// with numpy.load, also memory-mapped), every real sample in ../shared/data/hdf5 (original
// files cmp-equal through the mount, the dangling-link and missing-VDS cases EIO), and the
// 1000-data-file master under `ulimit -n 256`, listed in under a second.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "tests/e2e/e2e_harness.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs::e2e {
namespace {

using testing::MakeHdf5Samples;
using testing::RealHdf5Samples;
using testing::RunPython;

const char* const kRealSources[][2] = {
    {"small", "dectris-h5-testfiles/dataset_artificial_small_001"},
    {"h5ver", "dectris-h5-testfiles/datasets_different_h5ver"},
    {"eiger1", "dectris-h5-testfiles/datasets_eiger1"},
    {"eiger2", "dectris-h5-testfiles/datasets_eiger2"},
    {"dials", "dials-data-files"},
    {"nexus", "nexusformat-exampledata"},
    {"arina", "rosettasciio-arina"},
};

class Hdf5E2eTest : public MountTest {
 protected:
  Hdf5E2eTest() : MountTest("hdf5-e2e") {}
  void Mount(const std::string& sources) {
    MountConfig("[cache]\nmemory = 256M\ndisk = 1G\n" + sources);
  }
};

TEST_F(Hdf5E2eTest, GeneratedMasterReadsLikeH5py) {
  std::string gen = dir_ / "gen";
  std::map<std::string, std::string> expected = MakeHdf5Samples(gen);
  ASSERT_FALSE(expected.empty());
  Mount("[source h]\ntype = hdf5\npath = " + gen + "/src\n");
  std::string h = mnt_ + "/h";
  // Every file the generator expects, byte for byte through the mount.
  for (const auto& [path, bytes] : expected) {
    EXPECT_TRUE(Slurp(h + "/" + path) == bytes) << path;
  }
  // The root: original files, and folders only for files nothing links.
  EXPECT_EQ(Sh("ls " + Q(h)).output,
            "sample_data_000001.h5\nsample_data_000002.h5\nsample_master\nsample_master.h5\n"
            "vds_master\nvds_master.h5\nvds_missing\nvds_missing.h5\n");
  EXPECT_EQ(Sh("cat " + Q(h + "/sample_master/entry/instrument/detector/beam_center_x")).output,
            "1023.5\n");
  CmdResult x = Sh("getfattr -d " + Q(h + "/sample_master/entry/instrument/detector") + " " +
                   Q(h + "/sample_master/entry/data/data_000001.npy"));
  EXPECT_NE(x.output.find("user.NX_class=\"NXdetector\""), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("user.image_nr_low=\"1\""), std::string::npos) << x.output;
  EXPECT_EQ(x.output.find("user.daqfs."), std::string::npos) << "daqfs's own are not listed";
  EXPECT_EQ(Sh("getfattr --absolute-names --only-values -n user.daqfs.hdf5_path " +
               Q(h + "/sample_master/entry/data/data_000001.npy"))
                .output,
            "/entry/data/data");
  EXPECT_EQ(Sh("readlink " + Q(h + "/sample_master/entry/link_to_detector")).output,
            "instrument/detector\n");
  EXPECT_EQ(Sh("cat " + Q(h + "/sample_master/entry/link_to_detector/beam_center_x")).output,
            "1023.5\n");
  // A dangling external link is listed; reading it is EIO, and the log names both files.
  CmdResult dangling = Sh("cat " + Q(h + "/sample_master/entry/data/data_000003"));
  EXPECT_NE(dangling.exit_code, 0);
  EXPECT_NE(dangling.output.find("Input/output error"), std::string::npos) << dangling.output;
  // A virtual dataset with a missing source: its first frames read (page by page, without the
  // kernel's read-ahead, which would ask for the missing frames too), the missing ones are EIO.
  Python(
      "import os\n"
      "fd = os.open('" +
      h +
      "/vds_missing/data.npy', os.O_RDONLY)\n"
      "os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)\n"
      "want = open('" +
      h +
      "/vds_master/data.npy', 'rb').read()\n"
      "good = (128 + 5 * 64 * 80 * 2) // 4096 * 4096\n"
      "for off in range(0, good, 4096):\n"
      "  assert os.pread(fd, 4096, off) == want[off:off + 4096], off\n"
      "try:\n"
      "  os.pread(fd, 4096, len(want) - 4096)\n"
      "  raise SystemExit('the missing frames read')\n"
      "except OSError as e:\n"
      "  assert e.errno == 5, e\n");
  CmdResult tail = Sh("cat " + Q(h + "/vds_missing/data.npy") + " > /dev/null");
  EXPECT_NE(tail.exit_code, 0);
  EXPECT_NE(tail.output.find("Input/output error"), std::string::npos) << tail.output;
  std::string log = daemon_.Log();
  EXPECT_NE(log.find("missing_data_000003.h5"), std::string::npos);
  EXPECT_NE(log.find("gone_data.h5"), std::string::npos);
  // numpy.load, also memory-mapped, equals h5py.
  Python(
      "import h5py, numpy as np\n"
      "m, s = '" +
      h + "/', '" + gen +
      "/src/'\n"
      "cases = [('sample_master/entry/data/data_000001.npy', 'sample_data_000001.h5', "
      "'/entry/data/data'),\n"
      "  ('sample_master/entry/data/data_000002.npy', 'sample_data_000002.h5', "
      "'/entry/data/data'),\n"
      "  ('sample_master/entry/instrument/detector/detectorSpecific/pixel_mask.npy', "
      "'sample_master.h5', '/entry/instrument/detector/detectorSpecific/pixel_mask'),\n"
      "  ('sample_master/entry/onechunk.npy', 'sample_master.h5', '/entry/onechunk'),\n"
      "  ('sample_master/types/compound.npy', 'sample_master.h5', '/types/compound'),\n"
      "  ('sample_master/types/big_endian.npy', 'sample_master.h5', '/types/big_endian'),\n"
      "  ('vds_master/data.npy', 'vds_master.h5', '/data')]\n"
      "for npy, f, d in cases:\n"
      "  want = h5py.File(s + f, 'r')[d][()]\n"
      "  for mode in (None, 'r'):\n"
      "    got = np.load(m + npy, mmap_mode=mode)\n"
      "    assert got.shape == want.shape and got.dtype.descr == want.dtype.newbyteorder('<')"
      ".descr or got.dtype.names, (npy, got.dtype, want.dtype)\n"
      "    assert (got == want).all(), npy\n");
  // The metrics count the units read through H5Dread.
  CmdResult metrics = Sh("grep '^daqfs_hdf5_units_read_total' " + Q(mnt_ + "/.daqfs/metrics"));
  EXPECT_NE(metrics.output.find("path=\"fallback\""), std::string::npos) << metrics.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST_F(Hdf5E2eTest, EveryRealSampleMountsListsAndReadsItsFiles) {
  std::string real = RealHdf5Samples();
  std::string sources;
  for (const auto& s : kRealSources) {
    sources +=
        "[source " + std::string(s[0]) + "]\ntype = hdf5\npath = " + real + "/" + s[1] + "\n";
  }
  Mount(sources);
  for (const auto& s : kRealSources) {
    SCOPED_TRACE(s[0]);
    std::string at = mnt_ + "/" + s[0];
    CmdResult find = Sh("find " + Q(at) + " | wc -l");
    EXPECT_EQ(find.exit_code, 0);
    EXPECT_GT(std::stoi(find.output), 2) << find.output;
    // Every original file through the mount equals the sample.
    CmdResult cmp = Sh("cd " + Q(real + "/" + s[1]) +
                       " && for f in *; do case $f in *.h5|*.nxs) "
                       "cmp \"$f\" " +
                       Q(at) + "/\"$f\" || exit 1;; esac; done");
    EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  }
  // Data files a master links are files only; a folder of data files alone shows folders.
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/small")).output,
            "test_data_000001.h5\ntest_master\ntest_master.h5\n");
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/h5ver") + " | grep -c external").output, "4\n");
  // The dangling link of the DIALS master and the missing VDS source of Therm_6_2: EIO.
  CmdResult dials = Sh("cat " + Q(mnt_ + "/dials/dectris_eiger_master/entry/data/data_000001"));
  EXPECT_NE(dials.output.find("Input/output error"), std::string::npos) << dials.output;
  CmdResult therm =
      Sh("head -c 4096 " + Q(mnt_ + "/nexus/Therm_6_2/entry/data/data.npy") + " > /dev/null");
  EXPECT_NE(therm.output.find("Input/output error"), std::string::npos) << therm.output;
  EXPECT_NE(daemon_.Log().find("Therm_6_2_000001.h5"), std::string::npos);
  CmdResult i16 = Sh("cat " + Q(mnt_ + "/nexus/538039/entry1/pil100k/data") + " > /dev/null");
  EXPECT_NE(i16.output.find("Input/output error"), std::string::npos) << i16.output;
  // Scalars as text; the soft link of the artificial master.
  EXPECT_EQ(Slurp(mnt_ + "/small/test_master/entry/instrument/detector/detectorSpecific/nimages"),
            "5\n");
  EXPECT_EQ(Sh("readlink " + Q(mnt_ + "/small/test_master/entry/link_to_detector_group")).output,
            "instrument/detector\n");
  // Frames through the HDF5 plugins (bitshuffle, LZ4) equal h5py's, by hash.
  Python(
      "import h5py, numpy as np, hashlib, glob, os\n"
      "real, m = '" +
      real + "', '" + mnt_ +
      "'\n"
      "cases = [('small/test_master/entry/data/data_000001.npy', "
      "'dectris-h5-testfiles/dataset_artificial_small_001/test_data_000001.h5', "
      "'/entry/data/data')]\n"
      "for sub, src in (('eiger1', 'datasets_eiger1'), ('eiger2', 'datasets_eiger2')):\n"
      "  for f in sorted(glob.glob(real + '/dectris-h5-testfiles/' + src + '/*.h5')):\n"
      "    name = os.path.basename(f)[:-3]\n"
      "    cases.append((sub + '/' + name + '/entry/data/data.npy', os.path.relpath(f, real), "
      "'/entry/data/data'))\n"
      "for v in ('earliest', 'v108', 'v110', 'v112'):\n"
      "  for d in ('chunked', 'chunked_bslz4', 'chunked_fixed_array_paged_bslz4', 'not_chunked'):\n"
      "    cases.append(('h5ver/dataset_%s/data/%s.npy' % (v, d), "
      "'dectris-h5-testfiles/datasets_different_h5ver/dataset_%s.h5' % v, '/data/' + d))\n"
      "  cases.append(('h5ver/dataset_%s/data/chunked_external.npy' % v, "
      "'dectris-h5-testfiles/datasets_different_h5ver/dataset_%s_external.h5' % v, "
      "'/data/chunked'))\n"
      "cases.append(('arina/test_00_master/entry/data/data_000001.npy', "
      "'rosettasciio-arina/test_00_data_000001.h5', '/entry/data/data'))\n"
      "for npy, f, d in cases:\n"
      "  want = h5py.File(real + '/' + f, 'r')[d][()]\n"
      "  for mode in (None, 'r'):\n"
      "    got = np.load(m + '/' + npy, mmap_mode=mode)\n"
      "    assert got.shape == want.shape, (npy, got.shape, want.shape)\n"
      "    assert hashlib.sha256(np.ascontiguousarray(got).tobytes()).hexdigest() == "
      "hashlib.sha256(want.tobytes()).hexdigest(), npy\n"
      "print(len(cases))\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}
#endif

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST_F(Hdf5E2eTest, AThousandDataFilesUnderUlimit256ListInUnderASecond) {
  std::string large = RealHdf5Samples() + "/dectris-h5-testfiles/dataset_artificial_large_001";
  // The daemon inherits the limit: far fewer descriptors than data files.
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  struct rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Mount("[source big]\ntype = hdf5\npath = " + large + "\n");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  std::string data = mnt_ + "/big/test_master/entry/data";
  auto start = std::chrono::steady_clock::now();
  CmdResult ls = Sh("ls " + Q(data) + " | grep -c '\\.npy$'");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ls.output, "1000\n");
  EXPECT_LT(secs, 1.0 * kSanitizerSlowdown) << "listing 1000 external links took " << secs << " s";
  // Every data file's frames read (each is 5 x 13 x 11 u16 after a 128-byte header).
  CmdResult all = Sh("cat " + Q(data) + "/*.npy | wc -c");
  EXPECT_EQ(all.output, std::to_string(1000 * (128 + 5 * 13 * 11 * 2)) + "\n") << all.output;
  CmdResult fds = Sh("ls /proc/" + std::to_string(daemon_.pid()) + "/fd | wc -l");
  EXPECT_LT(std::stoi(fds.output), 200) << fds.output;
  CmdResult open = Sh("grep '^daqfs_hdf5_open_files' " + Q(mnt_ + "/.daqfs/metrics"));
  EXPECT_NE(open.output.find("source=\"big\""), std::string::npos) << open.output;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}
#endif

}  // namespace
}  // namespace daqfs::e2e
