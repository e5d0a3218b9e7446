#include "backends/stream/stream_encode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/common/lz4_chunks.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

std::vector<uint8_t> Pattern(size_t bytes, uint32_t seed) {
  std::vector<uint8_t> p(bytes);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < bytes; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = (x >> 24) < 200 ? static_cast<uint8_t>((x >> 28) & 3) : static_cast<uint8_t>(x >> 16);
  }
  return p;
}

std::span<const uint8_t> Span(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(StreamEncodeTest, BitshuffleLz4AndHdf5Lz4RoundTripThroughOurDecoders) {
  for (uint32_t elem : {1u, 2u, 4u, 8u}) {
    // Whole blocks, a partial last block, leftover elements (n % 8), fewer than 8 elements.
    for (size_t n : {size_t{4096 * 3}, size_t{5000}, size_t{8195}, size_t{5}, size_t{0}}) {
      std::vector<uint8_t> px = Pattern(n * elem, static_cast<uint32_t>(n + elem));
      std::string bs = EncodeBitshuffleLz4(px, elem);
      std::vector<uint8_t> out(px.size());
      ASSERT_TRUE(DecodeBitshuffleLz4Chunk(Span(bs), elem, out).ok()) << elem << " " << n;
      EXPECT_EQ(out, px) << elem << " " << n;
      std::string lz = EncodeHdf5Lz4(px);
      std::fill(out.begin(), out.end(), 0);
      ASSERT_TRUE(DecodeHdf5Lz4Chunk(Span(lz), elem, out).ok()) << elem << " " << n;
      EXPECT_EQ(out, px) << elem << " " << n;
    }
  }
}

TEST(StreamEncodeTest, OurChunksDecodeWithTheReferenceImplementations) {
  // The bitshuffle library's own decoder and libhdf5 with Debian's LZ4 plugin read what we
  // encode.
  testing::TempDir dir("stream-encode");
  std::vector<uint8_t> px = Pattern(640 * 480 * 2, 7);
  testing::WriteFile(dir / "px.bin", std::string(px.begin(), px.end()));
  std::string bs = EncodeBitshuffleLz4(px, 2);
  testing::WriteFile(dir / "bs.chunk", bs);
  testing::WriteFile(dir / "lz.chunk", EncodeHdf5Lz4(px));
  ASSERT_TRUE(testing::RunPython(R"PY(
import numpy as np, bitshuffle, h5py
px = np.fromfile('px.bin', '<u2').reshape(480, 640)
bs = open('bs.chunk', 'rb').read()
block = int.from_bytes(bs[8:12], 'big') // 2
got = bitshuffle.decompress_lz4(np.frombuffer(bs[12:], np.uint8), px.shape, np.dtype('<u2'), block)
assert (got == px).all(), 'bitshuffle'
with h5py.File('t.h5', 'w') as f:
    for name, fid, opts in (('bs', 32008, (0, 2)), ('lz', 32004, (0,))):
        d = f.create_dataset(name, px.shape, '<u2', chunks=px.shape, compression=fid,
                             compression_opts=opts)
        d.id.write_direct_chunk((0, 0), open(name + '.chunk', 'rb').read())
with h5py.File('t.h5', 'r') as f:
    assert (f['bs'][()] == px).all(), 'hdf5 bitshuffle plugin'
    assert (f['lz'][()] == px).all(), 'hdf5 lz4 plugin'
open('ok', 'w').write('ok')
)PY",
                                 dir.path()));
  EXPECT_EQ(testing::Slurp(dir / "ok"), "ok");
}

TEST(StreamEncodeTest, MessagesOfEveryProtocolParseBackToTheirPixels) {
  const uint32_t w = 70, h = 33;
  for (PixelType t : {PixelType{PixelKind::kUnsigned, 2}, PixelType{PixelKind::kUnsigned, 4},
                      PixelType{PixelKind::kSigned, 2}, PixelType{PixelKind::kFloat, 4}}) {
    std::vector<uint8_t> px = Pattern(size_t{w} * h * t.bytes, t.bytes);
    for (SimEncoding enc : {SimEncoding::kRaw, SimEncoding::kLz4, SimEncoding::kBitshuffleLz4}) {
      for (StreamProtocol p :
           {StreamProtocol::kDectrisV1, StreamProtocol::kDectrisStream2, StreamProtocol::kArray}) {
        SimFrame f = EncodeSimFrame(px, w, h, t, enc, p);
        std::vector<std::string> msg;
        Result<StreamEvent> e = Status(Code::kInvalid, "unset");
        auto parts = [&] {
          StreamParts out;
          for (const std::string& s : msg) out.push_back(Span(s));
          return out;
        };
        switch (p) {
          case StreamProtocol::kDectrisV1:
            msg = V1Image(4, 11, f);
            e = ParseDectrisV1(parts());
            break;
          case StreamProtocol::kDectrisStream2:
            msg = Stream2Image(4, "U4", 11, f);
            e = ParseDectrisStream2(parts());
            break;
          case StreamProtocol::kArray:
            msg = ArrayImage(4, 11, f);
            e = ParseArrayMessage(parts(), ArrayKeys{});
            break;
        }
        const std::string what = std::string(StreamProtocolName(p)) + " " + SimEncodingName(enc) +
                                 " " + PixelTypeName(t);
        ASSERT_TRUE(e.ok()) << what << ": " << e.status().ToString();
        EXPECT_EQ(e->series, 4u) << what;
        EXPECT_EQ(e->frame, 11u) << what;
        ASSERT_EQ(e->images.size(), 1u) << what;
        EXPECT_EQ(e->images[0].width, w) << what;
        EXPECT_EQ(e->images[0].height, h) << what;
        EXPECT_EQ(e->images[0].type, t) << what;
        std::vector<uint8_t> out(px.size());
        ASSERT_TRUE(DecodeStreamImage(e->images[0], out).ok()) << what;
        EXPECT_EQ(out, px) << what;
      }
    }
  }
  // Series starts and ends.
  SimFrame f = EncodeSimFrame(Pattern(8, 1), 2, 2, PixelType{PixelKind::kUnsigned, 2},
                              SimEncoding::kRaw, StreamProtocol::kDectrisV1);
  std::vector<std::vector<std::string>> v1 = {
      V1SeriesStart(4, nullptr), V1SeriesStart(4, {{"beam_center_x", 1.5}}), V1SeriesEnd(4)};
  std::vector<StreamEvent::Kind> kinds = {StreamEvent::Kind::kSeriesStart,
                                          StreamEvent::Kind::kSeriesStart,
                                          StreamEvent::Kind::kSeriesEnd};
  for (size_t i = 0; i < v1.size(); ++i) {
    StreamParts parts;
    for (const std::string& s : v1[i]) parts.push_back(Span(s));
    Result<StreamEvent> e = ParseDectrisV1(parts);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->kind, kinds[i]);
    EXPECT_EQ(e->series, 4u);
  }
  for (const std::vector<std::string>& m : {Stream2Start(4, "U4", f), Stream2End(4, "U4")}) {
    Result<StreamEvent> e = ParseDectrisStream2({Span(m[0])});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->series, 4u);
    EXPECT_EQ(e->series_unique, "U4");
  }
}

}  // namespace
}  // namespace daqfs
