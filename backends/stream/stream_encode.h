// Stream encoders: what a detector sends, for daqfs-sim and tests. Frames are encoded the way
// DECTRIS detectors and Debian's HDF5 filter plugins write them (bitshuffle+LZ4 and HDF5 LZ4 in
// HDF5 chunk framing, a bare LZ4 block for v1 `lz4<`), and wrapped into the messages of each
// protocol (stream_messages.h parses them back).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "backends/stream/stream_messages.h"

namespace daqfs {

// Filter 32008 with LZ4 (12-byte header: big-endian decoded size and block size in bytes,
// then per block a big-endian length and the LZ4 block of bit-shuffled elements; the last
// size % 8 elements raw), blocks of 8 KiB worth of elements.
std::string EncodeBitshuffleLz4(std::span<const uint8_t> pixels, uint32_t elem_size);
// Filter 32004 (12-byte header, then per block of 1 GiB at most a length and an LZ4 block).
std::string EncodeHdf5Lz4(std::span<const uint8_t> pixels);
// One bare LZ4 block.
std::string EncodeLz4Block(std::span<const uint8_t> pixels);

// How daqfs-sim encodes a frame: `raw`, `lz4` (v1: `lz4<`, a bare block; stream2: `lz4` in HDF5
// framing), `bslz4` (v1: `bsN-lz4<`; stream2: `bslz4`). array-1.0 sends raw only (a frame for
// it is raw whatever was asked).
enum class SimEncoding { kRaw, kLz4, kBitshuffleLz4 };
bool ParseSimEncoding(const std::string& text, SimEncoding* out);
const char* SimEncodingName(SimEncoding e);

// A frame to send: its pixels (little endian), already encoded as `encoding` in `payload`.
struct SimFrame {
  uint32_t width = 0, height = 0;
  PixelType type;
  SimEncoding encoding = SimEncoding::kRaw;
  std::string payload;
};
SimFrame EncodeSimFrame(std::span<const uint8_t> pixels, uint32_t width, uint32_t height,
                        PixelType type, SimEncoding encoding, StreamProtocol protocol);

// The messages of each protocol, each a list of parts. `series_unique` is stream2's
// series_unique_id. A stream2 frame carries one channel, "threshold_1".
std::vector<std::string> V1SeriesStart(uint64_t series, const nlohmann::json& config);
std::vector<std::string> V1Image(uint64_t series, uint64_t frame, const SimFrame& f);
std::vector<std::string> V1SeriesEnd(uint64_t series);
std::vector<std::string> Stream2Start(uint64_t series, const std::string& series_unique,
                                      const SimFrame& f);
std::vector<std::string> Stream2Image(uint64_t series, const std::string& series_unique,
                                      uint64_t frame, const SimFrame& f);
std::vector<std::string> Stream2End(uint64_t series, const std::string& series_unique);
std::vector<std::string> ArrayImage(uint64_t series, uint64_t frame, const SimFrame& f);

}  // namespace daqfs
