#include "backends/common/tiff_header.h"

#include <string>
#include <vector>

namespace daqfs {

bool IsTiffSignature(std::span<const uint8_t> h) {
  if (h.size() < 4) return false;
  return (h[0] == 'I' && h[1] == 'I' && (h[2] == 42 || h[2] == 43) && h[3] == 0) ||
         (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && (h[3] == 42 || h[3] == 43));
}
namespace {

// TIFF field types (TIFF 6.0 and BigTIFF) and their sizes.
constexpr uint16_t kShort = 3;
constexpr uint16_t kLong = 4;
constexpr uint16_t kLong8 = 16;

uint64_t TypeBytes(uint16_t type) { return type == kShort ? 2 : type == kLong ? 4 : 8; }

struct Entry {
  uint16_t tag = 0;
  uint16_t type = kShort;
  std::vector<uint64_t> values;

  uint64_t Bytes() const { return TypeBytes(type) * values.size(); }
};

void PutLe(Bytes& out, uint64_t at, uint64_t value, uint64_t bytes) {
  for (uint64_t i = 0; i < bytes; ++i) out[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// The entries libtiff writes for our tags, in tag order. `strip_offset` is where the pixels
// start; libtiff's own processing order writes the out-of-entry values (BitsPerSample, then
// SampleFormat) in tag order too.
std::vector<Entry> Entries(PixelType pixel, uint64_t height, uint64_t width, uint64_t channels,
                           uint64_t pixel_bytes, uint64_t strip_offset, bool big) {
  // libtiff writes ImageWidth, ImageLength and RowsPerStrip as SHORT when they fit.
  auto short_or_long = [](uint64_t v) { return v <= 0xFFFF ? kShort : kLong; };
  const uint16_t strip_type = big ? kLong8 : kLong;
  const bool rgb = channels == 3 && pixel.kind == PixelKind::kUnsigned && pixel.bytes <= 2;
  std::vector<Entry> e;
  e.push_back({256, short_or_long(width), {width}});                             // ImageWidth
  e.push_back({257, short_or_long(height), {height}});                           // ImageLength
  e.push_back({258, kShort, std::vector<uint64_t>(channels, 8 * pixel.bytes)});  // BitsPerSample
  e.push_back({259, kShort, {1}});                                               // Compression
  e.push_back({262, kShort, {rgb ? 2u : 1u}});                                   // Photometric
  e.push_back({273, strip_type, {strip_offset}});                                // StripOffsets
  e.push_back({277, kShort, {channels}});                                        // SamplesPerPixel
  e.push_back({278, short_or_long(height), {height}});                           // RowsPerStrip
  e.push_back({279, strip_type, {pixel_bytes}});                                 // StripByteCounts
  e.push_back({284, kShort, {1}});                                               // PlanarConfig
  if (pixel.kind != PixelKind::kUnsigned) {
    const uint64_t format = pixel.kind == PixelKind::kSigned ? 2 : 3;
    e.push_back({339, kShort, std::vector<uint64_t>(channels, format)});  // SampleFormat
  }
  return e;
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Fills `layout` for one format; false (with `why`) when the format cannot hold the image.
bool Build(PixelType pixel, uint64_t height, uint64_t width, uint64_t channels,
           uint64_t pixel_bytes, bool big, TiffFrameLayout* layout, std::string* why) {
  const uint64_t head = big ? 16 : 8;
  const uint64_t field = big ? 8 : 4;  // an entry's value field
  std::vector<Entry> entries = Entries(pixel, height, width, channels, pixel_bytes, head, big);
  const uint64_t n = entries.size();
  const uint64_t dir_bytes = big ? 8 + 20 * n + 8 : 2 + 12 * n + 4;
  uint64_t extra = 0;
  for (const Entry& e : entries) {
    if (e.Bytes() > field) extra += e.Bytes();
  }
  // libtiff starts the IFD on a word boundary after the strip.
  if (pixel_bytes > UINT64_MAX - head - 1 - dir_bytes - extra) {
    *why = "the file size overflows 64 bits";
    return false;
  }
  const uint64_t dir_offset = (head + pixel_bytes + 1) & ~uint64_t{1};
  const uint64_t end = dir_offset + dir_bytes + extra;
  if (!big && end > kClassicTiffMaxBytes) {
    *why = "a classic TIFF holds at most " + std::to_string(kClassicTiffMaxBytes) +
           " bytes, this one needs " + std::to_string(end);
    return false;
  }

  layout->big = big;
  layout->pixel_bytes = pixel_bytes;
  layout->head.assign(head, 0);
  layout->head[0] = 'I';
  layout->head[1] = 'I';
  if (big) {
    PutLe(layout->head, 2, 43, 2);
    PutLe(layout->head, 4, 8, 2);  // bytes per offset
    PutLe(layout->head, 6, 0, 2);
    PutLe(layout->head, 8, dir_offset, 8);
  } else {
    PutLe(layout->head, 2, 42, 2);
    PutLe(layout->head, 4, dir_offset, 4);
  }
  // The tail starts where the pixels end: the pad byte (if any), the IFD, the extra values.
  const uint64_t tail_start = head + pixel_bytes;
  Bytes& t = layout->tail;
  t.assign(end - tail_start, 0);
  uint64_t at = dir_offset - tail_start;
  PutLe(t, at, n, big ? 8 : 2);
  at += big ? 8 : 2;
  uint64_t data_at = dir_offset + dir_bytes;  // file offset of the next extra value
  for (const Entry& e : entries) {
    const uint64_t size = TypeBytes(e.type);
    PutLe(t, at, e.tag, 2);
    PutLe(t, at + 2, e.type, 2);
    PutLe(t, at + 4, e.values.size(), big ? 8 : 4);
    const uint64_t value_at = at + (big ? 12 : 8);
    if (e.Bytes() <= field) {
      for (size_t i = 0; i < e.values.size(); ++i) PutLe(t, value_at + i * size, e.values[i], size);
    } else {
      PutLe(t, value_at, data_at, field);
      for (size_t i = 0; i < e.values.size(); ++i) {
        PutLe(t, data_at - tail_start + i * size, e.values[i], size);
      }
      data_at += e.Bytes();
    }
    at += big ? 20 : 12;
  }
  // The next-IFD offset (0) is already zero.
  return true;
}

}  // namespace

Result<TiffFrameLayout> UncompressedTiffLayout(PixelType pixel, uint64_t height, uint64_t width,
                                               uint64_t channels, TiffFormat format) {
  if (!IsSupportedPixelType(pixel)) {
    return Invalid("TIFF: unsupported pixel type (" + std::to_string(pixel.bytes) + "-byte " +
                   (pixel.kind == PixelKind::kFloat ? "float" : "integer") + ")");
  }
  if (height == 0 || width == 0 || height > 0xFFFFFFFFu || width > 0xFFFFFFFFu) {
    return Invalid("TIFF: an image of " + std::to_string(height) + " x " + std::to_string(width) +
                   " pixels (each side must be 1..4294967295)");
  }
  if (channels == 0 || channels > 0xFFFF) {
    return Invalid("TIFF: " + std::to_string(channels) + " samples per pixel (1..65535)");
  }
  uint64_t pixel_bytes = 0;
  if (!CheckedMul(height, width, &pixel_bytes) ||
      !CheckedMul(pixel_bytes, channels, &pixel_bytes) ||
      !CheckedMul(pixel_bytes, pixel.bytes, &pixel_bytes)) {
    return Invalid("TIFF: the pixel byte count of " + std::to_string(height) + " x " +
                   std::to_string(width) + " x " + std::to_string(channels) + " overflows 64 bits");
  }
  TiffFrameLayout layout;
  std::string why;
  if (format != TiffFormat::kBig &&
      Build(pixel, height, width, channels, pixel_bytes, false, &layout, &why)) {
    return layout;
  }
  if (format == TiffFormat::kClassic) return Invalid("TIFF: " + why);
  if (!Build(pixel, height, width, channels, pixel_bytes, true, &layout, &why)) {
    return Invalid("TIFF: " + why);
  }
  return layout;
}

Result<uint64_t> UncompressedTiffSize(PixelType pixel, uint64_t height, uint64_t width,
                                      uint64_t channels, TiffFormat format) {
  Result<TiffFrameLayout> layout = UncompressedTiffLayout(pixel, height, width, channels, format);
  if (!layout.ok()) return layout.status();
  return layout->FileSize();
}

}  // namespace daqfs
