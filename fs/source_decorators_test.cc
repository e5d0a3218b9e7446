// Every decorator forwards every virtual of ByteSource (issue 8, 6(a)): layout, decode groups,
// group cursors and the parts of composed blocks, whose units it decorates in turn.
#include "fs/source_decorators.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/testing/fault_sources.h"

namespace daqfs {
namespace {

using testing::FaultySource;

class NullCursor final : public GroupCursor {
 public:
  Status Read(uint64_t, std::span<uint8_t> out) override {
    std::memset(out.data(), 7, out.size());
    return Status::Ok();
  }
  uint64_t buffered_bytes() const override { return 1; }
  uint64_t starts() const override { return 1; }
};

// 16 blocks of 1 KiB in groups of 8, whose block 5 is a slice of a units source.
class Inner final : public ByteSource {
 public:
  explicit Inner(std::shared_ptr<ByteSource> units) : units_(std::move(units)) {}
  uint64_t Size() const override { return 16 * 1024; }
  std::string Identity() const override { return "inner"; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return 16; }
  BlockRange BlockRangeOf(uint64_t i) const override { return {i * 1024, 1024}; }
  uint64_t BlockOf(uint64_t off) const override { return off / 1024; }
  Group GroupOf(uint64_t i) const override { return Group{i / 8 * 8, 8}; }
  Status ReadBlock(uint64_t, std::span<uint8_t> out) override {
    std::memset(out.data(), 1, out.size());
    return Status::Ok();
  }
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    ++groups;
    for (uint64_t b = i / 8 * 8; b < i / 8 * 8 + 8; ++b) emit(b, Bytes(1024, 2));
    return Status::Ok();
  }
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t) override {
    return std::make_unique<NullCursor>();
  }
  std::vector<BlockPart> PartsOf(uint64_t i) const override {
    if (i != 5) return {};
    BlockPart p;
    p.units = units_;
    p.unit = 3;
    p.length = 1024;
    return {p};
  }
  int groups = 0;

 private:
  std::shared_ptr<ByteSource> units_;
};

TEST(SourceDecoratorsTest, EveryDecoratorForwardsGroupsCursorsAndParts) {
  auto units = std::make_shared<MemorySource>(std::string(8192, 'u'), "units");
  auto inner = std::make_shared<Inner>(units);
  std::vector<std::shared_ptr<ForwardingSource>> decorated = {
      std::make_shared<ForwardingSource>(inner),
      std::make_shared<LatencySource>(inner, std::chrono::milliseconds(0)),
      std::make_shared<FaultySource>(inner, FaultySource::Faults{})};
  for (const auto& d : decorated) {
    EXPECT_EQ(d->GroupOf(10).first, 8u);
    EXPECT_EQ(d->GroupOf(10).count, 8u);
    int emitted = 0;
    ASSERT_TRUE(d->ReadGroup(10, [&](uint64_t, Bytes&&) { ++emitted; }).ok());
    EXPECT_EQ(emitted, 8);
    EXPECT_NE(d->OpenGroupCursor(10), nullptr);
    std::vector<BlockPart> parts = d->PartsOf(5);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].unit, 3u);
    EXPECT_EQ(parts[0].units->Identity(), "units");  // the units keep their cache key
    EXPECT_TRUE(d->PartsOf(4).empty());
  }
  EXPECT_EQ(inner->groups, 3);  // one group decode per decorator, not one per sub-block
}

TEST(SourceDecoratorsTest, FaultySourceCountsAndFailsDecodesOfGroupsAndUnits) {
  auto units = std::make_shared<MemorySource>(std::string(8192, 'u'), "units");
  auto inner = std::make_shared<Inner>(units);
  FaultySource::Faults f;
  f.fail_block = 3;  // unit 3 of the composed block 5
  FaultySource faulty(inner, f);
  ASSERT_TRUE(faulty.ReadGroup(10, [](uint64_t, Bytes&&) {}).ok());
  EXPECT_EQ(faulty.decodes(), 1u);
  std::vector<BlockPart> parts = faulty.PartsOf(5);
  ASSERT_EQ(parts.size(), 1u);
  Bytes unit(1024);
  Status s = parts[0].units->ReadBlock(parts[0].unit, unit);
  EXPECT_EQ(s.code(), Code::kCorrupt);  // the decorator reached the unit's decode
  EXPECT_EQ(faulty.decodes(), 2u);
}

}  // namespace
}  // namespace daqfs
