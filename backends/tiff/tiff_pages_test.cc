// TIFF pages as decode units, on files written by tifffile (uncompressed, deflate, tiled,
// big-endian, float, signed, RGB, multi-page), python3-pil (LZW, which Debian's tifffile
// cannot write without imagecodecs; JPEG grey and RGB) and libtiff's tiffcp (LZW with tiles,
// PackBits): every page equals the array it was written from (saved beside it as NAME.bin), JPEG
// within 2 counts of what PIL reads. Files that differ between pages, that
// libtiff rejects or that are cut short give clear errors naming the file, never a crash.
#include "backends/tiff/tiff_pages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

using testing::Shell;
using testing::Slurp;

constexpr const char* kWrite = R"PY(
import numpy as np, tifffile
from PIL import Image
rng = np.random.default_rng(3)
def save(name, pages, **kw):
    tifffile.imwrite(name + '.tif', pages, **kw)
    np.ascontiguousarray(pages).astype(pages.dtype.newbyteorder('<')).tofile(name + '.bin')
counts = rng.poisson(3.0, (5, 61, 97)).astype('u2')
save('plain_u2', counts)
save('deflate_u2', counts, compression='zlib')
save('deflate_pred_u2', counts, compression='zlib', predictor=True)
save('tiled_u2', counts, tile=(32, 32))
save('bigendian_u2', counts, byteorder='>')
save('float_f4', rng.normal(0, 1, (3, 40, 50)).astype('f4'), photometric='minisblack')
save('signed_i4', rng.integers(-1000, 1000, (2, 33, 17)).astype('i4'))
save('rgb_u1', rng.integers(0, 255, (2, 20, 30, 3)).astype('u1'), photometric='rgb')
save('one_u1', rng.integers(0, 255, (40, 30)).astype('u1'))
Image.fromarray(counts[0].astype('u1')).save('lzw_u1.tif', compression='tiff_lzw')
counts[0].astype('u1').tofile('lzw_u1.bin')
tifffile.imwrite('differ.tif', counts[0])
tifffile.imwrite('differ.tif', counts[0, :30], append=True)
tifffile.imwrite('planar.tif', rng.integers(0, 255, (3, 20, 30)).astype('u1'), planarconfig='separate', photometric='rgb')
)PY";

class TiffPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::RunPython(kWrite, dir_.path()));
    ASSERT_EQ(
        Shell("cd " + dir_.path() + " && tiffcp -s -c lzw -t -w 32 -l 32 plain_u2.tif " +
              "tiffcp_lzw_tiled_u2.tif && cp plain_u2.bin tiffcp_lzw_tiled_u2.bin && " +
              "tiffcp -c packbits one_u1.tif packbits_u1.tif && cp one_u1.bin packbits_u1.bin" +
              " && " + "printf 'not a tiff' > text.tif && head -c 3000 deflate_u2.tif > cut.tif"),
        0);
  }
  // Every page of NAME.tif decoded, concatenated.
  Result<std::string> AllPages(const std::string& name) {
    Result<TiffLayout> l = DescribeTiff(dir_ / (name + ".tif"));
    if (!l.ok()) return l.status();
    TiffPageUnits units(dir_ / (name + ".tif"), *l);
    std::string out;
    for (uint64_t i = 0; i < units.BlockCount(); ++i) {
      std::string page(units.BlockRangeOf(i).length, '\0');
      Status s =
          units.ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(page.data()), page.size()));
      if (!s.ok()) return s;
      out += page;
    }
    return out;
  }

  testing::TempDir dir_{"tiff-pages"};
};

TEST_F(TiffPagesTest, EveryPageOfEveryWriterDecodesToItsArray) {
  struct Case {
    const char* name;
    uint32_t pages, width, height, channels;
    PixelType pixel;
  };
  const PixelType u1{PixelKind::kUnsigned, 1}, u2{PixelKind::kUnsigned, 2};
  for (const Case& c :
       {Case{"plain_u2", 5, 97, 61, 1, u2}, Case{"deflate_u2", 5, 97, 61, 1, u2},
        Case{"deflate_pred_u2", 5, 97, 61, 1, u2}, Case{"tiled_u2", 5, 97, 61, 1, u2},
        Case{"bigendian_u2", 5, 97, 61, 1, u2},
        Case{"float_f4", 3, 50, 40, 1, PixelType{PixelKind::kFloat, 4}},
        Case{"signed_i4", 2, 17, 33, 1, PixelType{PixelKind::kSigned, 4}},
        Case{"rgb_u1", 2, 30, 20, 3, u1}, Case{"one_u1", 1, 30, 40, 1, u1},
        Case{"lzw_u1", 1, 97, 61, 1, u1}, Case{"tiffcp_lzw_tiled_u2", 5, 97, 61, 1, u2},
        Case{"packbits_u1", 1, 30, 40, 1, u1}}) {
    SCOPED_TRACE(c.name);
    Result<TiffLayout> l = DescribeTiff(dir_ / (std::string(c.name) + ".tif"));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_EQ(l->page_offsets.size(), c.pages);
    EXPECT_EQ(l->width, c.width);
    EXPECT_EQ(l->height, c.height);
    EXPECT_EQ(l->channels, c.channels);
    EXPECT_TRUE(l->pixel == c.pixel);
    Result<std::string> all = AllPages(c.name);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_TRUE(*all == Slurp(dir_ / (std::string(c.name) + ".bin")));
  }
}

// JPEG (lossy): the pixels are what libtiff decodes, which PIL's reader (libtiff too) is compared
// with, within 2 counts: grey, and RGB stored as YCbCr (converted back to RGB).
TEST_F(TiffPagesTest, JpegPagesDecodeLikePilReadsThem) {
  ASSERT_TRUE(
      testing::RunPython("import numpy as np\n"
                         "from PIL import Image\n"
                         "y, x = np.mgrid[0:48, 0:64]\n"
                         "grey = ((x * 3 + y * 2) % 256).astype('u1')\n"
                         "rgb = np.stack([grey, 255 - grey, (x * 4 % 256).astype('u1')], axis=-1)\n"
                         "Image.fromarray(grey).save('jpeg_grey.tif', compression='jpeg')\n"
                         "Image.fromarray(rgb).save('jpeg_rgb.tif', compression='jpeg')\n"
                         "for n in ('jpeg_grey', 'jpeg_rgb'):\n"
                         "  np.asarray(Image.open(n + '.tif')).tofile(n + '.bin')\n",
                         dir_.path()));
  for (const char* name : {"jpeg_grey", "jpeg_rgb"}) {
    SCOPED_TRACE(name);
    Result<TiffLayout> l = DescribeTiff(dir_ / (std::string(name) + ".tif"));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_EQ(l->channels, std::string(name) == "jpeg_rgb" ? 3u : 1u);
    Result<std::string> all = AllPages(name);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    const std::string want = Slurp(dir_ / (std::string(name) + ".bin"));
    ASSERT_EQ(all->size(), want.size());
    int worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(int{static_cast<uint8_t>((*all)[i])} -
                                       int{static_cast<uint8_t>(want[i])}));
    }
    EXPECT_LE(worst, 2);
  }
}

TEST_F(TiffPagesTest, WhatCannotBeAStackIsAnErrorNamingTheFile) {
  Result<TiffLayout> differ = DescribeTiff(dir_ / "differ.tif");
  EXPECT_EQ(differ.status().code(), Code::kInvalid) << differ.status().ToString();
  EXPECT_NE(differ.status().message().find("differ.tif: page 1 is 97x30, page 0 97x61"),
            std::string::npos)
      << differ.status().message();
  Result<TiffLayout> planar = DescribeTiff(dir_ / "planar.tif");
  EXPECT_EQ(planar.status().code(), Code::kInvalid) << planar.status().ToString();
  EXPECT_NE(planar.status().message().find("separate planes"), std::string::npos);
  Result<TiffLayout> text = DescribeTiff(dir_ / "text.tif");
  EXPECT_EQ(text.status().code(), Code::kCorrupt) << text.status().ToString();
  EXPECT_NE(text.status().message().find("text.tif: not a TIFF libtiff reads"), std::string::npos)
      << text.status().message();
  // Cut short: either the listing fails, or the pages past the cut fail to decode.
  Result<TiffLayout> cut = DescribeTiff(dir_ / "cut.tif");
  if (cut.ok()) {
    EXPECT_FALSE(AllPages("cut").ok());
  } else {
    EXPECT_EQ(cut.status().code(), Code::kCorrupt) << cut.status().ToString();
  }
  // A file changed after it was described: unavailable, not other bytes.
  Result<TiffLayout> l = DescribeTiff(dir_ / "plain_u2.tif");
  ASSERT_TRUE(l.ok());
  TiffPageUnits units(dir_ / "plain_u2.tif", *l);
  ASSERT_EQ(Shell("touch -d '2001-01-01' " + dir_ / "plain_u2.tif"), 0);
  std::string page(units.BlockRangeOf(0).length, '\0');
  EXPECT_EQ(
      units.ReadBlock(0, std::span(reinterpret_cast<uint8_t*>(page.data()), page.size())).code(),
      Code::kUnavailable);
}

}  // namespace
}  // namespace daqfs
