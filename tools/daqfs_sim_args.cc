#include "tools/daqfs_sim_args.h"

#include <cerrno>
#include <cstdlib>

#include "fs/version.h"

namespace daqfs {

const char* const kSimUsage =
    R"(usage: daqfs-sim [--protocol P] [--endpoint E] [--pub] [--connect] [--rate FPS]
                 [--frames N] [--series N] [--first-series N] [--first-frame N]
                 [--encoding E] [--size WxH] [--type T] [--from PATH] [--wait SECONDS]
                 [--hwm N]

Publishes detector series on a ZeroMQ socket, as an area detector's stream interface does, from
a deterministic synthetic pattern (low counts, a ring, hot pixels; 8 patterns cycled by frame
number) or replaying recorded frames (--from). Like a detector it never waits for a slow
receiver: a frame the socket does not take at once (its queue is full, or nobody is connected)
is dropped and counted.

  --protocol P       dectris-v1 (default): JSON multipart (dheader-1.0 with the detector
                     size, dimage-1.0 + dimage_d-1.0 + blob + dconfig-1.0, dseries_end-1.0);
                     dectris-stream2: one CBOR message each (start, image with one channel
                     "threshold_1", end); array-1.0: a JSON header and a raw blob per frame
  --endpoint E       where to bind (default tcp://*:9999; tcp://127.0.0.1:* picks a free port,
                     printed) or, with --connect, where to connect
  --pub              a PUB socket (every subscriber gets every frame) instead of PUSH
                     (receivers share the frames)
  --connect          connect to the endpoint instead of binding it
  --rate FPS         frames per second (default 0: as fast as the socket takes them)
  --frames N         frames per series (default 100)
  --series N         series, one after another (default 1)
  --first-series N   the first series' number (default 1)
  --first-frame N    the first frame number of each series (default 0)
  --encoding E       bslz4 (default: bitshuffle+LZ4, as EIGER detectors send), lz4, raw;
                     array-1.0 sends raw
  --size WxH         frame width x height in pixels (default 1030x514)
  --type T           uint8, uint16 (default), uint32, int16, int32, float32, float64
  --from PATH        replay recorded frames instead of the pattern: an HDF5 / NeXus file's
                     image stack (an EIGER master with its data files, decoded as daqfs shows
                     it in data.npy), a multi-page TIFF or a folder of TIFF files (pages in
                     name order); size and type are the file's; frame f of every series is
                     recorded frame f (cycled when --frames is larger), encoded as --encoding
  --wait SECONDS     wait before the first series, for receivers to connect (default 1)
  --hwm N            messages the socket may queue before frames are dropped (default 1000)
  -h, --help         this text
  -V, --version      version

A progress line is drawn on stderr when it is a terminal; a summary line always goes to stdout:
"daqfs-sim: sent S frames (B bytes) in T s: R frames/s, G GB/s; dropped D" (bytes as sent,
compressed; GB = 10^9 bytes).

exit status: 0 done (dropped frames are reported, not an error); 1 bad command line; 2 the
socket could not be bound or connected, or --from could not be read; 130 interrupted.
)";

namespace {

enum Opt {
  kProtocol,
  kEndpoint,
  kPub,
  kConnect,
  kRate,
  kFrames,
  kSeries,
  kFirstSeries,
  kFirstFrame,
  kEncoding,
  kSize,
  kType,
  kWait,
  kFrom,
  kHwm,
  kHelp,
  kVersion
};
constexpr CliOption kOptions[] = {
    {"protocol", 0, true, kProtocol},
    {"endpoint", 0, true, kEndpoint},
    {"pub", 0, false, kPub},
    {"connect", 0, false, kConnect},
    {"rate", 0, true, kRate},
    {"frames", 0, true, kFrames},
    {"series", 0, true, kSeries},
    {"first-series", 0, true, kFirstSeries},
    {"first-frame", 0, true, kFirstFrame},
    {"encoding", 0, true, kEncoding},
    {"size", 0, true, kSize},
    {"type", 0, true, kType},
    {"wait", 0, true, kWait},
    {"from", 0, true, kFrom},
    {"hwm", 0, true, kHwm},
    {"help", 'h', false, kHelp},
    {"version", 'V', false, kVersion},
};

CliOutcome UsageError(const std::string& message) {
  return CliOutcome::Exit(1, "", "daqfs-sim: " + message + "\n(see daqfs-sim --help)\n");
}

bool ParseCount(const std::string& s, uint64_t lo, uint64_t hi, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseSeconds(const std::string& s, double hi, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !(v >= 0) || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

CliOutcome ParseSimArgs(int argc, const char* const* argv, SimOptions* o) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv, kOptions);
  for (const auto& [id, v] : parsed.options) {
    uint64_t n = 0;
    switch (id) {
      case kHelp:
        return CliOutcome::Exit(0, kSimUsage, "");
      case kVersion:
        return CliOutcome::Exit(0, std::string("daqfs-sim ") + DaqfsVersion() + "\n", "");
      case kProtocol:
        if (!ParseStreamProtocol(v, &o->protocol)) {
          return UsageError("--protocol '" + v + "': dectris-v1, dectris-stream2 or array-1.0");
        }
        break;
      case kEndpoint:
        if (v.empty()) return UsageError("--endpoint needs an address such as tcp://*:9999");
        o->endpoint = v;
        break;
      case kPub:
        o->pub = true;
        break;
      case kConnect:
        o->connect = true;
        break;
      case kRate:
        if (!ParseSeconds(v, 1e7, &o->rate)) {
          return UsageError("--rate '" + v + "': frames per second, 0 to 10000000");
        }
        break;
      case kFrames:
        if (!ParseCount(v, 1, 1ull << 40, &o->frames)) {
          return UsageError("--frames '" + v + "': a whole number from 1");
        }
        break;
      case kSeries:
        if (!ParseCount(v, 1, 1ull << 20, &o->series)) {
          return UsageError("--series '" + v + "': a whole number from 1");
        }
        break;
      case kFirstSeries:
        if (!ParseCount(v, 0, 1ull << 62, &o->first_series)) {
          return UsageError("--first-series '" + v + "': a whole number");
        }
        break;
      case kFirstFrame:
        if (!ParseCount(v, 0, 1ull << 62, &o->first_frame)) {
          return UsageError("--first-frame '" + v + "': a whole number");
        }
        break;
      case kEncoding:
        if (!ParseSimEncoding(v, &o->encoding)) {
          return UsageError("--encoding '" + v + "': bslz4, lz4 or raw");
        }
        break;
      case kSize: {
        const size_t x = v.find('x');
        uint64_t w = 0, h = 0;
        if (x == std::string::npos || !ParseCount(v.substr(0, x), 1, 1 << 16, &w) ||
            !ParseCount(v.substr(x + 1), 1, 1 << 16, &h)) {
          return UsageError("--size '" + v + "': WIDTHxHEIGHT, each 1 to 65536");
        }
        o->width = static_cast<uint32_t>(w);
        o->height = static_cast<uint32_t>(h);
        break;
      }
      case kType:
        if (!ParsePixelTypeName(v, &o->type) ||
            (o->type.bytes == 8 && o->type.kind != PixelKind::kFloat)) {
          return UsageError("--type '" + v +
                            "': uint8, uint16, uint32, int8, int16, int32, float32 or float64");
        }
        break;
      case kFrom:
        if (v.empty()) return UsageError("--from needs an HDF5 file, a TIFF file or a folder");
        o->from = v;
        break;
      case kWait:
        if (!ParseSeconds(v, 3600, &o->wait_seconds)) {
          return UsageError("--wait '" + v + "': seconds, 0 to 3600");
        }
        break;
      case kHwm:
        if (!ParseCount(v, 0, 1u << 30, &n)) return UsageError("--hwm '" + v + "': a whole number");
        o->send_hwm = static_cast<int>(n);
        break;
    }
  }
  switch (parsed.error) {
    case ParsedCommandLine::Error::kNone:
      break;
    case ParsedCommandLine::Error::kUnknownOption:
      return UsageError("unknown option " + parsed.bad);
    case ParsedCommandLine::Error::kMissingValue:
      return UsageError(parsed.bad + " needs a value");
    case ParsedCommandLine::Error::kUnexpectedValue:
      return UsageError(parsed.bad + " takes no value");
  }
  if (!parsed.arguments.empty()) return UsageError("unexpected argument " + parsed.arguments[0]);
  if (o->connect && o->endpoint.find('*') != std::string::npos) {
    return UsageError("--connect needs an endpoint without '*'");
  }
  return CliOutcome::Run();
}

}  // namespace daqfs
