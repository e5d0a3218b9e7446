// libFuzzer target for the stream message parsers (backends/stream/stream_messages.h) and the
// CBOR tree under stream2. Input: one ZeroMQ message, its parts separated by the 4 bytes
// "\n--\n" (a part may be empty). Every part list goes through all three protocols' parsers
// (array-1.0 with its default keys), and every image of a frame they accept is decoded (images
// of at most 16 MiB). Besides not crashing or touching memory outside the parts and the output
// (ASan), checks that every failure is kCorrupt and that a frame's payload lies in its parts.
//
// Seeds (corpus/stream_messages): v1 header/image/end messages of each encoding, stream2
// start/image/end messages (cbor2 with tags 55799, 40, 69, 73, 56500), array-1.0 messages, and
// the captured stream2 end message (../shared/data/stream, 000011.cbor).
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "backends/stream/cbor_tree.h"
#include "backends/stream/stream_messages.h"

namespace {

constexpr uint64_t kMaxDecode = 16 << 20;

void Check(const daqfs::Result<daqfs::StreamEvent>& e, const daqfs::StreamParts& parts) {
  if (!e.ok()) {
    if (e.status().code() != daqfs::Code::kCorrupt) std::abort();
    return;
  }
  for (const daqfs::StreamImage& img : e->images) {
    bool inside = false;
    for (std::span<const uint8_t> p : parts) {
      inside = inside || (img.payload.data() >= p.data() &&
                          img.payload.data() + img.payload.size() <= p.data() + p.size());
    }
    if (!inside && !img.payload.empty()) std::abort();
    if (img.DecodedBytes() > kMaxDecode) continue;
    std::vector<uint8_t> out(img.DecodedBytes());
    daqfs::Status s = daqfs::DecodeStreamImage(img, out);
    if (!s.ok() && s.code() != daqfs::Code::kCorrupt) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  daqfs::StreamParts parts;
  size_t start = 0;
  for (;;) {
    size_t at = all.find("\n--\n", start);
    size_t end = at == std::string_view::npos ? size : at;
    parts.push_back(std::span<const uint8_t>(data + start, end - start));
    if (at == std::string_view::npos) break;
    start = at + 4;
  }
  Check(daqfs::ParseDectrisV1(parts), parts);
  Check(daqfs::ParseDectrisStream2(parts), parts);
  Check(daqfs::ParseArrayMessage(parts, daqfs::ArrayKeys{}), parts);
  daqfs::Result<daqfs::CborNode> tree =
      daqfs::CborTree::Parse(std::span<const uint8_t>(data, size));
  if (!tree.ok() && tree.status().code() != daqfs::Code::kCorrupt) std::abort();
  return 0;
}
