// TiffFrameLayout: the bytes around a frame's pixels that make an uncompressed TIFF, byte for byte
// what libtiff 4.5 writes, generated without the pixels.
//
// libtiff (TIFFOpen "w", the tags below set, the pixels written as one strip with
// TIFFWriteEncodedStrip, TIFFClose) lays a file out as: the 8-byte header "II*\0" + the IFD's
// offset; the strip at offset 8; a zero pad byte when the strip ends at an odd offset (the IFD
// starts on a word boundary); the IFD (entry count, 12-byte entries in tag order, next-IFD
// offset 0); then the values that do not fit in an entry (BitsPerSample and SampleFormat with
// three or more samples), in the order libtiff writes them. So a view of a frame is `head` +
// the decoded pixels + `tail`, and its size is known before any pixel is decoded.
//
// Tags: ImageWidth, ImageLength (SHORT up to 65535, else LONG, as libtiff chooses),
// BitsPerSample (one per sample), Compression = 1, PhotometricInterpretation (RGB for three
// 8- or 16-bit samples, MinIsBlack otherwise), StripOffsets, SamplesPerPixel, RowsPerStrip =
// height (SHORT/LONG like the width), StripByteCounts, PlanarConfiguration = 1 (contiguous),
// and SampleFormat only for signed (2) and float (3) pixels; libtiff adds nothing else.
//
// Big frames: a classic TIFF addresses at most 4 GiB - 1. When the whole file would not fit,
// the layout is a BigTIFF exactly as libtiff writes it when opened with "w8" (16-byte header
// "II+\0" 8 0 + the IFD's 8-byte offset; the strip at 16; 8-byte entry count, 20-byte entries,
// LONG8 strip offset and byte count, 8-byte next offset). Readers that only know classic TIFF
// (fabio, older ImageJ) cannot open those; tifffile and libtiff can.
//
// Pixels are little endian, rows in order, samples of a pixel together (C order of
// (height, width, channels)); the header says so ("II", PlanarConfiguration = 1).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "backends/common/pixel_type.h"
#include "fs/byte_source.h"
#include "fs/status.h"

namespace daqfs {

enum class TiffFormat {
  kAuto,     // classic when the file fits in 4 GiB - 1 bytes, else BigTIFF
  kClassic,  // classic or an error (as libtiff "w")
  kBig,      // BigTIFF (as libtiff "w8")
};

struct TiffFrameLayout {
  Bytes head;                // before the pixels: the file header (8 or 16 bytes)
  Bytes tail;                // after the pixels: pad byte, IFD, out-of-entry values
  uint64_t pixel_bytes = 0;  // height * width * channels * pixel bytes, at offset head.size()
  bool big = false;          // BigTIFF

  uint64_t FileSize() const { return head.size() + pixel_bytes + tail.size(); }
};

// True when `head` (a file's first bytes) starts with a TIFF or BigTIFF signature: II*\0,
// MM\0*, II+\0 or MM\0+.
bool IsTiffSignature(std::span<const uint8_t> head);

// The largest file a classic TIFF can hold (every offset is a 32-bit LONG).
inline constexpr uint64_t kClassicTiffMaxBytes = 0xFFFFFFFFu;

// The layout of one uncompressed single-strip image of `height` rows of `width` pixels of
// `channels` samples of `pixel`. Errors (kInvalid, with the reason): an unsupported pixel type
// (IsSupportedPixelType), a zero or above-2^32-1 width or height, channels outside 1..65535
// (SamplesPerPixel is a SHORT), a pixel byte count that overflows 64 bits, or kClassic for a
// file that does not fit in kClassicTiffMaxBytes.
Result<TiffFrameLayout> UncompressedTiffLayout(PixelType pixel, uint64_t height, uint64_t width,
                                               uint64_t channels,
                                               TiffFormat format = TiffFormat::kAuto);

// The size of the file UncompressedTiffLayout describes, without building it; the same errors.
Result<uint64_t> UncompressedTiffSize(PixelType pixel, uint64_t height, uint64_t width,
                                      uint64_t channels, TiffFormat format = TiffFormat::kAuto);

}  // namespace daqfs
