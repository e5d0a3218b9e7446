// Tests for zstd frame indexing, decoding and the seekable writer: round trips through
// CompressSeekable (checked frame by frame and with the stock zstd CLI), walks over what the zstd
// and pzstd tools write, seek tables damaged in every way the parser checks (each must fall back
// to a correct walk), and truncated, garbage, hostile and bit-flipped streams.
#include "backends/common/zstd_frames.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <xxhash.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

namespace stdfs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---- helpers ----

using testing::HaveTool;
using testing::TempDir;
using testing::WriteFile;
Bytes Slurp(const std::string& path) { return testing::SlurpBytes(path); }

// Runs a shell command (paths here come from mkdtemp: no quoting needed).
void RunShell(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

// Compressible, DAQ-log-like bytes.
Bytes MakeText(size_t n, uint32_t seed) {
  static const char* const kWords[] = {"event",  "trigger", "adc",      "channel", "run",
                                       "sample", "stamp",   "baseline", "peak",    "daq"};
  std::mt19937 rng(seed);
  Bytes out;
  out.reserve(n + 32);
  while (out.size() < n) {
    const char* w = kWords[rng() % 10];
    out.insert(out.end(), w, w + std::strlen(w));
    const std::string num = " " + std::to_string(rng() % 100000) + "\n";
    out.insert(out.end(), num.begin(), num.end());
  }
  out.resize(n);
  return out;
}

Bytes MakeRandom(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

uint32_t Low32(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(XXH64(p, n, 0) & 0xFFFFFFFF);
}

uint32_t GetLe32(const Bytes& b, size_t off) {
  return uint32_t{b[off]} | uint32_t{b[off + 1]} << 8 | uint32_t{b[off + 2]} << 16 |
         uint32_t{b[off + 3]} << 24;
}

void SetLe32(Bytes* b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

// A stream in memory plus a reader over it that counts its calls.
struct MemStream {
  explicit MemStream(Bytes b) : bytes(std::move(b)) {}
  Bytes bytes;
  int reads = 0;
  CompressedReadFn Reader() {
    return [this](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
      ++reads;
      if (off >= bytes.size()) return size_t{0};
      const size_t n = std::min<uint64_t>(out.size(), bytes.size() - off);
      std::memcpy(out.data(), bytes.data() + off, n);
      return n;
    };
  }
  Result<ZstdIndex> Index(const std::string& name = "test.zst") {
    return IndexZstd(Reader(), bytes.size(), name);
  }
  std::span<const uint8_t> FrameBytes(const ZstdFrame& f) const {
    return std::span<const uint8_t>(bytes).subspan(f.compressed_offset, f.compressed_size);
  }
};

// Decodes every frame of `index` (whole when its size is known, streamed otherwise), verifying
// seek-table checksums, and appends the data.
Status DecodeAll(MemStream& s, const ZstdIndex& index, Bytes* out) {
  for (size_t i = 0; i < index.frames.size(); ++i) {
    const ZstdFrame& f = index.frames[i];
    const std::string what = "frame " + std::to_string(i);
    if (f.content_size_known) {
      Bytes buf(f.decompressed_size);
      Status st = DecodeZstdFrame(
          s.FrameBytes(f), buf, f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr, what);
      if (!st.ok()) return st;
      out->insert(out->end(), buf.begin(), buf.end());
    } else {
      Status st = StreamZstdFrame(
          s.Reader(), f.compressed_offset, f.compressed_size, 4096,
          [&](std::span<const uint8_t> p) {
            out->insert(out->end(), p.begin(), p.end());
            return true;
          },
          what);
      if (!st.ok()) return st;
    }
  }
  return Status::Ok();
}

// Where the seek table of a CompressSeekable output starts.
size_t TableStart(const Bytes& b) {
  const uint32_t count = GetLe32(b, b.size() - 9);
  return b.size() - (8 + size_t{count} * 12 + 9);
}

constexpr size_t kFrame = 32 * 1024;

// ---- seekable round trips ----

void CheckSeekableRoundTrip(const Bytes& data) {
  SCOPED_TRACE("size " + std::to_string(data.size()));
  MemStream s(CompressSeekable(data, kFrame, 3));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_TRUE(index->from_seek_table);
  EXPECT_TRUE(index->all_sizes_known);
  EXPECT_EQ(index->note, "");
  EXPECT_EQ(index->decompressed_size, data.size());
  const size_t expected_frames = (data.size() + kFrame - 1) / kFrame;
  ASSERT_EQ(index->frames.size(), expected_frames);
  uint64_t coff = 0;
  for (size_t i = 0; i < expected_frames; ++i) {
    const ZstdFrame& f = index->frames[i];
    EXPECT_EQ(f.compressed_offset, coff);
    coff += f.compressed_size;
    EXPECT_EQ(f.decompressed_offset, i * kFrame);
    EXPECT_EQ(f.decompressed_size, std::min(kFrame, data.size() - i * kFrame));
    EXPECT_TRUE(f.content_size_known);
    EXPECT_TRUE(f.seek_table_has_checksum);
    EXPECT_EQ(f.seek_table_checksum,
              Low32(data.data() + f.decompressed_offset, f.decompressed_size));
    Bytes out(f.decompressed_size);
    Status st = DecodeZstdFrame(s.FrameBytes(f), out, &f.seek_table_checksum, "frame");
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + f.decompressed_offset));
  }
  EXPECT_EQ(coff, TableStart(s.bytes));
  EXPECT_EQ(s.reads, 1);  // a small table: footer, table frame and entries in one window

  Result<ZstdIndex> table = ReadSeekTable(s.Reader(), s.bytes.size());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->frames.size(), expected_frames);

  // Without its table, the same stream walks to the same frames, now known to carry checksums.
  MemStream bare(Bytes(s.bytes.begin(), s.bytes.begin() + TableStart(s.bytes)));
  Result<ZstdIndex> walked = bare.Index();
  if (data.empty()) {
    ASSERT_FALSE(walked.ok());  // an empty file is not a zstd stream (zstd -d agrees)
    return;
  }
  ASSERT_TRUE(walked.ok()) << walked.status().ToString();
  EXPECT_FALSE(walked->from_seek_table);
  EXPECT_EQ(walked->note, "");
  ASSERT_EQ(walked->frames.size(), expected_frames);
  for (size_t i = 0; i < expected_frames; ++i) {
    EXPECT_EQ(walked->frames[i].compressed_offset, index->frames[i].compressed_offset);
    EXPECT_EQ(walked->frames[i].compressed_size, index->frames[i].compressed_size);
    EXPECT_EQ(walked->frames[i].decompressed_offset, index->frames[i].decompressed_offset);
    EXPECT_EQ(walked->frames[i].decompressed_size, index->frames[i].decompressed_size);
    EXPECT_TRUE(walked->frames[i].has_checksum);
    EXPECT_FALSE(walked->frames[i].seek_table_has_checksum);
  }
}

TEST(ZstdSeekableTest, RoundTripsAtFrameBoundaries) {
  for (size_t n : {size_t{0}, size_t{1}, kFrame - 1, kFrame, 10 * kFrame + 7}) {
    CheckSeekableRoundTrip(MakeText(n, static_cast<uint32_t>(n)));
  }
}

TEST(ZstdSeekableTest, RoundTripsIncompressibleData) {
  CheckSeekableRoundTrip(MakeRandom(3 * kFrame + 5, 7));  // raw blocks
}

TEST(ZstdSeekableTest, StockZstdExtractsSeekableOutput) {
  if (!HaveTool("zstd")) GTEST_SKIP() << "zstd CLI not installed";
  TempDir dir;
  for (size_t n : {size_t{0}, size_t{1}, 10 * kFrame + 7}) {
    const Bytes data = MakeText(n, 11);
    WriteFile(dir / "s.zst", CompressSeekable(data, kFrame, 3));
    RunShell("zstd -q -d -f " + (dir / "s.zst") + " -o " + (dir / "s.out"));
    EXPECT_EQ(Slurp(dir / "s.out"), data) << "size " << n;
  }
}

TEST(ZstdSeekableTest, WriterInPiecesMatchesCompressSeekable) {
  const Bytes data = MakeText(5 * kFrame + 123, 3);
  Bytes out;
  ZstdSeekableWriter w(
      [&](std::span<const uint8_t> b) {
        out.insert(out.end(), b.begin(), b.end());
        return Status::Ok();
      },
      kFrame, 3);
  std::mt19937 rng(5);
  for (size_t off = 0; off < data.size();) {
    const size_t n = std::min<size_t>(rng() % 50000, data.size() - off);
    ASSERT_TRUE(w.Write(std::span<const uint8_t>(data).subspan(off, n)).ok());
    off += n;
  }
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(out, CompressSeekable(data, kFrame, 3));
  EXPECT_EQ(w.compressed_bytes(), out.size());
  // Finished: no frames may follow the table.
  EXPECT_EQ(w.Write(std::span<const uint8_t>(data).first(10)).code(), Code::kInvalid);
  EXPECT_EQ(w.Finish().code(), Code::kInvalid);
  EXPECT_EQ(out, CompressSeekable(data, kFrame, 3));
}

TEST(ZstdSeekableTest, WriterRejectsBadFrameSizeAndPassesWriteErrors) {
  const Bytes data = MakeText(100, 1);
  auto sink = [](std::span<const uint8_t>) { return Status::Ok(); };
  ZstdSeekableWriter zero(sink, 0, 3);
  EXPECT_EQ(zero.Write(data).code(), Code::kInvalid);
  EXPECT_EQ(zero.Finish().code(), Code::kInvalid);
  ZstdSeekableWriter huge(sink, (size_t{1} << 30) + 1, 3);
  EXPECT_EQ(huge.Write(data).code(), Code::kInvalid);

  ZstdSeekableWriter failing([](std::span<const uint8_t>) { return IoError("disk full"); }, 10, 3);
  Status st = failing.Write(data);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("disk full"), std::string::npos);
}

// ---- walks over what the zstd tools write ----

class ZstdToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("zstd")) GTEST_SKIP() << "zstd CLI not installed";
    data_ = MakeText(3 * 1024 * 1024 + 17, 42);
    WriteFile(dir_ / "data", data_);
  }
  MemStream Compress(const std::string& cmd) {
    RunShell(cmd);
    return MemStream(Slurp(dir_ / "data.zst"));
  }
  TempDir dir_;
  Bytes data_;
};

TEST_F(ZstdToolsTest, SingleFrameWithContentSize) {
  MemStream s = Compress("zstd -q -f -3 " + (dir_ / "data") + " -o " + (dir_ / "data.zst"));
  EXPECT_EQ(ReadSeekTable(s.Reader(), s.bytes.size()).status().code(), Code::kNotFound);
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_FALSE(index->from_seek_table);
  EXPECT_EQ(index->note, "");
  ASSERT_EQ(index->frames.size(), 1u);
  const ZstdFrame& f = index->frames[0];
  EXPECT_EQ(f.compressed_offset, 0u);
  EXPECT_EQ(f.compressed_size, s.bytes.size());
  EXPECT_TRUE(f.content_size_known);
  EXPECT_TRUE(f.has_checksum);
  EXPECT_EQ(f.decompressed_size, data_.size());
  EXPECT_TRUE(index->all_sizes_known);
  EXPECT_EQ(index->decompressed_size, data_.size());
  Bytes out;
  ASSERT_TRUE(DecodeAll(s, *index, &out).ok());
  EXPECT_EQ(out, data_);
}

TEST_F(ZstdToolsTest, PipedInputHasNoContentSize) {
  MemStream s = Compress("cat " + (dir_ / "data") + " | zstd -q > " + (dir_ / "data.zst"));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ(index->frames.size(), 1u);
  EXPECT_FALSE(index->frames[0].content_size_known);
  EXPECT_FALSE(index->all_sizes_known);
  EXPECT_EQ(index->frames[0].compressed_size, s.bytes.size());

  const size_t kPiece = 1000;
  Bytes out;
  size_t calls = 0;
  bool short_seen = false;
  Status st = StreamZstdFrame(
      s.Reader(), 0, s.bytes.size(), kPiece,
      [&](std::span<const uint8_t> p) {
        ++calls;
        EXPECT_FALSE(short_seen) << "only the last piece may be short";
        EXPECT_LE(p.size(), kPiece);
        EXPECT_GT(p.size(), 0u);
        if (p.size() < kPiece) short_seen = true;
        out.insert(out.end(), p.begin(), p.end());
        return true;
      },
      "piped");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, data_);
  EXPECT_EQ(calls, (data_.size() + kPiece - 1) / kPiece);

  // Stopping early is not an error.
  calls = 0;
  st = StreamZstdFrame(
      s.Reader(), 0, s.bytes.size(), kPiece, [&](std::span<const uint8_t>) { return ++calls < 3; },
      "piped");
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(calls, 3u);
}

TEST_F(ZstdToolsTest, PzstdFramesBehindSkippableFrames) {
  if (!HaveTool("pzstd")) GTEST_SKIP() << "pzstd not installed";
  data_ = MakeText(8 * 1024 * 1024, 9);
  WriteFile(dir_ / "data", data_);
  MemStream s = Compress("pzstd -q -f -p 2 -1 " + (dir_ / "data") + " -o " + (dir_ / "data.zst"));
  ASSERT_EQ(GetLe32(s.bytes, 0) & 0xFFFFFFF0, 0x184D2A50u) << "pzstd output starts skippable";
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->note, "");
  ASSERT_GE(index->frames.size(), 2u);
  EXPECT_EQ(index->frames[0].compressed_offset, 12u);  // behind pzstd's 12-byte skippable frame
  uint64_t doff = 0;
  for (size_t i = 0; i < index->frames.size(); ++i) {
    const ZstdFrame& f = index->frames[i];
    if (i > 0) {
      EXPECT_EQ(f.compressed_offset,
                index->frames[i - 1].compressed_offset + index->frames[i - 1].compressed_size + 12);
    }
    if (f.content_size_known) {
      EXPECT_EQ(f.decompressed_offset, doff);
      doff += f.decompressed_size;
    }
  }
  Bytes out;
  Status st = DecodeAll(s, *index, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, data_);
}

TEST_F(ZstdToolsTest, NoChecksumFrame) {
  MemStream s = Compress("zstd -q -f --no-check " + (dir_ / "data") + " -o " + (dir_ / "data.zst"));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ(index->frames.size(), 1u);
  EXPECT_FALSE(index->frames[0].has_checksum);
  EXPECT_EQ(index->frames[0].compressed_size, s.bytes.size());
  Bytes out;
  ASSERT_TRUE(DecodeAll(s, *index, &out).ok());
  EXPECT_EQ(out, data_);
}

TEST_F(ZstdToolsTest, TruncatedStreamIsCorruptNamingFileAndOffset) {
  MemStream full = Compress("zstd -q -f -3 " + (dir_ / "data") + " -o " + (dir_ / "data.zst"));
  for (size_t cut : {size_t{1}, size_t{3}, size_t{5}, size_t{9}, full.bytes.size() / 2,
                     full.bytes.size() - 5, full.bytes.size() - 1}) {
    MemStream s(Bytes(full.bytes.begin(), full.bytes.begin() + cut));
    Result<ZstdIndex> index = s.Index("cut.zst");
    ASSERT_FALSE(index.ok()) << "cut at " << cut;
    EXPECT_EQ(index.status().code(), Code::kCorrupt);
    EXPECT_NE(index.status().message().find("cut.zst"), std::string::npos);
    EXPECT_NE(index.status().message().find("offset"), std::string::npos);
  }
}

// ---- damaged seek tables ----

class SeekTableDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeText(5 * kFrame + 3, 77);
    good_ = CompressSeekable(data_, kFrame, 3);
    MemStream s(good_);
    Result<ZstdIndex> index = s.Index();
    ASSERT_TRUE(index.ok() && index->from_seek_table);
    expected_ = index->frames;
    start_ = TableStart(good_);
  }

  // The damaged table is rejected, and the walk still finds every frame.
  void ExpectFallback(const Bytes& damaged, const std::string& why) {
    SCOPED_TRACE(why);
    MemStream s(damaged);
    Result<ZstdIndex> table = ReadSeekTable(s.Reader(), s.bytes.size());
    EXPECT_EQ(table.status().code(), Code::kCorrupt) << table.status().ToString();
    Result<ZstdIndex> index = s.Index();
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_FALSE(index->from_seek_table);
    EXPECT_NE(index->note.find("seek table"), std::string::npos) << index->note;
    ASSERT_EQ(index->frames.size(), expected_.size());
    for (size_t i = 0; i < expected_.size(); ++i) {
      EXPECT_EQ(index->frames[i].compressed_offset, expected_[i].compressed_offset);
      EXPECT_EQ(index->frames[i].compressed_size, expected_[i].compressed_size);
      EXPECT_EQ(index->frames[i].decompressed_offset, expected_[i].decompressed_offset);
      EXPECT_EQ(index->frames[i].decompressed_size, expected_[i].decompressed_size);
      EXPECT_TRUE(index->frames[i].has_checksum);
    }
    Bytes out;
    ASSERT_TRUE(DecodeAll(s, *index, &out).ok());
    EXPECT_EQ(out, data_);
  }

  Bytes data_, good_;
  std::vector<ZstdFrame> expected_;
  size_t start_ = 0;
};

TEST_F(SeekTableDamageTest, WrongSeekableMagic) {
  Bytes b = good_;
  b.back() ^= 0xFF;
  ExpectFallback(b, "magic");
}

TEST_F(SeekTableDamageTest, ReservedDescriptorBits) {
  for (uint8_t bit : {0x04, 0x10, 0x40}) {
    Bytes b = good_;
    b[b.size() - 5] |= bit;
    ExpectFallback(b, "reserved bit " + std::to_string(bit));
  }
}

TEST_F(SeekTableDamageTest, HugeFrameCount) {
  Bytes b = good_;
  SetLe32(&b, b.size() - 9, 0xFFFFFFFF);
  ExpectFallback(b, "count");
}

TEST_F(SeekTableDamageTest, SizesNotAddingUp) {
  Bytes b = good_;
  SetLe32(&b, start_ + 8, GetLe32(b, start_ + 8) + 1);  // first entry's compressed size
  ExpectFallback(b, "compressed +1");
  b = good_;
  SetLe32(&b, start_ + 8, 0);
  ExpectFallback(b, "compressed 0");
  b = good_;
  SetLe32(&b, start_ + 8 + 4, 0xFFFFFFFF);  // first entry's decompressed size
  ExpectFallback(b, "impossible decompressed size");
}

TEST_F(SeekTableDamageTest, TableFrameSizeFieldWrong) {
  for (int64_t delta : {-1, 1, 12, -12, 1000000}) {
    Bytes b = good_;
    SetLe32(&b, start_ + 4, static_cast<uint32_t>(GetLe32(b, start_ + 4) + delta));
    ExpectFallback(b, "size field " + std::to_string(delta));
  }
}

TEST_F(SeekTableDamageTest, TruncatedTable) {
  // The last entry is missing; the count still claims it.
  Bytes b = good_;
  const size_t count = GetLe32(b, b.size() - 9);
  const size_t last_entry = start_ + 8 + (count - 1) * 12;
  b.erase(b.begin() + last_entry, b.begin() + last_entry + 12);
  SetLe32(&b, start_ + 4, GetLe32(b, start_ + 4) - 12);
  ExpectFallback(b, "one entry missing");
}

TEST_F(SeekTableDamageTest, StreamCutInsideTableIsCorrupt) {
  MemStream s(Bytes(good_.begin(), good_.end() - 10));
  Result<ZstdIndex> index = s.Index("cut.zst");
  EXPECT_EQ(index.status().code(), Code::kCorrupt);
}

TEST_F(SeekTableDamageTest, WrongChecksumDetectedOnDecode) {
  Bytes b = good_;
  SetLe32(&b, start_ + 8 + 2 * 12 + 8, GetLe32(b, start_ + 8 + 2 * 12 + 8) ^ 1);  // frame 2
  MemStream s(b);
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok() && index->from_seek_table);  // checksums are checked on decode only
  const ZstdFrame& f = index->frames[2];
  Bytes out(f.decompressed_size);
  Status st = DecodeZstdFrame(s.FrameBytes(f), out, &f.seek_table_checksum, "frame 2");
  EXPECT_EQ(st.code(), Code::kCorrupt);
  EXPECT_NE(st.message().find("checksum mismatch"), std::string::npos) << st.ToString();
  EXPECT_TRUE(DecodeZstdFrame(s.FrameBytes(f), out, nullptr, "frame 2").ok());
}

// ---- corrupt and hostile streams ----

TEST(ZstdCorruptTest, GarbageAndEmptyAreNotZstd) {
  MemStream garbage(MakeRandom(5000, 1));
  Result<ZstdIndex> index = garbage.Index("g.zst");
  EXPECT_EQ(index.status().code(), Code::kCorrupt);
  EXPECT_NE(index.status().message().find("not a zstd stream"), std::string::npos);
  EXPECT_NE(index.status().message().find("g.zst"), std::string::npos);

  MemStream empty(Bytes{});
  EXPECT_EQ(empty.Index().status().code(), Code::kCorrupt);

  Bytes legacy = MakeRandom(100, 2);
  SetLe32(&legacy, 0, 0xFD2FB527);  // zstd v0.7
  MemStream old(legacy);
  index = old.Index();
  EXPECT_EQ(index.status().code(), Code::kCorrupt);
  EXPECT_NE(index.status().message().find("not a zstd stream"), std::string::npos);
}

TEST(ZstdCorruptTest, GarbageAfterFrameIsCorruptAtItsOffset) {
  Bytes b = CompressSeekable(MakeText(1000, 1), kFrame, 3);
  b.resize(TableStart(b));
  const size_t end = b.size();
  b.insert(b.end(), {1, 2, 3, 4, 5, 6, 7, 8});
  MemStream s(b);
  Result<ZstdIndex> index = s.Index("t.zst");
  EXPECT_EQ(index.status().code(), Code::kCorrupt);
  EXPECT_NE(index.status().message().find("offset " + std::to_string(end)), std::string::npos)
      << index.status().ToString();
}

TEST(ZstdCorruptTest, HostileHeaders) {
  // Single segment, 8-byte content size of 2^40, then one empty last raw block.
  Bytes huge = {0x28, 0xB5, 0x2F, 0xFD, 0xE0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00};
  EXPECT_EQ(MemStream(huge).Index().status().code(), Code::kCorrupt);

  // Reserved block type 3.
  Bytes reserved = {0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x00, 0x07, 0x00, 0x00};
  EXPECT_EQ(MemStream(reserved).Index().status().code(), Code::kCorrupt);

  // A raw block of 128 KiB + 1 bytes, all present.
  Bytes big = {0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x58};  // window descriptor: 128 MiB
  const uint32_t bh = 1 | ((128 * 1024 + 1) << 3);
  big.insert(big.end(), {uint8_t(bh), uint8_t(bh >> 8), uint8_t(bh >> 16)});
  big.resize(big.size() + 128 * 1024 + 1);
  EXPECT_EQ(MemStream(big).Index().status().code(), Code::kCorrupt);

  // A skippable frame claiming more bytes than there are.
  Bytes skip = {0x50, 0x2A, 0x4D, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  EXPECT_EQ(MemStream(skip).Index().status().code(), Code::kCorrupt);

  // Only skippable frames: a valid stream of no data (zstd -d agrees).
  Bytes only_skip = {0x50, 0x2A, 0x4D, 0x18, 0x02, 0, 0, 0, 9, 9};
  Result<ZstdIndex> index = MemStream(only_skip).Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_TRUE(index->frames.empty());
}

TEST(ZstdCorruptTest, FlippedBytesNeverDecodeToWrongData) {
  const Bytes data = MakeText(4 * kFrame, 5);
  const Bytes good = CompressSeekable(data, kFrame, 3);
  MemStream ref(good);
  Result<ZstdIndex> ref_index = ref.Index();
  ASSERT_TRUE(ref_index.ok());
  const ZstdFrame& f = ref_index->frames[1];
  int detected = 0, tried = 0;
  for (uint64_t pos = f.compressed_offset; pos < f.compressed_offset + f.compressed_size;
       pos += 7) {
    Bytes b = good;
    b[pos] ^= 0x10;
    MemStream s(b);
    Result<ZstdIndex> index = s.Index();  // the table is intact, so indexing succeeds
    ASSERT_TRUE(index.ok());
    const ZstdFrame& g = index->frames[1];
    for (bool table_checksum : {true, false}) {
      Bytes out(g.decompressed_size);
      Status st = DecodeZstdFrame(s.FrameBytes(g), out,
                                  table_checksum ? &g.seek_table_checksum : nullptr, "flipped");
      ++tried;
      if (st.ok()) {
        EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + g.decompressed_offset))
            << "flip at " << pos;
      } else {
        EXPECT_EQ(st.code(), Code::kCorrupt);
        ++detected;
      }
    }
  }
  EXPECT_GT(detected, tried * 9 / 10);
}

TEST(ZstdCorruptTest, DecodeInsistsOnExactFrameAndSize) {
  const Bytes data = MakeText(1000, 3);
  MemStream s(CompressSeekable(data, kFrame, 3));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok());
  const ZstdFrame& f = index->frames[0];
  for (size_t n : {data.size() - 1, data.size() + 1, size_t{0}}) {
    Bytes out(n);
    EXPECT_EQ(DecodeZstdFrame(s.FrameBytes(f), out, nullptr, "f").code(), Code::kCorrupt) << n;
  }
  Bytes out(data.size());
  // Trailing bytes (here: the seek table) and a truncated frame are refused.
  EXPECT_EQ(DecodeZstdFrame(s.bytes, out, nullptr, "f").code(), Code::kCorrupt);
  EXPECT_EQ(DecodeZstdFrame(s.FrameBytes(f).first(f.compressed_size - 1), out, nullptr, "f").code(),
            Code::kCorrupt);
  EXPECT_EQ(DecodeZstdFrame({}, out, nullptr, "f").code(), Code::kCorrupt);
  EXPECT_TRUE(DecodeZstdFrame(s.FrameBytes(f), out, nullptr, "f").ok());
  EXPECT_EQ(out, data);
}

TEST(ZstdCorruptTest, StreamFailsOnTruncatedInput) {
  const Bytes data = MakeText(300000, 3);
  MemStream s(CompressSeekable(data, 1 << 20, 3));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok());
  const ZstdFrame& f = index->frames[0];
  auto sink = [](std::span<const uint8_t>) { return true; };
  EXPECT_EQ(StreamZstdFrame(s.Reader(), 0, f.compressed_size - 1, 4096, sink, "f").code(),
            Code::kCorrupt);
  EXPECT_EQ(StreamZstdFrame(s.Reader(), 0, 0, 4096, sink, "f").code(), Code::kCorrupt);
  // The reader ends before the promised size.
  MemStream cut(Bytes(s.bytes.begin(), s.bytes.begin() + f.compressed_size / 2));
  EXPECT_EQ(StreamZstdFrame(cut.Reader(), 0, f.compressed_size, 4096, sink, "f").code(),
            Code::kCorrupt);
  EXPECT_EQ(StreamZstdFrame(s.Reader(), 0, f.compressed_size, 0, sink, "f").code(), Code::kInvalid);
  // Pieces of one byte.
  Bytes out;
  Status st = StreamZstdFrame(
      s.Reader(), 0, f.compressed_size, 1,
      [&](std::span<const uint8_t> p) {
        EXPECT_EQ(p.size(), 1u);
        out.push_back(p[0]);
        return true;
      },
      "f");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, data);
}

TEST(ZstdCorruptTest, ReaderErrorsPropagate) {
  CompressedReadFn failing = [](uint64_t, std::span<uint8_t>) -> Result<size_t> {
    return IoError("backing file gone");
  };
  EXPECT_EQ(IndexZstd(failing, 1000, "x").status().code(), Code::kIo);
  EXPECT_EQ(ReadSeekTable(failing, 1000).status().code(), Code::kIo);
  EXPECT_EQ(StreamZstdFrame(
                failing, 0, 1000, 10, [](auto) { return true; }, "x")
                .code(),
            Code::kIo);
}

// ---- cost ----

TEST(ZstdWalkTest, LargeFrameWalkReadsWindowsNotBlocks) {
  const Bytes data = MakeText(64 << 20, 8);
  ZstdCCtxPtr cctx = MakeZstdCCtx();
  ASSERT_NE(cctx, nullptr);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  Bytes z(ZSTD_compressBound(data.size()));
  const size_t n = ZSTD_compress2(cctx.get(), z.data(), z.size(), data.data(), data.size());
  cctx.reset();
  ASSERT_FALSE(ZSTD_isError(n));
  z.resize(n);
  MemStream s(std::move(z));
  Result<ZstdIndex> index = s.Index();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ(index->frames.size(), 1u);
  EXPECT_EQ(index->frames[0].decompressed_size, data.size());
  EXPECT_EQ(index->frames[0].compressed_size, n);
  // 512 blocks of 128 KiB; a read per window of 256 KiB, not per block header.
  EXPECT_LT(s.reads, 1000);
  EXPECT_LE(s.reads, static_cast<int>(n / (128 * 1024)) + 8) << "compressed " << n;
}

}  // namespace
}  // namespace daqfs
