// End-to-end tests of the TIFF source on a real mount: a scan folder written by tifffile
// (uncompressed, deflate with predictor, multi-page, tiled), python3-pil (LZW) and tiffcp (LZW,
// tiled), with unpadded numbers in its names, mounted by `--source` (the type sniffed) and from a
// configuration with raw frames: data.npy (plain and memory-mapped) equal to the arrays in
// file-name order, every frame TIFF read by tiffinfo and tifffile, .raw files, xattrs naming file
// and page; a broken file skipped and logged; a page whose compressed bytes are damaged gives EIO
// for that frame only; files of another shape leave the folder empty with the reason in the log;
// a rescanned folder shows new files of a running scan to a reader that already listed it.
#include <unistd.h>

#include "tests/e2e/e2e_harness.h"

namespace daqfs::e2e {
namespace {

class TiffE2eTest : public MountTest {
 protected:
  TiffE2eTest() : MountTest("tiff-e2e") {}
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    scan_ = dir_ / "scan";
    ASSERT_EQ(Sh("mkdir -p " + Q(scan_)).exit_code, 0);
  }
  std::string scan_;
};

// Writes scan/: proj_1..proj_12 (12 frames of 96 x 80 u16 in 9 files) by four writers, the
// expected stack as expected.npy beside the folder.
constexpr const char* kWriteScan = R"PY(
import numpy as np, tifffile, subprocess
from PIL import Image
rng = np.random.default_rng(5)
f = rng.integers(0, 4000, (12, 96, 80)).astype('u2')
tifffile.imwrite('scan/proj_1.tif', f[0])
tifffile.imwrite('scan/proj_2.tif', f[1:4], compression='zlib', predictor=True,
                 photometric='minisblack')
tifffile.imwrite('scan/proj_3.tif', f[4], tile=(32, 32))
Image.fromarray(f[5]).save('scan/proj_4.tif', compression='tiff_lzw')
tifffile.imwrite('plain5.tif', f[6])
subprocess.run(['tiffcp', '-c', 'lzw', '-t', '-w', '32', '-l', '32', 'plain5.tif',
                'scan/proj_5.tif'], check=True)
tifffile.imwrite('scan/proj_6.tif', f[7], compression='zlib')
tifffile.imwrite('scan/proj_7.tif', f[8:10], photometric='minisblack')
tifffile.imwrite('scan/proj_10.tif', f[10])
tifffile.imwrite('scan/proj_11.tif', f[11], compression='zlib')
open('scan/proj_8.tif', 'wb').write(b'II*\x00\x08\x00\x00\x00' + b'\xff' * 40)
open('scan/README.txt', 'w').write('projections of scan 42\n')
np.save('expected.npy', f)
)PY";

TEST_F(TiffE2eTest, ASniffedScanFolderReadsLikeItsArraysThroughEveryView) {
  Python("import os\nos.chdir('" + dir_.path() + "')\n" + kWriteScan);
  ASSERT_TRUE(daemon_.Start({"--source", scan_, mnt_}, mnt_, dir_ / "daqfs.log"));
  EXPECT_EQ(Sh("ls " + Q(mnt_)).output, "data.npy\nframes\n");
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/frames") + " | wc -l").output, "12\n");
  EXPECT_EQ(Sh("ls " + Q(mnt_ + "/frames") + " | tail -1").output, "000011.tif\n");
  CmdResult info = Sh("tiffinfo " + Q(mnt_ + "/frames/000005.tif"));
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("Image Width: 80 Image Length: 96"), std::string::npos) << info.output;
  EXPECT_EQ(info.output.find("Warning"), std::string::npos) << info.output;
  EXPECT_EQ(Sh("getfattr --absolute-names --only-values -n user.daqfs.file " +
               Q(mnt_ + "/frames/000009.tif"))
                .output,
            scan_ + "/proj_7.tif");
  EXPECT_EQ(Sh("getfattr --absolute-names --only-values -n user.daqfs.page " +
               Q(mnt_ + "/frames/000009.tif"))
                .output,
            "1");
  Python(
      "import glob, numpy as np, tifffile\n"
      "want = np.load('" +
      dir_ / "expected.npy" +
      "')\n"
      "for mode in (None, 'r'):\n"
      "  got = np.load('" +
      mnt_ +
      "/data.npy', mmap_mode=mode)\n"
      "  assert got.shape == (12, 96, 80) and got.dtype == np.dtype('<u2'), got.shape\n"
      "  assert (got == want).all()\n"
      "tifs = sorted(glob.glob('" +
      mnt_ +
      "/frames/*.tif'))\n"
      "assert len(tifs) == 12\n"
      "for i, t in enumerate(tifs):\n"
      "  assert (tifffile.imread(t) == want[i]).all(), t\n");
  // The broken file is skipped, named in the log.
  std::string log = daemon_.Log();
  EXPECT_NE(log.find("skipped " + scan_ + "/proj_8.tif"), std::string::npos) << log;
  EXPECT_NE(log.find("12 frames of 80x96 <u2 from 9 TIFF files (1 skipped)"), std::string::npos)
      << log;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(TiffE2eTest, ADamagedPageIsEioForItsFrameOnlyRawFramesAreThePixels) {
  Python(
      "import numpy as np, tifffile\n"
      "f = np.arange(5 * 64 * 48, dtype='u2').reshape(5, 64, 48)\n"
      "for i in range(5):\n"
      "  tifffile.imwrite('" +
      scan_ +
      "/p_%d.tif' % i, f[i], compression='zlib')\n"
      "np.save('" +
      dir_ / "expected.npy" +
      "', f)\n"
      "# Damage the deflate stream of p_2.tif's only strip (its header stays readable).\n"
      "with tifffile.TiffFile('" +
      scan_ +
      "/p_2.tif') as t:\n"
      "  off, n = t.pages[0].dataoffsets[0], t.pages[0].databytecounts[0]\n"
      "with open('" +
      scan_ +
      "/p_2.tif', 'r+b') as fh:\n"
      "  fh.seek(off + 2)\n"
      "  fh.write(b'\\xff' * (n - 2))\n");
  MountConfig("[source t]\ntype = tiff\npath = " + scan_ + "\nraw = true\n");
  const std::string t = mnt_ + "/t";
  EXPECT_EQ(Sh("ls " + Q(t + "/frames") + " | head -4").output,
            "000000.raw\n000000.tif\n000001.raw\n000001.tif\n");
  for (int i = 0; i < 5; ++i) {
    CmdResult r = Sh("cat " + Q(t + "/frames/00000" + std::to_string(i) + ".tif") + " > /dev/null");
    if (i == 2) {
      EXPECT_NE(r.exit_code, 0);
      EXPECT_NE(r.output.find("Input/output error"), std::string::npos) << r.output;
    } else {
      EXPECT_EQ(r.exit_code, 0) << i << r.output;
    }
  }
  Python(
      "import os, numpy as np\n"
      "want = np.load('" +
      dir_ / "expected.npy" +
      "')\n"
      "r = np.fromfile('" +
      t +
      "/frames/000004.raw', dtype='<u2').reshape(64, 48)\n"
      "assert (r == want[4]).all()\n"
      "fd = os.open('" +
      t +
      "/data.npy', os.O_RDONLY)\n"
      "os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)\n"
      "frame = 64 * 48 * 2\n"
      "all = want.tobytes()\n"
      "def pages_of(k):  # the whole pages of data.npy inside frame k (the kernel reads pages)\n"
      "  a, b = 128 + k * frame, 128 + (k + 1) * frame\n"
      "  return (a + 4095) // 4096 * 4096, b // 4096 * 4096\n"
      "for k in (0, 3, 4):\n"
      "  a, b = pages_of(k)\n"
      "  assert os.pread(fd, b - a, a) == all[a - 128:b - 128], k\n"
      "try:\n"
      "  os.pread(fd, 100, 128 + 2 * frame + 100)\n"
      "  raise SystemExit('the damaged frame read')\n"
      "except OSError as e:\n"
      "  assert e.errno == 5, e\n");
  std::string log = daemon_.Log();
  EXPECT_NE(log.find("p_2.tif"), std::string::npos) << log;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(TiffE2eTest, FilesOfAnotherShapeLeaveTheFolderEmptyWithTheReasonInTheLog) {
  Python(
      "import numpy as np, tifffile\n"
      "tifffile.imwrite('" +
      scan_ +
      "/a_1.tif', np.zeros((16, 16), 'u2'))\n"
      "tifffile.imwrite('" +
      scan_ + "/a_2.tif', np.zeros((16, 16), 'u1'))\n");
  MountConfig("[source t]\ntype = tiff\npath = " + scan_ + "\n");
  EXPECT_EQ(Sh("ls -A " + Q(mnt_ + "/t")).output, "");
  std::string log = daemon_.Log();
  EXPECT_NE(log.find("no stack: " + scan_ + "/a_2.tif: 16x16x1 of |u1, but " + scan_ +
                     "/a_1.tif: 16x16x1 of <u2: not one stack"),
            std::string::npos)
      << log;
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

TEST_F(TiffE2eTest, ARescannedScanShowsNewFilesToAReaderThatListedItAlready) {
  Python(
      "import numpy as np, tifffile\n"
      "for i in range(3): tifffile.imwrite('" +
      scan_ + "/img_%d.tif' % i, np.full((20, 30), i, 'u2'))\n");
  // Files older than 5 s are stable; new ones are written with an old mtime so the test need
  // not wait for the stable time.
  ASSERT_EQ(Sh("touch -d '-1 minute' " + Q(scan_) + "/*").exit_code, 0);
  MountConfig("[source t]\ntype = tiff\npath = " + scan_ + "\nrescan = 0.2\n");
  const std::string t = mnt_ + "/t";
  EXPECT_EQ(Sh("ls " + Q(t + "/frames") + " | wc -l").output, "3\n");
  EXPECT_EQ(Sh("stat -c %s " + Q(t + "/data.npy")).output, std::to_string(128 + 3 * 1200) + "\n");
  Python(
      "import numpy as np, tifffile, os\n"
      "for i in (3, 4):\n"
      "  p = '" +
      scan_ +
      "/img_%d.tif' % i\n"
      "  tifffile.imwrite(p, np.full((20, 30), i, 'u2'))\n"
      "  os.utime(p, (0, 1e9))\n");
  // Within a few rescans the new frames are listed and data.npy holds them.
  CmdResult waited = Sh("for i in $(seq 100); do [ $(ls " + Q(t + "/frames") +
                        " | wc -l) = 5 ] && exit 0; sleep 0.1; done; exit 1");
  EXPECT_EQ(waited.exit_code, 0) << Sh("ls " + Q(t + "/frames")).output;
  Python(
      "import numpy as np\n"
      "a = np.load('" +
      t +
      "/data.npy')\n"
      "assert a.shape == (5, 20, 30), a.shape\n"
      "assert [int(a[i, 0, 0]) for i in range(5)] == [0, 1, 2, 3, 4]\n");
  EXPECT_EQ(daemon_.Unmount(), 0) << daemon_.Log();
}

}  // namespace
}  // namespace daqfs::e2e
