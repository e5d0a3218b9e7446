// ImageStack: frame names, lookups by index and number across parts, validation of bad stacks.
#include "backends/common/image_stack.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "tests/testing/frame_units.h"

namespace daqfs {
namespace {

using testing::FrameUnits;

constexpr PixelType kU16{PixelKind::kUnsigned, 2};

std::shared_ptr<FrameUnits> Units(const std::string& id, uint64_t blocks, uint64_t bytes) {
  return std::make_shared<FrameUnits>(id, blocks, bytes, blocks);
}

// A 5 x 7 uint16 stack (70-byte frames) over `parts`.
ImageStackSpec Spec(std::vector<ImageStackPart> parts) {
  ImageStackSpec spec;
  spec.pixel = kU16;
  spec.height = 5;
  spec.width = 7;
  spec.parts = std::move(parts);
  spec.identity = "master:/entry/data";
  return spec;
}

TEST(FrameFileNameTest, SixDigitsAtLeastMoreWhenNeeded) {
  EXPECT_EQ(FrameFileName(0, "tif"), "000000.tif");
  EXPECT_EQ(FrameFileName(1, "tif"), "000001.tif");
  EXPECT_EQ(FrameFileName(42, "raw"), "000042.raw");
  EXPECT_EQ(FrameFileName(999999, "tif"), "999999.tif");
  EXPECT_EQ(FrameFileName(1000000, "tif"), "1000000.tif");
  EXPECT_EQ(FrameFileName(std::numeric_limits<int64_t>::max(), "tif"), "9223372036854775807.tif");
  EXPECT_EQ(FrameFileName(-1, "tif"), "");
}

TEST(FrameFileNameTest, ParsesExactlyTheNamesItWrites) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{123456}, int64_t{999999},
                    int64_t{1000000}, int64_t{1234567890}, std::numeric_limits<int64_t>::max()}) {
    for (const char* ext : {"tif", "raw"}) {
      std::optional<int64_t> back = ParseFrameFileName(FrameFileName(n, ext), ext);
      ASSERT_TRUE(back.has_value()) << n << " " << ext;
      EXPECT_EQ(*back, n);
    }
  }
  const char* not_names[] = {"1.tif",
                             "00001.tif",
                             "0000001.tif",
                             "0000000.tif",
                             "+00001.tif",
                             "-00001.tif",
                             " 00001.tif",
                             "00001 .tif",
                             "000001.tiff",
                             "000001.ti",
                             "000001.TIF",
                             "000001tif",
                             "000001.",
                             "000001",
                             ".tif",
                             "",
                             "00000a.tif",
                             "0x0001.tif",
                             "000001.raw",
                             "000001.tif.tif",
                             "9223372036854775808.tif",
                             "99999999999999999999.tif",
                             "0009223372036854775807.tif"};
  for (const char* name : not_names) {
    EXPECT_FALSE(ParseFrameFileName(name, "tif").has_value()) << name;
  }
  EXPECT_EQ(ParseFrameFileName("000000.tif", "tif"), 0);
  EXPECT_EQ(ParseFrameFileName("1000000.raw", "raw"), 1000000);
}

// Three parts over two units sources, with a gap in the numbers between the second and third.
TEST(ImageStackTest, LooksUpFramesByIndexAndNumberAcrossParts) {
  auto a = Units("a", 10, 70);
  auto b = Units("b", 4, 70);
  Result<std::shared_ptr<const ImageStack>> made =
      ImageStack::Make(Spec({{a, 2, 3, 1}, {b, 0, 4, 4}, {a, 8, 2, 100}}));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const ImageStack& s = **made;
  EXPECT_EQ(s.frames(), 9u);
  EXPECT_EQ(s.FrameBytes(), 70u);
  EXPECT_EQ(s.Shape(), (std::vector<uint64_t>{9, 5, 7}));
  const int64_t numbers[] = {1, 2, 3, 4, 5, 6, 7, 100, 101};
  for (uint64_t i = 0; i < 9; ++i) {
    EXPECT_EQ(s.NumberOfIndex(i), numbers[i]) << i;
    EXPECT_EQ(s.IndexOfNumber(numbers[i]), i) << i;
  }
  for (int64_t n : {int64_t{-5}, int64_t{0}, int64_t{8}, int64_t{50}, int64_t{99}, int64_t{102},
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    EXPECT_FALSE(s.IndexOfNumber(n).has_value()) << n;
  }
  EXPECT_EQ(s.Locate(0).part, 0u);
  EXPECT_EQ(s.Locate(0).unit, 2u);
  EXPECT_EQ(s.Locate(3).part, 1u);
  EXPECT_EQ(s.Locate(3).unit, 0u);
  EXPECT_EQ(s.Locate(8).part, 2u);
  EXPECT_EQ(s.Locate(8).unit, 9u);
  // No frame was decoded to describe, validate or look up the stack.
  EXPECT_EQ(a->decodes.load() + b->decodes.load(), 0u);

  // ReadFrame decodes the frame's unit.
  std::string frame(70, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(frame.data()), frame.size());
  ASSERT_TRUE(s.ReadFrame(7, out).ok());
  EXPECT_EQ(frame, a->Unit(8));
  EXPECT_EQ(a->decodes_of(8), 1u);
  EXPECT_EQ(s.ReadFrame(9, out).code(), Code::kInvalid);
  EXPECT_EQ(s.ReadFrame(0, out.subspan(1)).code(), Code::kInvalid);
}

// A frame over a few MiB is one unit of sub-blocks (GroupOf): frame k of a part starts at block
// first_unit + k * blocks per frame, and ReadFrame decodes the group once. Groups that do not
// start at a frame's block or differ in length are refused.
TEST(ImageStackTest, FramesOfSubBlockGroups) {
  // 5 x 7 uint16 frames of 70 bytes as groups of 3 sub-blocks of 24 + 24 + 22 bytes.
  auto grouped = std::make_shared<FrameUnits>("g", 12, 24, 5, UINT64_MAX, 0, 3);
  ASSERT_EQ(grouped->Size(), 12u * 24);
  // 24 * 3 = 72, not 70: a group of three 24-byte blocks is refused for a 70-byte frame...
  Result<std::shared_ptr<const ImageStack>> wrong = ImageStack::Make(Spec({{grouped, 0, 2, 1}}));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("unit 0 holds 72 bytes"), std::string::npos)
      << wrong.status().ToString();
  // ... a 6 x 6 uint16 frame (72 bytes) fits.
  ImageStackSpec spec = Spec({{grouped, 3, 2, 1}, {grouped, 9, 1, 10}});
  spec.height = 6;
  spec.width = 6;
  Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(spec);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const ImageStack& s = **made;
  EXPECT_EQ(s.frames(), 3u);
  EXPECT_EQ(s.Locate(0).unit, 3u);
  EXPECT_EQ(s.Locate(0).blocks, 3u);
  EXPECT_EQ(s.Locate(1).unit, 6u);
  EXPECT_EQ(s.Locate(2).unit, 9u);
  EXPECT_EQ(grouped->decodes.load(), 0u);
  std::string frame(72, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(frame.data()), frame.size());
  ASSERT_TRUE(s.ReadFrame(1, out).ok());
  EXPECT_EQ(frame, grouped->Unit(6) + grouped->Unit(7) + grouped->Unit(8));
  EXPECT_EQ(grouped->decodes.load(), 1u);  // one decode of the group
  // A part that starts inside a group, or runs past the blocks.
  spec.parts = {{grouped, 4, 1, 1}};
  Result<std::shared_ptr<const ImageStack>> inside = ImageStack::Make(spec);
  ASSERT_FALSE(inside.ok());
  EXPECT_NE(inside.status().message().find("is blocks 3..5, not 4..6"), std::string::npos)
      << inside.status().ToString();
  spec.parts = {{grouped, 6, 3, 1}};
  Result<std::shared_ptr<const ImageStack>> past = ImageStack::Make(spec);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.status().message().find("units 6..14 past its 12 blocks"), std::string::npos)
      << past.status().ToString();
}

// 100,000 frames in 1000 parts of varied lengths with gaps: every index and number maps back.
TEST(ImageStackTest, ThousandPartsMapEveryIndexAndNumberBothWays) {
  std::vector<ImageStackPart> parts;
  auto units = Units("big", 200, 4 * 3 * 1);
  int64_t number = 1;
  uint64_t total = 0;
  for (int p = 0; p < 1000; ++p) {
    const uint64_t frames = 1 + (p * 37) % 199;
    parts.push_back({units, static_cast<uint64_t>(p % 2), frames, number});
    number += static_cast<int64_t>(frames) + (p % 3 == 0 ? 5 : 0);
    total += frames;
  }
  ImageStackSpec spec = Spec(parts);
  spec.pixel = {PixelKind::kUnsigned, 1};
  spec.height = 4;
  spec.width = 3;
  Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(spec);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const ImageStack& s = **made;
  ASSERT_EQ(s.frames(), total);
  int64_t previous = -1;
  for (uint64_t i = 0; i < s.frames(); ++i) {
    const int64_t n = s.NumberOfIndex(i);
    ASSERT_GT(n, previous);
    ASSERT_EQ(s.IndexOfNumber(n), i);
    // The number before is a frame exactly when there is no gap.
    ASSERT_EQ(s.IndexOfNumber(n - 1).has_value(), n == previous + 1) << n;
    previous = n;
  }
  EXPECT_FALSE(s.IndexOfNumber(previous + 1).has_value());
}

TEST(ImageStackTest, ChannelsAndEmptyStacks) {
  auto rgb = Units("rgb", 2, 5 * 7 * 3);
  ImageStackSpec spec = Spec({{rgb, 0, 2, 0}});
  spec.pixel = {PixelKind::kUnsigned, 1};
  spec.channels = 3;
  Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(spec);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->Shape(), (std::vector<uint64_t>{2, 5, 7, 3}));
  EXPECT_EQ((*made)->FrameBytes(), 105u);

  Result<std::shared_ptr<const ImageStack>> empty = ImageStack::Make(Spec({}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)->frames(), 0u);
  EXPECT_EQ((*empty)->Shape(), (std::vector<uint64_t>{0, 5, 7}));
  EXPECT_FALSE((*empty)->IndexOfNumber(0).has_value());
}

TEST(ImageStackTest, RejectsBadStacksWithTheReason) {
  auto units = Units("u", 10, 70);
  // Unit 3 holds 68 bytes instead of a frame's 70.
  auto odd = std::make_shared<FrameUnits>("odd", 10, 70, 1, 3, 68);
  struct Bad {
    const char* name;
    ImageStackSpec spec;
    const char* why;
  };
  std::vector<Bad> bad;
  auto add = [&](const char* name, ImageStackSpec spec, const char* why) {
    bad.push_back({name, std::move(spec), why});
  };
  ImageStackSpec s = Spec({{units, 0, 2, 1}});
  s.identity = "";
  add("no identity", s, "empty identity");
  s = Spec({{units, 0, 2, 1}});
  s.pixel = {PixelKind::kFloat, 2};
  add("float16", s, "unsupported pixel type");
  s = Spec({{units, 0, 2, 1}});
  s.height = 0;
  add("no rows", s, "each side must be");
  s = Spec({{units, 0, 2, 1}});
  s.width = 1ull << 32;
  add("too wide", s, "each side must be");
  s = Spec({{units, 0, 2, 1}});
  s.channels = 0;
  add("no channels", s, "samples per pixel");
  add("no units", Spec({{units, 0, 2, 1}, {nullptr, 0, 2, 3}}), "part 1: no units source");
  add("empty part", Spec({{units, 0, 0, 1}}), "part 0 (units 'u'): no frames");
  add("negative number", Spec({{units, 0, 2, -1}}), "frame numbers start at -1");
  add("number overflow", Spec({{units, 0, 2, std::numeric_limits<int64_t>::max()}}), "overflow");
  add("after the largest number",
      Spec({{units, 0, 1, std::numeric_limits<int64_t>::max()}, {units, 1, 1, 0}}),
      "ends at the largest frame number");
  add("overlapping numbers", Spec({{units, 0, 3, 1}, {units, 3, 2, 3}}),
      "starts at frame number 3, the previous part ends at 3");
  add("decreasing numbers", Spec({{units, 0, 3, 10}, {units, 3, 2, 1}}),
      "numbers must increase across parts");
  add("past the units", Spec({{units, 8, 3, 1}}), "units 8..10 past its 10 blocks");
  add("first unit past the units", Spec({{units, 11, 1, 1}}), "past its 10 blocks");
  add("wrong unit size", Spec({{units, 0, 2, 1}, {odd, 1, 4, 3}}),
      "part 1 (units 'odd'): unit 3 holds 68 bytes, a frame of 5 x 7 uint16 is 70");
  s = Spec({{units, 0, 2, 1}});
  s.pixel = {PixelKind::kUnsigned, 4};
  add("wrong pixel type for the units", s, "unit 0 holds 70 bytes");
  for (Bad& b : bad) {
    Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(std::move(b.spec));
    ASSERT_FALSE(made.ok()) << b.name;
    EXPECT_EQ(made.status().code(), Code::kInvalid) << b.name;
    EXPECT_NE(made.status().message().find(b.why), std::string::npos)
        << b.name << ": " << made.status().ToString();
  }
  EXPECT_EQ(units->decodes.load() + odd->decodes.load(), 0u);
}

}  // namespace
}  // namespace daqfs
