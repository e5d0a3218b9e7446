// The live stream source type (`type = stream`): its INI keys, `--source tcp://HOST:PORT`
// sniffing, start-up check and the StreamBackend it creates (backends/stream/stream_backend.h).
//
// Keys of its own (the shared ones are in fs/config.h; meaning and defaults also in
// configs/daqfs.example.ini):
//   endpoint   required: one or more ZeroMQ endpoints (tcp://host:port, ipc://path), separated
//              by commas or spaces; several PULL endpoints fan in
//   protocol   dectris-stream2 (default), dectris-v1 or array-1.0
//   socket     pull (default) or sub
//   bind       true/false: bind the endpoints instead of connecting to them; default false
//   array_shape_key, array_type_key, array_frame_key, array_series_key
//              array-1.0: the header's key names (default shape, type, frame, series)
//   formats    tiff, raw or tiff,raw: the files of each frame; default tiff
//   direct_io  true (default): frame files are read with direct I/O (no page-cache copy; no
//              shared mmap); false: through the page cache like archive members
//   keep_series  ended or cut series kept listed, 1..100000; default 10
//   series_name  the series folder's path: {key} or {key:0N} over series, seq, unique and the
//              header's top-level keys, '/' for sub-folders; default series_{series:06}
//   spill      auto (default: as much of [cache] disk as free), off, or a size: frames past
//              half the ring are written to the SSD in segments
//   uid, gid   owner of everything under the source (number or name); default: the daemon's
//   mode       octal permission bits of the source's folders (files: without x); default 0750
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/stream/stream_messages.h"
#include "fs/source_type.h"

namespace daqfs {

struct StreamOptions final : SourceOptions {
  std::vector<std::string> endpoints;
  StreamProtocol protocol = StreamProtocol::kDectrisStream2;
  bool sub = false;
  bool bind = false;
  ArrayKeys array_keys;
  bool tiff = true;
  bool raw = false;
  bool direct_io = true;
  size_t keep_series = 10;
  std::string series_name = "series_{series:06}";
  bool spill = true;
  uint64_t spill_bytes = 0;  // 0 = auto
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0750;
};

class StreamSourceType final : public SourceType {
 public:
  std::string_view Name() const override { return "stream"; }
  IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                     std::shared_ptr<SourceOptions>* options) const override;
  std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const override;
  // Accepts a ZeroMQ endpoint (tcp://, ipc://): a PULL socket connected to it, dectris-stream2.
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override;
  // Summary: "tcp://...: dectris-stream2 (pull, connect)".
  Result<SourceCheck> Check(const SourceSpec& spec) const override;
  Result<std::unique_ptr<Backend>> Create(const SourceSpec& spec) const override;
};

// Checks one endpoint's syntax: "" when valid, else the reason.
std::string CheckStreamEndpoint(const std::string& endpoint);

Status RegisterStreamSourceType(SourceTypeRegistry& registry);

}  // namespace daqfs
