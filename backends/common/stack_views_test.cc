// The views of an image stack read through the real cache path: sizes known before decoding,
// bytes equal to libtiff's layout and to numpy.save, every frame decoded once whichever views
// read it, and views that cost O(1) / O(parts) to build.
#include "backends/common/stack_views.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/common/tiff_header.h"
#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"
#include "tests/testing/files.h"
#include "tests/testing/frame_units.h"

namespace daqfs {
namespace {

using testing::FrameUnits;

std::string ReadAll(ReadPath& path, const std::shared_ptr<ByteSource>& source, size_t step) {
  std::unique_ptr<FileReader> reader = path.Open(source, FileContext{});
  std::string out(source->Size(), '\0');
  for (uint64_t pos = 0; pos < out.size(); pos += step) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(step, out.size() - pos));
    Result<size_t> got = reader->Read(pos, std::span(reinterpret_cast<uint8_t*>(&out[pos]), n));
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got.ok() ? *got : 0, n);
  }
  return out;
}

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

// A stack of 13 frames of 9 x 11 int16 in three parts over two data files: frames 1..5 are
// units 2..6 of file a, 6..9 are units 0..3 of file b, 20..23 are units 8..11 of file a.
struct Fixture {
  Fixture() {
    ImageStackSpec spec;
    spec.pixel = {PixelKind::kSigned, 2};
    spec.height = 9;
    spec.width = 11;
    spec.parts = {{a, 2, 5, 1}, {b, 0, 4, 6}, {a, 8, 4, 20}};
    spec.identity = "master";
    Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(std::move(spec));
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    stack = *made;
  }
  // Frame `index`'s pixels.
  std::string Frame(uint64_t index) const {
    const ImageStack::Location at = stack->Locate(index);
    return at.part == 1 ? b->Unit(at.unit) : a->Unit(at.unit);
  }
  uint64_t decodes() const { return a->decodes.load() + b->decodes.load(); }

  static constexpr uint64_t kFrame = 9 * 11 * 2;
  std::shared_ptr<FrameUnits> a = std::make_shared<FrameUnits>("file-a", 12, kFrame, 1);
  std::shared_ptr<FrameUnits> b = std::make_shared<FrameUnits>("file-b", 4, kFrame, 2);
  std::shared_ptr<const ImageStack> stack;
};

TEST(StackViewsTest, SizesAndLayoutWithoutDecoding) {
  Fixture f;
  const ImageStack& s = *f.stack;
  Result<uint64_t> tiff = UncompressedTiffSize(s.pixel(), 9, 11, 1);
  ASSERT_TRUE(tiff.ok());
  EXPECT_EQ(TiffFrameSize(s), *tiff);
  EXPECT_EQ(RawFrameSize(s), Fixture::kFrame);
  EXPECT_EQ(NpySize(s), 128 + 13 * Fixture::kFrame);  // a short dict fits in 128 bytes
  for (uint64_t i = 0; i < s.frames(); ++i) {
    std::shared_ptr<ByteSource> t = MakeTiffFrame(s, i);
    std::shared_ptr<ByteSource> r = MakeRawFrame(s, i);
    ASSERT_TRUE(t && r);
    EXPECT_EQ(t->Size(), TiffFrameSize(s));
    EXPECT_EQ(r->Size(), RawFrameSize(s));
    EXPECT_TRUE(t->IsDecoded());
    // header | the frame's unit | IFD: the middle block is the unit itself.
    ASSERT_EQ(t->BlockCount(), 3u);
    std::vector<BlockPart> parts = t->PartsOf(1);
    ASSERT_EQ(parts.size(), 1u);
    const ImageStack::Location at = s.Locate(i);
    EXPECT_EQ(parts[0].units.get(), s.parts()[at.part].units.get());
    EXPECT_EQ(parts[0].unit, at.unit);
    EXPECT_EQ(parts[0].offset, 0u);
    EXPECT_EQ(parts[0].length, Fixture::kFrame);
    EXPECT_EQ(t->Identity(), "master#tif:" + std::to_string(s.NumberOfIndex(i)));
    EXPECT_EQ(r->Identity(), "master#raw:" + std::to_string(s.NumberOfIndex(i)));
  }
  EXPECT_EQ(MakeTiffFrame(s, s.frames()), nullptr);
  EXPECT_EQ(MakeRawFrame(s, s.frames()), nullptr);
  std::shared_ptr<ByteSource> npy = MakeNpy(s);
  EXPECT_EQ(npy->Size(), NpySize(s));
  EXPECT_EQ(npy->BlockCount(), 1 + s.frames());  // the header, then one block per frame
  EXPECT_EQ(npy->Identity(), "master#npy");
  EXPECT_EQ(f.decodes(), 0u);
}

// Every frames/N.tif, N.raw and data.npy read through one cache: each frame decoded once, the
// cache holding each unit once under its data file's key, the bytes what they must be.
TEST(StackViewsTest, EveryViewThroughOneCacheDecodesEachFrameOnce) {
  Fixture f;
  const ImageStack& s = *f.stack;
  Metrics metrics;
  MemoryBlockCache memory(64 << 20, nullptr);
  CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, &metrics);
  path.SetPolicy(0, CachePolicy::kMemory);

  Result<TiffFrameLayout> layout = UncompressedTiffLayout(s.pixel(), 9, 11, 1);
  ASSERT_TRUE(layout.ok());
  std::string all;
  for (uint64_t i = 0; i < s.frames(); ++i) {
    const std::string frame = f.Frame(i);
    all += frame;
    EXPECT_TRUE(ReadAll(path, MakeTiffFrame(s, i), 100) ==
                Str(layout->head) + frame + Str(layout->tail))
        << i;
    EXPECT_TRUE(ReadAll(path, MakeRawFrame(s, i), 4096) == frame) << i;
  }
  const std::string npy = ReadAll(path, MakeNpy(s), 1000);
  EXPECT_TRUE(npy == Str(*s.npy_header()) + all);
  EXPECT_EQ(f.decodes(), s.frames());
  for (uint64_t u = 2; u < 12; ++u) {
    EXPECT_EQ(f.a->decodes_of(u), u == 7 ? 0u : 1u) << u;  // unit 7 is in no part
  }
  for (uint64_t u = 0; u < 4; ++u) EXPECT_EQ(f.b->decodes_of(u), 1u) << u;
  EXPECT_EQ(memory.bytes(), s.frames() * Fixture::kFrame);  // units only, each once
  EXPECT_TRUE(memory.Contains(BlockKey{"file-a", 8}));
  EXPECT_TRUE(memory.Contains(BlockKey{"file-b", 3}));
}

// Frames over a few MiB are units of sub-blocks: every view reads them through the cache with
// one decode per frame, and the bytes are the group's blocks in order.
TEST(StackViewsTest, FramesOfSubBlocksDecodeOncePerFrame) {
  // 3 frames of 2048 x 1024 uint32 (8 MiB) as groups of 8 sub-blocks of 1 MiB.
  constexpr uint64_t kSub = 1 << 20;
  auto units = std::make_shared<FrameUnits>("huge", 24, kSub, 3, UINT64_MAX, 0, 8);
  ImageStackSpec spec;
  spec.pixel = {PixelKind::kUnsigned, 4};
  spec.height = 2048;
  spec.width = 1024;
  spec.parts = {{units, 0, 3, 1}};
  spec.identity = "huge-master";
  Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(std::move(spec));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const ImageStack& s = **made;
  Metrics metrics;
  MemoryBlockCache memory(256 << 20, nullptr);
  CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, &metrics);
  path.SetPolicy(0, CachePolicy::kMemory);
  Result<TiffFrameLayout> layout = UncompressedTiffLayout(s.pixel(), 2048, 1024, 1);
  ASSERT_TRUE(layout.ok());
  std::string all;
  for (uint64_t i = 0; i < 3; ++i) {
    std::string frame;
    for (uint64_t b = 8 * i; b < 8 * i + 8; ++b) frame += units->Unit(b);
    all += frame;
    std::shared_ptr<ByteSource> tif = MakeTiffFrame(s, i);
    EXPECT_EQ(tif->BlockCount(), 2u + 8);  // header, 8 sub-blocks, IFD
    EXPECT_TRUE(ReadAll(path, tif, 300000) == Str(layout->head) + frame + Str(layout->tail)) << i;
  }
  EXPECT_TRUE(ReadAll(path, MakeNpy(s), 1 << 20) == Str(*s.npy_header()) + all);
  EXPECT_EQ(units->decodes.load(), 3u);
  for (uint64_t f = 0; f < 3; ++f) EXPECT_EQ(units->decodes_of(8 * f), 1u) << f;
}

// data.npy is what numpy.save writes for the same array, and numpy.load(mmap_mode='r') maps it
// (3-D and, with channels, 4-D).
TEST(StackViewsTest, NpyEqualsNumpySaveAndMapsWithMmap) {
  testing::TempDir dir("stack-npy");
  Fixture f;
  auto rgb_units = std::make_shared<FrameUnits>("rgb", 6, 3 * 4 * 3 * 8, 3);
  ImageStackSpec spec;
  spec.pixel = {PixelKind::kFloat, 8};
  spec.height = 3;
  spec.width = 4;
  spec.channels = 3;
  spec.parts = {{rgb_units, 0, 2, 0}, {rgb_units, 3, 3, 2}};
  spec.identity = "rgb";
  Result<std::shared_ptr<const ImageStack>> rgb = ImageStack::Make(std::move(spec));
  ASSERT_TRUE(rgb.ok()) << rgb.status().ToString();

  Metrics metrics;
  MemoryBlockCache memory(64 << 20, nullptr);
  CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, &metrics);
  struct Case {
    const ImageStack* stack;
    std::string name;
    std::string py_shape;
  };
  const Case cases[] = {{f.stack.get(), "s16", "(13, 9, 11)"}, {rgb->get(), "rgb", "(5, 3, 4, 3)"}};
  std::string script =
      "import sys, numpy as np\n"
      "d = sys.argv[1]\n"
      "def check(name, descr, shape):\n"
      "    ours = open(d + '/' + name + '.npy', 'rb').read()\n"
      "    pixels = np.fromfile(d + '/' + name + '.pixels', dtype=np.dtype(descr))\n"
      "    a = pixels.reshape(shape)\n"
      "    np.save(d + '/' + name + '.ref.npy', a)\n"
      "    ref = open(d + '/' + name + '.ref.npy', 'rb').read()\n"
      "    assert ours == ref, name + ': differs from np.save'\n"
      "    m = np.load(d + '/' + name + '.npy', mmap_mode='r')\n"
      "    assert isinstance(m, np.memmap), name\n"
      "    assert m.shape == shape and m.dtype == a.dtype, (name, m.shape, m.dtype)\n"
      "    assert np.array_equal(m, a, equal_nan=a.dtype.kind == 'f'), name\n"
      "    print(name, 'ok')\n";
  for (const Case& c : cases) {
    const std::string npy = ReadAll(path, MakeNpy(*c.stack), 777);
    std::string pixels;
    for (uint64_t i = 0; i < c.stack->frames(); ++i) {
      std::string frame(c.stack->FrameBytes(), '\0');
      ASSERT_TRUE(
          c.stack->ReadFrame(i, std::span(reinterpret_cast<uint8_t*>(frame.data()), frame.size()))
              .ok());
      pixels += frame;
    }
    testing::WriteFile(dir / (c.name + ".npy"), npy);
    testing::WriteFile(dir / (c.name + ".pixels"), pixels);
    script +=
        "check('" + c.name + "', '" + NumpyDescr(c.stack->pixel()) + "', " + c.py_shape + ")\n";
  }
  testing::WriteFile(dir / "check.py", script);
  const std::string out = dir / "check.out";
  EXPECT_EQ(testing::Shell("/usr/bin/python3 " + dir / "check.py" + " " + dir.path() + " > " + out +
                           " 2>&1"),
            0)
      << testing::Slurp(out);
  EXPECT_EQ(testing::Slurp(out), "s16 ok\nrgb ok\n");
}

// Views of a 100,000-frame stack in 1000 parts: a frame view asks its units for a constant
// number of layout calls (no walk over frames or parts), data.npy a constant number per part.
TEST(StackViewsTest, BuildingViewsCostsNoWalkOverFrames) {
  auto units = std::make_shared<FrameUnits>("data", 100, 16, 4);
  ImageStackSpec spec;
  spec.pixel = {PixelKind::kUnsigned, 4};
  spec.height = 2;
  spec.width = 2;
  for (int p = 0; p < 1000; ++p) spec.parts.push_back({units, 0, 100, 1 + 100 * int64_t{p}});
  spec.identity = "big";
  Result<std::shared_ptr<const ImageStack>> made = ImageStack::Make(std::move(spec));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const ImageStack& s = **made;
  ASSERT_EQ(s.frames(), 100000u);

  units->layout_calls = 0;
  for (uint64_t i = 0; i < s.frames(); i += 997) {
    const uint64_t before = units->layout_calls.load();
    std::shared_ptr<ByteSource> t = MakeTiffFrame(s, i);
    std::shared_ptr<ByteSource> r = MakeRawFrame(s, i);
    EXPECT_EQ(t->Size(), TiffFrameSize(s));
    EXPECT_EQ(r->Size(), 16u);
    EXPECT_LE(units->layout_calls.load() - before, 8u) << i;
  }
  units->layout_calls = 0;
  std::shared_ptr<ByteSource> npy = MakeNpy(s);
  EXPECT_LE(units->layout_calls.load(), 3u * 1000);
  EXPECT_EQ(npy->Size(), NpySize(s));
  EXPECT_EQ(npy->BlockCount(), 1 + s.frames());
  EXPECT_EQ(NpySize(s), s.npy_header()->size() + 100000ull * 16);
  EXPECT_EQ(units->decodes.load(), 0u);
  // The last frame of the last part, through the npy's block layout.
  std::vector<BlockPart> last = npy->PartsOf(npy->BlockCount() - 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].unit, 99u);
}

}  // namespace
}  // namespace daqfs
