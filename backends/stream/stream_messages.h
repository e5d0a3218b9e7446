// Stream messages: the ZeroMQ messages of the detector stream protocols daqfs ingests, parsed
// into one event model (series start, frame, series end), with the pixels left where they were
// received (spans into the message parts) and decoded on demand.
//
// Protocols (facts and captured bytes: ../shared/data/stream/PROVENANCE.md):
//   dectris-v1      DECTRIS stream v1, JSON multipart. Series start: `dheader-1.0`
//                   (header_detail none: 1 part; basic: + the detector config; all: + 6 parts of
//                   flat field, pixel mask and count-rate table headers and blobs), then an
//                   optional appendix part. Image: `dimage-1.0`, `dimage_d-1.0` (shape [width,
//                   height], type, encoding, size), the blob, `dconfig-1.0` (start_time,
//                   stop_time, real_time in ns), an optional appendix. End: `dseries_end-1.0`.
//                   Encodings: `<` (raw little endian), `lz4<` (a bare LZ4 block), `bs8-lz4<`,
//                   `bs16-lz4<`, `bs32-lz4<` (bitshuffle+LZ4 with the 12-byte HDF5 chunk header,
//                   or without it: told apart by the header's size field).
//   dectris-stream2 DECTRIS stream2: one CBOR map per message (self-describe tag 55799 first),
//                   `type` = start | image | end. An image's `data` maps channel names
//                   (threshold_1, difference...) to tag 40 arrays ([height, width], a typed
//                   array tag 64-87, whose bytes may be wrapped in tag 56500 [codec, element
//                   size, bytes] with codec `bslz4` or `lz4`, both in HDF5 chunk framing).
//                   Times are rationals [numerator, denominator].
//   array-1.0       a JSON header (`htype` array-1.0, shape [height, width], type, frame) and
//                   one raw blob (EPICS areaDetector's ZMQ plugin); the key names are
//                   configurable (ArrayKeys) for a DAQ's own JSON-plus-blob layout.
//
// Errors: a message that does not parse, has the wrong number of parts, a size that does not
// match its shape (a compressed payload's claimed or possible decoded size included; images of
// at most kMaxStreamImageBytes), an unknown type or encoding, JSON nested deeper than 64, pixel
// bytes of indefinite length gives Code::kCorrupt naming the protocol, the message kind and the
// reason. Messages of a protocol's other kinds that daqfs does not show
// are StreamEvent::Kind::kIgnored, not errors.
//
// Thread safety: pure functions of their inputs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "backends/common/pixel_type.h"
#include "fs/status.h"

namespace daqfs {

enum class StreamProtocol { kDectrisV1, kDectrisStream2, kArray };
// "dectris-v1", "dectris-stream2", "array-1.0".
bool ParseStreamProtocol(const std::string& text, StreamProtocol* out);
const char* StreamProtocolName(StreamProtocol p);

// How a frame's pixels travel.
enum class FrameEncoding : uint8_t {
  kRaw,                    // the pixels, little endian
  kBigEndian,              // the pixels, big endian (stream2 typed arrays 65-67, 73-75, 81-82)
  kLz4Block,               // one bare LZ4 block (v1 `lz4<`)
  kBitshuffleLz4,          // HDF5 filter 32008 chunk framing (12-byte header)
  kBitshuffleLz4NoHeader,  // the same blocks without the 12-byte header (some simulators)
  kHdf5Lz4,                // HDF5 filter 32004 chunk framing (stream2 `lz4`)
};
const char* FrameEncodingName(FrameEncoding e);

// The largest image the parsers accept (a 16M detector's uint32 frame is 72 MB).
inline constexpr uint64_t kMaxStreamImageBytes = 4ull << 30;

// One image of a frame (stream2 sends several channels per frame; the others one).
struct StreamImage {
  std::string channel;  // "" when the protocol has one image per frame
  uint32_t width = 0;
  uint32_t height = 0;
  PixelType type;
  FrameEncoding encoding = FrameEncoding::kRaw;
  std::span<const uint8_t> payload;  // into the received message
  uint64_t DecodedBytes() const { return uint64_t{width} * height * type.bytes; }
};

struct StreamEvent {
  enum class Kind { kSeriesStart, kFrame, kSeriesEnd, kIgnored };
  Kind kind = Kind::kIgnored;
  uint64_t series = 0;        // the series number as sent (v1 `series`, stream2 `series_id`)
  std::string series_unique;  // stream2 `series_unique_id` ("" when not sent)
  uint64_t frame = 0;         // v1 `frame`, stream2 `image_id`, array `frame`
  // Series start: the header as JSON (header.json); frame: its metadata (times, hash...);
  // end: the end message as JSON (end.json).
  nlohmann::json meta;
  std::vector<StreamImage> images;  // a frame's images, in the order sent
};

// One received multipart message: the parts' bytes (owned by the caller).
using StreamParts = std::vector<std::span<const uint8_t>>;

Result<StreamEvent> ParseDectrisV1(const StreamParts& parts);
Result<StreamEvent> ParseDectrisStream2(const StreamParts& parts);

// Key names of an array-1.0 style header.
struct ArrayKeys {
  std::string shape = "shape";    // [height, width]
  std::string type = "type";      // "uint16", "float32"...
  std::string frame = "frame";    // the frame number
  std::string series = "series";  // the series it belongs to (absent: series 0)
};
Result<StreamEvent> ParseArrayMessage(const StreamParts& parts, const ArrayKeys& keys);

// Decodes `image`'s payload into `out` (exactly image.DecodedBytes() bytes), little endian.
// kCorrupt when the payload does not decode to that size.
Status DecodeStreamImage(const StreamImage& image, std::span<uint8_t> out);

}  // namespace daqfs
