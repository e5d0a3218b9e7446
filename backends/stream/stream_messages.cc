#include "backends/stream/stream_messages.h"

#include <lz4.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "backends/common/lz4_chunks.h"
#include "backends/stream/cbor_tree.h"

namespace daqfs {
namespace {

using json = nlohmann::json;

Status Bad(const std::string& what) { return Status(Code::kCorrupt, what); }

std::string_view AsText(std::span<const uint8_t> part) {
  return std::string_view(reinterpret_cast<const char*>(part.data()), part.size());
}

// JSON from the network nests at most this deep (copying and printing a value recurse).
constexpr int kMaxJsonDepth = 64;

// Parses `text`; discarded (not JSON) or, when nested deeper than kMaxJsonDepth, `*too_deep`.
json ParseJson(std::string_view text, bool* too_deep) {
  *too_deep = false;
  json::parser_callback_t limit = [too_deep](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) *too_deep = true;
    return depth <= kMaxJsonDepth;
  };
  return json::parse(text, limit, /*allow_exceptions=*/false);
}

// A JSON object from a message part; kCorrupt naming `what` when it is not one.
Result<json> JsonObject(std::span<const uint8_t> part, const std::string& what) {
  bool too_deep = false;
  json j = ParseJson(AsText(part), &too_deep);
  if (too_deep) return Bad(what + ": JSON nested deeper than 64");
  if (j.is_discarded()) return Bad(what + ": not JSON");
  if (!j.is_object()) return Bad(what + ": not a JSON object");
  return j;
}

// A non-negative integer member.
Result<uint64_t> JsonCount(const json& j, const std::string& key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) return Bad(what + ": no '" + key + "'");
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(it->get<int64_t>());
  }
  return Bad(what + ": '" + key + "' is not a non-negative integer");
}

std::string JsonString(const json& j, const std::string& key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// [a, b] of two positive integers that fit 32 bits.
Status Shape(const json& j, const std::string& key, const std::string& what, uint32_t* first,
             uint32_t* second) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2) {
    return Bad(what + ": '" + key + "' is not a shape of two numbers");
  }
  for (int i = 0; i < 2; ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 20)) {
      return Bad(what + ": '" + key + "' holds a bad size");
    }
  }
  *first = static_cast<uint32_t>((*it)[0].get<int64_t>());
  *second = static_cast<uint32_t>((*it)[1].get<int64_t>());
  return Status::Ok();
}

// What an optional appendix part becomes in the metadata: its JSON, or its text.
json Appendix(std::span<const uint8_t> part) {
  bool too_deep = false;
  json j = ParseJson(AsText(part), &too_deep);
  if (!j.is_discarded() && !too_deep) return j;
  std::string text(AsText(part));
  return json(json::string_t(text.begin(), text.end()));
}

// A compressed image cannot claim more than its payload can hold: LZ4 expands at most 255
// times, and the HDF5 framings name their decoded size (which must be the image's).
Status CheckDecodedSize(const StreamImage& img, const std::string& what) {
  const uint64_t want = img.DecodedBytes();
  if (want > kMaxStreamImageBytes) {
    return Bad(what + ": an image of " + std::to_string(want) + " bytes (at most 4 GiB)");
  }
  switch (img.encoding) {
    case FrameEncoding::kRaw:
    case FrameEncoding::kBigEndian:
      return Status::Ok();
    case FrameEncoding::kLz4Block:
    case FrameEncoding::kBitshuffleLz4NoHeader:
      if (want / 255 > img.payload.size() + 16) {
        return Bad(what + ": " + std::to_string(img.payload.size()) +
                   " compressed bytes cannot hold " + std::to_string(want));
      }
      return Status::Ok();
    case FrameEncoding::kBitshuffleLz4:
    case FrameEncoding::kHdf5Lz4: {
      Result<Lz4ChunkHeader> h = PeekLz4ChunkHeader(img.payload);
      if (!h.ok()) return Bad(what + ": " + h.status().message());
      if (h->decoded_size != want) {
        return Bad(what + ": the chunk decodes to " + std::to_string(h->decoded_size) +
                   " bytes, the image has " + std::to_string(want));
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Result<StreamEvent> V1Image(const StreamParts& parts, const json& dimage) {
  const std::string what = "dectris-v1 image";
  if (parts.size() != 4 && parts.size() != 5) {
    return Bad(what + ": " + std::to_string(parts.size()) + " parts (4, or 5 with an appendix)");
  }
  StreamEvent e;
  e.kind = StreamEvent::Kind::kFrame;
  Result<uint64_t> series = JsonCount(dimage, "series", what);
  if (!series.ok()) return series.status();
  Result<uint64_t> frame = JsonCount(dimage, "frame", what);
  if (!frame.ok()) return frame.status();
  e.series = *series;
  e.frame = *frame;
  Result<json> d = JsonObject(parts[1], what + " dimage_d-1.0");
  if (!d.ok()) return d.status();
  if (JsonString(*d, "htype") != "dimage_d-1.0") return Bad(what + ": part 2 is no dimage_d-1.0");
  StreamImage img;
  if (Status s = Shape(*d, "shape", what, &img.width, &img.height); !s.ok()) return s;
  if (!ParsePixelTypeName(JsonString(*d, "type"), &img.type)) {
    return Bad(what + ": unknown type '" + JsonString(*d, "type") + "'");
  }
  const std::string enc = JsonString(*d, "encoding");
  if (enc == "<") {
    img.encoding = FrameEncoding::kRaw;
  } else if (enc == "lz4<") {
    img.encoding = FrameEncoding::kLz4Block;
  } else if (enc == "bs8-lz4<" || enc == "bs16-lz4<" || enc == "bs32-lz4<") {
    // With the 12-byte header, or without: its first 8 bytes are the decoded size if present.
    img.encoding = FrameEncoding::kBitshuffleLz4NoHeader;
    Result<Lz4ChunkHeader> h = PeekLz4ChunkHeader(parts[2]);
    if (h.ok() && h->decoded_size == img.DecodedBytes())
      img.encoding = FrameEncoding::kBitshuffleLz4;
  } else {
    return Bad(what + ": unknown encoding '" + enc + "'");
  }
  Result<uint64_t> size = JsonCount(*d, "size", what);
  if (!size.ok()) return size.status();
  if (*size != parts[2].size()) {
    return Bad(what + ": blob of " + std::to_string(parts[2].size()) + " bytes, header says " +
               std::to_string(*size));
  }
  if (img.encoding == FrameEncoding::kRaw && parts[2].size() != img.DecodedBytes()) {
    return Bad(what + ": raw blob of " + std::to_string(parts[2].size()) + " bytes for a " +
               std::to_string(img.width) + "x" + std::to_string(img.height) + " " +
               PixelTypeName(img.type) + " image");
  }
  img.payload = parts[2];
  if (Status s = CheckDecodedSize(img, what); !s.ok()) return s;
  e.images.push_back(img);
  Result<json> config = JsonObject(parts[3], what + " dconfig-1.0");
  if (!config.ok()) return config.status();
  e.meta = json::object();
  if (dimage.contains("hash")) e.meta["hash"] = dimage["hash"];
  for (const char* key : {"start_time", "stop_time", "real_time"}) {
    if (config->contains(key)) e.meta[key] = (*config)[key];
  }
  if (parts.size() == 5) e.meta["appendix"] = Appendix(parts[4]);
  return e;
}

Result<StreamEvent> V1Header(const StreamParts& parts, const json& header) {
  const std::string what = "dectris-v1 series header";
  const std::string detail = JsonString(header, "header_detail");
  size_t base = 0;
  if (detail == "none") {
    base = 1;
  } else if (detail == "basic") {
    base = 2;
  } else if (detail == "all") {
    base = 8;
  } else {
    return Bad(what + ": unknown header_detail '" + detail + "'");
  }
  if (parts.size() != base && parts.size() != base + 1) {
    return Bad(what + ": " + std::to_string(parts.size()) + " parts for header_detail " + detail +
               " (" + std::to_string(base) + ", or one more with an appendix)");
  }
  Result<uint64_t> series = JsonCount(header, "series", what);
  if (!series.ok()) return series.status();
  StreamEvent e;
  e.kind = StreamEvent::Kind::kSeriesStart;
  e.series = *series;
  e.meta = header;
  if (base >= 2) {
    Result<json> config = JsonObject(parts[1], what + " detector config");
    if (!config.ok()) return config.status();
    e.meta["config"] = std::move(*config);
  }
  if (base == 8) {
    // Flat field, pixel mask, count-rate table: each a JSON header and a blob.
    for (size_t i = 2; i < 8; i += 2) {
      Result<json> h = JsonObject(parts[i], what + " part " + std::to_string(i + 1));
      if (!h.ok()) return h.status();
      std::string name = JsonString(*h, "htype");
      (*h)["blob_bytes"] = parts[i + 1].size();
      e.meta[name.empty() ? "part_" + std::to_string(i + 1) : name] = std::move(*h);
    }
  }
  if (parts.size() == base + 1) e.meta["appendix"] = Appendix(parts[base]);
  return e;
}

// stream2: a CBOR value as JSON for header.json and metadata (byte strings as their size,
// rationals as [num, den] arrays as sent, other tags as their content).
json CborToJson(const CborNode& n, int depth = 0) {
  if (depth > 32) return nullptr;
  switch (n.type) {
    case CborNode::Type::kUnsigned:
      return n.u;
    case CborNode::Type::kNegative: {
      int64_t v = 0;
      return n.AsInt(&v) ? json(v) : json(-static_cast<double>(n.u) - 1);
    }
    case CborNode::Type::kBytes:
      return json{{"bytes", n.bytes.size()}};
    case CborNode::Type::kText:
      return std::string(n.text);
    case CborNode::Type::kArray: {
      json a = json::array();
      for (const CborNode& i : n.items) a.push_back(CborToJson(i, depth + 1));
      return a;
    }
    case CborNode::Type::kMap: {
      json o = json::object();
      for (size_t i = 0; i + 1 < n.items.size(); i += 2) {
        const CborNode& k = n.items[i].Untagged();
        std::string key =
            k.type == CborNode::Type::kText
                ? std::string(k.text)
                : CborToJson(k, depth + 1).dump(-1, ' ', false, json::error_handler_t::replace);
        o[key] = CborToJson(n.items[i + 1], depth + 1);
      }
      return o;
    }
    case CborNode::Type::kTag:
      return n.items.empty() ? json(nullptr) : CborToJson(n.items[0], depth + 1);
    case CborNode::Type::kFloat:
      return n.f;
    case CborNode::Type::kBool:
      return n.u != 0;
    case CborNode::Type::kNull:
    case CborNode::Type::kUndefined:
      return nullptr;
  }
  return nullptr;
}

// RFC 8746 typed-array tags: element type and byte order.
bool TypedArray(uint64_t tag, PixelType* type, bool* big_endian) {
  if (tag < 64 || tag > 87) return false;
  const uint64_t t = tag - 64;
  const bool is_float = (t & 0x10) != 0;
  const bool is_signed = !is_float && (t & 0x08) != 0;
  *big_endian = (t & 0x04) == 0;
  const uint64_t ll = t & 0x03;
  if (is_float) {
    if (ll != 1 && ll != 2) return false;  // float16 and float128: not shown
    *type = PixelType{PixelKind::kFloat, ll == 1 ? 4u : 8u};
  } else {
    if (tag == 76) return false;  // reserved
    *type = PixelType{is_signed ? PixelKind::kSigned : PixelKind::kUnsigned, 1u << ll};
    if (ll == 0) *big_endian = false;  // one byte: no order (68: uint8 clamped)
  }
  return true;
}

Status Stream2Image(const std::string& channel, const CborNode& value, StreamImage* img) {
  const std::string what = "dectris-stream2 image channel '" + channel + "'";
  const CborNode* v = &value;
  if (v->type != CborNode::Type::kTag || v->u != 40 || v->items.size() != 1) {
    return Bad(what + ": not a multi-dimensional array (tag 40)");
  }
  const CborNode& arr = v->items[0];
  if (arr.type != CborNode::Type::kArray || arr.items.size() != 2) {
    return Bad(what + ": tag 40 does not hold [shape, data]");
  }
  const CborNode& shape = arr.items[0];
  if (shape.type != CborNode::Type::kArray || shape.items.size() != 2) {
    return Bad(what + ": shape is not [height, width]");
  }
  int64_t h = 0, w = 0;
  if (!shape.items[0].AsInt(&h) || !shape.items[1].AsInt(&w) || h <= 0 || w <= 0 || h > (1 << 20) ||
      w > (1 << 20)) {
    return Bad(what + ": bad shape");
  }
  img->channel = channel;
  img->height = static_cast<uint32_t>(h);
  img->width = static_cast<uint32_t>(w);
  const CborNode& typed = arr.items[1];
  bool big_endian = false;
  if (typed.type != CborNode::Type::kTag || typed.items.size() != 1 ||
      !TypedArray(typed.u, &img->type, &big_endian)) {
    return Bad(what + ": data is not a typed array of a supported type");
  }
  const CborNode& data = typed.items[0];
  if (data.owned || (data.type == CborNode::Type::kTag && !data.items.empty() &&
                     !data.items[0].items.empty() && data.items[0].items.back().owned)) {
    // The joined copy belongs to the parse, not to the received message.
    return Bad(what + ": pixel bytes of indefinite length");
  }
  if (data.type == CborNode::Type::kBytes) {
    img->encoding = big_endian ? FrameEncoding::kBigEndian : FrameEncoding::kRaw;
    img->payload = data.bytes;
    if (data.bytes.size() != img->DecodedBytes()) {
      return Bad(what + ": " + std::to_string(data.bytes.size()) + " bytes for " +
                 std::to_string(w) + "x" + std::to_string(h) + " " + PixelTypeName(img->type));
    }
    return Status::Ok();
  }
  if (data.type != CborNode::Type::kTag || data.u != 56500 || data.items.size() != 1) {
    return Bad(what + ": data is neither bytes nor a DECTRIS compression (tag 56500)");
  }
  const CborNode& c = data.items[0];
  int64_t elem = 0;
  if (c.type != CborNode::Type::kArray || c.items.size() != 3 ||
      c.items[0].type != CborNode::Type::kText || !c.items[1].AsInt(&elem) ||
      c.items[2].type != CborNode::Type::kBytes) {
    return Bad(what + ": tag 56500 does not hold [codec, element size, bytes]");
  }
  if (big_endian) return Bad(what + ": compressed big-endian data");
  if (elem != static_cast<int64_t>(img->type.bytes)) {
    return Bad(what + ": element size " + std::to_string(elem) + " for " +
               PixelTypeName(img->type));
  }
  if (c.items[0].text == "bslz4") {
    img->encoding = FrameEncoding::kBitshuffleLz4;
  } else if (c.items[0].text == "lz4") {
    img->encoding = FrameEncoding::kHdf5Lz4;
  } else {
    return Bad(what + ": unknown codec '" + std::string(c.items[0].text) + "'");
  }
  img->payload = c.items[2].bytes;
  return CheckDecodedSize(*img, what);
}

}  // namespace

bool ParseStreamProtocol(const std::string& text, StreamProtocol* out) {
  if (text == "dectris-v1") {
    *out = StreamProtocol::kDectrisV1;
  } else if (text == "dectris-stream2") {
    *out = StreamProtocol::kDectrisStream2;
  } else if (text == "array-1.0") {
    *out = StreamProtocol::kArray;
  } else {
    return false;
  }
  return true;
}

const char* StreamProtocolName(StreamProtocol p) {
  switch (p) {
    case StreamProtocol::kDectrisV1:
      return "dectris-v1";
    case StreamProtocol::kDectrisStream2:
      return "dectris-stream2";
    case StreamProtocol::kArray:
      return "array-1.0";
  }
  return "";
}

const char* FrameEncodingName(FrameEncoding e) {
  switch (e) {
    case FrameEncoding::kRaw:
      return "raw";
    case FrameEncoding::kBigEndian:
      return "raw big endian";
    case FrameEncoding::kLz4Block:
      return "lz4 block";
    case FrameEncoding::kBitshuffleLz4:
      return "bitshuffle+lz4";
    case FrameEncoding::kBitshuffleLz4NoHeader:
      return "bitshuffle+lz4 without header";
    case FrameEncoding::kHdf5Lz4:
      return "hdf5 lz4";
  }
  return "";
}

Result<StreamEvent> ParseDectrisV1(const StreamParts& parts) {
  if (parts.empty()) return Bad("dectris-v1: a message of no parts");
  Result<json> first = JsonObject(parts[0], "dectris-v1 message part 1");
  if (!first.ok()) return first.status();
  const std::string htype = JsonString(*first, "htype");
  if (htype == "dimage-1.0") return V1Image(parts, *first);
  if (htype == "dheader-1.0") return V1Header(parts, *first);
  if (htype == "dseries_end-1.0") {
    if (parts.size() != 1) {
      return Bad("dectris-v1 series end: " + std::to_string(parts.size()) + " parts (1)");
    }
    Result<uint64_t> series = JsonCount(*first, "series", "dectris-v1 series end");
    if (!series.ok()) return series.status();
    StreamEvent e;
    e.kind = StreamEvent::Kind::kSeriesEnd;
    e.series = *series;
    e.meta = std::move(*first);
    return e;
  }
  if (htype.empty()) return Bad("dectris-v1: part 1 has no htype");
  return Bad("dectris-v1: unknown htype '" + htype + "'");
}

Result<StreamEvent> ParseDectrisStream2(const StreamParts& parts) {
  if (parts.size() != 1) {
    return Bad("dectris-stream2: " + std::to_string(parts.size()) + " parts (1)");
  }
  Result<CborNode> root = CborTree::Parse(parts[0]);
  if (!root.ok()) return Bad("dectris-stream2: " + root.status().message());
  const CborNode& m = root->Untagged();  // the self-describe tag 55799, if sent
  if (m.type != CborNode::Type::kMap) return Bad("dectris-stream2: the message is no CBOR map");
  const CborNode* type = m.Find("type");
  if (!type || type->type != CborNode::Type::kText) return Bad("dectris-stream2: no 'type'");
  const std::string kind(type->text);
  StreamEvent e;
  const CborNode* series = m.Find("series_id");
  int64_t sid = 0;
  if (!series || !series->Untagged().AsInt(&sid) || sid < 0) {
    return Bad("dectris-stream2 " + kind + ": no series_id");
  }
  e.series = static_cast<uint64_t>(sid);
  if (const CborNode* u = m.Find("series_unique_id"); u && u->type == CborNode::Type::kText) {
    e.series_unique = std::string(u->text);
  }
  if (kind == "start") {
    e.kind = StreamEvent::Kind::kSeriesStart;
    e.meta = CborToJson(m);
    return e;
  }
  if (kind == "end") {
    e.kind = StreamEvent::Kind::kSeriesEnd;
    e.meta = CborToJson(m);
    return e;
  }
  if (kind != "image") return e;  // another kind of message (kIgnored)
  e.kind = StreamEvent::Kind::kFrame;
  const CborNode* id = m.Find("image_id");
  int64_t iid = 0;
  if (!id || !id->Untagged().AsInt(&iid) || iid < 0)
    return Bad("dectris-stream2 image: no image_id");
  e.frame = static_cast<uint64_t>(iid);
  const CborNode* data = m.Find("data");
  if (!data || data->type != CborNode::Type::kMap || data->items.empty()) {
    return Bad("dectris-stream2 image: no data");
  }
  for (size_t i = 0; i + 1 < data->items.size(); i += 2) {
    const CborNode& k = data->items[i].Untagged();
    if (k.type != CborNode::Type::kText)
      return Bad("dectris-stream2 image: a channel without name");
    StreamImage img;
    if (Status s = Stream2Image(std::string(k.text), data->items[i + 1], &img); !s.ok()) return s;
    e.images.push_back(img);
  }
  // Metadata: everything but the pixels.
  e.meta = json::object();
  for (size_t i = 0; i + 1 < m.items.size(); i += 2) {
    const CborNode& k = m.items[i].Untagged();
    if (k.type != CborNode::Type::kText || k.text == "data") continue;
    const CborNode& v = m.items[i + 1];
    e.meta[std::string(k.text)] = CborToJson(v);  // rationals stay [num, den]
  }
  return e;
}

Result<StreamEvent> ParseArrayMessage(const StreamParts& parts, const ArrayKeys& keys) {
  const std::string what = "array-1.0";
  if (parts.size() != 2) {
    return Bad(what + ": " + std::to_string(parts.size()) + " parts (a header and a blob)");
  }
  Result<json> h = JsonObject(parts[0], what + " header");
  if (!h.ok()) return h.status();
  StreamEvent e;
  e.kind = StreamEvent::Kind::kFrame;
  StreamImage img;
  uint32_t height = 0, width = 0;
  if (Status s = Shape(*h, keys.shape, what, &height, &width); !s.ok()) return s;
  img.height = height;
  img.width = width;
  std::string type = JsonString(*h, keys.type);
  if (!ParsePixelTypeName(type, &img.type)) return Bad(what + ": unknown type '" + type + "'");
  Result<uint64_t> frame = JsonCount(*h, keys.frame, what);
  if (!frame.ok()) return frame.status();
  e.frame = *frame;
  if (h->contains(keys.series)) {
    Result<uint64_t> series = JsonCount(*h, keys.series, what);
    if (!series.ok()) return series.status();
    e.series = *series;
  }
  if (parts[1].size() != img.DecodedBytes()) {
    return Bad(what + ": blob of " + std::to_string(parts[1].size()) + " bytes for a " +
               std::to_string(width) + "x" + std::to_string(height) + " " +
               PixelTypeName(img.type) + " image");
  }
  img.payload = parts[1];
  e.images.push_back(img);
  e.meta = std::move(*h);
  return e;
}

Status DecodeStreamImage(const StreamImage& image, std::span<uint8_t> out) {
  if (out.size() != image.DecodedBytes()) return Invalid("decode: wrong output size");
  const std::span<const uint8_t> in = image.payload;
  switch (image.encoding) {
    case FrameEncoding::kRaw:
      if (in.size() != out.size()) return Bad("raw image of the wrong size");
      std::memcpy(out.data(), in.data(), out.size());
      return Status::Ok();
    case FrameEncoding::kBigEndian: {
      if (in.size() != out.size()) return Bad("raw image of the wrong size");
      const size_t b = image.type.bytes;
      for (size_t i = 0; i + b <= out.size(); i += b) {
        for (size_t k = 0; k < b; ++k) out[i + k] = in[i + b - 1 - k];
      }
      return Status::Ok();
    }
    case FrameEncoding::kLz4Block: {
      if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) || out.size() > INT32_MAX) {
        return Bad("lz4 block too large");
      }
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()),
                                  reinterpret_cast<char*>(out.data()), static_cast<int>(in.size()),
                                  static_cast<int>(out.size()));
      if (n < 0) return Bad("lz4 block does not decode");
      if (static_cast<size_t>(n) != out.size()) {
        return Bad("lz4 block decodes to " + std::to_string(n) + " bytes, not " +
                   std::to_string(out.size()));
      }
      return Status::Ok();
    }
    case FrameEncoding::kBitshuffleLz4:
      return DecodeBitshuffleLz4Chunk(in, image.type.bytes, out);
    case FrameEncoding::kBitshuffleLz4NoHeader: {
      // The blocks alone: the 12-byte header they lack is put in front (decoded size, block
      // size 0 = bitshuffle's default).
      thread_local std::vector<uint8_t> framed;
      framed.resize(kLz4ChunkHeaderBytes + in.size());
      const uint64_t size = out.size();
      for (int i = 0; i < 8; ++i) framed[i] = static_cast<uint8_t>(size >> (56 - 8 * i));
      std::memset(framed.data() + 8, 0, 4);
      std::memcpy(framed.data() + kLz4ChunkHeaderBytes, in.data(), in.size());
      Status s = DecodeBitshuffleLz4Chunk(framed, image.type.bytes, out);
      if (framed.capacity() > (16u << 20)) std::vector<uint8_t>().swap(framed);
      return s;
    }
    case FrameEncoding::kHdf5Lz4:
      return DecodeHdf5Lz4Chunk(in, image.type.bytes, out);
  }
  return Bad("unknown encoding");
}

}  // namespace daqfs
