// The image-stack views of the HDF5 backend, without FUSE: masters written by
// tools/make_eiger_dataset.py (u8/u16/u32, bslz4 and lz4, a last data file with fewer frames)
// and by snippets of h5py (image numbers out of order, disagreeing and missing data files, huge
// frames), compared with what h5py reads; laziness counted in file opens and units read; one
// decode per chunk whichever view reads it and sibling prefetch across frames/, through the
// real read path.
#include "backends/hdf5/hdf5_stack_views.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "backends/common/tiff_header.h"
#include "backends/hdf5/hdf5_backend.h"
#include "backends/hdf5/hdf5_backend_test_util.h"
#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"
#include "cache/thread_pool.h"
#include "fs/vfs.h"
#include "tests/testing/vfs_mount.h"

namespace daqfs::hdf5_test {
namespace {

using testing::MakeEigerDataset;
using testing::RunPython;
using testing::Slurp;

constexpr uint64_t kMiB = 1 << 20;

// The array bytes of a .npy file (after its header).
std::string NpyData(const std::string& npy) {
  if (npy.size() < 10) return "";
  size_t header = 10 + static_cast<uint8_t>(npy[8]) + 256u * static_cast<uint8_t>(npy[9]);
  return npy.substr(std::min(header, npy.size()));
}

// Sum of every series of a counter in `metrics` (any label).
uint64_t CounterSum(const Metrics& metrics, const std::string& name) {
  std::istringstream in(metrics.Prometheus());
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const size_t rest = name.size();
    if (rest < line.size() && line[rest] != '{' && line[rest] != ' ') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return static_cast<uint64_t>(sum);
}

// h5py snippets writing EIGER-like files: data(NAME, frames, h, w, dtype, low, high) writes a
// data file (one gzip chunk per frame) and returns its array; master(NAME, targets, nimages)
// links /entry/data/data_NNNNNN to each target's /entry/data/data (None: a link named but not
// written, i.e. a missing file).
const char kPyHelpers[] =
    "import h5py, numpy as np, os\n"
    "os.makedirs('src', exist_ok=True)\n"
    "os.makedirs('expected', exist_ok=True)\n"
    "def data(name, n, h, w, dtype='u2', low=None, high=None, seed=0):\n"
    "  r = np.random.default_rng(seed)\n"
    "  a = r.integers(0, 200, size=(n, h, w)).astype(dtype)\n"
    "  with h5py.File('src/' + name, 'w') as f:\n"
    "    d = f.create_dataset('/entry/data/data', data=a, chunks=(1, h, w), "
    "compression='gzip')\n"
    "    if low is not None: d.attrs['image_nr_low'] = np.uint64(low)\n"
    "    if high is not None: d.attrs['image_nr_high'] = np.uint64(high)\n"
    "  return a\n"
    "def master(name, targets, nimages=None):\n"
    "  with h5py.File('src/' + name, 'w') as f:\n"
    "    g = f.create_group('/entry/data')\n"
    "    for k, t in enumerate(targets):\n"
    "      g['data_%06d' % (k + 1)] = h5py.ExternalLink(t, '/entry/data/data')\n"
    "    if nimages is not None:\n"
    "      f['/entry/instrument/detector/detectorSpecific/nimages'] = np.int32(nimages)\n"
    "def expect(name, arrays):\n"
    "  np.save('expected/' + name, np.concatenate(arrays))\n";

// The concatenated stack of a make_eiger_dataset.py master, as numpy.save writes it.
const char kPyExpectMaster[] =
    "import h5py, numpy as np, sys\n"
    "m = h5py.File('gen/series_master.h5', 'r')\n"
    "keys = sorted(m['/entry/data'].keys())\n"
    "np.save('expected.npy', np.concatenate([m['/entry/data/' + k][()] for k in keys]))\n";

class Hdf5StackViewsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Hdf5Backend> Make(const std::string& path, Hdf5SourceOptions o = {}) {
    Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create("t", path, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return nullptr;
    Status s = (*b)->Start(env_.env);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*b);
  }
  uint64_t UnitsRead() const { return CounterSum(env_.metrics, "daqfs_hdf5_units_read_total"); }

  // Checks frames/ and data.npy of stack folder `at` against the stack in `expected_npy`:
  // frame names from `numbers`, each .tif the TIFF layout around the frame, data.npy equal.
  void CheckStack(Backend& b, const std::string& at, const std::string& expected_npy,
                  PixelType pixel, uint64_t h, uint64_t w, const std::vector<int64_t>& numbers,
                  bool raw = false) {
    SCOPED_TRACE(at);
    Result<std::string> npy = ReadAll(b, at + "/data.npy");
    ASSERT_TRUE(npy.ok()) << npy.status().ToString();
    EXPECT_TRUE(*npy == expected_npy) << "data.npy differs";
    const std::string pixels = NpyData(expected_npy);
    const uint64_t frame = h * w * pixel.bytes;
    ASSERT_EQ(pixels.size(), numbers.size() * frame);
    std::vector<std::string> names;
    for (int64_t n : numbers) {
      names.push_back(FrameFileName(n, "tif"));
      if (raw) names.push_back(FrameFileName(n, "raw"));
    }
    EXPECT_EQ(ListPath(b, at + "/frames"), names);
    Result<TiffFrameLayout> layout = UncompressedTiffLayout(pixel, h, w, 1);
    ASSERT_TRUE(layout.ok());
    const std::string head(layout->head.begin(), layout->head.end());
    const std::string tail(layout->tail.begin(), layout->tail.end());
    for (size_t i = 0; i < numbers.size(); ++i) {
      const std::string want = pixels.substr(i * frame, frame);
      const std::string name = at + "/frames/" + FrameFileName(numbers[i], "tif");
      Result<NodeId> node = Resolve(b, name);
      ASSERT_TRUE(node.ok()) << name;
      Result<Attr> attr = b.GetAttr(*node);
      ASSERT_TRUE(attr.ok());
      EXPECT_EQ(attr->size, layout->FileSize()) << name;
      Result<std::string> tif = ReadAll(b, name);
      ASSERT_TRUE(tif.ok()) << name << ": " << tif.status().ToString();
      EXPECT_TRUE(*tif == head + want + tail) << name;
      if (raw) {
        Result<std::string> r = ReadAll(b, at + "/frames/" + FrameFileName(numbers[i], "raw"));
        ASSERT_TRUE(r.ok());
        EXPECT_TRUE(*r == want) << "raw " << numbers[i];
      }
    }
  }

  TempDir dir_{"hdf5-stack"};
  TestBackendEnv env_;
};

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> out;
  for (int64_t n = first; n <= last; ++n) out.push_back(n);
  return out;
}

TEST_F(Hdf5StackViewsTest, GeneratedMastersShowDataNpyAndFramesForEveryDtypeAndFilter) {
  struct Case {
    const char* dtype;
    const char* filter;
    PixelType pixel;
  } cases[] = {
      {"uint8", "bslz4", {PixelKind::kUnsigned, 1}},   // 2240-byte frames: kFrames units
      {"uint16", "lz4", {PixelKind::kUnsigned, 2}},    // 4480 bytes: the .npy's own units
      {"uint32", "bslz4", {PixelKind::kUnsigned, 4}},  // 8960 bytes
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dtype);
    TempDir d("hdf5-stack-gen");
    ASSERT_TRUE(MakeEigerDataset(d / "gen", std::string("--frames 7 --per-file 3 --height 40 "
                                                        "--width 56 --dtype ") +
                                                c.dtype + " --filter " + c.filter));
    ASSERT_TRUE(RunPython(kPyExpectMaster, d.path()));
    Hdf5SourceOptions o;
    o.raw_frames = true;
    auto b = Make(d / "gen", o);
    ASSERT_TRUE(b);
    std::vector<std::string> top = ListPath(*b, "series_master");
    EXPECT_TRUE(Contains(top, "data.npy"));
    EXPECT_TRUE(Contains(top, "frames"));
    EXPECT_TRUE(Contains(top, "entry"));
    CheckStack(*b, "series_master", Slurp(d / "expected.npy"), c.pixel, 40, 56, Range(1, 7),
               /*raw=*/true);
    // The master's parts get no NAME.stack/ of their own.
    std::vector<std::string> data = ListPath(*b, "series_master/entry/data");
    EXPECT_TRUE(Contains(data, "data_000001.npy"));
    EXPECT_FALSE(Contains(data, "data_000001.stack"));
    // Reads through the data files' units: every frame once (no cache here: ReadAll reads the
    // source directly, so each view read its frames again).
    EXPECT_GT(UnitsRead(), 0u);
  }
}

TEST_F(Hdf5StackViewsTest, FramesAreInImageNumberOrderWithGapsAndConsecutiveFallback) {
  ASSERT_TRUE(RunPython(std::string(kPyHelpers) +
                            "a = data('a.h5', 3, 32, 40, low=11, high=13, seed=1)\n"
                            "b = data('b.h5', 4, 32, 40, low=1, high=4, seed=2)\n"
                            "c = data('c.h5', 2, 32, 40, seed=3)\n"  // no numbers: after b
                            "master('m_master.h5', ['a.h5', 'b.h5', 'c.h5'])\n"
                            "expect('m.npy', [b, c, a])\n",
                        dir_.path()));
  auto b = Make(dir_ / "src");
  ASSERT_TRUE(b);
  std::vector<int64_t> numbers = {1, 2, 3, 4, 5, 6, 11, 12, 13};
  CheckStack(*b, "m_master", Slurp(dir_ / "expected/m.npy"), {PixelKind::kUnsigned, 2}, 32, 40,
             numbers);
  // Names no frame has: ENOENT.
  for (const char* name : {"000000.tif", "000007.tif", "000014.tif", "1.tif", "000001.raw",
                           "0000001.tif", "000001.tiff"}) {
    EXPECT_EQ(Resolve(*b, std::string("m_master/frames/") + name).status().code(), Code::kNotFound)
        << name;
  }
  // Ids are stable: the same frame looked up twice.
  EXPECT_EQ(Resolve(*b, "m_master/frames/000012.tif").value(),
            Resolve(*b, "m_master/frames/000012.tif").value());
}

TEST_F(Hdf5StackViewsTest, DisagreeingPartsShowNoStackViewsAndTheRestStays) {
  ASSERT_TRUE(RunPython(std::string(kPyHelpers) +
                            "data('a.h5', 2, 8, 8, low=1)\n"
                            "data('b.h5', 2, 8, 9, low=3)\n"
                            "master('shape_master.h5', ['a.h5', 'b.h5'])\n"
                            "data('c.h5', 2, 8, 8, low=1)\n"
                            "data('d.h5', 2, 8, 8, dtype='i4', low=3)\n"
                            "master('type_master.h5', ['c.h5', 'd.h5'])\n"
                            "data('e.h5', 3, 8, 8, low=1)\n"
                            "data('f.h5', 3, 8, 8, low=3)\n"  // frames 3..5 overlap e's 1..3
                            "master('overlap_master.h5', ['e.h5', 'f.h5'])\n",
                        dir_.path()));
  auto b = Make(dir_ / "src");
  ASSERT_TRUE(b);
  for (const char* m : {"shape_master", "type_master", "overlap_master"}) {
    SCOPED_TRACE(m);
    std::vector<std::string> top = ListPath(*b, m);
    EXPECT_EQ(top, (std::vector<std::string>{"entry"}));
    EXPECT_EQ(Resolve(*b, std::string(m) + "/data.npy").status().code(), Code::kNotFound);
    EXPECT_EQ(ListPath(*b, std::string(m) + "/entry/data").size(), 4u);  // 2 x (.npy, @low)
  }
}

TEST_F(Hdf5StackViewsTest, MissingDataFilesKeepTheirFramesWhenTheirCountIsKnownAndReadAsEio) {
  ASSERT_TRUE(RunPython(std::string(kPyHelpers) +
                            // A gap of 3 frames between a (1..3) and c (7..8).
                            "a = data('a.h5', 3, 16, 16, low=1, seed=1)\n"
                            "c = data('c.h5', 2, 16, 16, low=7, seed=3)\n"
                            "master('gap_master.h5', ['a.h5', 'gone1.h5', 'c.h5'])\n"
                            // The last is missing: nimages says 5.
                            "master('last_master.h5', ['a.h5', 'gone2.h5'], nimages=5)\n"
                            // The last is missing and nothing says how long it was.
                            "master('unknown_master.h5', ['a.h5', 'gone3.h5'])\n"
                            "expect('a.npy', [a])\n",
                        dir_.path()));
  auto b = Make(dir_ / "src");
  ASSERT_TRUE(b);
  const std::string a = NpyData(Slurp(dir_ / "expected/a.npy"));
  const uint64_t frame = 16 * 16 * 2;
  struct Case {
    const char* master;
    std::vector<int64_t> numbers;
  } cases[] = {
      {"gap_master", Range(1, 8)}, {"last_master", Range(1, 5)}, {"unknown_master", Range(1, 3)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.master);
    const std::string m = c.master;
    std::vector<std::string> names;
    for (int64_t n : c.numbers) names.push_back(FrameFileName(n, "tif"));
    EXPECT_EQ(ListPath(*b, m + "/frames"), names);
    Result<NodeId> npy = Resolve(*b, m + "/data.npy");
    ASSERT_TRUE(npy.ok());
    EXPECT_EQ(b->GetAttr(*npy)->size, 128 + c.numbers.size() * frame);
    // The frames of a.h5 read; the missing file's frames are EIO (kUnavailable), never zeros.
    for (int64_t n : c.numbers) {
      Result<std::string> tif = ReadAll(*b, m + "/frames/" + FrameFileName(n, "tif"));
      if (n <= 3) {
        ASSERT_TRUE(tif.ok()) << n << ": " << tif.status().ToString();
        EXPECT_TRUE(tif->find(a.substr((n - 1) * frame, frame)) != std::string::npos) << n;
      } else if (m != "gap_master" || n < 7) {
        EXPECT_EQ(tif.status().code(), Code::kUnavailable) << n;
        EXPECT_NE(tif.status().message().find("gone"), std::string::npos)
            << tif.status().ToString();
        EXPECT_NE(tif.status().message().find(m + ".h5"), std::string::npos)
            << tif.status().ToString();
      } else {
        EXPECT_TRUE(tif.ok()) << n << ": " << tif.status().ToString();
      }
    }
    Result<std::string> whole = ReadAll(*b, m + "/data.npy");
    if (m == "unknown_master") {
      ASSERT_TRUE(whole.ok()) << whole.status().ToString();
      EXPECT_TRUE(NpyData(*whole) == a);
    } else {
      EXPECT_EQ(whole.status().code(), Code::kUnavailable);
    }
  }
}

TEST_F(Hdf5StackViewsTest, ListingAMastersGroupsOpensNoDataFileAndFramesReadNoChunk) {
  ASSERT_TRUE(MakeEigerDataset(dir_ / "gen", "--frames 20 --per-file 4 --height 40 --width 56"));
  auto b = Make(dir_ / "gen");
  ASSERT_TRUE(b);
  const uint64_t opens = b->pool().opens();
  EXPECT_EQ(opens, 1u);  // the scan opened the master only
  for (const char* dir : {"series_master/entry", "series_master/entry/instrument",
                          "series_master/entry/instrument/detector",
                          "series_master/entry/instrument/detector/detectorSpecific"}) {
    ListPath(*b, dir);
  }
  EXPECT_EQ(b->pool().opens(), opens) << "a path through the master opened a data file";
  // stat data.npy and listing frames/ read the 5 data files' metadata, never a chunk.
  Result<NodeId> npy = Resolve(*b, "series_master/data.npy");
  ASSERT_TRUE(npy.ok());
  EXPECT_EQ(b->GetAttr(*npy)->size, 128u + 20 * 40 * 56 * 2);
  EXPECT_EQ(b->pool().opens(), opens + 5);
  EXPECT_EQ(ListPath(*b, "series_master/frames").size(), 20u);
  EXPECT_EQ(ListPath(*b, "series_master"),
            (std::vector<std::string>{"data.npy", "entry", "frames"}));
  EXPECT_EQ(UnitsRead(), 0u);
  EXPECT_EQ(b->pool().opens(), opens + 5);
}

TEST_F(Hdf5StackViewsTest, OtherThreeDimensionalChunkedDatasetsGetAStackFolderNumberedFromZero) {
  ASSERT_TRUE(RunPython(std::string(kPyHelpers) +
                            "a = data('lone.h5', 5, 24, 20, low=1, high=5, seed=4)\n"
                            "with h5py.File('src/lone.h5', 'a') as f:\n"
                            "  cube = np.arange(3 * 10 * 12, dtype='<f4').reshape(3, 10, 12)\n"
                            "  f.create_dataset('/other/cube', data=cube, chunks=(1, 10, 12))\n"
                            "  f['/other/plain'] = cube\n"  // contiguous: no stack
                            "  f.create_dataset('/other/flat', data=cube[0], chunks=(5, 12))\n"
                            "  f.create_dataset('/other/vec', data=cube[:, :, :1].repeat(2, 2)"
                            ".astype('f2'), chunks=(1, 10, 2))\n"  // float16: no stack
                            "expect('lone.npy', [a])\n"
                            "expect('cube.npy', [cube])\n",
                        dir_.path()));
  auto b = Make(dir_ / "src");
  ASSERT_TRUE(b);
  std::vector<std::string> data = ListPath(*b, "lone/entry/data");
  EXPECT_TRUE(Contains(data, "data.stack"));
  EXPECT_FALSE(Contains(ListPath(*b, "lone"), "data.npy")) << "not a master";
  EXPECT_EQ(ListPath(*b, "lone/entry/data/data.stack"),
            (std::vector<std::string>{"data.npy", "frames"}));
  // Numbered from 0 (the dataset's index), whatever its attributes say.
  CheckStack(*b, "lone/entry/data/data.stack", Slurp(dir_ / "expected/lone.npy"),
             {PixelKind::kUnsigned, 2}, 24, 20, Range(0, 4));
  EXPECT_EQ(
      ListPath(*b, "lone/other"),
      (std::vector<std::string>{"cube.npy", "cube.stack", "flat.npy", "plain.npy", "vec.npy"}));
  CheckStack(*b, "lone/other/cube.stack", Slurp(dir_ / "expected/cube.npy"), {PixelKind::kFloat, 4},
             10, 12, Range(0, 2));
  // The nested folder keeps its id; its files are files, the folder a folder.
  Result<NodeId> frames = Resolve(*b, "lone/other/cube.stack/frames");
  ASSERT_TRUE(frames.ok());
  EXPECT_EQ(Resolve(*b, "lone/other/cube.stack/frames").value(), *frames);
  EXPECT_EQ(b->GetAttr(*frames)->type, NodeType::kDirectory);
  EXPECT_EQ(b->Open(*frames, Caller{}).status().code(), Code::kIsDir);
  std::vector<DirEntry> after = b->NextSiblings(*frames, "000000.tif", 5);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].name, "000001.tif");
  Result<NodeId> stack = Resolve(*b, "lone/other/cube.stack");
  ASSERT_TRUE(stack.ok());
  std::vector<DirEntry> beside = b->NextSiblings(*stack, "data.npy", 5);
  EXPECT_TRUE(beside.empty()) << "frames/ is a folder, not a sibling file";
}

TEST_F(Hdf5StackViewsTest, FramesOverEightMiBAreOneUnitOfSubBlocks) {
  // 2 frames of 2100 x 1100 uint32 (9.24 MB each) in two data files.
  ASSERT_TRUE(MakeEigerDataset(dir_ / "gen",
                               "--frames 2 --per-file 1 --height 2100 --width 1100 "
                               "--dtype uint32 --filter lz4"));
  ASSERT_TRUE(RunPython(kPyExpectMaster, dir_.path()));
  auto b = Make(dir_ / "gen");
  ASSERT_TRUE(b);
  // The stack itself: each frame one unit of 9 sub-blocks of 1 MiB.
  Hdf5FolderContext ctx;
  ctx.source = "t";
  ctx.file_root = true;
  char real[PATH_MAX];
  ASSERT_TRUE(realpath((dir_ / "gen/series_master.h5").c_str(), real));
  ctx.source_file = ctx.file = real;
  ctx.group_path = "/";
  ctx.pool = std::make_shared<Hdf5FilePool>(4);
  Hdf5Backend* backend = b.get();
  ctx.units = [backend](std::shared_ptr<const Hdf5DatasetRef> ref, Hdf5DatasetUnits::Layout l) {
    return backend->UnitsFor(std::move(ref), l);
  };
  Hdf5StackViews::MasterStack m = Hdf5StackViews::MakeMasterStack(ctx);
  ASSERT_TRUE(m.stack);
  EXPECT_EQ(m.stack->frames(), 2u);
  EXPECT_EQ(m.stack->Locate(1).blocks, 9u);
  EXPECT_EQ(m.part_files.size(), 2u);
  CheckStack(*b, "series_master", Slurp(dir_ / "expected.npy"), {PixelKind::kUnsigned, 4}, 2100,
             1100, Range(1, 2));
}

// A Vfs over one started backend with the real read path (memory cache, decode pool).
struct VfsMount : testing::VfsMount {
  explicit VfsMount(std::unique_ptr<Backend> backend)
      : testing::VfsMount(std::move(backend), CachePolicy::kMemory, 4 * kMiB, 2) {}
  // Reads `file` whole (or its first `stop_after` bytes) in `request`-byte requests, in order
  // (bytes read; "" on error). With `wait`, waits for the prefetches to finish before closing
  // the file (closing cancels those not started).
  std::string ReadWhole(const std::string& file, size_t stop_after = SIZE_MAX,
                        size_t request = 128 << 10, bool wait = false) {
    Result<uint64_t> ino = Ino(file);
    EXPECT_TRUE(ino.ok()) << file;
    if (!ino.ok()) return "";
    Result<std::unique_ptr<OpenFile>> f = vfs->Open(*ino, O_RDONLY, Caller{});
    EXPECT_TRUE(f.ok()) << file;
    if (!f.ok()) return "";
    std::string out;
    std::string buf(request, '\0');
    while (out.size() < stop_after) {
      size_t want = std::min(buf.size(), stop_after - out.size());
      Result<size_t> n =
          vfs->Read(**f, out.size(), std::span(reinterpret_cast<uint8_t*>(buf.data()), want));
      EXPECT_TRUE(n.ok()) << file << ": " << n.status().ToString();
      if (!n.ok() || *n == 0) break;
      out.append(buf.data(), *n);
    }
    if (wait) WaitIdle();
    return out;
  }
  uint64_t Decodes() const { return CounterSum(metrics, "daqfs_decodes_total"); }
};

TEST_F(Hdf5StackViewsTest, OneDecodePerChunkWhicheverViewReadsIt) {
  // 9 frames of 40 x 56 uint16 (4480 bytes: the data files' .npy units are frames too).
  ASSERT_TRUE(MakeEigerDataset(dir_ / "gen", "--frames 9 --per-file 4 --height 40 --width 56"));
  ASSERT_TRUE(RunPython(kPyExpectMaster, dir_.path()));
  auto b = Make(dir_ / "gen");
  ASSERT_TRUE(b);
  VfsMount m(std::move(b));
  const std::string expected = Slurp(dir_ / "expected.npy");
  EXPECT_TRUE(m.ReadWhole("series_master/data.npy") == expected);
  m.WaitIdle();
  EXPECT_EQ(m.Decodes(), 9u);
  const std::string pixels = NpyData(expected);
  for (int n = 1; n <= 9; ++n) {
    std::string tif = m.ReadWhole("series_master/frames/" + FrameFileName(n, "tif"));
    EXPECT_NE(tif.find(pixels.substr((n - 1) * 4480, 4480)), std::string::npos) << n;
  }
  for (int k = 1; k <= 3; ++k) {
    std::string npy =
        m.ReadWhole("series_master/entry/data/data_00000" + std::to_string(k) + ".npy");
    EXPECT_TRUE(NpyData(npy) == pixels.substr((k - 1) * 4 * 4480, k == 3 ? 4480 : 4 * 4480)) << k;
  }
  m.WaitIdle();
  EXPECT_EQ(m.Decodes(), 9u) << "a chunk was decoded twice";
  EXPECT_EQ(m.memory.bytes(), 9u * 4480);  // each frame cached once
}

TEST_F(Hdf5StackViewsTest, ReadingDataNpyInOrderPrefetchesAcrossDataFiles) {
  // 30 frames of 8 KiB in 6 data files of 5: data.npy is one file over all of them.
  ASSERT_TRUE(MakeEigerDataset(dir_ / "gen", "--frames 30 --per-file 5 --height 64 --width 64"));
  auto b = Make(dir_ / "gen");
  ASSERT_TRUE(b);
  VfsMount m(std::move(b));
  // The header and the first four frames, read in order in 4 KiB requests: the prefetch window
  // grows past data file 1.
  m.ReadWhole("series_master/data.npy", 128 + 4 * 8192, 4096, /*wait=*/true);
  m.WaitIdle();
  EXPECT_GE(m.Decodes(), 8u) << "no frame of the second data file was decoded ahead";
  EXPECT_GT(CounterSum(m.metrics, "daqfs_prefetch_issued_total"), 0u);
}

TEST_F(Hdf5StackViewsTest, ReadingFramesInOrderPrefetchesTheNextFrames) {
  ASSERT_TRUE(MakeEigerDataset(dir_ / "gen", "--frames 30 --per-file 10 --height 64 --width 64"));
  auto b = Make(dir_ / "gen");
  ASSERT_TRUE(b);
  VfsMount m(std::move(b));
  const size_t frame = 64 * 64 * 2;
  m.ReadWhole("series_master/frames/000001.tif");
  m.WaitIdle();
  const uint64_t after_first = m.Decodes();
  EXPECT_GE(after_first, 1u);
  // The second frame's first bytes: its successor of a wholly read frame, so the frames after
  // it are decoded ahead (across data files: 10 frames per file).
  m.ReadWhole("series_master/frames/000002.tif", 4096, 128 << 10, /*wait=*/true);
  m.WaitIdle();
  EXPECT_GE(CounterSum(m.metrics, "daqfs_prefetch_sibling_files_total"), 15u);
  const uint64_t after_second = m.Decodes();
  EXPECT_GE(after_second, after_first + 16) << "frames 3.. were not prefetched";
  // Those frames now read without a decode.
  for (int n = 3; n <= 17; ++n) {
    EXPECT_GT(m.ReadWhole("series_master/frames/" + FrameFileName(n, "tif")).size(), frame);
  }
  EXPECT_EQ(m.Decodes(), after_second);
}

}  // namespace
}  // namespace daqfs::hdf5_test
