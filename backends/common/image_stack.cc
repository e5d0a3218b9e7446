#include "backends/common/image_stack.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "backends/common/npy_header.h"
#include "backends/common/tiff_header.h"

namespace daqfs {
namespace {

constexpr size_t kMinDigits = 6;

std::string Shape3(const ImageStackSpec& s) {
  std::string out = std::to_string(s.height) + " x " + std::to_string(s.width);
  if (s.channels != 1) out += " x " + std::to_string(s.channels);
  return out + " " + PixelTypeName(s.pixel);
}

}  // namespace

Result<std::shared_ptr<const ImageStack>> ImageStack::Make(ImageStackSpec spec) {
  const std::string what = "image stack '" + spec.identity + "'";
  if (spec.identity.empty()) return Invalid("image stack: empty identity");
  if (!IsSupportedPixelType(spec.pixel)) {
    return Invalid(what + ": unsupported pixel type (" + std::to_string(spec.pixel.bytes) +
                   "-byte " + (spec.pixel.kind == PixelKind::kFloat ? "float" : "integer") + ")");
  }
  // TIFF's limits on the frame shape (UncompressedTiffLayout says which one failed).
  Result<TiffFrameLayout> tiff =
      UncompressedTiffLayout(spec.pixel, spec.height, spec.width, spec.channels);
  if (!tiff.ok()) return Invalid(what + ": " + tiff.status().message());
  const uint64_t frame_bytes = tiff->pixel_bytes;

  auto stack = std::shared_ptr<ImageStack>(new ImageStack(std::move(spec)));
  const ImageStackSpec& s = stack->spec_;
  stack->frame_bytes_ = frame_bytes;
  stack->first_index_.reserve(s.parts.size() + 1);
  uint64_t total = 0;
  int64_t next_number = 0;  // the smallest number the next part may start at
  for (size_t p = 0; p < s.parts.size(); ++p) {
    const Part& part = s.parts[p];
    if (!part.units) return Invalid(what + ", part " + std::to_string(p) + ": no units source");
    // Names the part in an error (built only then: Identity() may cost).
    auto units = [&] {
      return what + ", part " + std::to_string(p) + " (units '" + part.units->Identity() + "')";
    };
    if (part.frames == 0) return Invalid(units() + ": no frames");
    if (part.first_number < 0) {
      return Invalid(units() + ": frame numbers start at " + std::to_string(part.first_number) +
                     " (must be >= 0)");
    }
    if (part.frames - 1 >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - part.first_number)) {
      return Invalid(units() + ": frame numbers from " + std::to_string(part.first_number) +
                     " for " + std::to_string(part.frames) + " frames overflow");
    }
    if (part.first_number < next_number) {
      return Invalid(units() + ": starts at frame number " + std::to_string(part.first_number) +
                     ", the previous part ends at " + std::to_string(next_number - 1) +
                     " (numbers must increase across parts)");
    }
    const uint64_t blocks = part.units->BlockCount();
    // A frame is one unit: its block, or the group of sub-blocks that starts there.
    const uint64_t per_frame =
        part.first_unit < blocks ? part.units->GroupOf(part.first_unit).count : 1;
    if (per_frame == 0 || part.first_unit > blocks ||
        part.frames > (blocks - part.first_unit) / per_frame) {
      const uint64_t last =
          part.frames > (std::numeric_limits<uint64_t>::max() - part.first_unit) / per_frame
              ? std::numeric_limits<uint64_t>::max()
              : part.first_unit + part.frames * std::max<uint64_t>(per_frame, 1) - 1;
      return Invalid(units() + ": units " + std::to_string(part.first_unit) + ".." +
                     std::to_string(last) + " past its " + std::to_string(blocks) + " blocks");
    }
    for (uint64_t k = 0; k < part.frames; ++k) {
      const uint64_t first = part.first_unit + k * per_frame;
      uint64_t length = 0;
      if (per_frame == 1) {
        length = part.units->BlockRangeOf(first).length;
      } else {
        const ByteSource::Group group = part.units->GroupOf(first);
        if (group.first != first || group.count != per_frame) {
          return Invalid(units() + ": unit of frame " + std::to_string(k) + " is blocks " +
                         std::to_string(group.first) + ".." +
                         std::to_string(group.first + group.count - 1) + ", not " +
                         std::to_string(first) + ".." + std::to_string(first + per_frame - 1) +
                         " (every frame must be one unit of the same blocks)");
        }
        const BlockRange a = part.units->BlockRangeOf(first);
        const BlockRange b = part.units->BlockRangeOf(first + per_frame - 1);
        length = b.offset + b.length - a.offset;
      }
      if (length != frame_bytes) {
        return Invalid(units() + ": unit " + std::to_string(first) + " holds " +
                       std::to_string(length) + " bytes, a frame of " + Shape3(s) + " is " +
                       std::to_string(frame_bytes));
      }
    }
    stack->blocks_per_frame_.push_back(per_frame);
    if (__builtin_add_overflow(total, part.frames, &total)) {
      return Invalid(what + ": the frame count overflows 64 bits");
    }
    stack->first_index_.push_back(total - part.frames);
    // Cannot overflow: checked above that first_number + frames - 1 fits.
    next_number = part.first_number + static_cast<int64_t>(part.frames - 1);
    if (next_number == std::numeric_limits<int64_t>::max() && p + 1 < s.parts.size()) {
      return Invalid(what + ", part " + std::to_string(p + 1) +
                     ": follows a part that ends at the largest frame number");
    }
    ++next_number;
  }
  stack->first_index_.push_back(total);

  Bytes npy = NpyHeader(s.pixel, stack->Shape());
  uint64_t data_bytes = 0;
  if (__builtin_mul_overflow(total, frame_bytes, &data_bytes) ||
      data_bytes > std::numeric_limits<uint64_t>::max() - npy.size()) {
    return Invalid(what + ": " + std::to_string(total) + " frames of " +
                   std::to_string(frame_bytes) + " bytes overflow 64 bits");
  }
  stack->tiff_head_ = std::make_shared<const Bytes>(std::move(tiff->head));
  stack->tiff_tail_ = std::make_shared<const Bytes>(std::move(tiff->tail));
  stack->npy_header_ = std::make_shared<const Bytes>(std::move(npy));
  return std::shared_ptr<const ImageStack>(std::move(stack));
}

std::vector<uint64_t> ImageStack::Shape() const {
  std::vector<uint64_t> shape = {frames(), spec_.height, spec_.width};
  if (spec_.channels > 1) shape.push_back(spec_.channels);
  return shape;
}

size_t ImageStack::PartOfIndex(uint64_t index) const {
  // The last part whose first index is <= index (parts are never empty).
  auto it = std::upper_bound(first_index_.begin(), first_index_.end() - 1, index);
  return static_cast<size_t>(it - first_index_.begin()) - 1;
}

int64_t ImageStack::NumberOfIndex(uint64_t index) const {
  const size_t p = PartOfIndex(index);
  return spec_.parts[p].first_number + static_cast<int64_t>(index - first_index_[p]);
}

std::optional<uint64_t> ImageStack::IndexOfNumber(int64_t number) const {
  const std::vector<Part>& parts = spec_.parts;
  auto it = std::upper_bound(parts.begin(), parts.end(), number,
                             [](int64_t n, const Part& part) { return n < part.first_number; });
  if (it == parts.begin()) return std::nullopt;
  const size_t p = static_cast<size_t>(it - parts.begin()) - 1;
  const uint64_t offset = static_cast<uint64_t>(number - parts[p].first_number);
  if (offset >= parts[p].frames) return std::nullopt;
  return first_index_[p] + offset;
}

ImageStack::Location ImageStack::Locate(uint64_t index) const {
  const size_t p = PartOfIndex(index);
  const uint64_t per_frame = blocks_per_frame_[p];
  return Location{p, spec_.parts[p].first_unit + (index - first_index_[p]) * per_frame, per_frame};
}

Status ImageStack::ReadFrame(uint64_t index, std::span<uint8_t> out) const {
  if (index >= frames()) {
    return Invalid("image stack '" + spec_.identity + "': frame index " + std::to_string(index) +
                   " of " + std::to_string(frames()));
  }
  if (out.size() != frame_bytes_) {
    return Invalid("image stack '" + spec_.identity + "': a frame buffer of " +
                   std::to_string(out.size()) + " bytes, a frame is " +
                   std::to_string(frame_bytes_));
  }
  const Location at = Locate(index);
  ByteSource& units = *spec_.parts[at.part].units;
  if (at.blocks == 1) return units.ReadBlock(at.unit, out);
  // A frame of sub-blocks: one decode of the group, each block copied to its place.
  const uint64_t start = units.BlockRangeOf(at.unit).offset;
  uint64_t filled = 0;
  Status s = units.ReadGroup(at.unit, [&](uint64_t i, Bytes&& bytes) {
    const BlockRange r = units.BlockRangeOf(i);
    if (i < at.unit || i >= at.unit + at.blocks || r.length != bytes.size()) return;
    std::memcpy(out.data() + (r.offset - start), bytes.data(), bytes.size());
    filled += bytes.size();
  });
  if (!s.ok()) return s;
  if (filled != frame_bytes_) {
    return Status(Code::kCorrupt, "image stack '" + spec_.identity + "': frame " +
                                      std::to_string(index) + ": its unit gave " +
                                      std::to_string(filled) + " of " +
                                      std::to_string(frame_bytes_) + " bytes");
  }
  return Status::Ok();
}

std::string FrameFileName(int64_t number, std::string_view extension) {
  if (number < 0) return "";
  std::string digits = std::to_string(number);
  if (digits.size() < kMinDigits) digits.insert(0, kMinDigits - digits.size(), '0');
  digits += '.';
  digits += extension;
  return digits;
}

std::optional<int64_t> ParseFrameFileName(std::string_view name, std::string_view extension) {
  if (name.size() < kMinDigits + 1 + extension.size()) return std::nullopt;
  const size_t digits = name.size() - 1 - extension.size();
  if (name[digits] != '.' || name.substr(digits + 1) != extension) return std::nullopt;
  // More than six digits only when needed: no leading zero then.
  if (digits > kMinDigits && name[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - (c - '0')) / 10) {
      return std::nullopt;
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return static_cast<int64_t>(value);
}

}  // namespace daqfs
