// ComposedSource: files made of generated headers and slices of shared decode units, read
// through the real cache path: a unit behind two files is decoded once and cached once.
#include "backends/common/composed_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

#include "cache/block_fetcher.h"
#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"

namespace daqfs {
namespace {

constexpr uint64_t kUnit = 256 * 1024;

uint8_t UnitByte(uint64_t offset) { return static_cast<uint8_t>((offset * 2654435761u) >> 11); }

// Four "chunks" of a data file, 256 KiB each: a units source that counts its decodes.
class ChunkUnits final : public ByteSource {
 public:
  uint64_t Size() const override { return 4 * kUnit; }
  std::string Identity() const override { return "data-file:chunks"; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return 4; }
  BlockRange BlockRangeOf(uint64_t i) const override {
    return i < 4 ? BlockRange{i * kUnit, kUnit} : BlockRange{Size(), 0};
  }
  uint64_t BlockOf(uint64_t off) const override { return std::min<uint64_t>(off / kUnit, 3); }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    ++decodes;
    if (i >= 4 || out.size() != kUnit) return Invalid("block");
    for (uint64_t k = 0; k < kUnit; ++k) out[k] = UnitByte(i * kUnit + k);
    return Status::Ok();
  }
  std::atomic<uint64_t> decodes{0};
};

std::shared_ptr<const Bytes> Header(size_t n, uint8_t fill) {
  auto b = std::make_shared<Bytes>(n);
  std::memset(b->data(), fill, n);
  return b;
}

// The bytes a composed file should show.
std::string Expected(const std::vector<ComposedSource::Piece>& pieces) {
  std::string out;
  for (const ComposedSource::Piece& p : pieces) {
    if (p.units) {
      for (uint64_t k = 0; k < p.length; ++k)
        out.push_back(static_cast<char>(UnitByte(p.offset + k)));
    } else {
      out.append(reinterpret_cast<const char*>(p.bytes->data()), p.bytes->size());
    }
  }
  return out;
}

std::string ReadAll(FileReader& reader, uint64_t size, size_t step) {
  std::string out(size, '\0');
  for (uint64_t pos = 0; pos < size; pos += step) {
    Result<size_t> n =
        reader.Read(pos, std::span(reinterpret_cast<uint8_t*>(&out[pos]),
                                   static_cast<size_t>(std::min<uint64_t>(step, size - pos))));
    EXPECT_TRUE(n.ok());
  }
  return out;
}

TEST(ComposedSourceTest, LayoutFollowsTheUnits) {
  auto units = std::make_shared<ChunkUnits>();
  // A header, then the units' bytes [100000, 700000): three slices (units 0, 1, 2).
  std::vector<ComposedSource::Piece> pieces(2);
  pieces[0].bytes = Header(200, 0xAA);
  pieces[1].units = units;
  pieces[1].offset = 100000;
  pieces[1].length = 600000;
  ComposedSource f(pieces, "f");
  EXPECT_EQ(f.Size(), 600200u);
  ASSERT_EQ(f.BlockCount(), 4u);
  EXPECT_EQ(f.BlockRangeOf(0).length, 200u);
  EXPECT_EQ(f.BlockRangeOf(1).offset, 200u);
  EXPECT_EQ(f.BlockRangeOf(1).length, kUnit - 100000);
  EXPECT_EQ(f.BlockRangeOf(2).length, kUnit);
  EXPECT_EQ(f.BlockRangeOf(3).offset + f.BlockRangeOf(3).length, f.Size());
  for (uint64_t b = 0; b < 4; ++b) {
    BlockRange r = f.BlockRangeOf(b);
    EXPECT_EQ(f.BlockOf(r.offset), b);
    EXPECT_EQ(f.BlockOf(r.offset + r.length - 1), b);
  }
  std::vector<BlockPart> parts = f.PartsOf(1);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].unit, 0u);
  EXPECT_EQ(parts[0].offset, 100000u);
  EXPECT_TRUE(f.PartsOf(0)[0].bytes != nullptr);
  // ReadAt (no cache) gives the same bytes.
  std::string want = Expected(pieces);
  std::string got(want.size(), '\0');
  Result<size_t> n = f.ReadAt(0, std::span(reinterpret_cast<uint8_t*>(got.data()), got.size()));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, want.size());
  EXPECT_TRUE(got == want);
}

// "frame.tif" = header + chunk 2; "data.npy" = header + every chunk. Read both: chunk 2 is
// decoded once, every chunk cached once, under the data file's key, not the files'.
TEST(ComposedSourceTest, TwoFilesBackedByOneUnitDecodeItOnceAndCacheItOnce) {
  auto units = std::make_shared<ChunkUnits>();
  std::vector<ComposedSource::Piece> tif(2), npy(2);
  tif[0].bytes = Header(8, 0x49);
  tif[1].units = units;
  tif[1].offset = 2 * kUnit;
  tif[1].length = kUnit;
  npy[0].bytes = Header(128, 0x93);
  npy[1].units = units;
  npy[1].offset = 0;
  npy[1].length = 4 * kUnit;
  auto frame = std::make_shared<ComposedSource>(tif, "frames/000002.tif");
  auto data = std::make_shared<ComposedSource>(npy, "data.npy");

  Metrics metrics;
  MemoryBlockCache memory(64 << 20, nullptr);
  CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, &metrics);
  path.SetPolicy(0, CachePolicy::kMemory);
  {
    auto r = path.Open(frame, FileContext{});
    EXPECT_TRUE(ReadAll(*r, frame->Size(), 100000) == Expected(tif));
  }
  {
    auto r = path.Open(data, FileContext{});
    EXPECT_TRUE(ReadAll(*r, data->Size(), 1 << 20) == Expected(npy));
  }
  EXPECT_EQ(units->decodes.load(), 4u);  // chunk 2 once, for both files
  EXPECT_EQ(path.fetcher().decodes(), 4u);
  EXPECT_EQ(memory.bytes(), 4 * kUnit);  // the units only, each once; headers are not cached
  for (uint64_t u = 0; u < 4; ++u) {
    EXPECT_TRUE(memory.Contains(BlockKey{"data-file:chunks", u})) << u;
  }

  // A block that is exactly one unit is the cached unit itself (no copy); a composed block with
  // a partial unit is assembled.
  BlockFetcher& fetcher = path.fetcher();
  Result<Block> whole = fetcher.FetchBlock(*frame, frame->Identity(), 1, &memory);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->get(), memory.Get(BlockKey{"data-file:chunks", 2}).get());
  Result<Block> header = fetcher.FetchBlock(*data, data->Identity(), 0, &memory);
  ASSERT_TRUE(header.ok());
  ASSERT_EQ((*header)->size(), 128u);
  EXPECT_EQ((**header)[5], 0x93);
  EXPECT_EQ(units->decodes.load(), 4u);
}

}  // namespace
}  // namespace daqfs
