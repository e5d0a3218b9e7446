// daqfs-sim: a detector stream simulator. It publishes series of frames in the DECTRIS stream v1,
// DECTRIS stream2 or array-1.0 protocol on a ZeroMQ PUSH or PUB socket (bound, as detectors do,
// or connected), at a set frame rate, from a deterministic synthetic pattern. Like a detector it
// never waits for a slow receiver: a frame the socket does not take at once (its queue is
// full, or nobody is connected) is dropped and counted. (A PUB socket without any subscriber
// takes every frame and sends it nowhere, as a detector's does: those are not counted.) Series
// starts and ends wait up to one second each (a receiver that misses them sees frames without a
// series start).
//
// Thread safety: RunSim runs on the calling thread; nothing is shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/pixel_type.h"
#include "backends/stream/stream_encode.h"
#include "backends/stream/stream_messages.h"
#include "fs/status.h"
#include "tools/daqfs_sim_source.h"

namespace daqfs {

struct SimOptions {
  StreamProtocol protocol = StreamProtocol::kDectrisV1;
  std::string endpoint = "tcp://*:9999";
  bool pub = false;           // PUB instead of PUSH
  bool connect = false;       // connect instead of bind
  double rate = 0;            // frames per second; 0 = as fast as the socket takes them
  uint64_t frames = 100;      // per series
  uint64_t series = 1;        // how many series
  uint64_t first_series = 1;  // the first series' number
  uint64_t first_frame = 0;   // the first frame's number in each series
  SimEncoding encoding = SimEncoding::kBitshuffleLz4;
  uint32_t width = 1030, height = 514;
  PixelType type{PixelKind::kUnsigned, 2};
  double wait_seconds = 1;  // before the first series: time for receivers to connect
  int send_hwm = 1000;      // messages the socket may queue (ZMQ_SNDHWM)
  // Replay: an HDF5 file's image stack or TIFF pages (tools/daqfs_sim_source.h) instead of the
  // pattern; "" = the pattern. Set by the command line; RunSim uses `source`.
  std::string from;
  // The frames replayed (frame f of a series is source frame f modulo their count); null = the
  // pattern. width, height and type must be the source's.
  std::shared_ptr<const SimSource> source;
};

struct SimResult {
  uint64_t sent = 0;     // frames the socket took
  uint64_t dropped = 0;  // frames it did not take at once
  uint64_t bytes = 0;    // payload bytes of the frames sent
  double seconds = 0;    // from the first frame to the last
  std::string endpoint;  // as bound (a tcp://...:* gets its port)
};

// The synthetic frame `frame` (pixels, little endian): Poisson-like low counts with a ring of
// brighter pixels and a few hot ones, one of 8 patterns cycled by frame number, so a test can
// compute what any frame holds.
std::vector<uint8_t> SimPattern(uint64_t frame, uint32_t width, uint32_t height, PixelType type);

// Sends the series. `progress(sent, dropped, total)` is called about twice a second (may be
// null); `bound(endpoint)` once the socket is bound or connected (may be null). Errors: a bad
// endpoint or one that cannot be bound.
Result<SimResult> RunSim(const SimOptions& options,
                         const std::function<void(uint64_t, uint64_t, uint64_t)>& progress,
                         const std::function<void(const std::string&)>& bound = nullptr);

}  // namespace daqfs
