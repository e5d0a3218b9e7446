#include "tests/conformance/libtiff_frame.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <cstdarg>
#include <cstdio>

#include "tests/testing/files.h"

namespace daqfs::testing {

std::string LibtiffFrame(const std::string& pixels, uint32_t width, uint32_t height, PixelType type,
                         const std::string& scratch) {
  TIFFSetWarningHandler(nullptr);
  TIFFSetErrorHandler([](const char* module, const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    ADD_FAILURE() << "libtiff: " << (module ? module : "") << ": " << buf;
  });
  TIFF* tif = TIFFOpen(scratch.c_str(), "w");
  if (!tif) {
    ADD_FAILURE() << "TIFFOpen " << scratch;
    return "";
  }
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8 * type.bytes);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, height);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  if (type.kind == PixelKind::kSigned) TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_INT);
  if (type.kind == PixelKind::kFloat) {
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
  }
  EXPECT_EQ(TIFFWriteEncodedStrip(tif, 0, const_cast<char*>(pixels.data()),
                                  static_cast<tmsize_t>(pixels.size())),
            static_cast<tmsize_t>(pixels.size()));
  TIFFClose(tif);
  return Slurp(scratch);
}

}  // namespace daqfs::testing
