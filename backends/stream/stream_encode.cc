#include "backends/stream/stream_encode.h"

#include <cbor.h>
#include <lz4.h>

#include <algorithm>
#include <cstring>

namespace daqfs {
namespace {

using json = nlohmann::json;

void PutBe(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Appends one LZ4 block of `in`.
void Lz4(std::span<const uint8_t> in, std::string* out) {
  const size_t at = out->size();
  out->resize(at + LZ4_compressBound(static_cast<int>(in.size())));
  int n = LZ4_compress_default(reinterpret_cast<const char*>(in.data()), out->data() + at,
                               static_cast<int>(in.size()), static_cast<int>(out->size() - at));
  out->resize(at + static_cast<size_t>(n > 0 ? n : 0));
}

// Bit-shuffles `n` elements (a multiple of 8) of `elem` bytes: row j * 8 + k holds bit k of
// byte j of every element, element i at bit i % 8 of the row's byte i / 8 (bit_unshuffle.h).
void BitShuffle(const uint8_t* in, size_t n, uint32_t elem, uint8_t* out) {
  const size_t row = n / 8;
  std::memset(out, 0, n * elem);
  for (size_t j = 0; j < elem; ++j) {
    for (size_t i = 0; i < n; ++i) {
      const uint8_t byte = in[i * elem + j];
      if (byte == 0) continue;
      for (int k = 0; k < 8; ++k) {
        if (byte & (1u << k)) out[(j * 8 + k) * row + i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      }
    }
  }
}

// A small CBOR writer on libcbor's encoders.
class Cbor {
 public:
  Cbor& Uint(uint64_t v) { return Put(cbor_encode_uint(v, buf_, sizeof buf_)); }
  Cbor& Tag(uint64_t t) { return Put(cbor_encode_tag(t, buf_, sizeof buf_)); }
  Cbor& Map(size_t n) { return Put(cbor_encode_map_start(n, buf_, sizeof buf_)); }
  Cbor& Array(size_t n) { return Put(cbor_encode_array_start(n, buf_, sizeof buf_)); }
  Cbor& Text(const std::string& s) {
    Put(cbor_encode_string_start(s.size(), buf_, sizeof buf_));
    out_ += s;
    return *this;
  }
  Cbor& Bytes(const std::string& b) {
    Put(cbor_encode_bytestring_start(b.size(), buf_, sizeof buf_));
    out_ += b;
    return *this;
  }
  Cbor& Rational(uint64_t num, uint64_t den) { return Array(2).Uint(num).Uint(den); }
  std::string Take() { return std::move(out_); }

 private:
  Cbor& Put(size_t n) {
    out_.append(reinterpret_cast<const char*>(buf_), n);
    return *this;
  }
  unsigned char buf_[16];
  std::string out_;
};

// RFC 8746 typed-array tag of a little-endian pixel type.
uint64_t TypedArrayTag(PixelType t) {
  const uint64_t ll = t.bytes == 1 ? 0 : t.bytes == 2 ? 1 : t.bytes == 4 ? 2 : 3;
  if (t.kind == PixelKind::kFloat) return t.bytes == 4 ? 85 : 86;  // little endian
  if (t.kind == PixelKind::kSigned) return t.bytes == 1 ? 72 : 76 + ll;
  return t.bytes == 1 ? 64 : 68 + ll;
}

}  // namespace

std::string EncodeBitshuffleLz4(std::span<const uint8_t> pixels, uint32_t elem_size) {
  const uint64_t n_elems = pixels.size() / elem_size;
  const uint64_t block = std::max<uint64_t>(8, (8192 / elem_size) / 8 * 8);
  std::string out;
  out.reserve(16 + pixels.size() / 2);
  PutBe(&out, pixels.size(), 8);
  PutBe(&out, block * elem_size, 4);
  std::vector<uint8_t> shuffled(block * elem_size);
  uint64_t done = 0;
  while (n_elems - done >= 8) {
    const uint64_t n = std::min(block, (n_elems - done) / 8 * 8);
    BitShuffle(pixels.data() + done * elem_size, n, elem_size, shuffled.data());
    const size_t at = out.size();
    out.resize(at + 4);
    Lz4(std::span<const uint8_t>(shuffled.data(), n * elem_size), &out);
    const uint64_t len = out.size() - at - 4;
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>(len >> (24 - 8 * i));
    done += n;
  }
  // The last elements (fewer than 8) follow raw.
  out.append(reinterpret_cast<const char*>(pixels.data() + done * elem_size),
             pixels.size() - done * elem_size);
  return out;
}

std::string EncodeHdf5Lz4(std::span<const uint8_t> pixels) {
  constexpr uint64_t kBlock = 1u << 30;
  std::string out;
  PutBe(&out, pixels.size(), 8);
  PutBe(&out, std::min<uint64_t>(kBlock, pixels.size()), 4);
  for (uint64_t off = 0; off < pixels.size(); off += kBlock) {
    std::span<const uint8_t> b =
        pixels.subspan(off, std::min<uint64_t>(kBlock, pixels.size() - off));
    const size_t at = out.size();
    out.resize(at + 4);
    Lz4(b, &out);
    uint64_t len = out.size() - at - 4;
    if (len >= b.size()) {  // stored raw when LZ4 does not make it smaller
      out.resize(at + 4);
      out.append(reinterpret_cast<const char*>(b.data()), b.size());
      len = b.size();
    }
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>(len >> (24 - 8 * i));
  }
  return out;
}

std::string EncodeLz4Block(std::span<const uint8_t> pixels) {
  std::string out;
  Lz4(pixels, &out);
  return out;
}

bool ParseSimEncoding(const std::string& text, SimEncoding* out) {
  if (text == "raw") {
    *out = SimEncoding::kRaw;
  } else if (text == "lz4") {
    *out = SimEncoding::kLz4;
  } else if (text == "bslz4") {
    *out = SimEncoding::kBitshuffleLz4;
  } else {
    return false;
  }
  return true;
}

const char* SimEncodingName(SimEncoding e) {
  switch (e) {
    case SimEncoding::kRaw:
      return "raw";
    case SimEncoding::kLz4:
      return "lz4";
    case SimEncoding::kBitshuffleLz4:
      return "bslz4";
  }
  return "";
}

SimFrame EncodeSimFrame(std::span<const uint8_t> pixels, uint32_t width, uint32_t height,
                        PixelType type, SimEncoding encoding, StreamProtocol protocol) {
  if (protocol == StreamProtocol::kArray) encoding = SimEncoding::kRaw;
  SimFrame f;
  f.width = width;
  f.height = height;
  f.type = type;
  f.encoding = encoding;
  switch (encoding) {
    case SimEncoding::kRaw:
      f.payload.assign(reinterpret_cast<const char*>(pixels.data()), pixels.size());
      break;
    case SimEncoding::kLz4:
      f.payload = protocol == StreamProtocol::kDectrisStream2 ? EncodeHdf5Lz4(pixels)
                                                              : EncodeLz4Block(pixels);
      break;
    case SimEncoding::kBitshuffleLz4:
      f.payload = EncodeBitshuffleLz4(pixels, type.bytes);
      break;
  }
  return f;
}

std::vector<std::string> V1SeriesStart(uint64_t series, const json& config) {
  if (config.is_null()) {
    return {json{{"htype", "dheader-1.0"}, {"series", series}, {"header_detail", "none"}}.dump()};
  }
  return {json{{"htype", "dheader-1.0"}, {"series", series}, {"header_detail", "basic"}}.dump(),
          config.dump()};
}

std::vector<std::string> V1Image(uint64_t series, uint64_t frame, const SimFrame& f) {
  std::string enc = "<";
  if (f.encoding == SimEncoding::kLz4) enc = "lz4<";
  if (f.encoding == SimEncoding::kBitshuffleLz4)
    enc = "bs" + std::to_string(8 * f.type.bytes) + "-lz4<";
  return {json{{"htype", "dimage-1.0"}, {"series", series}, {"frame", frame}, {"hash", ""}}.dump(),
          json{{"htype", "dimage_d-1.0"},
               {"shape", {f.width, f.height}},
               {"type", PixelTypeName(f.type)},
               {"encoding", enc},
               {"size", f.payload.size()}}
              .dump(),
          f.payload,
          json{{"htype", "dconfig-1.0"},
               {"start_time", frame * 1000000},
               {"stop_time", frame * 1000000 + 999000},
               {"real_time", 999000}}
              .dump()};
}

std::vector<std::string> V1SeriesEnd(uint64_t series) {
  return {json{{"htype", "dseries_end-1.0"}, {"series", series}}.dump()};
}

std::vector<std::string> Stream2Start(uint64_t series, const std::string& series_unique,
                                      const SimFrame& f) {
  Cbor c;
  c.Tag(55799).Map(7);
  c.Text("type").Text("start");
  c.Text("series_id").Uint(series);
  c.Text("series_unique_id").Text(series_unique);
  c.Text("channels").Array(1).Text("threshold_1");
  c.Text("image_dtype").Text(PixelTypeName(f.type));
  c.Text("image_size_x").Uint(f.width);
  c.Text("image_size_y").Uint(f.height);
  return {c.Take()};
}

std::vector<std::string> Stream2Image(uint64_t series, const std::string& series_unique,
                                      uint64_t frame, const SimFrame& f) {
  Cbor c;
  c.Tag(55799).Map(8);
  c.Text("type").Text("image");
  c.Text("series_id").Uint(series);
  c.Text("series_unique_id").Text(series_unique);
  c.Text("image_id").Uint(frame);
  c.Text("start_time").Rational(frame * 1000000, 1000000000);
  c.Text("stop_time").Rational(frame * 1000000 + 999000, 1000000000);
  c.Text("real_time").Rational(999000, 1000000000);
  c.Text("data").Map(1).Text("threshold_1");
  c.Tag(40).Array(2).Array(2).Uint(f.height).Uint(f.width);
  c.Tag(TypedArrayTag(f.type));
  if (f.encoding == SimEncoding::kRaw) {
    c.Bytes(f.payload);
  } else {
    c.Tag(56500)
        .Array(3)
        .Text(f.encoding == SimEncoding::kLz4 ? "lz4" : "bslz4")
        .Uint(f.type.bytes);
    c.Bytes(f.payload);
  }
  return {c.Take()};
}

std::vector<std::string> Stream2End(uint64_t series, const std::string& series_unique) {
  Cbor c;
  c.Tag(55799).Map(3);
  c.Text("type").Text("end");
  c.Text("series_id").Uint(series);
  c.Text("series_unique_id").Text(series_unique);
  return {c.Take()};
}

std::vector<std::string> ArrayImage(uint64_t series, uint64_t frame, const SimFrame& f) {
  return {json{{"htype", "array-1.0"},
               {"shape", {f.height, f.width}},
               {"type", PixelTypeName(f.type)},
               {"frame", frame},
               {"series", series}}
              .dump(),
          f.payload};
}

}  // namespace daqfs
