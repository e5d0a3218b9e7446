#include "backends/hdf5/hdf5_chunk_units.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends/hdf5/hdf5_datasets.h"
#include "backends/hdf5/hdf5_library.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/page_cache.h"

namespace daqfs {
namespace {

// Datasets written by h5py with Debian's plugins; beside each, its data as numpy holds it
// (little endian, C order) in NAME.bin: the reference for every byte the units give.
constexpr const char* kWrite = R"PY(
import h5py, numpy as np
rng = np.random.default_rng(5)
BS = dict(compression=32008, compression_opts=(0, 2))
LZ = dict(compression=32004, compression_opts=(0,))
def frames(n, h, w, dt):
    a = rng.poisson(3.0, (n, h, w)).astype(dt)
    a.reshape(-1)[::97] = np.array(200, dtype=dt)
    return a
with h5py.File('d.h5', 'w') as f:
    def put(name, data, **kw):
        f.create_dataset(name, data=data, **kw)
        np.ascontiguousarray(data).astype(data.dtype.newbyteorder('<')).tofile(name + '.bin')
    for dt in ('u1', 'u2', 'u4', 'i2', 'f4', 'f8'):
        a = frames(4, 64, 70, dt)
        put('bs_' + dt, a, chunks=(1, 64, 70), **BS)
        put('lz_' + dt, a, chunks=(1, 64, 70), **LZ)
        put('raw_' + dt, a, chunks=(1, 64, 70))
    # libhdf5's own filters, as h5py combines them: decoded by us.
    put('gzip', frames(3, 64, 70, 'u2'), chunks=(1, 64, 70), compression='gzip')
    put('shuffle_gzip', frames(3, 64, 70, 'u4'), chunks=(1, 64, 70), compression='gzip',
        shuffle=True)
    put('fletcher', frames(3, 64, 70, 'u2'), chunks=(1, 64, 70), compression='gzip',
        shuffle=True, fletcher32=True)
    # A filter we do not decode (LZF, from Debian's bitshuffle package): the library path.
    put('lzf', frames(3, 64, 70, 'u2'), chunks=(1, 64, 70), compression='lzf')
    # zstd (32015) and bitshuffle+zstd (32008, compression 3): no Debian plugin writes or reads
    # them, so the chunks are made here (python3-zstandard, bitshuffle's own shuffle) and
    # written raw; only our decoders can read them back.
    import bitshuffle, struct, zstandard
    z = zstandard.ZstdCompressor(level=3)
    a = frames(3, 64, 70, 'u2')
    d = f.create_dataset('zstd', a.shape, a.dtype, chunks=(1, 64, 70), compression=32015,
                         compression_opts=(3,), allow_unknown_filter=True)
    for i in range(3):
        d.id.write_direct_chunk((i, 0, 0), z.compress(a[i].tobytes()))
    a.tofile('zstd.bin')
    def bszstd(frame, block):
        e = frame.reshape(-1)
        out = struct.pack('>QI', e.nbytes, block * e.itemsize)
        i = 0
        while i + 8 <= e.size:
            n = min(block, (e.size - i) // 8 * 8)
            c = z.compress(bitshuffle.bitshuffle(e[i:i + n], n).tobytes())
            out += struct.pack('>I', len(c)) + c
            i += n
        return out + e[i:].tobytes()
    a = frames(3, 63, 71, 'u4')  # 4473 elements: a partial block and 1 raw element
    d = f.create_dataset('bszstd', a.shape, a.dtype, chunks=(1, 63, 71), compression=32008,
                         compression_opts=(0, 3))
    for i in range(3):
        d.id.write_direct_chunk((i, 0, 0), bszstd(a[i], 2048))
    a.tofile('bszstd.bin')
    put('big_endian', frames(3, 64, 70, '>u2'), chunks=(1, 64, 70), **BS)
    put('two_rows', frames(5, 64, 70, 'u2'), chunks=(2, 64, 70), **BS)
    d = f.create_dataset('sparse', (3, 64, 70), 'u2', chunks=(1, 64, 70), fillvalue=7, **BS)
    d[0] = frames(1, 64, 70, 'u2')[0]
    d[2] = frames(1, 64, 70, 'u2')[0]
    np.ascontiguousarray(d[()]).tofile('sparse.bin')
    put('many', frames(1100, 64, 64, 'u1'), chunks=(1, 64, 64), **BS)
    # Chunks of 100-200 KiB (direct reads are for chunks of 64 KiB or more).
    put('large', frames(4, 400, 600, 'u2'), chunks=(1, 400, 600), **BS)
    put('large_lz', frames(4, 400, 600, 'u2'), chunks=(1, 400, 600), **LZ)
    # A chunk stored without its filter (filter mask 1), between filtered ones.
    a = frames(3, 64, 70, 'u2')
    d = f.create_dataset('skipped', data=a, chunks=(1, 64, 70), **BS)
    d.id.write_direct_chunk((1, 0, 0), a[1].tobytes(), filter_mask=1)
    a.tofile('skipped.bin')
# A user block before the superblock: 1.10.8's by_coord addresses leave it out.
with h5py.File('ub.h5', 'w', userblock_size=512) as f:
    a = frames(4, 64, 70, 'u2')
    f.create_dataset('bs_u2', data=a, chunks=(1, 64, 70), **BS)
    f.create_dataset('raw_u2', data=a, chunks=(1, 64, 70))
    a.tofile('ub.bin')
)PY";

class Hdf5ChunkUnitsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testing::RunPython(kWrite, dir_.path())); }

  std::shared_ptr<Hdf5ChunkUnits> Units(const std::string& path, const std::string& file = "d.h5") {
    auto ref = std::make_shared<Hdf5DatasetRef>();
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = pool_->Open(dir_ / file);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (!f.ok()) return nullptr;
    Result<H5DatasetInfo> info = DescribeDataset(**f, path, 4096);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return nullptr;
    ref->file_path = (*f)->path;
    ref->file_identity = (*f)->identity;
    ref->info = std::move(*info);
    ref->shown_as = file + ": " + path;
    return std::make_shared<Hdf5ChunkUnits>(pool_, ref, counters_);
  }
  // Every block, concatenated; the first error as a Status.
  static Result<std::string> AllBlocks(ByteSource& s) {
    std::string out;
    for (uint64_t i = 0; i < s.BlockCount(); ++i) {
      std::string b(s.BlockRangeOf(i).length, '\0');
      Status st = s.ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size()));
      if (!st.ok()) return st;
      out += b;
    }
    return out;
  }
  // Reads dataset `name` whole and compares it with NAME.bin; returns the units' mode.
  Hdf5ChunkUnits::Mode Check(const std::string& name, const std::string& file = "d.h5",
                             const std::string& bin = "") {
    std::shared_ptr<Hdf5ChunkUnits> u = Units("/" + name, file);
    if (!u) return Hdf5ChunkUnits::Mode::kUnknown;
    Result<std::string> all = AllBlocks(*u);
    EXPECT_TRUE(all.ok()) << name << ": " << all.status().ToString();
    if (all.ok()) {
      EXPECT_TRUE(*all == testing::Slurp(dir_ / (bin.empty() ? name + ".bin" : bin))) << name;
    }
    return u->mode();
  }

  // Reads units 0..frames-1 of /`name` (frames of 64 x 70 u2): unit `bad` fails with kCorrupt
  // whose message holds each of `reasons`; the others equal NAME.bin.
  void ExpectOnlyUnitFails(const std::string& name, uint64_t frames, uint64_t bad,
                           const std::vector<std::string>& reasons) {
    std::shared_ptr<Hdf5ChunkUnits> u = Units("/" + name);
    ASSERT_TRUE(u);
    const std::string want = testing::Slurp(dir_ / (name + ".bin"));
    const uint64_t frame = 64 * 70 * 2;
    for (uint64_t i = 0; i < frames; ++i) {
      std::string b(frame, '\0');
      Status s = u->ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size()));
      if (i == bad) {
        EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
        for (const std::string& r : reasons) {
          EXPECT_NE(s.message().find(r), std::string::npos) << s.message() << " lacks " << r;
        }
      } else {
        ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
        EXPECT_TRUE(b == want.substr(i * frame, frame)) << i;
      }
    }
  }

  testing::TempDir dir_{"hdf5-chunks"};
  std::shared_ptr<Hdf5FilePool> pool_ = std::make_shared<Hdf5FilePool>(8);
  std::shared_ptr<Hdf5ReadCounters> counters_ = std::make_shared<Hdf5ReadCounters>();
};

TEST_F(Hdf5ChunkUnitsTest, BitshuffleLz4AndUnfilteredChunksAreDecodedByUsByteForByte) {
  for (const char* dt : {"u1", "u2", "u4", "i2", "f4", "f8"}) {
    for (const char* filter : {"bs_", "lz_", "raw_"}) {
      uint64_t fast = counters_->fast_units->Get();
      EXPECT_EQ(Check(std::string(filter) + dt), Hdf5ChunkUnits::Mode::kByCoord) << filter << dt;
      EXPECT_EQ(counters_->fast_units->Get(), fast + 4) << filter << dt;
    }
  }
  EXPECT_EQ(counters_->fallback_units->Get(), 0u);
  EXPECT_EQ(counters_->errors->Get(), 0u);
}

// libhdf5's deflate, shuffle and fletcher32 as h5py writes them, and the zstd formats no
// Debian plugin has (chunks made with python3-zstandard and bitshuffle's own shuffle): every
// unit decoded by us, byte-equal to the arrays written.
TEST_F(Hdf5ChunkUnitsTest, DeflateShuffleFletcherAndZstdChunksAreDecodedByUs) {
  for (const char* name : {"gzip", "shuffle_gzip", "fletcher", "zstd", "bszstd"}) {
    const uint64_t fast = counters_->fast_units->Get();
    EXPECT_EQ(Check(name), Hdf5ChunkUnits::Mode::kByCoord) << name;
    EXPECT_EQ(counters_->fast_units->Get(), fast + 3) << name;
  }
  EXPECT_EQ(counters_->fallback_units->Get(), 0u);
  EXPECT_EQ(counters_->errors->Get(), 0u);
}

// A byte of a fletcher32-checked chunk flipped: that unit fails (kCorrupt, EIO through the
// mount) naming the file, the dataset, the chunk and the checksum; the others still read.
TEST_F(Hdf5ChunkUnitsTest, AFletcherMismatchFailsOnlyItsOwnUnit) {
  ASSERT_TRUE(
      testing::RunPython("import h5py\n"
                         "with h5py.File('d.h5', 'r') as f:\n"
                         "  c = f['fletcher'].id.get_chunk_info(1)\n"
                         "with open('d.h5', 'r+b') as f:\n"
                         "  f.seek(c.byte_offset + c.size // 2); b = f.read(1)\n"
                         "  f.seek(c.byte_offset + c.size // 2); f.write(bytes([b[0] ^ 1]))\n",
                         dir_.path()));
  ExpectOnlyUnitFails(
      "fletcher", 3, 1,
      {"d.h5: /fletcher: chunk at offset ", "fletcher32 (filter 3 of 3): checksum mismatch"});
  EXPECT_EQ(counters_->errors->Get(), 1u);
}

TEST_F(Hdf5ChunkUnitsTest, WhatOurDecodersDoNotHandleTakesTheLibraryPath) {
  EXPECT_EQ(Check("lzf"), Hdf5ChunkUnits::Mode::kLibrary);
  EXPECT_EQ(Check("big_endian"), Hdf5ChunkUnits::Mode::kLibrary);
  EXPECT_EQ(counters_->fast_units->Get(), 0u);
  EXPECT_EQ(counters_->fallback_units->Get(), 6u);
  // Chunks of two frames: a unit is one frame, not one chunk.
  EXPECT_EQ(Check("two_rows"), Hdf5ChunkUnits::Mode::kLibrary);
  EXPECT_EQ(counters_->fast_units->Get(), 0u);
}

TEST_F(Hdf5ChunkUnitsTest, AChunkNeverWrittenGivesTheFillValueThroughTheLibrary) {
  EXPECT_EQ(Check("sparse"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->fast_units->Get(), 2u);
  EXPECT_EQ(counters_->fallback_units->Get(), 1u);
}

// Past kByCoordChunks chunks the library's by_coord lookup walks the index on every call: the
// raw chunks come from H5Dread_chunk instead.
TEST_F(Hdf5ChunkUnitsTest, ManyChunksAreReadWithReadChunk) {
  EXPECT_EQ(Check("many"), Hdf5ChunkUnits::Mode::kReadChunk);
  EXPECT_EQ(counters_->fast_units->Get(), 1100u);
  EXPECT_EQ(counters_->fallback_units->Get(), 0u);
}

// A chunk whose first block length points past its end: that unit fails with kCorrupt naming
// the file, the dataset and the chunk's offset; the units around it still read.
TEST_F(Hdf5ChunkUnitsTest, ACorruptChunkFailsOnlyItsOwnUnit) {
  ASSERT_TRUE(
      testing::RunPython("import h5py\n"
                         "with h5py.File('d.h5', 'r') as f:\n"
                         "  off = f['bs_u2'].id.get_chunk_info(1).byte_offset\n"
                         "with open('d.h5', 'r+b') as f:\n"
                         "  f.seek(off + 12); f.write(b'\\x7f\\xff\\xff\\xff')\n",
                         dir_.path()));
  ExpectOnlyUnitFails("bs_u2", 4, 1, {"d.h5: /bs_u2: chunk at offset "});
  EXPECT_EQ(counters_->errors->Get(), 1u);
}

// A chunk whose filter was skipped when it was written (filter mask bit 0) holds the data as is.
TEST_F(Hdf5ChunkUnitsTest, AChunkStoredWithoutItsFilterIsTheData) {
  EXPECT_EQ(Check("skipped"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->fast_units->Get(), 3u);
  EXPECT_EQ(counters_->fallback_units->Get(), 0u);
}

TEST_F(Hdf5ChunkUnitsTest, AFileWithAUserBlockReadsItsChunksWithReadChunk) {
  EXPECT_EQ(Check("bs_u2", "ub.h5", "ub.bin"), Hdf5ChunkUnits::Mode::kReadChunk);
  EXPECT_EQ(Check("raw_u2", "ub.h5", "ub.bin"), Hdf5ChunkUnits::Mode::kReadChunk);
  EXPECT_EQ(counters_->fast_units->Get(), 8u);
}

// Many threads reading every unit at once (the decode pool does): the chunk places found by one
// thread serve the others, and every byte is right.
TEST_F(Hdf5ChunkUnitsTest, ConcurrentReadersGetEveryByteRight) {
  for (const char* name : {"bs_u2", "raw_u4", "lz_f8", "many"}) {
    std::shared_ptr<Hdf5ChunkUnits> u = Units(std::string("/") + name);
    ASSERT_TRUE(u);
    std::string want = testing::Slurp(dir_ / (std::string(name) + ".bin"));
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t k = 0; k < u->BlockCount(); ++k) {
          uint64_t i = (k + static_cast<uint64_t>(t) * 7) % u->BlockCount();
          BlockRange r = u->BlockRangeOf(i);
          std::string b(r.length, '\0');
          Status st = u->ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size()));
          if (!st.ok() || b != want.substr(r.offset, r.length)) ++bad;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0) << name;
  }
  EXPECT_EQ(counters_->fallback_units->Get(), 0u);
}

// A data file replaced after it was listed is not read by its old chunk addresses.
TEST_F(Hdf5ChunkUnitsTest, AFileChangedSinceListingIsNotRead) {
  std::shared_ptr<Hdf5ChunkUnits> u = Units("/bs_u2");
  ASSERT_TRUE(u);
  std::string b(64 * 70 * 2, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(b.data()), b.size());
  ASSERT_TRUE(u->ReadBlock(0, out).ok());  // the chunk's place is known now
  {
    H5Lock lock;
    pool_->Clear();
  }
  ASSERT_TRUE(
      testing::RunPython("import h5py, numpy as np\n"
                         "with h5py.File('d.h5', 'a') as f:\n"
                         "  f.create_dataset('more', data=np.zeros(10))\n",
                         dir_.path()));
  EXPECT_EQ(u->ReadBlock(0, out).code(), Code::kUnavailable);
}

// Chunks of 64 KiB or more that are not in the page cache are read with direct I/O where the
// mode and the filesystem allow it, byte for byte as through the page cache.
TEST_F(Hdf5ChunkUnitsTest, LargeChunksAreReadAroundThePageCacheWhereAllowed) {
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "d.h5").c_str(), &st), 0);
  const bool direct_io = OpenDirect(dir_ / "d.h5", st, DirectReads::kAlways).valid();
  pool_ = std::make_shared<Hdf5FilePool>(8, DirectReads::kAlways);
  EXPECT_EQ(Check("large"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(Check("large_lz"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? 8u : 0u);
  EXPECT_EQ(counters_->fast_units->Get(), 8u);
  // Small chunks are read through the page cache.
  EXPECT_EQ(Check("bs_u2"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? 8u : 0u);
  // never: through the page cache, the same bytes.
  pool_ = std::make_shared<Hdf5FilePool>(8, DirectReads::kNever);
  EXPECT_EQ(Check("large"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? 8u : 0u);
  // auto (the default): directly when not in the page cache, on a local disk, where the kernel
  // can tell; through the page cache once the file is cached.
  const bool auto_direct =
      direct_io && testing::OnLocalDisk(dir_.path()) && testing::HasCachestat();
  ASSERT_TRUE(testing::EvictFromPageCache(dir_ / "d.h5"));
  pool_ = std::make_shared<Hdf5FilePool>(8, DirectReads::kAuto);
  EXPECT_EQ(Check("large"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? (auto_direct ? 12u : 8u) : 0u);
  EXPECT_FALSE(testing::Slurp(dir_ / "d.h5").empty());  // now all of it is cached
  pool_ = std::make_shared<Hdf5FilePool>(8, DirectReads::kAuto);
  EXPECT_EQ(Check("large"), Hdf5ChunkUnits::Mode::kByCoord);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? (auto_direct ? 12u : 8u) : 0u);
  EXPECT_EQ(counters_->errors->Get(), 0u);
}

// A corrupt large chunk read directly gives the same error as through the page cache.
TEST_F(Hdf5ChunkUnitsTest, ACorruptChunkReadDirectlyFailsAlone) {
  // Frame 1's first LZ4 block claims more bytes than a block can hold.
  ASSERT_TRUE(
      testing::RunPython("import h5py\n"
                         "with h5py.File('d.h5', 'r') as f:\n"
                         "  off = f['large'].id.get_chunk_info(1).byte_offset\n"
                         "with open('d.h5', 'r+b') as f:\n"
                         "  f.seek(off + 12); f.write(b'\\x7f\\xff\\xff\\xff')\n",
                         dir_.path()));
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "d.h5").c_str(), &st), 0);
  const bool direct_io = OpenDirect(dir_ / "d.h5", st, DirectReads::kAlways).valid();
  pool_ = std::make_shared<Hdf5FilePool>(8, DirectReads::kAlways);
  std::shared_ptr<Hdf5ChunkUnits> u = Units("/large");
  ASSERT_TRUE(u);
  std::string b(400 * 600 * 2, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(b.data()), b.size());
  std::string want = testing::Slurp(dir_ / "large.bin");
  ASSERT_EQ(want.size(), 4 * b.size());
  for (uint64_t i = 0; i < 4; ++i) {
    Status s = u->ReadBlock(i, out);
    if (i == 1) {
      EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
      EXPECT_NE(s.message().find("d.h5: /large: chunk at offset "), std::string::npos)
          << s.message();
    } else {
      ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
      EXPECT_TRUE(b == want.substr(i * b.size(), b.size())) << i;
    }
  }
  EXPECT_EQ(counters_->errors->Get(), 1u);
  EXPECT_EQ(counters_->direct_reads->Get(), direct_io ? 4u : 0u);
}

}  // namespace
}  // namespace daqfs
