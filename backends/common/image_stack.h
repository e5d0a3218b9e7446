// ImageStack: N frames of height x width (x channels) pixels of one type, as a detector wrote
// them, described once and shared by every view of them (backends/common/stack_views.h).
//
// A stack is a list of parts in frame order. A part is a run of frames that are consecutive
// decode units of one units source (one HDF5 data file's chunks, one multi-page TIFF's pages,
// one stream segment): each frame is exactly one decoded unit of FrameBytes() bytes (little
// endian, C order of (height, width, channels)). A unit is one block of `units`, or, for a frame
// over a few MiB (a 16M detector's 72 MB frame), one group of sub-blocks that one decode fills
// (ByteSource::GroupOf): then every frame of the part is a group of the same number of blocks,
// so frame k of the part starts at block `first_unit + k * blocks_per_frame`. The views are
// ComposedSources of generated headers and those blocks, so a frame is decoded and cached once
// (under the units' key) whichever view reads it.
//
// Frames are numbered as the detector numbers them: part p holds numbers first_number ..
// first_number + frames - 1 (EIGER HDF5: image_nr_low, from 1; sources without numbers: from 0).
// Numbers are >= 0 and increase strictly across parts (gaps between parts are allowed); the
// index of a frame is its position in the stack, 0 .. frames() - 1. Frame files are named
// FrameFileName(number, "tif") = "000001.tif": six digits at least, more only when needed.
//
// Make() validates a description (every unit is one frame, the pixel type and shape have every
// view) and indexes it, so lookups by index or number are binary searches over the parts,
// O(log parts), and the views' headers are generated once per stack and shared.
//
// Usage (a backend building frames/ and data.npy of a master with two data files):
//
//   ImageStackSpec spec;
//   spec.pixel = {PixelKind::kUnsigned, 2};
//   spec.height = 1065;
//   spec.width = 1030;
//   spec.parts.push_back({data_000001_chunks, 0, 100, 1});    // frames 1..100
//   spec.parts.push_back({data_000002_chunks, 0, 37, 101});   // frames 101..137
//   spec.identity = master_identity + ":/entry/data";
//   Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
//   if (!stack.ok()) { log stack.status(); show no stack views; }
//   // frames/: one entry per frame, its size known without decoding
//   for (uint64_t i = 0; i < (*stack)->frames(); ++i)
//     emit(FrameFileName((*stack)->NumberOfIndex(i), "tif"), TiffFrameSize(**stack));
//   // lookup of "000042.tif" and open
//   std::optional<int64_t> number = ParseFrameFileName("000042.tif", "tif");
//   std::optional<uint64_t> index = (*stack)->IndexOfNumber(*number);  // nullopt: ENOENT
//   std::shared_ptr<ByteSource> file = MakeTiffFrame(**stack, *index);
//   std::shared_ptr<ByteSource> npy = MakeNpy(**stack);               // data.npy
//
// Thread safety: an ImageStack is immutable; every method may be called concurrently. The
// units sources are shared (they are ByteSources: thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/common/pixel_type.h"
#include "fs/byte_source.h"
#include "fs/status.h"

namespace daqfs {

// A run of frames that are consecutive units of one units source.
struct ImageStackPart {
  std::shared_ptr<ByteSource> units;  // units = decoded frames; shared, never null
  uint64_t first_unit = 0;            // the (first) block of `units` of the part's first frame
  uint64_t frames = 0;                // frames in the part (>= 1)
  int64_t first_number = 0;           // the detector's number of the first frame (>= 0)
};

// What a producer describes; ImageStack::Make checks and indexes it.
struct ImageStackSpec {
  PixelType pixel;
  uint64_t height = 0;  // rows per frame
  uint64_t width = 0;   // pixels per row
  uint64_t channels = 1;
  std::vector<ImageStackPart> parts;  // in frame order
  // Names the data (e.g. the master file's identity + the dataset path); the views' identities
  // are derived from it. Non-empty.
  std::string identity;
};

class ImageStack {
 public:
  using Part = ImageStackPart;

  // Checks `spec` and indexes it. Errors (kInvalid, naming the stack's identity and the part):
  // an unsupported pixel type; a zero height or width, a side above 2^32 - 1 or channels outside
  // 1..65535 (TIFF's limits, so every valid stack has every view); sizes that overflow 64 bits;
  // an empty identity; a part with no units source or no frames, a negative first number,
  // numbers that overflow or do not increase strictly across parts, units past the units'
  // BlockCount(), or a unit whose size is not FrameBytes() (a frame's unit is its block, or the
  // group GroupOf() names for it, which must start at that block and be as long for every
  // frame of the part). Costs one GroupOf() and one or two BlockRangeOf() per frame.
  static Result<std::shared_ptr<const ImageStack>> Make(ImageStackSpec spec);

  PixelType pixel() const { return spec_.pixel; }
  uint64_t height() const { return spec_.height; }
  uint64_t width() const { return spec_.width; }
  uint64_t channels() const { return spec_.channels; }
  const std::string& identity() const { return spec_.identity; }
  const std::vector<Part>& parts() const { return spec_.parts; }

  // Frames in the stack (N).
  uint64_t frames() const { return first_index_.back(); }
  // Bytes of one decoded frame: height * width * channels * pixel bytes.
  uint64_t FrameBytes() const { return frame_bytes_; }
  // The shape of the whole stack in C order: (N, H, W), or (N, H, W, C) when channels > 1.
  std::vector<uint64_t> Shape() const;

  // The number of frame `index` (index < frames()). O(log parts).
  int64_t NumberOfIndex(uint64_t index) const;
  // The index of the frame numbered `number`, or nullopt when no frame has that number
  // (before the first, past the last, in a gap between parts). O(log parts).
  std::optional<uint64_t> IndexOfNumber(int64_t number) const;

  // Where frame `index` (index < frames()) is: its part, the (first) block of its unit in the
  // part's units, and the unit's blocks (1, or a group's sub-blocks).
  struct Location {
    size_t part = 0;
    uint64_t unit = 0;
    uint64_t blocks = 1;
  };
  Location Locate(uint64_t index) const;

  // Decodes frame `index` into `out` (FrameBytes() bytes) with the units' ReadBlock (ReadGroup
  // for a frame of sub-blocks), bypassing any cache (for tools and benchmarks; files read through
  // the views). Errors: kInvalid for a bad index or buffer size, else the units' error.
  Status ReadFrame(uint64_t index, std::span<uint8_t> out) const;

  // The generated bytes of the views (stack_views.h), built once by Make and shared by every
  // view: the TIFF bytes before and after a frame's pixels (the same for every frame of the
  // stack), and the data.npy header.
  const std::shared_ptr<const Bytes>& tiff_head() const { return tiff_head_; }
  const std::shared_ptr<const Bytes>& tiff_tail() const { return tiff_tail_; }
  const std::shared_ptr<const Bytes>& npy_header() const { return npy_header_; }

 private:
  explicit ImageStack(ImageStackSpec spec) : spec_(std::move(spec)) {}
  // The part holding index `index` (< frames()).
  size_t PartOfIndex(uint64_t index) const;

  ImageStackSpec spec_;
  uint64_t frame_bytes_ = 0;
  // first_index_[p] = index of part p's first frame; first_index_.back() = frames().
  std::vector<uint64_t> first_index_;
  std::vector<uint64_t> blocks_per_frame_;  // per part: 1, or the blocks of a frame's group
  std::shared_ptr<const Bytes> tiff_head_;
  std::shared_ptr<const Bytes> tiff_tail_;
  std::shared_ptr<const Bytes> npy_header_;
};

// The file name of frame `number` with `extension` (no dot): "000001.tif", "1234567.raw". Six
// digits at least, more only when the number needs them. `number` must be >= 0 (every number of
// a valid stack is); a negative number gives "".
std::string FrameFileName(int64_t number, std::string_view extension);

// The number a frame file name stands for, exactly the inverse of FrameFileName: nullopt for any
// other name ("1.tif", "0000001.tif", "+00001.tif", "000001.tiff", "-00001.tif", a number past
// INT64_MAX).
std::optional<int64_t> ParseFrameFileName(std::string_view name, std::string_view extension);

}  // namespace daqfs
