#include "tests/conformance/backend_conformance.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"
#include "cache/thread_pool.h"
#include "fs/backend_env.h"
#include "fs/inflight_limit.h"
#include "fs/source_decorators.h"
#include "fs/vfs.h"
#include "tests/testing/fault_sources.h"
#include "tests/testing/files.h"
#include "tests/testing/folder_blob_store.h"
#include "tests/testing/vfs_mount.h"

namespace daqfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// A backend the suite made, started with an environment of its own that outlives it: blobs in
// plain folders of the test's temp dir (so a .tar.zst can be spilled), no kernel. The one place
// that knows how a backend is started.
class StartedBackend final : public Backend {
 public:
  StartedBackend(std::unique_ptr<Backend> inner, const std::string& state)
      : blobs_((MakeDirs(state + "/small"), state + "/small"),
               (MakeDirs(state + "/large"), state + "/large")),
        inner_(std::move(inner)) {
    env_.source_name = "conformance";
    env_.source_label = Label("source", "conformance");
    env_.blobs = &blobs_;
    env_.invalidator = &invalidator_;
    env_.metrics = &metrics_;
    env_.clock = &clock_;
  }
  ~StartedBackend() override { inner_->Stop(); }
  Status Start(BackendEnv&) override { return inner_->Start(env_); }
  void Stop() override { inner_->Stop(); }
  void Forget(NodeId n) override { inner_->Forget(n); }
  Result<NodeId> Lookup(NodeId p, std::string_view n) override { return inner_->Lookup(p, n); }
  Result<Attr> GetAttr(NodeId n) override { return inner_->GetAttr(n); }
  Status ReadDir(NodeId d, uint64_t c, const EmitFn& e) override {
    return inner_->ReadDir(d, c, e);
  }
  Result<std::shared_ptr<ByteSource>> Open(NodeId n, const Caller& c) override {
    return inner_->Open(n, c);
  }
  Result<std::string> ReadLink(NodeId n) override { return inner_->ReadLink(n); }
  Result<std::vector<std::string>> ListXattr(NodeId n) override { return inner_->ListXattr(n); }
  Result<std::string> GetXattr(NodeId n, const std::string& k) override {
    return inner_->GetXattr(n, k);
  }
  std::vector<DirEntry> NextSiblings(NodeId d, std::string_view n, size_t m) override {
    return inner_->NextSiblings(d, n, m);
  }
  uint64_t TotalBytes() const override { return inner_->TotalBytes(); }
  uint64_t TotalNodes() const override { return inner_->TotalNodes(); }

 private:
  FolderBlobStore blobs_;
  NullInvalidator invalidator_;
  Metrics metrics_;
  SystemClock clock_;
  BackendEnv env_;
  std::unique_ptr<Backend> inner_;
};

std::unique_ptr<Backend> MakeStarted(ConformanceFlavour& f, const std::string& dir, bool rescan) {
  Result<std::unique_ptr<Backend>> b = f.MakeBackend(dir, rescan);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  if (!b.ok()) return nullptr;
  Backend* inner = b->get();
  static std::atomic<int> serial{0};
  auto started =
      std::make_unique<StartedBackend>(std::move(*b), dir + "/state-" + std::to_string(++serial));
  BackendEnv unused;
  Status s = started->Start(unused);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return nullptr;
  f.AfterStart(*inner);
  return started;
}

Result<NodeId> Resolve(Backend& b, const std::string& path) {
  NodeId node = kRootNode;
  for (const std::string& part : SplitPath(path)) {
    Result<NodeId> next = b.Lookup(node, part);
    if (!next.ok()) return next.status();
    node = *next;
  }
  return node;
}

// Every folder that holds an expected file, "" for the root.
std::set<std::string> Folders(const std::map<std::string, std::string>& files) {
  std::set<std::string> out = {""};
  for (const auto& [path, bytes] : files) {
    std::string p = path;
    while (p.find('/') != std::string::npos) {
      p = p.substr(0, p.rfind('/'));
      out.insert(p);
    }
  }
  return out;
}

// The listing of `dir` taken `piece` entries per ReadDir call (0 = all in one call).
std::vector<std::string> List(Backend& b, NodeId dir, size_t piece) {
  std::vector<std::string> names;
  uint64_t cookie = 0;
  for (int calls = 0; calls < 100000; ++calls) {
    size_t taken = 0;
    Status s = b.ReadDir(dir, cookie, [&](const DirEntry& e, uint64_t next) {
      if (piece != 0 && taken == piece) return false;
      names.push_back(e.name);
      cookie = next;
      ++taken;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (taken == 0 || piece == 0 || taken < piece) break;
  }
  return names;
}

// A mount without FUSE over one backend, reading through the real cache path.
struct Mount : VfsMount {
  Mount(std::unique_ptr<Backend> backend, CachePolicy policy)
      : VfsMount(std::move(backend), policy, 8 * kMiB, 4) {}
};

// Reads [off, off + n) of `file` through the Vfs; the bytes returned.
std::string ReadRange(Vfs& vfs, OpenFile& file, uint64_t off, size_t n) {
  std::string out(n, '\0');
  Result<size_t> got = vfs.Read(file, off, std::span(reinterpret_cast<uint8_t*>(out.data()), n));
  EXPECT_TRUE(got.ok()) << "read at " << off << ": " << got.status().ToString();
  out.resize(got.ok() ? *got : 0);
  return out;
}

std::string Expect(const std::string& bytes, uint64_t off, size_t n) {
  if (off >= bytes.size()) return "";
  return bytes.substr(off, n);
}

// The bytes of every block, read with ReadBlock.
std::string AllBlocks(ByteSource& s) {
  std::string out;
  for (uint64_t i = 0; i < s.BlockCount(); ++i) {
    BlockRange r = s.BlockRangeOf(i);
    std::string b(r.length, '\0');
    Status st = s.ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size()));
    EXPECT_TRUE(st.ok()) << "block " << i << ": " << st.ToString();
    out += b;
  }
  return out;
}

// Bytes of a resident block are exactly what the block reads (ReadBlock); counts it.
void ExpectResidentIsBlock(ByteSource& source, uint64_t index, uint64_t* resident) {
  std::optional<ByteSource::Resident> r = source.ResidentBlock(index);
  if (!r) return;
  ++*resident;
  const uint64_t len = source.BlockRangeOf(index).length;
  EXPECT_TRUE(r->keep) << "resident block " << index << " without an owner";
  Bytes b(len);
  EXPECT_TRUE(source.ReadBlock(index, b).ok());
  EXPECT_TRUE(r->bytes.size() == len && std::equal(b.begin(), b.end(), r->bytes.begin()))
      << "resident block " << index;
}

// Same block layout as `want`, same bytes by ReadBlock, ReadGroup and ReadAt. `same_names`:
// the same decode unit names too (false: `got` comes from another instance of a backend whose
// names are per instance). Adds the resident blocks and units of `got` to `*resident`.
void ExpectSameLayoutAndBytes(ByteSource& want, ByteSource& got, const std::string& bytes,
                              const std::string& what, bool same_names = true,
                              uint64_t* resident = nullptr) {
  uint64_t unused = 0;
  if (!resident) resident = &unused;
  SCOPED_TRACE(what);
  ASSERT_EQ(got.Size(), bytes.size());
  ASSERT_EQ(got.BlockCount(), want.BlockCount());
  for (uint64_t i = 0; i < want.BlockCount(); ++i) {
    BlockRange a = want.BlockRangeOf(i), b = got.BlockRangeOf(i);
    ASSERT_EQ(a.offset, b.offset) << "block " << i;
    ASSERT_EQ(a.length, b.length) << "block " << i;
    EXPECT_EQ(got.BlockOf(a.offset), i);
    EXPECT_EQ(got.BlockOf(a.offset + std::max<uint64_t>(a.length, 1) - 1), i);
    ByteSource::Group ga = want.GroupOf(i), gb = got.GroupOf(i);
    ExpectResidentIsBlock(got, i, resident);
    EXPECT_EQ(ga.first, gb.first) << "group of block " << i;
    EXPECT_EQ(ga.count, gb.count) << "group of block " << i;
    // The same decode units (what the cache keys and decodes once), with the same layout.
    std::vector<BlockPart> pa = want.PartsOf(i), pb = got.PartsOf(i);
    ASSERT_EQ(pa.size(), pb.size()) << "parts of block " << i;
    for (size_t k = 0; k < pa.size(); ++k) {
      ASSERT_EQ(!pa[k].units, !pb[k].units) << "part " << k << " of block " << i;
      EXPECT_EQ(pa[k].unit, pb[k].unit);
      EXPECT_EQ(pa[k].offset, pb[k].offset);
      EXPECT_EQ(pa[k].length, pb[k].length);
      if (!pa[k].units) continue;
      if (same_names) {
        EXPECT_EQ(pa[k].units->Identity(), pb[k].units->Identity());
      }
      ExpectResidentIsBlock(*pb[k].units, pb[k].unit, resident);
      EXPECT_EQ(pa[k].units->BlockCount(), pb[k].units->BlockCount());
      ByteSource::Group ua = pa[k].units->GroupOf(pa[k].unit);
      ByteSource::Group ub = pb[k].units->GroupOf(pb[k].unit);
      EXPECT_EQ(ua.first, ub.first);
      EXPECT_EQ(ua.count, ub.count);
    }
    // A streaming cursor where the source offers one (cache = none reads huge groups by it).
    if (ga.count > 1 && ga.first == i) {
      EXPECT_EQ(!want.OpenGroupCursor(i), !got.OpenGroupCursor(i)) << "cursor of block " << i;
    }
  }
  EXPECT_TRUE(AllBlocks(got) == bytes) << "ReadBlock bytes differ";
  // One ReadGroup per group: its blocks in order, each with its bytes.
  for (uint64_t i = 0; i < got.BlockCount();) {
    ByteSource::Group g = got.GroupOf(i);
    uint64_t next = g.first;
    Status st = got.ReadGroup(i, [&](uint64_t index, Bytes&& block) {
      EXPECT_EQ(index, next);
      BlockRange r = got.BlockRangeOf(index);
      EXPECT_TRUE(std::string(block.begin(), block.end()) == bytes.substr(r.offset, r.length))
          << "ReadGroup block " << index;
      ++next;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(next, g.first + g.count) << "ReadGroup of block " << i;
    i = g.first + std::max<uint64_t>(g.count, 1);
  }
  std::string all(bytes.size() + 10, '\0');
  Result<size_t> n = got.ReadAt(0, std::span(reinterpret_cast<uint8_t*>(all.data()), all.size()));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  all.resize(*n);
  EXPECT_TRUE(all == bytes) << "ReadAt bytes differ";
}

}  // namespace

std::string FlavourName(const ::testing::TestParamInfo<FlavourPtr>& info) {
  return info.param->Name();
}

void BackendConformanceTest::SetUp() {
  auto temp = std::make_shared<TempDir>("conformance");
  dir_ = temp->path();
  temp_ = temp;
  expected_ = flavour().MakeData(dir_);
  ASSERT_FALSE(expected_.empty());
}

TEST_P(BackendConformanceTest, LookupFindsEveryFileWithItsSize) {
  std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
  ASSERT_TRUE(b);
  for (const auto& [path, bytes] : expected_) {
    Result<NodeId> node = Resolve(*b, path);
    ASSERT_TRUE(node.ok()) << path << ": " << node.status().ToString();
    Result<Attr> a = b->GetAttr(*node);
    ASSERT_TRUE(a.ok()) << path;
    EXPECT_EQ(a->type, NodeType::kFile) << path;
    EXPECT_EQ(a->size, bytes.size()) << path;
  }
  for (const std::string& folder : Folders(expected_)) {
    Result<NodeId> node = Resolve(*b, folder);
    ASSERT_TRUE(node.ok()) << folder;
    Result<Attr> a = b->GetAttr(*node);
    ASSERT_TRUE(a.ok()) << folder;
    EXPECT_EQ(a->type, NodeType::kDirectory) << folder;
  }
}

TEST_P(BackendConformanceTest, MissingNamesAreNotFoundTwice) {
  std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
  ASSERT_TRUE(b);
  for (const std::string& folder : Folders(expected_)) {
    Result<NodeId> node = Resolve(*b, folder);
    ASSERT_TRUE(node.ok()) << folder;
    for (int i = 0; i < 2; ++i) {
      Result<NodeId> missing = b->Lookup(*node, "no-such-entry.dat");
      EXPECT_EQ(missing.status().code(), Code::kNotFound) << folder << " try " << i;
    }
  }
}

TEST_P(BackendConformanceTest, ReadDirInPiecesEqualsTheWholeListing) {
  std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
  ASSERT_TRUE(b);
  for (const std::string& folder : Folders(expected_)) {
    SCOPED_TRACE("folder '" + folder + "'");
    Result<NodeId> node = Resolve(*b, folder);
    ASSERT_TRUE(node.ok());
    std::vector<std::string> whole = List(*b, *node, 0);
    ASSERT_FALSE(whole.empty());
    std::set<std::string> unique(whole.begin(), whole.end());
    EXPECT_EQ(unique.size(), whole.size()) << "a name listed twice";
    std::set<std::string> files_here;  // expected files directly in `folder`
    for (const auto& [path, bytes] : expected_) {
      size_t slash = path.rfind('/');
      if ((slash == std::string::npos ? "" : path.substr(0, slash)) == folder) {
        files_here.insert(slash == std::string::npos ? path : path.substr(slash + 1));
      }
    }
    EXPECT_TRUE(std::includes(unique.begin(), unique.end(), files_here.begin(), files_here.end()))
        << "a file missing from the listing";
    for (size_t piece : {1, 2, 3}) EXPECT_EQ(List(*b, *node, piece), whole) << piece;
  }
}

TEST_P(BackendConformanceTest, ReadDirResumesWhileTheFolderGrows) {
  std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, true);
  ASSERT_TRUE(b);
  Result<NodeId> folder = Resolve(*b, flavour().GrowFolder());
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  const NodeId dir = *folder;
  std::vector<std::string> before = List(*b, dir, 0);
  ASSERT_GE(before.size(), 2u);
  std::vector<std::string> seen;
  uint64_t cookie = 0;
  int grown = 0;
  for (;;) {
    size_t taken = 0;
    Status s = b->ReadDir(dir, cookie, [&](const DirEntry& e, uint64_t next) {
      if (taken == 1) return false;
      seen.push_back(e.name);
      cookie = next;
      ++taken;
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (taken == 0) break;
    if (grown < 3) {
      std::string name = flavour().Grow(dir_, ++grown);
      if (name.empty()) GTEST_SKIP() << flavour().Name() << " cannot grow";
      // Wait (bounded) until the backend shows the new entry: the state under test.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!b->Lookup(dir, name).ok() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ASSERT_TRUE(b->Lookup(dir, name).ok()) << name << " never appeared";
    }
  }
  ASSERT_EQ(grown, 3) << "the listing ended before the folder grew";
  std::map<std::string, int> count;
  for (const std::string& n : seen) ++count[n];
  for (const std::string& n : before) EXPECT_EQ(count[n], 1) << n << " lost or repeated";
  for (const auto& [n, c] : count) EXPECT_EQ(c, 1) << n << " repeated";
}

TEST_P(BackendConformanceTest, ReadsAtEdgesThroughTheReadPathForEveryPolicy) {
  for (CachePolicy policy :
       {CachePolicy::kAuto, CachePolicy::kNone, CachePolicy::kMemory, CachePolicy::kDisk}) {
    SCOPED_TRACE("policy " + std::to_string(static_cast<int>(policy)));
    std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
    ASSERT_TRUE(b);
    Mount m(std::move(b), policy);
    for (const auto& [path, bytes] : expected_) {
      SCOPED_TRACE(path);
      Result<uint64_t> ino = m.Ino(path);
      ASSERT_TRUE(ino.ok()) << ino.status().ToString();
      Result<Attr> a = m.vfs->GetAttr(*ino);
      ASSERT_TRUE(a.ok());
      ASSERT_EQ(a->size, bytes.size());
      Result<std::unique_ptr<OpenFile>> f = m.vfs->Open(*ino, O_RDONLY, Caller{});
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      Vfs& v = *m.vfs;
      uint64_t size = bytes.size();
      EXPECT_TRUE(ReadRange(v, **f, 0, 4096) == Expect(bytes, 0, 4096)) << "at 0";
      EXPECT_TRUE(ReadRange(v, **f, size / 2, 100000) == Expect(bytes, size / 2, 100000))
          << "middle";
      uint64_t tail = size - std::min<uint64_t>(size, 1000);
      EXPECT_TRUE(ReadRange(v, **f, tail, 5000) == Expect(bytes, tail, 5000)) << "end";
      EXPECT_EQ(ReadRange(v, **f, size, 4096), "") << "at end";
      EXPECT_EQ(ReadRange(v, **f, size + 12345, 4096), "") << "past end";
      // Whole, in odd pieces that cross every block edge.
      std::string whole;
      while (whole.size() < size) {
        std::string piece = ReadRange(v, **f, whole.size(), 777777);
        ASSERT_FALSE(piece.empty()) << "short read at " << whole.size();
        whole += piece;
      }
      EXPECT_TRUE(whole == bytes) << "whole file differs";
    }
  }
}

TEST_P(BackendConformanceTest, ConcurrentReadersSeeTheSourceBytes) {
  std::string path;
  for (const auto& [p, bytes] : expected_) {
    if (path.empty() || bytes.size() > expected_[path].size()) path = p;
  }
  const std::string& want = expected_[path];
  for (CachePolicy policy : {CachePolicy::kAuto, CachePolicy::kMemory}) {
    std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
    ASSERT_TRUE(b);
    Mount m(std::move(b), policy);
    Result<uint64_t> ino = m.Ino(path);
    ASSERT_TRUE(ino.ok());
    std::atomic<int> bad{0}, reads{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        Result<std::unique_ptr<OpenFile>> f = m.vfs->Open(*ino, O_RDONLY, Caller{});
        if (!f.ok()) {
          ++bad;
          return;
        }
        std::mt19937_64 rng(t);
        for (int i = 0; i < 100; ++i) {
          uint64_t off = rng() % (want.size() + 1000);
          size_t n = 1 + rng() % 300000;
          std::string got(n, '\0');
          Result<size_t> r =
              m.vfs->Read(**f, off, std::span(reinterpret_cast<uint8_t*>(got.data()), n));
          if (!r.ok()) {
            ++bad;
            continue;
          }
          got.resize(*r);
          if (got != Expect(want, off, n)) ++bad;
          ++reads;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0) << path << " policy " << static_cast<int>(policy);
    EXPECT_EQ(reads.load(), 800);
  }
}

TEST_P(BackendConformanceTest, EveryDecoratorKeepsTheBlockLayoutAndBytes) {
  std::unique_ptr<Backend> b = MakeStarted(flavour(), dir_, false);
  ASSERT_TRUE(b);
  auto wrapping = std::make_unique<WrappingBackend>(
      MakeStarted(flavour(), dir_, false), [&](std::shared_ptr<ByteSource> s) {
        return std::shared_ptr<ByteSource>(std::make_shared<ForwardingSource>(std::move(s)));
      });
  uint64_t resident = 0;
  for (const auto& [path, bytes] : expected_) {
    SCOPED_TRACE(path);
    Result<NodeId> node = Resolve(*b, path);
    ASSERT_TRUE(node.ok());
    Result<std::shared_ptr<ByteSource>> raw = b->Open(*node, Caller{});
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    ExpectSameLayoutAndBytes(**raw, **raw, bytes, "the source itself", true, &resident);
    ForwardingSource forwarding(*raw);
    ExpectSameLayoutAndBytes(**raw, forwarding, bytes, "ForwardingSource");
    LatencySource latency(*raw, std::chrono::milliseconds(0));
    ExpectSameLayoutAndBytes(**raw, latency, bytes, "LatencySource");
    FaultySource faulty(*raw, FaultySource::Faults{});
    ExpectSameLayoutAndBytes(**raw, faulty, bytes, "FaultySource");
    InflightLimitedSource limited(*raw, std::make_shared<InflightLimit>("conformance", 4, 10.0));
    ExpectSameLayoutAndBytes(**raw, limited, bytes, "InflightLimitedSource");
    Result<NodeId> wnode = Resolve(*wrapping, path);
    ASSERT_TRUE(wnode.ok());
    Result<std::shared_ptr<ByteSource>> wrapped = wrapping->Open(*wnode, Caller{});
    ASSERT_TRUE(wrapped.ok());
    ExpectSameLayoutAndBytes(**raw, **wrapped, bytes, "WrappingBackend",
                             !flavour().UnitNamesPerInstance());
  }
  if (flavour().HasResidentBlocks()) {
    EXPECT_GT(resident, 0u) << "no resident block found in a flavour that has them";
  }
}

}  // namespace daqfs::testing
