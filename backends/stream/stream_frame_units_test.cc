#include "backends/stream/stream_frame_units.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "backends/common/image_stack.h"
#include "backends/common/stack_views.h"
#include "backends/stream/stream_encode.h"

namespace daqfs {
namespace {

std::vector<uint8_t> Pixels(size_t bytes, uint64_t seed) {
  std::vector<uint8_t> p(bytes);
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>((i * 131 + seed * 17) >> 3);
  return p;
}

// A received frame of one image, its payload kept by the frame.
std::shared_ptr<const StreamFrame> Frame(uint64_t number, const std::vector<uint8_t>& px,
                                         uint32_t w, uint32_t h, SimEncoding enc) {
  auto payload = std::make_shared<SimFrame>(EncodeSimFrame(
      px, w, h, PixelType{PixelKind::kUnsigned, 2}, enc, StreamProtocol::kDectrisStream2));
  auto f = std::make_shared<StreamFrame>();
  f->number = number;
  StreamImage img;
  img.width = w;
  img.height = h;
  img.type = PixelType{PixelKind::kUnsigned, 2};
  img.encoding = enc == SimEncoding::kRaw   ? FrameEncoding::kRaw
                 : enc == SimEncoding::kLz4 ? FrameEncoding::kHdf5Lz4
                                            : FrameEncoding::kBitshuffleLz4;
  img.payload = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload->payload.data()),
                                         payload->payload.size());
  f->images.push_back(img);
  f->keep = payload;
  return f;
}

std::vector<uint8_t> ReadAll(ByteSource& s) {
  std::vector<uint8_t> out(s.Size());
  Result<size_t> n = s.ReadAt(0, out);
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  if (!n.ok() || *n != out.size()) return {};
  return out;
}

TEST(StreamFrameUnitsTest, FramesAreImageStackPartsWithEveryView) {
  // Small frames (one block) and a frame over 8 MiB (a group of 1 MiB sub-blocks).
  struct Case {
    uint32_t w, h;
    SimEncoding enc;
  };
  for (const Case& c : {Case{64, 48, SimEncoding::kBitshuffleLz4}, Case{64, 48, SimEncoding::kLz4},
                        Case{2100, 2048, SimEncoding::kLz4}}) {
    const size_t bytes = size_t{c.w} * c.h * 2;
    std::vector<std::vector<uint8_t>> px;
    ImageStackSpec spec;
    spec.pixel = PixelType{PixelKind::kUnsigned, 2};
    spec.width = c.w;
    spec.height = c.h;
    spec.identity = "stream:test:S1";
    std::vector<uint64_t> numbers = {0, 1, 2, 5};  // a gap: frames 3 and 4 were lost
    for (uint64_t n : numbers) {
      px.push_back(Pixels(bytes, n));
      auto units = std::make_shared<StreamFrameUnits>(Frame(n, px.back(), c.w, c.h, c.enc), 0,
                                                      "stream:test:S1:" + std::to_string(n));
      EXPECT_EQ(units->Size(), bytes);
      EXPECT_EQ(units->BlockCount(), bytes > StreamFrameUnits::kMaxBlock ? 9u : 1u);
      spec.parts.push_back({units, 0, 1, static_cast<int64_t>(n)});
    }
    Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(spec);
    ASSERT_TRUE(stack.ok()) << stack.status().ToString();
    EXPECT_EQ((*stack)->frames(), 4u);
    for (size_t i = 0; i < numbers.size(); ++i) {
      std::shared_ptr<ByteSource> raw = MakeRawFrame(**stack, i);
      ASSERT_TRUE(raw);
      EXPECT_EQ(ReadAll(*raw), px[i]) << i;
      std::shared_ptr<ByteSource> tif = MakeTiffFrame(**stack, i);
      ASSERT_TRUE(tif);
      EXPECT_EQ(tif->Size(), TiffFrameSize(**stack));
      EXPECT_EQ(ReadAll(*tif).size(), tif->Size());
    }
    std::shared_ptr<ByteSource> npy = MakeNpy(**stack);
    std::vector<uint8_t> all = ReadAll(*npy);
    ASSERT_EQ(all.size(), NpySize(**stack));
    std::vector<uint8_t> want;
    for (const auto& p : px) want.insert(want.end(), p.begin(), p.end());
    EXPECT_TRUE(
        std::equal(want.begin(), want.end(), all.end() - static_cast<ptrdiff_t>(want.size())));
  }
}

TEST(StreamFrameUnitsTest, APayloadThatDoesNotDecodeFailsItsFrameOnly) {
  std::vector<uint8_t> px = Pixels(64 * 48 * 2, 1);
  auto good = Frame(0, px, 64, 48, SimEncoding::kBitshuffleLz4);
  auto bad = std::make_shared<StreamFrame>(*good);
  std::string junk(good->images[0].payload.size(), '\x7f');
  auto junk_keep = std::make_shared<std::string>(junk);
  bad->images[0].payload = std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(junk_keep->data()), junk_keep->size());
  bad->keep = junk_keep;
  StreamFrameUnits u(bad, 0, "stream:test:S1:7");
  std::vector<uint8_t> out(u.Size());
  Status s = u.ReadBlock(0, out);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("stream:test:S1:7"), std::string::npos) << s.ToString();
  StreamFrameUnits ok(good, 0, "stream:test:S1:0");
  ASSERT_TRUE(ok.ReadBlock(0, out).ok());
  EXPECT_EQ(out, px);
  StreamFrameUnits none(good, 3, "stream:test:S1:0:3");  // no such image
  EXPECT_EQ(none.Size(), 0u);
  EXPECT_EQ(none.BlockCount(), 0u);
}

TEST(StreamFrameUnitsTest, RawFramesInRamAreResidentOthersAreDecoded) {
  // A small raw frame (one block) and one over 8 MiB (1 MiB sub-blocks): the received bytes.
  for (uint32_t h : {48u, 2048u}) {
    const uint32_t w = h == 48 ? 64 : 2100;
    std::vector<uint8_t> px = Pixels(size_t{w} * h * 2, h);
    auto raw = Frame(0, px, w, h, SimEncoding::kRaw);
    StreamFrameUnits u(raw, 0, "stream:test:raw");
    ASSERT_EQ(u.BlockCount(), h == 48 ? 1u : (px.size() + (1 << 20) - 1) >> 20);
    for (uint64_t b = 0; b < u.BlockCount(); ++b) {
      std::optional<ByteSource::Resident> r = u.ResidentBlock(b);
      ASSERT_TRUE(r) << "block " << b;
      const BlockRange range = u.BlockRangeOf(b);
      EXPECT_EQ(r->bytes.data(), raw->images[0].payload.data() + range.offset);
      ASSERT_EQ(r->bytes.size(), range.length);
      EXPECT_TRUE(std::equal(r->bytes.begin(), r->bytes.end(), px.begin() + range.offset));
      EXPECT_EQ(r->keep, std::static_pointer_cast<const void>(raw));  // keeps the frame
    }
    EXPECT_FALSE(u.ResidentBlock(u.BlockCount()));
  }
  // Compressed payloads are decoded; so is a spilled frame (its payload is on disk).
  std::vector<uint8_t> px = Pixels(64 * 48 * 2, 3);
  for (SimEncoding enc : {SimEncoding::kLz4, SimEncoding::kBitshuffleLz4}) {
    StreamFrameUnits u(Frame(0, px, 64, 48, enc), 0, "stream:test:c");
    EXPECT_FALSE(u.ResidentBlock(0));
  }
  auto spilled = std::make_shared<StreamFrame>(*Frame(0, px, 64, 48, SimEncoding::kRaw));
  spilled->images[0].payload = {};
  spilled->keep = nullptr;
  spilled->spill = std::make_shared<StreamFrameSpill>();
  EXPECT_FALSE(StreamFrameUnits(spilled, 0, "stream:test:s").ResidentBlock(0));
  // A raw payload of the wrong size is no image: decoding it fails, it is not resident.
  auto short_raw = std::make_shared<StreamFrame>(*Frame(0, px, 64, 48, SimEncoding::kRaw));
  short_raw->images[0].payload = short_raw->images[0].payload.first(100);
  EXPECT_FALSE(StreamFrameUnits(short_raw, 0, "stream:test:short").ResidentBlock(0));
}

}  // namespace
}  // namespace daqfs
