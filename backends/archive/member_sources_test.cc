// Archive member sources read through the real cache path (a test-only link to daqfs_cache):
// decode counts for a huge single frame under every decorator and without a cache, and for a
// cold member-by-member scan of a .tar.zst whose frames do not line up with its members.
#include "backends/archive/member_sources.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "backends/archive/tar_backend.h"
#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"
#include "cache/tiered_block_cache.h"
#include "fs/inflight_limit.h"
#include "fs/source_decorators.h"
#include "tests/testing/fault_sources.h"
#include "tests/testing/files.h"
#include "tests/testing/test_env.h"

namespace daqfs {
namespace {

using testing::FaultySource;
using testing::Slurp;

constexpr uint64_t kMiB = 1 << 20;

// Runs every task at once on the caller's thread: prefetches happen in a known order.
class InlineExecutor final : public Executor {
 public:
  bool Submit(std::function<void()> task) override {
    task();
    return true;
  }
};

// An SSD tier that drops every write (a full queue): whatever leaves RAM must be decoded again.
class DroppingTier final : public BlockCache {
 public:
  Block Get(const BlockKey&) override { return nullptr; }
  void Put(const BlockKey&, const Block&, double) override {}
  bool Contains(const BlockKey&) override { return false; }
};

class MemberSourcesTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  std::string dir_ = tmp_.path();

  // A 64 MiB file compressed as ONE zstd frame: its ZstdSliceSource (64 sub-blocks, one group).
  std::shared_ptr<ZstdSliceSource> HugeFrame() {
    std::string cmd = "set -e; cd " + dir_ +
                      "; seq 1 20000000 | head -c 67108864 > big;"
                      "zstd -q --single-thread big -o big.zst";
    EXPECT_EQ(std::system(("bash -c '" + cmd + "'").c_str()), 0);
    want_ = Slurp(dir_ + "/big");
    Result<UniqueFd> fd = OpenReadOnly(dir_ + "/big.zst");
    EXPECT_TRUE(fd.ok());
    auto ufd = std::make_shared<UniqueFd>(std::move(*fd));
    struct stat st {};
    fstat(ufd->get(), &st);
    Result<ZstdIndex> idx =
        IndexZstd([&](uint64_t off,
                      std::span<uint8_t> out) { return PreadFull(ufd->get(), off, out, "big"); },
                  static_cast<uint64_t>(st.st_size), "big.zst");
    EXPECT_TRUE(idx.ok());
    EXPECT_EQ(idx->frames.size(), 1u);
    return std::make_shared<ZstdSliceSource>(
        ufd, "big.zst", 0, std::make_shared<const std::vector<ZstdFrame>>(idx->frames), "big");
  }

  // Reads `source` from start to end in 1 MiB requests; true if the bytes match want_.
  bool ReadSequentially(FileReader& reader, uint64_t size) {
    std::vector<uint8_t> buf(kMiB);
    for (uint64_t pos = 0; pos < size; pos += kMiB) {
      Result<size_t> n = reader.Read(pos, buf);
      if (!n.ok() || *n != std::min<uint64_t>(kMiB, size - pos)) return false;
      if (memcmp(buf.data(), want_.data() + pos, *n) != 0) return false;
    }
    return true;
  }

  std::string want_;
};

// Issue 8, 6(a): a decorator that forgot GroupOf/ReadGroup turned one streaming decode of a
// huge frame into one per 1 MiB sub-block. Every decorator, alone and stacked, keeps it at one.
TEST_F(MemberSourcesTest, EveryDecoratorKeepsOneDecodePerHugeFrame) {
  std::shared_ptr<ZstdSliceSource> frame = HugeFrame();
  ASSERT_EQ(frame->BlockCount(), 64u);
  ASSERT_EQ(frame->GroupOf(10).count, 64u);
  using Wrap = std::function<std::shared_ptr<ByteSource>(std::shared_ptr<ByteSource>)>;
  std::vector<std::pair<std::string, Wrap>> wraps = {
      {"forwarding", [](auto s) { return std::make_shared<ForwardingSource>(s); }},
      {"latency",
       [](auto s) { return std::make_shared<LatencySource>(s, std::chrono::milliseconds(0)); }},
      {"faulty", [](auto s) { return std::make_shared<FaultySource>(s, FaultySource::Faults{}); }},
      {"in-flight limit",
       [](auto s) {
         return std::make_shared<InflightLimitedSource>(
             s, std::make_shared<InflightLimit>("t", 4, 10.0));
       }},
      {"all stacked",
       [](auto s) {
         return std::make_shared<InflightLimitedSource>(
             std::make_shared<FaultySource>(
                 std::make_shared<LatencySource>(std::make_shared<ForwardingSource>(s),
                                                 std::chrono::milliseconds(0)),
                 FaultySource::Faults{}),
             std::make_shared<InflightLimit>("t", 4, 10.0));
       }},
  };
  for (const auto& [name, wrap] : wraps) {
    std::shared_ptr<ByteSource> src = wrap(frame);
    EXPECT_EQ(src->GroupOf(10).count, 64u) << name;
    for (CachePolicy policy : {CachePolicy::kMemory, CachePolicy::kNone}) {
      MemoryBlockCache memory(256 * kMiB, nullptr);
      CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, nullptr);
      path.SetPolicy(0, policy);
      auto reader = path.Open(src, FileContext{});
      EXPECT_TRUE(ReadSequentially(*reader, src->Size())) << name;
      EXPECT_EQ(path.fetcher().decodes(), 1u) << name << " policy " << static_cast<int>(policy);
    }
  }
}

// Issue 8, 6(b): with cache = none a huge frame is decoded once by a sequential reader (a
// streaming cursor per handle) and never held whole: about 1 MiB of output plus the decoder.
TEST_F(MemberSourcesTest, WithoutCacheAHugeFrameIsDecodedOnceInLittleMemory) {
  std::shared_ptr<ZstdSliceSource> frame = HugeFrame();
  MemoryBlockCache memory(256 * kMiB, nullptr);
  CachedReadPath path(ReadPathOptions{}, &memory, nullptr, nullptr, nullptr);
  path.SetPolicy(0, CachePolicy::kNone);
  auto reader = path.Open(frame, FileContext{});
  ASSERT_TRUE(ReadSequentially(*reader, frame->Size()));
  EXPECT_EQ(path.fetcher().decodes(), 1u);
  EXPECT_GT(path.peak_cursor_bytes(), 0u);
  EXPECT_LE(path.peak_cursor_bytes(), 6 * kMiB);  // 2 kept sub-blocks, input, zstd window
  EXPECT_EQ(memory.bytes(), 0u);
  std::printf("cache = none, 64 MiB frame: %llu decode(s), peak %.2f MiB buffered\n",
              static_cast<unsigned long long>(path.fetcher().decodes()),
              static_cast<double>(path.peak_cursor_bytes()) / kMiB);
  // Going back restarts the decode, once.
  std::vector<uint8_t> buf(kMiB);
  ASSERT_TRUE(reader->Read(3 * kMiB, buf).ok());
  EXPECT_EQ(memcmp(buf.data(), want_.data() + 3 * kMiB, kMiB), 0);
  ASSERT_TRUE(reader->Read(4 * kMiB, buf).ok());
  EXPECT_EQ(memcmp(buf.data(), want_.data() + 4 * kMiB, kMiB), 0);
  EXPECT_EQ(path.fetcher().decodes(), 2u);
}

// Issue 8, 6(e) and item 5: a t2sz-like .tar.zst (1 MiB frames of the tar stream, not lined up
// with members or reads) read cold member by member with 1 MiB reads, prefetch on, RAM over an
// SSD tier that keeps nothing: every frame is decoded exactly once, also the frames two
// members share, because a scan releases a frame from RAM only after reading its last byte.
TEST_F(MemberSourcesTest, ColdMemberByMemberScanOfATarZstDecodesEachFrameOnce) {
  std::string cmd =
      "set -e; cd " + dir_ +
      "; mkdir src; i=0; for k in 1300 2700 500 3100 900 4200 77 1800; do i=$((i+1)); head -c "
      "$((k*1024+i*17)) /dev/urandom > src/m$i; done; tar -cf a.tar -C src m1 m2 m3 m4 m5 m6 m7 m8";
  ASSERT_EQ(std::system(("bash -c '" + cmd + "'").c_str()), 0);
  std::string tar = Slurp(dir_ + "/a.tar");
  std::vector<uint8_t> z = CompressSeekable(
      std::span(reinterpret_cast<const uint8_t*>(tar.data()), tar.size()), kMiB, 1);
  std::ofstream(dir_ + "/a.tar.zst", std::ios::binary)
      .write(reinterpret_cast<const char*>(z.data()), static_cast<std::streamsize>(z.size()));
  testing::TestBackendEnv env;  // outlives the backend
  Result<std::unique_ptr<TarBackend>> b = TarBackend::Create("t", dir_ + "/a.tar.zst");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  TarBackend& backend = **b;
  ASSERT_TRUE(backend.Start(env.env).ok());  // indexes the archive
  Result<NodeId> top = backend.Lookup(kRootNode, "a.tar.zst");
  ASSERT_TRUE(top.ok());

  MemoryBlockCache ram(256 * kMiB, nullptr);
  DroppingTier ssd;
  InlineExecutor executor;
  ReadPathOptions o;
  o.prefetch_window_bytes = 4 * kMiB;
  CachedReadPath path(o, &ram, &ssd, &executor, nullptr);
  std::set<uint64_t> frames_touched;
  int shared_frames = 0;
  uint64_t last_unit = UINT64_MAX;
  std::vector<uint8_t> buf(kMiB);
  for (int i = 1; i <= 8; ++i) {
    std::string name = "m" + std::to_string(i);
    Result<NodeId> node = backend.Lookup(*top, name);
    ASSERT_TRUE(node.ok()) << name;
    Result<std::shared_ptr<ByteSource>> src = backend.Open(*node, Caller{});
    ASSERT_TRUE(src.ok());
    for (uint64_t bl = 0; bl < (*src)->BlockCount(); ++bl) {
      std::vector<BlockPart> parts = (*src)->PartsOf(bl);
      ASSERT_EQ(parts.size(), 1u);
      if (bl == 0 && parts[0].unit == last_unit) ++shared_frames;
      frames_touched.insert(parts[0].unit);
      last_unit = parts[0].unit;
    }
    std::string want = Slurp(dir_ + "/src/" + name);
    auto reader = path.Open(*src, FileContext{});
    for (uint64_t pos = 0; pos < want.size(); pos += kMiB) {
      Result<size_t> n = reader->Read(pos, buf);
      ASSERT_TRUE(n.ok());
      ASSERT_EQ(*n, std::min<uint64_t>(kMiB, want.size() - pos));
      ASSERT_EQ(memcmp(buf.data(), want.data() + pos, *n), 0) << name << " at " << pos;
    }
  }
  EXPECT_GE(shared_frames, 3);  // members really share frames here
  EXPECT_GE(frames_touched.size(), 14u);
  EXPECT_EQ(path.fetcher().decodes(), frames_touched.size());
  EXPECT_GT(path.prefetch_issued(), 0u);
  // A scan lets go of a prefetched frame in RAM once it has read its last byte (this SSD tier
  // kept none: such frames are cheaper to decode again than to keep), never before: the
  // frames two members share were decoded once all the same.
  EXPECT_LT(ram.bytes(), frames_touched.size() * kMiB);
}

}  // namespace
}  // namespace daqfs
