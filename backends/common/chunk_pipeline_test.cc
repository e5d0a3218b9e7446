// Tests for ChunkPipeline on chunks built here from the formats' definitions
// (chunk_test_encoders.h): every filter alone and in the orders h5py and hand-made files use,
// over element sizes and remainders; filter masks that skip filters; the byte unshuffle's SIMD
// paths against the definition; Fletcher-32 checked (and the pre-1.6.3 swapped form accepted);
// every malformed input a kCorrupt naming the stage, never a crash; concurrent decoding.
// chunk_pipeline_hdf5_test.cc checks against libhdf5.
#include "backends/common/chunk_pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>

#include "backends/common/chunk_test_encoders.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::Bytes;
using testing::Counts;
using testing::RandomBytes;

Hdf5Filter Deflate() { return {kHdf5FilterDeflate, {6}}; }
Hdf5Filter Shuffle(unsigned es) { return {kHdf5FilterShuffle, {es}}; }
Hdf5Filter Fletcher() { return {kHdf5FilterFletcher32, {}}; }
Hdf5Filter Zstd() { return {kHdf5FilterZstd, {3}}; }
Hdf5Filter Lz4() { return {kHdf5FilterLz4, {}}; }
Hdf5Filter Bitshuffle(unsigned es, unsigned compression, unsigned block = 0) {
  return {kHdf5FilterBitshuffle, {0, 4, es, block, compression}};
}

// Applies `filters` in order, as libhdf5 does when writing, skipping those in `mask`.
Bytes Encode(const std::vector<Hdf5Filter>& filters, Bytes data, uint32_t mask = 0) {
  for (size_t i = 0; i < filters.size(); ++i) {
    if (mask >> i & 1) continue;
    const Hdf5Filter& f = filters[i];
    switch (f.id) {
      case kHdf5FilterDeflate:
        data = testing::ZlibCompress(data);
        break;
      case kHdf5FilterShuffle:
        data = testing::ByteShuffle(data, f.cd_values[0]);
        break;
      case kHdf5FilterFletcher32:
        data = testing::AppendFletcher32(std::move(data));
        break;
      case kHdf5FilterZstd:
        data = testing::ZstdCompress(data.data(), data.size());
        break;
      case kHdf5FilterLz4:
        data = testing::EncodeHdf5Lz4(data, 1 << 16);
        break;
      case kHdf5FilterBitshuffle:
        data = testing::EncodeBitshuffle(data, f.cd_values[2], f.cd_values[3] * f.cd_values[2],
                                         static_cast<BitshuffleCompression>(f.cd_values[4]));
        break;
    }
  }
  return data;
}

ChunkPipeline Pipeline(const std::vector<Hdf5Filter>& filters, uint32_t type_size) {
  std::string why;
  std::optional<ChunkPipeline> p = ChunkPipeline::From(filters, type_size, &why);
  EXPECT_TRUE(p) << why;
  return p ? *p : ChunkPipeline();
}

void ExpectCorrupt(const Status& st, const std::string& reason) {
  EXPECT_EQ(st.code(), Code::kCorrupt) << st.ToString();
  EXPECT_NE(st.message().find(reason), std::string::npos)
      << "message \"" << st.message() << "\" lacks \"" << reason << "\"";
}

// The pipelines files use: h5py's shuffle=True/compression/fletcher32 put shuffle first and
// fletcher32 last; hand-made files may put fletcher32 first.
std::vector<std::vector<Hdf5Filter>> Pipelines(unsigned es) {
  return {{},
          {Deflate()},
          {Shuffle(es), Deflate()},
          {Zstd()},
          {Shuffle(es), Zstd()},
          {Lz4()},
          {Bitshuffle(es, 2)},
          {Bitshuffle(es, 3)},
          {Bitshuffle(es, 3, 64)},
          {Bitshuffle(es, 0)},
          {Bitshuffle(es, 0, 16)},
          {Fletcher()},
          {Shuffle(es)},
          {Shuffle(es), Deflate(), Fletcher()},
          {Fletcher(), Shuffle(es), Deflate()},
          {Shuffle(es), Fletcher(), Zstd(), Fletcher()},
          {Bitshuffle(es, 3), Fletcher()}};
}

// ---- round trips ----

TEST(ByteUnshuffleTest, InvertsTheShuffleForEveryElementSizeAndTail) {
  for (unsigned es : {1u, 2u, 3u, 4u, 5u, 8u, 16u}) {
    for (size_t n : {0, 1, 2, 7, 15, 16, 17, 33, 1000, 4099}) {
      for (size_t tail : {size_t{0}, size_t{1}, size_t{es - 1}}) {
        const Bytes data = RandomBytes(n * es + tail, static_cast<uint32_t>(n * 31 + es + tail));
        const Bytes shuffled = testing::ByteShuffle(data, es);
        Bytes out(data.size(), 0xA5);
        ByteUnshuffle(shuffled, es, out);
        EXPECT_EQ(out, data) << "es " << es << " n " << n << " tail " << tail;
      }
    }
  }
}

TEST(ChunkPipelineTest, DecodesEveryFilterAloneAndInTheOrdersFilesUse) {
  for (unsigned es : {1u, 2u, 4u, 8u}) {
    for (size_t n : {0, 1, 7, 8, 100, 3000, 70000}) {
      const Bytes data = Counts(n, es, static_cast<uint32_t>(es * 1000 + n));
      for (const std::vector<Hdf5Filter>& filters : Pipelines(es)) {
        const ChunkPipeline p = Pipeline(filters, es);
        SCOPED_TRACE(p.Name() + " es " + std::to_string(es) + " n " + std::to_string(n));
        const Bytes chunk = Encode(filters, data);
        Bytes out(data.size(), 0xA5);
        const Status st = p.Decode(chunk, 0, out);
        ASSERT_TRUE(st.ok()) << st.ToString();
        EXPECT_EQ(out, data);
      }
    }
  }
}

TEST(ChunkPipelineTest, SkippedFiltersOfAChunkAreNotUndone) {
  const unsigned es = 2;
  const Bytes data = Counts(5000, es, 7);
  const std::vector<Hdf5Filter> filters = {Shuffle(es), Deflate(), Fletcher()};
  const ChunkPipeline p = Pipeline(filters, es);
  for (uint32_t mask = 0; mask < 8; ++mask) {
    const Bytes chunk = Encode(filters, data, mask);
    Bytes out(data.size(), 0);
    const Status st = p.Decode(chunk, mask, out);
    ASSERT_TRUE(st.ok()) << "mask " << mask << ": " << st.ToString();
    EXPECT_EQ(out, data) << "mask " << mask;
    EXPECT_EQ(p.Unfiltered(mask), mask == 7) << mask;
  }
  EXPECT_TRUE(ChunkPipeline().Unfiltered(0));
}

TEST(ChunkPipelineTest, FletcherOfFilesBefore1_6_3IsAcceptedPairSwapped) {
  const Bytes data = Counts(1001, 1, 3);  // odd: the last byte is a word's high byte
  Bytes chunk = data;
  const uint32_t sum = Hdf5Fletcher32(data);
  const uint32_t swapped = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
  for (int i = 0; i < 4; ++i) chunk.push_back(static_cast<uint8_t>(swapped >> (8 * i)));
  Bytes out(data.size());
  ASSERT_TRUE(Pipeline({Fletcher()}, 1).Decode(chunk, 0, out).ok());
  EXPECT_EQ(out, data);
}

TEST(ChunkPipelineTest, Fletcher32FollowsHdf5sDefinition) {
  // By hand: words 0x0102, 0x0304 and the odd byte 0x05 as 0x0500.
  // sum1 = 0x0102 + 0x0304 + 0x0500 = 0x0906; sum2 = 0x0102 + 0x0406 + 0x0906 = 0x0e0e.
  const Bytes five = {1, 2, 3, 4, 5};
  EXPECT_EQ(Hdf5Fletcher32(five), 0x0e0e0906u);
  EXPECT_EQ(Hdf5Fletcher32({}), 0u);
  // Long inputs: the sums folded every 360 words equal the sums taken modulo 65535 (with 65535
  // for a non-zero multiple, as folding never reaches 0 from a non-zero sum).
  const Bytes data = RandomBytes((1 << 20) + 1, 9);
  uint64_t sum1 = 0, sum2 = 0;
  for (size_t i = 0; i + 1 < data.size(); i += 2) {
    sum1 += uint64_t{data[i]} << 8 | data[i + 1];
    sum2 += sum1;
  }
  sum1 += uint64_t{data.back()} << 8;
  sum2 += sum1;
  auto mod = [](uint64_t x) { return x == 0 ? 0 : (x - 1) % 65535 + 1; };
  EXPECT_EQ(Hdf5Fletcher32(data), mod(sum2) << 16 | mod(sum1));
}

TEST(ChunkPipelineTest, FromTakesOnlyFiltersItDecodes) {
  std::string why;
  EXPECT_EQ(Pipeline({Shuffle(2), Deflate(), Fletcher()}, 2).Name(), "shuffle+deflate+fletcher32");
  EXPECT_EQ(Pipeline({Bitshuffle(4, 2)}, 4).Name(), "bitshuffle/lz4");
  EXPECT_EQ(Pipeline({Bitshuffle(4, 3)}, 4).Name(), "bitshuffle/zstd");
  EXPECT_EQ(Pipeline({Bitshuffle(4, 0)}, 4).Name(), "bitshuffle");
  EXPECT_EQ(Pipeline({}, 4).Name(), "none");
  // A shuffle before set_local filled in the element size: the type's.
  EXPECT_TRUE(Pipeline({Hdf5Filter{kHdf5FilterShuffle, {}}}, 4)
                  .Decode(testing::ByteShuffle(Counts(10, 4, 1), 4), 0,
                          std::span<uint8_t>(Bytes(40).data(), 40))
                  .ok());
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{{4, {}}}, 2, &why));  // szip
  EXPECT_NE(why.find("filter 4"), std::string::npos) << why;
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{Deflate(), {32001, {}}}, 2, &why));
  EXPECT_NE(why.find("filter 32001"), std::string::npos) << why;
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{Bitshuffle(2, 5)}, 2, &why));
  EXPECT_NE(why.find("compression 5"), std::string::npos) << why;
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{{kHdf5FilterBitshuffle, {0, 3}}}, 2));
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{Bitshuffle(0, 2)}, 2));
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{Shuffle(0)}, 2));
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>(33, Fletcher()), 2));
  // A second compressor: its decoded size would not be known.
  EXPECT_FALSE(ChunkPipeline::From(std::vector<Hdf5Filter>{Zstd(), Shuffle(2), Lz4()}, 2, &why));
  EXPECT_NE(why.find("two compressing filters (zstd+shuffle+lz4)"), std::string::npos) << why;
}

// The fuzz target's seeds: chunks encoded independently of daqfs (Python's zlib, numpy,
// python3-zstandard, Debian's bitshuffle module; tests/fuzz/make_chunk_pipeline_seeds.py), the
// first bytes of each naming the pipeline (the fuzz target's table), the element size, the
// decoded size and the mask. Each decodes to its exact size, and the seeds of one element size,
// made from the same counts through different pipelines, all decode to the same bytes.
TEST(ChunkPipelineTest, IndependentlyEncodedSeedsDecode) {
  namespace stdfs = std::filesystem;
  const uint32_t sizes[4] = {1, 2, 4, 8};
  auto pipeline = [](unsigned index, unsigned es) -> std::vector<Hdf5Filter> {
    switch (index) {
      case 0:
        return {Deflate()};
      case 1:
        return {Shuffle(es), Deflate()};
      case 2:
        return {Zstd()};
      case 3:
        return {Shuffle(es), Zstd()};
      case 4:
        return {Bitshuffle(es, 3)};
      case 5:
        return {Bitshuffle(es, 0)};
      case 6:
        return {Fletcher()};
      case 7:
        return {Shuffle(es), Deflate(), Fletcher()};
      case 8:
        return {Fletcher(), Shuffle(es), Deflate()};
      case 9:
        return {Bitshuffle(es, 2), Fletcher()};
      case 10:
        return {Lz4()};
      default:
        return {Shuffle(es)};
    }
  };
  size_t seeds = 0;
  std::map<uint32_t, std::vector<Bytes>> decoded;  // by element size
  for (const auto& e : stdfs::directory_iterator(DAQFS_CHUNK_PIPELINE_SEEDS)) {
    if (e.path().filename() == "PROVENANCE.txt") continue;
    const Bytes in = testing::SlurpBytes(e.path());
    ASSERT_GE(in.size(), 7u) << e.path();
    const uint32_t es = sizes[in[1] & 3];
    const uint32_t n =
        uint32_t{in[2]} | uint32_t{in[3]} << 8 | uint32_t{in[4]} << 16 | uint32_t{in[5]} << 24;
    const ChunkPipeline p = Pipeline(pipeline(in[0] % 12, es), es);
    Bytes out(n);
    const Status st = p.Decode(std::span(in).subspan(7), in[6] & 7, out);
    EXPECT_TRUE(st.ok()) << e.path() << " (" << p.Name() << "): " << st.ToString();
    EXPECT_EQ(n, 1001u * es) << e.path();
    decoded[es].push_back(out);
    ++seeds;
  }
  EXPECT_EQ(seeds, 26u);
  ASSERT_EQ(decoded.size(), 2u);  // u16 and u32
  for (const auto& [es, all] : decoded) {
    for (const Bytes& d : all) EXPECT_EQ(d, all[0]) << "element size " << es;
  }
}

// ---- malformed chunks ----

TEST(ChunkPipelineTest, MalformedChunksAreCorruptNamingTheStage) {
  const Bytes data = Counts(4000, 2, 11);
  Bytes out(data.size());
  {
    const std::vector<Hdf5Filter> f = {Shuffle(2), Deflate(), Fletcher()};
    Bytes chunk = Encode(f, data);
    chunk[chunk.size() / 2] ^= 0x40;
    ExpectCorrupt(Pipeline(f, 2).Decode(chunk, 0, out), "fletcher32 (filter 3 of 3): checksum");
    // Without the checksum, the same flip reaches inflate, whose Adler-32 catches it.
    const std::vector<Hdf5Filter> g = {Shuffle(2), Deflate()};
    Bytes bare = Encode(g, data);
    bare[bare.size() / 2] ^= 0x40;
    ExpectCorrupt(Pipeline(g, 2).Decode(bare, 0, out), "deflate (filter 2 of 2)");
  }
  {
    // A valid stream of another size.
    const Bytes shorter = testing::ZlibCompress(Bytes(data.begin(), data.end() - 2));
    ExpectCorrupt(Pipeline({Deflate()}, 2).Decode(shorter, 0, out), "decodes to 7998 bytes");
    const Bytes longer = testing::ZlibCompress(Bytes(data.size() + 1, 0));
    ExpectCorrupt(Pipeline({Deflate()}, 2).Decode(longer, 0, out), "more than the expected");
    const Bytes zlonger = testing::ZstdCompress(data.data(), data.size() - 1);
    ExpectCorrupt(Pipeline({Zstd()}, 2).Decode(zlonger, 0, out), "zstd (filter 1 of 1)");
  }
  {
    // Too short for its checksum; garbage for zstd; a bitshuffle/zstd block that is not zstd.
    ExpectCorrupt(Pipeline({Fletcher()}, 2).Decode(Bytes{1, 2}, 0, out), "2 bytes, expected 8004");
    ExpectCorrupt(Pipeline({Zstd()}, 2).Decode(RandomBytes(100, 1), 0, out), "zstd");
    Bytes bz = Encode({Bitshuffle(2, 3)}, data);
    bz[16] ^= 0xff;  // the first block's zstd magic
    ExpectCorrupt(Pipeline({Bitshuffle(2, 3)}, 2).Decode(bz, 0, out), "zstd error in block 0");
    // A plain bitshuffle chunk one byte short.
    Bytes plain = Encode({Bitshuffle(2, 0)}, data);
    plain.pop_back();
    ExpectCorrupt(Pipeline({Bitshuffle(2, 0)}, 2).Decode(plain, 0, out),
                  "bitshuffle (filter 1 of 1): 7999 bytes, expected 8000");
    // An unfiltered chunk (every filter skipped) of the wrong size.
    ExpectCorrupt(Pipeline({Deflate()}, 2).Decode(Bytes(10), 1, out), "unfiltered chunk of 10");
  }
}

TEST(ChunkPipelineTest, EveryTruncationAndRandomCorruptionIsCleanNeverACrash) {
  const unsigned es = 4;
  const Bytes data = Counts(600, es, 5);
  for (const std::vector<Hdf5Filter>& filters : Pipelines(es)) {
    const ChunkPipeline p = Pipeline(filters, es);
    SCOPED_TRACE(p.Name());
    const Bytes chunk = Encode(filters, data);
    Bytes out(data.size());
    for (size_t len = 0; len < chunk.size(); ++len) {
      const Status st = p.Decode(std::span(chunk).first(len), 0, out);
      // Plain bitshuffle and shuffle ignore bytes past what they need; only what is short fails.
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Code::kCorrupt) << st.ToString();
      }
    }
    std::mt19937 rng(17);
    for (int trial = 0; trial < 200 && !chunk.empty(); ++trial) {
      Bytes bad = chunk;
      for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      const Status st = p.Decode(bad, 0, out);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Code::kCorrupt) << st.ToString();
      }
    }
  }
}

// ---- threads ----

TEST(ChunkPipelineTest, ConcurrentDecodesOfDifferentPipelinesAreIndependent) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &bad] {
      const unsigned es = t % 2 ? 2 : 4;
      const std::vector<std::vector<Hdf5Filter>> all = Pipelines(es);
      for (int round = 0; round < 20; ++round) {
        const std::vector<Hdf5Filter>& filters = all[(t + round) % all.size()];
        const Bytes data = Counts(20000 + 8 * t, es, static_cast<uint32_t>(t * 100 + round));
        const Bytes chunk = Encode(filters, data);
        Bytes out(data.size());
        const std::optional<ChunkPipeline> p = ChunkPipeline::From(filters, es);
        if (!p || !p->Decode(chunk, 0, out).ok() || out != data) ++bad;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace daqfs
