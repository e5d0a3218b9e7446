// TiffFrameLayout against the reference: libtiff 4.5 itself writes the same images (as one strip
// with TIFFWriteEncodedStrip, classic "w" and BigTIFF "w8"), and the whole files must be equal
// byte for byte. Our files are then read back by libtiff, tiffinfo, tifffile and fabio.
#include "backends/common/tiff_header.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

const PixelType kTypes[] = {{PixelKind::kUnsigned, 1}, {PixelKind::kUnsigned, 2},
                            {PixelKind::kUnsigned, 4}, {PixelKind::kUnsigned, 8},
                            {PixelKind::kSigned, 1},   {PixelKind::kSigned, 2},
                            {PixelKind::kSigned, 4},   {PixelKind::kSigned, 8},
                            {PixelKind::kFloat, 4},    {PixelKind::kFloat, 8}};

struct Shape {
  uint64_t height, width, channels;
};

std::string Describe(PixelType t, Shape s, bool big) {
  return PixelTypeName(t) + " " + std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
         std::to_string(s.channels) + (big ? " BigTIFF" : " classic");
}

std::string Pixels(PixelType t, Shape s, uint64_t seed) {
  std::string out(s.height * s.width * s.channels * t.bytes, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// libtiff's warnings and errors go to the test log through this handler instead of stderr.
struct QuietLibtiff {
  QuietLibtiff() {
    TIFFSetWarningHandler(nullptr);
    TIFFSetErrorHandler([](const char* module, const char* fmt, va_list ap) {
      char buf[512];
      std::vsnprintf(buf, sizeof(buf), fmt, ap);
      ADD_FAILURE() << "libtiff: " << (module ? module : "") << ": " << buf;
    });
  }
};

// What libtiff writes for `pixels` with the tags tiff_header.h promises.
std::string LibtiffFile(const std::string& path, PixelType t, Shape s, bool big,
                        const std::string& pixels) {
  static QuietLibtiff quiet;
  TIFF* tif = TIFFOpen(path.c_str(), big ? "w8" : "w");
  if (tif == nullptr) {
    ADD_FAILURE() << "TIFFOpen " << path;
    return "";
  }
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(s.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(s.height));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<int>(8 * t.bytes));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<int>(s.channels));
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  const bool rgb = s.channels == 3 && t.kind == PixelKind::kUnsigned && t.bytes <= 2;
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(s.height));
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  if (t.kind != PixelKind::kUnsigned) {
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
                 t.kind == PixelKind::kSigned ? SAMPLEFORMAT_INT : SAMPLEFORMAT_IEEEFP);
  }
  std::string copy = pixels;  // libtiff may swab in place on big-endian hosts
  EXPECT_EQ(TIFFWriteEncodedStrip(tif, 0, copy.data(), static_cast<tmsize_t>(copy.size())),
            static_cast<tmsize_t>(copy.size()));
  TIFFClose(tif);
  return testing::Slurp(path);
}

std::string OurFile(const TiffFrameLayout& l, const std::string& pixels) {
  std::string out(l.head.begin(), l.head.end());
  out += pixels;
  out.append(l.tail.begin(), l.tail.end());
  return out;
}

// The first differing offset, for a readable failure.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "sizes " + std::to_string(a.size()) + " / " + std::to_string(b.size()) +
         ", first difference at " + std::to_string(i);
}

// Reads `path` with libtiff and checks the tags and the strip ("rc": without libtiff's strip
// chopping, which shows a big uncompressed strip as several 8 KiB ones).
void CheckWithLibtiff(const std::string& path, PixelType t, Shape s, const std::string& pixels,
                      const std::string& what) {
  TIFF* tif = TIFFOpen(path.c_str(), "rc");
  ASSERT_NE(tif, nullptr) << what;
  uint32_t width = 0, height = 0;
  uint16_t bits = 0, spp = 0, format = 0;
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width), 1);
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height), 1);
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bits), 1);
  EXPECT_EQ(TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &spp), 1);
  EXPECT_EQ(TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format), 1);
  EXPECT_EQ(width, s.width) << what;
  EXPECT_EQ(height, s.height) << what;
  EXPECT_EQ(bits, 8 * t.bytes) << what;
  EXPECT_EQ(spp, s.channels) << what;
  EXPECT_EQ(format, t.kind == PixelKind::kUnsigned ? SAMPLEFORMAT_UINT
                    : t.kind == PixelKind::kSigned ? SAMPLEFORMAT_INT
                                                   : SAMPLEFORMAT_IEEEFP)
      << what;
  EXPECT_EQ(TIFFNumberOfStrips(tif), 1u) << what;
  std::string strip(pixels.size(), '\0');
  EXPECT_EQ(TIFFReadEncodedStrip(tif, 0, strip.data(), static_cast<tmsize_t>(strip.size())),
            static_cast<tmsize_t>(strip.size()))
      << what;
  EXPECT_TRUE(strip == pixels) << what;
  TIFFClose(tif);
}

TEST(TiffHeaderTest, ByteForByteWhatLibtiffWritesForEveryTypeAndShape) {
  testing::TempDir dir("tiff");
  const Shape shapes[] = {{1, 1, 1}, {3, 5, 1},     {1, 7, 1},     {7, 1, 1},
                          {2, 3, 2}, {3, 5, 3},     {4, 4, 3},     {2, 3, 4},
                          {2, 3, 5}, {1, 70000, 1}, {70000, 1, 1}, {1065, 1030, 1}};
  int checked = 0;
  for (bool big : {false, true}) {
    for (PixelType t : kTypes) {
      for (Shape s : shapes) {
        const std::string what = Describe(t, s, big);
        Result<TiffFrameLayout> l = UncompressedTiffLayout(
            t, s.height, s.width, s.channels, big ? TiffFormat::kBig : TiffFormat::kClassic);
        ASSERT_TRUE(l.ok()) << what << ": " << l.status().ToString();
        EXPECT_EQ(l->big, big);
        const std::string pixels = Pixels(t, s, checked);
        ASSERT_EQ(l->pixel_bytes, pixels.size()) << what;
        const std::string want = LibtiffFile(dir / "ref.tif", t, s, big, pixels);
        const std::string ours = OurFile(*l, pixels);
        ASSERT_EQ(ours.size(), l->FileSize()) << what;
        EXPECT_TRUE(ours == want) << what << ": " << FirstDifference(ours, want);
        Result<uint64_t> size = UncompressedTiffSize(t, s.height, s.width, s.channels,
                                                     big ? TiffFormat::kBig : TiffFormat::kAuto);
        ASSERT_TRUE(size.ok());
        EXPECT_EQ(*size, want.size()) << what;
        testing::WriteFile(dir / "ours.tif", ours);
        CheckWithLibtiff(dir / "ours.tif", t, s, pixels, what);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 * 10 * 12);
}

// kAuto writes a classic TIFF up to the largest file one can hold and BigTIFF past it, the
// boundary computed from libtiff's layout: an 8-bit row of W pixels ends the IFD at
// align2(8 + W) + 126 (10 entries), which must be <= 2^32 - 1.
TEST(TiffHeaderTest, ClassicUpToFourGibibytesThenBigTiff) {
  const PixelType u8{PixelKind::kUnsigned, 1};
  Result<TiffFrameLayout> last = UncompressedTiffLayout(u8, 1, 4294967160, 1);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_FALSE(last->big);
  EXPECT_EQ(last->FileSize(), 4294967294u);
  EXPECT_LE(last->FileSize(), kClassicTiffMaxBytes);
  Result<TiffFrameLayout> next = UncompressedTiffLayout(u8, 1, 4294967161, 1);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_TRUE(next->big);
  EXPECT_EQ(next->head.size(), 16u);
  Result<TiffFrameLayout> forced =
      UncompressedTiffLayout(u8, 1, 4294967161, 1, TiffFormat::kClassic);
  ASSERT_FALSE(forced.ok());
  EXPECT_EQ(forced.status().code(), Code::kInvalid);
  EXPECT_NE(forced.status().message().find("classic TIFF"), std::string::npos);
  // A 4371 x 4150 x 4-byte frame (EIGER2 16M, 72 MB) is far from the limit.
  Result<TiffFrameLayout> eiger = UncompressedTiffLayout({PixelKind::kUnsigned, 4}, 4371, 4150, 1);
  ASSERT_TRUE(eiger.ok());
  EXPECT_FALSE(eiger->big);
  EXPECT_EQ(eiger->FileSize(), 8 + 4371ull * 4150 * 4 + 126);
}

TEST(TiffHeaderTest, RejectsWhatTiffCannotHold) {
  struct Bad {
    PixelType t;
    uint64_t h, w, c;
    const char* why;
  };
  const Bad bad[] = {
      {{PixelKind::kFloat, 2}, 1, 1, 1, "unsupported pixel type"},
      {{PixelKind::kUnsigned, 3}, 1, 1, 1, "unsupported pixel type"},
      {{PixelKind::kSigned, 16}, 1, 1, 1, "unsupported pixel type"},
      {{static_cast<PixelKind>(7), 1}, 1, 1, 1, "unsupported pixel type"},
      {{PixelKind::kUnsigned, 1}, 0, 5, 1, "each side"},
      {{PixelKind::kUnsigned, 1}, 5, 0, 1, "each side"},
      {{PixelKind::kUnsigned, 1}, 1ull << 32, 1, 1, "each side"},
      {{PixelKind::kUnsigned, 1}, 1, 1ull << 32, 1, "each side"},
      {{PixelKind::kUnsigned, 1}, 1, 1, 0, "samples per pixel"},
      {{PixelKind::kUnsigned, 1}, 1, 1, 65536, "samples per pixel"},
      {{PixelKind::kFloat, 8}, 0xFFFFFFFF, 0xFFFFFFFF, 65535, "overflows"},
  };
  for (const Bad& b : bad) {
    Result<TiffFrameLayout> l = UncompressedTiffLayout(b.t, b.h, b.w, b.c);
    ASSERT_FALSE(l.ok()) << b.why;
    EXPECT_EQ(l.status().code(), Code::kInvalid);
    EXPECT_NE(l.status().message().find(b.why), std::string::npos) << l.status().ToString();
    EXPECT_FALSE(UncompressedTiffSize(b.t, b.h, b.w, b.c).ok());
  }
  // The largest shapes that still fit are accepted (the layout is computed, not written).
  Result<TiffFrameLayout> wide =
      UncompressedTiffLayout({PixelKind::kUnsigned, 1}, 0xFFFFFFFF, 0xFFFFFFFF, 1);
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  EXPECT_TRUE(wide->big);
  EXPECT_EQ(wide->pixel_bytes, 0xFFFFFFFFull * 0xFFFFFFFF);
  EXPECT_EQ(wide->FileSize(), 16 + wide->pixel_bytes + 1 + 8 + 10 * 20 + 8);  // odd: a pad byte
}

// Our files, written to a temp folder, read by the tools people use: tiffinfo (exit 0, fields
// shown), tifffile (every file: exact pixels, shape and dtype) and fabio (exact pixels of
// single-channel classic files: fabio opens no BigTIFF and turns RGB into grey floats).
TEST(TiffHeaderTest, TiffinfoTifffileAndFabioReadOurFiles) {
  testing::TempDir dir("tiff-tools");
  const Shape shapes[] = {{1, 1, 1}, {3, 5, 1}, {17, 13, 1}, {4, 5, 3}};
  std::string manifest;
  int files = 0, fabio_files = 0;
  for (bool big : {false, true}) {
    for (PixelType t : kTypes) {
      for (Shape s : shapes) {
        const std::string what = Describe(t, s, big);
        Result<TiffFrameLayout> l = UncompressedTiffLayout(
            t, s.height, s.width, s.channels, big ? TiffFormat::kBig : TiffFormat::kAuto);
        ASSERT_TRUE(l.ok()) << what;
        const std::string pixels = Pixels(t, s, files + 1000);
        const std::string name = std::to_string(files);
        testing::WriteFile(dir / (name + ".tif"), OurFile(*l, pixels));
        testing::WriteFile(dir / (name + ".raw"), pixels);
        const bool fabio = !big && s.channels == 1;
        fabio_files += fabio;
        manifest += name + " " + NumpyDescr(t) + " " + std::to_string(s.height) + " " +
                    std::to_string(s.width) + " " + std::to_string(s.channels) + " " +
                    (fabio ? "1" : "0") + "\n";

        std::string info = dir / (name + ".info");
        ASSERT_EQ(testing::Shell("tiffinfo " + dir / (name + ".tif") + " > " + info + " 2>&1"), 0)
            << what << "\n"
            << testing::Slurp(info);
        const std::string text = testing::Slurp(info);
        EXPECT_NE(text.find("Image Width: " + std::to_string(s.width) +
                            " Image Length: " + std::to_string(s.height)),
                  std::string::npos)
            << what << "\n"
            << text;
        EXPECT_NE(text.find("Bits/Sample: " + std::to_string(8 * t.bytes)), std::string::npos)
            << text;
        EXPECT_NE(text.find("Samples/Pixel: " + std::to_string(s.channels)), std::string::npos)
            << text;
        // Unsigned is TIFF's default: no SampleFormat tag, no line.
        EXPECT_EQ(text.find(t.kind == PixelKind::kUnsigned ? "Sample Format"
                            : t.kind == PixelKind::kSigned
                                ? "Sample Format: signed integer"
                                : "Sample Format: IEEE floating point") == std::string::npos,
                  t.kind == PixelKind::kUnsigned)
            << text;
        EXPECT_NE(text.find("Compression Scheme: None"), std::string::npos) << text;
        ++files;
      }
    }
  }
  testing::WriteFile(dir / "manifest", manifest);
  testing::WriteFile(dir / "check.py",
                     "import sys, os, numpy as np, tifffile, fabio, logging\n"
                     "logging.disable(logging.CRITICAL)\n"
                     "d = sys.argv[1]; bad = 0; tf = 0; fb = 0\n"
                     "for line in open(os.path.join(d, 'manifest')):\n"
                     "    name, descr, h, w, c, use_fabio = line.split()\n"
                     "    shape = (int(h), int(w)) + ((int(c),) if int(c) > 1 else ())\n"
                     "    want = np.fromfile(os.path.join(d, name + '.raw'),\n"
                     "                       dtype=np.dtype(descr)).reshape(shape)\n"
                     "    path = os.path.join(d, name + '.tif')\n"
                     "    got = tifffile.imread(path)\n"
                     "    if got.dtype != want.dtype or got.shape != want.shape or \\\n"
                     "       got.tobytes() != want.tobytes():\n"
                     "        print('tifffile differs:', line.strip(), got.dtype, got.shape)\n"
                     "        bad += 1\n"
                     "    tf += 1\n"
                     "    if use_fabio == '1':\n"
                     "        got = fabio.open(path).data\n"
                     "        if got.dtype != want.dtype or got.shape != want.shape or \\\n"
                     "           got.tobytes() != want.tobytes():\n"
                     "            print('fabio differs:', line.strip(), got.dtype, got.shape)\n"
                     "            bad += 1\n"
                     "        fb += 1\n"
                     "print('tifffile', tf, 'fabio', fb)\n"
                     "sys.exit(1 if bad else 0)\n");
  const std::string out = dir / "check.out";
  EXPECT_EQ(testing::Shell("/usr/bin/python3 " + dir / "check.py" + " " + dir.path() + " > " + out +
                           " 2>&1"),
            0)
      << testing::Slurp(out);
  // Proof that every file went through both readers (not a script that checked nothing).
  EXPECT_NE(testing::Slurp(out).find("tifffile " + std::to_string(files) + " fabio " +
                                     std::to_string(fabio_files)),
            std::string::npos)
      << testing::Slurp(out);
  EXPECT_EQ(files, 80);
  EXPECT_EQ(fabio_files, 30);
}

TEST(TiffHeaderTest, SignaturesOfTiffAndBigTiffInBothByteOrders) {
  auto is = [](std::string_view h) {
    return IsTiffSignature(std::span(reinterpret_cast<const uint8_t*>(h.data()), h.size()));
  };
  EXPECT_TRUE(is(std::string_view("II*\0", 4)));
  EXPECT_TRUE(is(std::string_view("MM\0*", 4)));
  EXPECT_TRUE(is(std::string_view("II+\0\x08\0", 6)));
  EXPECT_TRUE(is(std::string_view("MM\0+", 4)));
  EXPECT_FALSE(is(std::string_view("MM\0\x2b", 3)));  // cut short
  EXPECT_FALSE(is("MMXY"));                           // "MM" alone is not a TIFF
  EXPECT_FALSE(is(std::string_view("II*\x01", 4)));
  EXPECT_FALSE(is(""));
}

}  // namespace
}  // namespace daqfs
