// Tests for the whole-stream decoders on data written by the command-line tools: xz (one block,
// multithreaded blocks, concatenated files), bzip2 (one stream, concatenated streams as pbzip2
// writes), lz4 (one frame, concatenated frames, a skippable frame); zero padding after the last
// stream; truncation and damage anywhere give kCorrupt naming the file and offset, the output of
// the damaged stream is not counted as verified, and nothing crashes.
#include "backends/archive/stream_codecs.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::Shell;
using testing::Slurp;

class StreamCodecsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    // Text and noise: compressible and not, several MiB (xz -T2 makes more than one block).
    std::mt19937 rng(1);
    std::string data;
    while (data.size() < (3u << 20)) {
      if (rng() % 2) {
        data += "frame " + std::to_string(rng() % 100000) + " detector ok\n";
      } else {
        for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(rng()));
      }
    }
    data_ = data;
    std::FILE* f = std::fopen((dir_ + "/d").c_str(), "wb");
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }

  // Decodes file `name` of the temp folder; the output in *out, the verified count in *verified.
  Status Decode(const std::string& name, std::string* out, uint64_t* verified = nullptr) {
    const std::string bytes = Slurp(dir_ + "/" + name);
    std::optional<StreamCodec> codec =
        SniffStreamCodec(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (!codec) return Invalid(name + ": not sniffed");
    out->clear();
    return DecodeStream(
        *codec, testing::MemoryReader(bytes), bytes.size(), name,
        [out](std::span<const uint8_t> b) {
          out->append(reinterpret_cast<const char*>(b.data()), b.size());
          return Status::Ok();
        },
        verified);
  }

  testing::TempDir temp_{"codecs"};
  std::string dir_;
  std::string data_;
};

TEST_F(StreamCodecsTest, WhatTheToolsWriteDecodes) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; xz -1 -c d > one.xz; xz -1 -T2 --block-size=1MiB -c d > blocks.xz; "
                  "head -c 1000000 d | xz -1 -c > cat.xz; tail -c +1000001 d | xz -1 -c >> cat.xz; "
                  "bzip2 -c d > one.bz2; head -c 900000 d | bzip2 -c > cat.bz2; "
                  "tail -c +900001 d | bzip2 -c >> cat.bz2; "
                  "lz4 -q -c d > one.lz4; head -c 2000000 d | lz4 -q -c > cat.lz4; "
                  "printf '\\x50\\x2a\\x4d\\x18\\x04\\x00\\x00\\x00skip' >> cat.lz4; "
                  "tail -c +2000001 d | lz4 -q -c >> cat.lz4; "
                  "cp one.xz pad.xz; head -c 4096 /dev/zero >> pad.xz; "
                  "cp one.bz2 pad.bz2; head -c 1000 /dev/zero >> pad.bz2"),
            0);
  for (const char* name : {"one.xz", "blocks.xz", "cat.xz", "pad.xz", "one.bz2", "cat.bz2",
                           "pad.bz2", "one.lz4", "cat.lz4"}) {
    std::string out;
    uint64_t verified = 0;
    Status s = Decode(name, &out, &verified);
    ASSERT_TRUE(s.ok()) << name << ": " << s.ToString();
    EXPECT_TRUE(out == data_) << name << ": " << out.size() << " bytes, want " << data_.size();
    EXPECT_EQ(verified, data_.size()) << name;
  }
  EXPECT_EQ(std::string(StreamCodecName(StreamCodec::kBzip2)), "bzip2");
}

TEST_F(StreamCodecsTest, DamageIsCorruptAndTheDamagedStreamIsNotVerified) {
  ASSERT_EQ(
      Shell("set -e; cd " + dir_ +
            "; xz -1 -c d > t.xz; bzip2 -c d > t.bz2; lz4 -q --content-size -BX -c d > t.lz4; "
            "head -c 900000 d | bzip2 -c > two.bz2; tail -c +900001 d | bzip2 -c >> two.bz2; "
            "head -c 900000 d | xz -1 -c > two.xz; tail -c +900001 d | xz -1 -c >> two.xz; "
            "for f in t.xz t.bz2 t.lz4 two.bz2 two.xz; do s=$(stat -c %s $f); "
            "printf 'XXXXXXXX' | dd of=$f bs=1 seek=$((s - s / 4)) conv=notrunc "
            "status=none; done; "
            "xz -c d | head -c 100000 > cut.xz; bzip2 -c d | head -c 100000 > cut.bz2; "
            "lz4 -q -c d | head -c 100000 > cut.lz4"),
      0);
  for (const char* name : {"t.xz", "t.bz2", "t.lz4", "cut.xz", "cut.bz2", "cut.lz4"}) {
    std::string out;
    uint64_t verified = 1;
    Status s = Decode(name, &out, &verified);
    EXPECT_EQ(s.code(), Code::kCorrupt) << name << ": " << s.ToString();
    EXPECT_NE(s.message().find(std::string(name) + ": "), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("data at compressed offset"), std::string::npos) << s.message();
    EXPECT_EQ(verified, 0u) << name;  // one stream: nothing of it is vouched for
  }
  // Two streams, the second damaged: the first one's 900000 bytes are verified.
  for (const char* name : {"two.bz2", "two.xz"}) {
    std::string out;
    uint64_t verified = 0;
    EXPECT_EQ(Decode(name, &out, &verified).code(), Code::kCorrupt) << name;
    EXPECT_EQ(verified, 900000u) << name;
    EXPECT_EQ(out.compare(0, 900000, data_, 0, 900000), 0) << name;
  }
}

TEST_F(StreamCodecsTest, TrailingBytesAreIgnoredAndRandomDamageNeverCrashes) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; head -c 300000 d > small; xz -c small > s.xz; bzip2 -c small > s.bz2; "
                  "lz4 -q -c small > s.lz4; cp s.bz2 junk.bz2; printf 'junk' >> junk.bz2; "
                  "cp s.xz junk.xz; printf 'junk' >> junk.xz"),
            0);
  std::string out;
  for (const char* name : {"junk.bz2", "junk.xz"}) {
    ASSERT_TRUE(Decode(name, &out).ok()) << name;
    EXPECT_EQ(out.size(), 300000u) << name;
  }
  std::mt19937 rng(5);
  for (const char* name : {"s.xz", "s.bz2", "s.lz4"}) {
    const std::string good = Slurp(dir_ + "/" + name);
    for (int trial = 0; trial < 40; ++trial) {
      std::string bad = good;
      for (int k = 0; k < 3; ++k)
        bad[4 + rng() % (bad.size() - 4)] ^= static_cast<char>(1 + rng() % 255);
      if (trial % 4 == 0) bad.resize(rng() % bad.size() + 1);
      std::FILE* f = std::fopen((dir_ + "/bad").c_str(), "wb");
      std::fwrite(bad.data(), 1, bad.size(), f);
      std::fclose(f);
      Status s = Decode("bad", &out);
      if (!s.ok()) {
        EXPECT_TRUE(s.code() == Code::kCorrupt || s.code() == Code::kInvalid) << s.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace daqfs
