// libFuzzer target for the image-stack headers and names: random pixel types, shapes and parts
// in; the TIFF layout (tiff_header.h), the .npy header (npy_header.h), the stack's validation
// and views (image_stack.h, stack_views.h) and the frame-name parser never crash, and what they
// write parses back: the TIFF by libtiff from memory (tags and the strip's pixels), the .npy
// header by the small parser below (magic, version, 64-byte alignment, descr and shape).
//
// Input: byte 0 pixel kind (% 4; 3 is no kind), byte 1 pixel bytes, byte 2 TIFF format (% 3),
// then LEB128 varints height, width, channels, then parts until the input ends: varint frames
// (% 1001), varint zigzag first number, varint V: first unit V % 4 and (V / 4) % 3 + 1 blocks
// per frame (a frame of sub-blocks, one decode group, when above 1). The whole input is also
// tried as a frame file name.
#include <tiffio.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/common/image_stack.h"
#include "backends/common/npy_header.h"
#include "backends/common/stack_views.h"
#include "backends/common/tiff_header.h"

namespace {

using daqfs::Bytes;

constexpr uint64_t kMaxParsedPixels = 1 << 20;  // files parsed back are built in memory

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

struct Input {
  const uint8_t* p;
  const uint8_t* end;
  bool empty() const { return p == end; }
  uint8_t Byte() { return p < end ? *p++ : 0; }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const uint8_t b = *p++;
      v |= uint64_t{b & 0x7Fu} << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  }
};

// A units source of `frames` frames of `frame` bytes, computed, never stored; with `group` > 1
// (and frames of at least `group` bytes) each frame is a decode group of `group` sub-blocks.
class Units final : public daqfs::ByteSource {
 public:
  Units(uint64_t frames, uint64_t frame, uint64_t group)
      : frames_(frames), frame_(frame), group_(frame >= group ? group : 1) {}
  uint64_t Size() const override { return frames_ * frame_; }
  std::string Identity() const override { return "fuzz-units"; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return frames_ * group_; }
  daqfs::BlockRange BlockRangeOf(uint64_t i) const override {
    if (i >= BlockCount()) return daqfs::BlockRange{Size(), 0};
    const uint64_t sub = frame_ / group_, k = i % group_;
    return {i / group_ * frame_ + k * sub, k + 1 == group_ ? frame_ - k * sub : sub};
  }
  uint64_t BlockOf(uint64_t offset) const override {
    if (frames_ == 0) return 0;
    const uint64_t f = std::min(offset / frame_, frames_ - 1);
    const uint64_t sub = frame_ / group_;
    return f * group_ + std::min((offset - f * frame_) / sub, group_ - 1);
  }
  Group GroupOf(uint64_t i) const override {
    if (i >= BlockCount()) return Group{i, 1};
    return Group{i / group_ * group_, group_};
  }
  daqfs::Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    const daqfs::BlockRange r = BlockRangeOf(i);
    if (i >= BlockCount() || out.size() != r.length) return daqfs::Invalid("block");
    for (uint64_t k = 0; k < r.length; ++k) out[k] = static_cast<uint8_t>((r.offset + k) * 131);
    return daqfs::Status::Ok();
  }
  daqfs::Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    const Group g = GroupOf(i);
    for (uint64_t b = g.first; b < g.first + g.count; ++b) {
      Bytes bytes(BlockRangeOf(b).length);
      daqfs::Status st = ReadBlock(b, bytes);
      if (!st.ok()) return st;
      emit(b, std::move(bytes));
    }
    return daqfs::Status::Ok();
  }
  uint64_t group() const { return group_; }

 private:
  uint64_t frames_;
  uint64_t frame_;
  uint64_t group_;
};

// libtiff over a buffer in memory.
struct Memory {
  const std::string* data;
  uint64_t pos = 0;
};
tmsize_t MemRead(thandle_t h, void* buf, tmsize_t n) {
  Memory* m = static_cast<Memory*>(h);
  const uint64_t left = m->pos < m->data->size() ? m->data->size() - m->pos : 0;
  const uint64_t k = std::min<uint64_t>(left, static_cast<uint64_t>(n));
  std::memcpy(buf, m->data->data() + m->pos, k);
  m->pos += k;
  return static_cast<tmsize_t>(k);
}
tmsize_t MemWrite(thandle_t, void*, tmsize_t) { return -1; }
toff_t MemSeek(thandle_t h, toff_t off, int whence) {
  Memory* m = static_cast<Memory*>(h);
  m->pos = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->data->size() + off;
  return m->pos;
}
int MemClose(thandle_t) { return 0; }
toff_t MemSize(thandle_t h) { return static_cast<Memory*>(h)->data->size(); }

// libtiff reads `file` back: the tags say what was asked and the strip is `pixels`.
void ParseTiff(const std::string& file, daqfs::PixelType t, uint64_t h, uint64_t w, uint64_t c,
               const std::string& pixels) {
  Memory m{&file};
  TIFF* tif = TIFFClientOpen("fuzz", "rcm", &m, MemRead, MemWrite, MemSeek, MemClose, MemSize,
                             nullptr, nullptr);
  CHECK(tif != nullptr);
  uint32_t width = 0, height = 0;
  uint16_t bits = 0, spp = 0, format = 0;
  CHECK(TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) == 1 && width == w);
  CHECK(TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height) == 1 && height == h);
  CHECK(TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bits) == 1 && bits == 8 * t.bytes);
  CHECK(TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &spp) == 1 && spp == c);
  CHECK(TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format) == 1);
  CHECK(format == (t.kind == daqfs::PixelKind::kUnsigned ? SAMPLEFORMAT_UINT
                   : t.kind == daqfs::PixelKind::kSigned ? SAMPLEFORMAT_INT
                                                         : SAMPLEFORMAT_IEEEFP));
  CHECK(TIFFNumberOfStrips(tif) == 1);
  std::string strip(pixels.size(), '\0');
  CHECK(TIFFReadEncodedStrip(tif, 0, strip.data(), static_cast<tmsize_t>(strip.size())) ==
        static_cast<tmsize_t>(strip.size()));
  CHECK(strip == pixels);
  TIFFClose(tif);
}

void CheckTiff(daqfs::PixelType t, uint64_t h, uint64_t w, uint64_t c, daqfs::TiffFormat f) {
  daqfs::Result<daqfs::TiffFrameLayout> l = daqfs::UncompressedTiffLayout(t, h, w, c, f);
  daqfs::Result<uint64_t> size = daqfs::UncompressedTiffSize(t, h, w, c, f);
  CHECK(l.ok() == size.ok());
  if (!l.ok()) {
    CHECK(l.status().code() == daqfs::Code::kInvalid);
    // Only the classic limit may fail a shape BigTIFF holds.
    if (f == daqfs::TiffFormat::kClassic) {
      daqfs::Result<daqfs::TiffFrameLayout> big =
          daqfs::UncompressedTiffLayout(t, h, w, c, daqfs::TiffFormat::kBig);
      if (big.ok()) CHECK(big->FileSize() > daqfs::kClassicTiffMaxBytes);
    }
    return;
  }
  CHECK(*size == l->FileSize());
  CHECK(l->head.size() == (l->big ? 16u : 8u));
  CHECK(l->pixel_bytes == h * w * c * t.bytes);
  CHECK(l->big == (f == daqfs::TiffFormat::kBig) || f == daqfs::TiffFormat::kAuto);
  if (!l->big) CHECK(l->FileSize() <= daqfs::kClassicTiffMaxBytes);
  if (f == daqfs::TiffFormat::kAuto) {
    // Auto is classic exactly when classic fits, and then the same bytes.
    daqfs::Result<daqfs::TiffFrameLayout> classic =
        daqfs::UncompressedTiffLayout(t, h, w, c, daqfs::TiffFormat::kClassic);
    CHECK(classic.ok() == !l->big);
    if (classic.ok()) CHECK(classic->head == l->head && classic->tail == l->tail);
  }
  if (l->pixel_bytes > kMaxParsedPixels) return;
  std::string pixels(l->pixel_bytes, '\0');
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<char>(i * 13 + (i >> 8));
  std::string file(l->head.begin(), l->head.end());
  file += pixels;
  file.append(l->tail.begin(), l->tail.end());
  ParseTiff(file, t, h, w, c, pixels);
}

// A .npy header parser for this test: returns the descr and the shape, aborts on a bad header.
void ParseNpy(const Bytes& b, std::string* descr, std::vector<uint64_t>* shape) {
  CHECK(b.size() >= 12 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0);
  CHECK((b[6] == 1 || b[6] == 2) && b[7] == 0);
  const size_t preamble = b[6] == 1 ? 10 : 12;
  uint64_t len = 0;
  for (size_t i = 0; i < preamble - 8; ++i) len |= uint64_t{b[8 + i]} << (8 * i);
  CHECK(preamble + len == b.size() && b.size() % 64 == 0);
  if (b[6] == 2) CHECK(len > 65535);  // numpy uses 2.0 only when 1.0 cannot hold the dict
  const std::string dict(b.begin() + preamble, b.end());
  CHECK(dict.back() == '\n');
  const std::string head = "{'descr': '";
  CHECK(dict.compare(0, head.size(), head) == 0);
  const size_t quote = dict.find('\'', head.size());
  CHECK(quote != std::string::npos);
  *descr = dict.substr(head.size(), quote - head.size());
  const std::string mid = "', 'fortran_order': False, 'shape': (";
  CHECK(dict.compare(quote, mid.size(), mid) == 0);
  size_t at = quote + mid.size();
  shape->clear();
  while (dict[at] != ')') {
    uint64_t v = 0;
    CHECK(dict[at] >= '0' && dict[at] <= '9');
    while (dict[at] >= '0' && dict[at] <= '9') v = v * 10 + static_cast<uint64_t>(dict[at++] - '0');
    shape->push_back(v);
    if (dict[at] == ',') ++at;
    if (dict[at] == ' ') ++at;
  }
  const std::string tail = "), }";
  CHECK(dict.compare(at, tail.size(), tail) == 0);
  for (size_t i = at + tail.size(); i + 1 < dict.size(); ++i) CHECK(dict[i] == ' ');
}

void CheckNpy(daqfs::PixelType t, const std::vector<uint64_t>& shape) {
  if (!daqfs::IsSupportedPixelType(t)) return;
  const Bytes b = daqfs::NpyHeader(t, shape);
  std::string descr;
  std::vector<uint64_t> back;
  ParseNpy(b, &descr, &back);
  CHECK(descr == daqfs::NumpyDescr(t));
  CHECK(back == shape);
}

void CheckStack(daqfs::PixelType t, uint64_t h, uint64_t w, uint64_t c, Input& in) {
  uint64_t frame = 0;
  const bool fits = !__builtin_mul_overflow(h, w, &frame) &&
                    !__builtin_mul_overflow(frame, c, &frame) &&
                    !__builtin_mul_overflow(frame, uint64_t{t.bytes}, &frame);
  // Units of huge frames are not built: they get 1-byte units, which Make must reject (or the
  // shape is invalid anyway), unless there are no parts at all.
  const uint64_t unit_bytes = fits && frame > 0 && frame <= (uint64_t{1} << 40) ? frame : 1;
  daqfs::ImageStackSpec spec;
  spec.pixel = t;
  spec.height = h;
  spec.width = w;
  spec.channels = c;
  spec.identity = "fuzz";
  std::vector<uint64_t> groups;  // blocks per frame of each part
  while (!in.empty() && spec.parts.size() < 64) {
    const uint64_t frames = in.Varint() % 1001;
    const uint64_t z = in.Varint();
    const int64_t first_number = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    const uint64_t v = in.Varint();
    const uint64_t first_frame = v % 4;
    auto units =
        std::make_shared<Units>(first_frame + frames + (frames % 2), unit_bytes, (v / 4) % 3 + 1);
    spec.parts.push_back({units, first_frame * units->group(), frames, first_number});
    groups.push_back(units->group());
  }
  daqfs::Result<std::shared_ptr<const daqfs::ImageStack>> made = daqfs::ImageStack::Make(spec);
  if (!made.ok()) {
    CHECK(made.status().code() == daqfs::Code::kInvalid);
    return;
  }
  const daqfs::ImageStack& s = **made;
  uint64_t total = 0, blocks = 0;
  for (size_t p = 0; p < s.parts().size(); ++p) {
    const daqfs::ImageStackPart& part = s.parts()[p];
    CHECK(part.frames > 0 && part.first_number >= 0);
    for (uint64_t k : {uint64_t{0}, part.frames - 1}) {
      CHECK(s.NumberOfIndex(total + k) == part.first_number + static_cast<int64_t>(k));
      CHECK(s.IndexOfNumber(part.first_number + static_cast<int64_t>(k)) == total + k);
      const daqfs::ImageStack::Location at = s.Locate(total + k);
      CHECK(at.part == p && at.blocks == groups[p] && at.unit == part.first_unit + k * groups[p]);
    }
    total += part.frames;
    blocks += part.frames * groups[p];
  }
  CHECK(s.frames() == total);
  CHECK(fits && s.FrameBytes() == frame);
  CHECK(total == 0 || unit_bytes == frame);
  daqfs::Result<uint64_t> tiff = daqfs::UncompressedTiffSize(t, h, w, c);
  CHECK(tiff.ok() && daqfs::TiffFrameSize(s) == *tiff);
  CHECK(daqfs::NpySize(s) == daqfs::NpyHeader(t, s.Shape()).size() + total * frame);
  std::shared_ptr<daqfs::ByteSource> npy = daqfs::MakeNpy(s);
  CHECK(npy->Size() == daqfs::NpySize(s));
  CHECK(npy->BlockCount() == 1 + blocks);
  if (total == 0) {
    CHECK(daqfs::MakeTiffFrame(s, 0) == nullptr);
    return;
  }
  std::shared_ptr<daqfs::ByteSource> tif = daqfs::MakeTiffFrame(s, total - 1);
  CHECK(tif->Size() == daqfs::TiffFrameSize(s));
  CHECK(daqfs::MakeRawFrame(s, total - 1)->Size() == frame);
  if (frame > kMaxParsedPixels) return;
  std::string file(tif->Size(), '\0');
  daqfs::Result<size_t> n =
      tif->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(file.data()), file.size()));
  CHECK(n.ok() && *n == file.size());
  std::string pixels(frame, '\0');
  CHECK(s.ReadFrame(total - 1, std::span(reinterpret_cast<uint8_t*>(pixels.data()), frame)).ok());
  ParseTiff(file, t, h, w, c, pixels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TIFFSetWarningHandler(nullptr);
  TIFFSetErrorHandler(nullptr);
  const std::string_view name(reinterpret_cast<const char*>(data), size);
  for (const char* ext : {"tif", "raw"}) {
    std::optional<int64_t> number = daqfs::ParseFrameFileName(name, ext);
    if (number) CHECK(*number >= 0 && daqfs::FrameFileName(*number, ext) == name);
  }

  Input in{data, data + size};
  const uint8_t kind = in.Byte() % 4;
  const daqfs::PixelType t{static_cast<daqfs::PixelKind>(kind), in.Byte()};
  const daqfs::TiffFormat format = static_cast<daqfs::TiffFormat>(in.Byte() % 3);
  const uint64_t h = in.Varint(), w = in.Varint(), c = in.Varint();
  CheckTiff(t, h, w, c, format);
  std::vector<uint64_t> shape = {h, w};
  if (c != 1) shape.push_back(c);
  CheckNpy(t, shape);
  shape.insert(shape.begin(), in.end - in.p);
  CheckNpy(t, shape);
  CheckStack(t, h, w, c, in);
  return 0;
}
