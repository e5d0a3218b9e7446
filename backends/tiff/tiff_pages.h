// The pages of one TIFF file as decode units (libtiff): the building block of the TIFF source
// (a folder of TIFFs shown as one image stack, backends/common/image_stack.h), where each file
// is one part and each page one frame.
//
// DescribeTiff opens a file with libtiff and lists its pages (their IFD offsets, so a page is
// found in O(1) later), checking that every page has the same width, height, samples per pixel
// and sample type, in a layout the views take: one plane (PLANARCONFIG_CONTIG), 8/16/32/64-bit
// unsigned or signed integers or 32/64-bit floats, any compression libtiff decodes (none, LZW,
// deflate, PackBits, JPEG...), strips or tiles, any predictor.
//
// TiffPageUnits is a units source (fs/byte_source.h): block i is page i, decoded into FrameBytes
// = height * width * channels * bytes, little endian, C order. Each read opens the file afresh
// (libtiff handles are not shared between threads), so pages decode in parallel on the pool.
//
// Errors: a file libtiff rejects, or pages that differ, give kCorrupt (or kInvalid for a
// layout the views do not take) naming the file and libtiff's reason; a page that does not
// decode is kCorrupt for that page's reads only. libtiff's messages never reach stderr: they
// are collected per handle. A file that changed since it was described (identity) gives
// kUnavailable.
//
// Thread safety: DescribeTiff is reentrant; TiffPageUnits as every ByteSource.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/pixel_type.h"
#include "fs/byte_source.h"
#include "fs/status.h"

namespace daqfs {

struct TiffLayout {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 1;
  PixelType pixel;
  std::vector<uint64_t> page_offsets;  // IFD offset of every page, in file order
  std::string identity;                // FileIdentity() of the file when described

  uint64_t FrameBytes() const { return uint64_t{width} * height * channels * pixel.bytes; }
  bool SameFrames(const TiffLayout& o) const {
    return width == o.width && height == o.height && channels == o.channels && pixel == o.pixel;
  }
};

Result<TiffLayout> DescribeTiff(const std::string& path);

class TiffPageUnits final : public ByteSource {
 public:
  TiffPageUnits(std::string path, TiffLayout layout);

  uint64_t Size() const override { return layout_.FrameBytes() * layout_.page_offsets.size(); }
  std::string Identity() const override { return "tiff:" + layout_.identity + ":" + path_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return layout_.page_offsets.size(); }
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;

  const TiffLayout& layout() const { return layout_; }

 private:
  std::string path_;
  TiffLayout layout_;
};

}  // namespace daqfs
