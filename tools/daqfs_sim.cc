#include "tools/daqfs_sim.h"

#include <chrono>
#include <cstring>
#include <thread>
#include <zmq.hpp>

namespace daqfs {
namespace {

constexpr uint64_t kPatterns = 8;

template <typename T>
void Fill(std::vector<uint8_t>& out, uint64_t k, uint32_t w, uint32_t h) {
  T* px = reinterpret_cast<T*>(out.data());
  uint32_t x = static_cast<uint32_t>(k) * 2654435761u + 12345;
  for (uint32_t r = 0; r < h; ++r) {
    for (uint32_t c = 0; c < w; ++c) {
      x = x * 1664525u + 1013904223u;
      // Mostly 0..3 counts, a ring of brighter pixels, a few hot pixels.
      uint32_t v = (x >> 28) & 3;
      const int64_t dr = static_cast<int64_t>(r) - h / 2, dc = static_cast<int64_t>(c) - w / 2;
      const int64_t d2 = dr * dr + dc * dc, rad = (std::min(w, h) / 4) + 8 * k;
      if (d2 > (rad - 3) * (rad - 3) && d2 < (rad + 3) * (rad + 3)) v += 40 + (x >> 26);
      if ((x >> 8) % 100003 == 0) v = 60000;
      px[size_t{r} * w + c] = static_cast<T>(v);
    }
  }
}

}  // namespace

std::vector<uint8_t> SimPattern(uint64_t frame, uint32_t width, uint32_t height, PixelType type) {
  std::vector<uint8_t> out(size_t{width} * height * type.bytes);
  const uint64_t k = frame % kPatterns;
  if (type.kind == PixelKind::kFloat) {
    if (type.bytes == 4) {
      Fill<float>(out, k, width, height);
    } else {
      Fill<double>(out, k, width, height);
    }
    return out;
  }
  switch (type.bytes) {
    case 1:
      Fill<uint8_t>(out, k, width, height);
      break;
    case 2:
      Fill<uint16_t>(out, k, width, height);
      break;
    case 4:
      Fill<uint32_t>(out, k, width, height);
      break;
    default:
      Fill<uint64_t>(out, k, width, height);
      break;
  }
  return out;
}

Result<SimResult> RunSim(const SimOptions& o,
                         const std::function<void(uint64_t, uint64_t, uint64_t)>& progress,
                         const std::function<void(const std::string&)>& bound) {
  // The patterns, or the replayed frames, encoded once.
  std::vector<SimFrame> frames;
  if (o.source) {
    for (const std::vector<uint8_t>& px : o.source->frames) {
      frames.push_back(EncodeSimFrame(px, o.source->width, o.source->height, o.source->type,
                                      o.encoding, o.protocol));
    }
    if (frames.empty()) return Invalid("the replayed source has no frames");
  } else {
    for (uint64_t k = 0; k < kPatterns; ++k) {
      std::vector<uint8_t> px = SimPattern(k, o.width, o.height, o.type);
      frames.push_back(EncodeSimFrame(px, o.width, o.height, o.type, o.encoding, o.protocol));
    }
  }
  const uint32_t width = o.source ? o.source->width : o.width;
  const uint32_t height = o.source ? o.source->height : o.height;
  zmq::context_t context(1);
  zmq::socket_t socket(context, o.pub ? zmq::socket_type::pub : zmq::socket_type::push);
  SimResult result;
  try {
    socket.set(zmq::sockopt::sndhwm, o.send_hwm);
    socket.set(zmq::sockopt::linger, 5000);
    socket.set(zmq::sockopt::sndtimeo, 1000);  // series starts and ends
    // A PUB socket drops silently when a subscriber's queue is full: with this, a frame it
    // cannot take fails (and is counted), as PUSH does. Without any subscriber it still vanishes.
    if (o.pub) socket.set(zmq::sockopt::xpub_nodrop, 1);
    if (o.connect) {
      socket.connect(o.endpoint);
      result.endpoint = o.endpoint;
    } else {
      socket.bind(o.endpoint);
      result.endpoint = socket.get(zmq::sockopt::last_endpoint);
    }
  } catch (const zmq::error_t& e) {
    return Status(Code::kInvalid, std::string("cannot ") + (o.connect ? "connect to " : "bind ") +
                                      o.endpoint + ": " + e.what());
  }
  if (bound) bound(result.endpoint);
  if (o.wait_seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.wait_seconds));
  }
  // Sends one message; `wait`: up to the socket's send timeout, else not at all if full.
  auto send = [&](const std::vector<std::string>& parts, bool wait) {
    for (size_t i = 0; i < parts.size(); ++i) {
      zmq::send_flags f = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      if (!wait && i == 0) f = f | zmq::send_flags::dontwait;
      // Once the first part is taken, the rest of the message goes with it.
      if (!socket.send(zmq::buffer(parts[i]), f)) return false;
    }
    return true;
  };
  const uint64_t total = o.frames * o.series;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  uint64_t i = 0;
  for (uint64_t s = 0; s < o.series; ++s) {
    const uint64_t series = o.first_series + s;
    const std::string unique = "daqfs-sim-" + std::to_string(series);
    switch (o.protocol) {
      case StreamProtocol::kDectrisV1:
        send(V1SeriesStart(series, {{"x_pixels_in_detector", width},
                                    {"y_pixels_in_detector", height},
                                    {"frame_count", o.frames}}),
             true);
        break;
      case StreamProtocol::kDectrisStream2:
        send(Stream2Start(series, unique, frames[0]), true);
        break;
      case StreamProtocol::kArray:
        break;
    }
    for (uint64_t f = 0; f < o.frames; ++f, ++i) {
      if (o.rate > 0) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  std::chrono::duration<double>(i / o.rate)));
      }
      const uint64_t number = o.first_frame + f;
      // The pattern of the frame's number; a replay from its first frame in each series.
      const SimFrame& frame = o.source ? frames[f % frames.size()] : frames[number % kPatterns];
      std::vector<std::string> msg;
      switch (o.protocol) {
        case StreamProtocol::kDectrisV1:
          msg = V1Image(series, number, frame);
          break;
        case StreamProtocol::kDectrisStream2:
          msg = Stream2Image(series, unique, number, frame);
          break;
        case StreamProtocol::kArray:
          msg = ArrayImage(series, number, frame);
          break;
      }
      if (send(msg, false)) {
        ++result.sent;
        result.bytes += frame.payload.size();
      } else {
        ++result.dropped;
      }
      auto now = std::chrono::steady_clock::now();
      if (progress && now - last_progress > std::chrono::milliseconds(500)) {
        progress(result.sent, result.dropped, total);
        last_progress = now;
      }
    }
    switch (o.protocol) {
      case StreamProtocol::kDectrisV1:
        send(V1SeriesEnd(series), true);
        break;
      case StreamProtocol::kDectrisStream2:
        send(Stream2End(series, unique), true);
        break;
      case StreamProtocol::kArray:
        break;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (progress) progress(result.sent, result.dropped, total);
  return result;
}

}  // namespace daqfs
