#include "fs/vfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <set>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

// Every read fails as corrupt data would (a bad zstd frame, a checksum mismatch).
class CorruptSource final : public ByteSource {
 public:
  uint64_t Size() const override { return 5; }
  std::string Identity() const override { return "corrupt"; }
  Status ReadBlock(uint64_t, std::span<uint8_t>) override { return Corrupt("bad frame"); }
  Result<size_t> ReadAt(uint64_t, std::span<uint8_t>) override { return Corrupt("bad frame"); }
};

// A tiny in-memory tree: root -> {a.txt, sub/ -> {b.txt}, many/ -> 500 files, link}.
class FakeBackend : public Backend {
 public:
  FakeBackend() {
    Add(1, 0, "", NodeType::kDirectory, "");
    Add(2, 1, "a.txt", NodeType::kFile, "alpha");
    Add(3, 1, "sub", NodeType::kDirectory, "");
    Add(4, 3, "b.txt", NodeType::kFile, "bravo!");
    Add(5, 1, "many", NodeType::kDirectory, "");
    Add(6, 1, "link", NodeType::kSymlink, "a.txt");
    nodes_[2].attr.mode = 06755;  // a.txt as a setuid/setgid program
    for (NodeId i = 0; i < 500; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "f%llu", static_cast<unsigned long long>(i));
      Add(100 + i, 5, name, NodeType::kFile, "x");
    }
  }
  Result<NodeId> Lookup(NodeId parent, std::string_view name) override {
    for (auto& [id, n] : nodes_)
      if (n.parent == parent && n.name == name) return id;
    return NotFound(std::string(name));
  }
  Result<Attr> GetAttr(NodeId node) override {
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return NotFound("node");
    return it->second.attr;
  }
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override {
    std::vector<NodeId> kids;
    for (auto& [id, n] : nodes_)
      if (n.parent == dir && id != 1) kids.push_back(id);
    for (uint64_t i = cookie; i < kids.size(); ++i) {
      const FakeNode& n = nodes_[kids[i]];
      if (!emit(DirEntry{n.name, kids[i], n.attr}, i + 1)) break;
    }
    return Status::Ok();
  }
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override {
    if (caller.uid == 4242) return Status(Code::kPermission, "denied");
    if (corrupt) return std::shared_ptr<ByteSource>(std::make_shared<CorruptSource>());
    return std::shared_ptr<ByteSource>(std::make_shared<MemorySource>(nodes_[node].data, "id"));
  }
  Result<std::vector<std::string>> ListXattr(NodeId) override {
    return std::vector<std::string>{"user.origin", "user.daqfs.archive", "user.daqfs.offset"};
  }
  Result<std::string> GetXattr(NodeId, const std::string& name) override {
    if (name == "user.origin" || name == "user.daqfs.archive") return "v:" + name;
    return Status(Code::kNoAttr, name);
  }
  Status Start(BackendEnv& env) override {
    env.metrics->AddCounter("fake_backend_total", "registered by the backend", env.source_label)
        .Add(3);
    return Status::Ok();
  }
  bool corrupt = false;  // every opened file fails its reads as corrupt

  Result<std::string> ReadLink(NodeId node) override {
    if (nodes_[node].attr.type != NodeType::kSymlink) return Status(Code::kNotLink, "");
    return nodes_[node].data;
  }

 private:
  struct FakeNode {
    NodeId parent;
    std::string name;
    Attr attr;
    std::string data;
  };
  void Add(NodeId id, NodeId parent, std::string name, NodeType t, std::string data) {
    Attr a;
    a.type = t;
    a.mode = t == NodeType::kDirectory ? 0755 : 0644;
    a.size = data.size();
    a.uid = 1000;
    nodes_[id] = FakeNode{parent, std::move(name), a, std::move(data)};
  }
  std::map<NodeId, FakeNode> nodes_;
};

std::vector<Vfs::Source> TwoSources() {
  std::vector<Vfs::Source> s;
  s.push_back({"one", std::make_unique<FakeBackend>()});
  s.push_back({"two", std::make_unique<FakeBackend>()});
  return s;
}

std::vector<std::string> ListAll(Vfs& vfs, uint64_t ino, bool plus, size_t batch) {
  std::vector<std::string> names;
  uint64_t off = 0;
  for (;;) {
    size_t taken = 0;
    uint64_t next_off = off;
    Status s =
        vfs.ReadDir(ino, off, plus, [&](std::string_view n, uint64_t, const Attr&, uint64_t next) {
          if (taken == batch) return false;
          names.emplace_back(n);
          ++taken;
          next_off = next;
          return true;
        });
    EXPECT_TRUE(s.ok());
    if (taken == 0) break;
    off = next_off;
  }
  return names;
}

TEST(VfsTest, RootListsSourcesAndHidesTheControlFolder) {
  Vfs vfs(TwoSources(), {});
  auto names = ListAll(vfs, 1, false, 100);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "one", "two"}));
  for (size_t batch : {1, 2, 3}) EXPECT_EQ(ListAll(vfs, 1, true, batch), names);
  EXPECT_TRUE(vfs.Lookup(1, ".daqfs").ok());  // reachable by name
  Result<Vfs::Entry> one = vfs.Lookup(1, "one");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->attr.type, NodeType::kDirectory);
  Result<Vfs::Entry> a = vfs.Lookup(one->ino, "a.txt");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attr.size, 5u);
}

TEST(VfsTest, SingleSourceRootIsTheSourceWithHiddenControlFolder) {
  std::vector<Vfs::Source> s;
  s.push_back({"only", std::make_unique<FakeBackend>()});
  VfsOptions o;
  o.single_source = true;
  Vfs vfs(std::move(s), o);
  auto names = ListAll(vfs, 1, false, 100);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "a.txt", "sub", "many", "link"}));
  for (size_t batch : {1, 2, 5}) EXPECT_EQ(ListAll(vfs, 1, true, batch), names);
  EXPECT_TRUE(vfs.Lookup(1, "a.txt").ok());
  EXPECT_TRUE(vfs.Lookup(1, ".daqfs").ok());
}

TEST(VfsTest, NotFoundTwiceAndStaleInode) {
  Vfs vfs(TwoSources(), {});
  for (int i = 0; i < 2; ++i) {
    Result<Vfs::Entry> e = vfs.Lookup(1, "missing");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().ToErrno(), ENOENT);
  }
  EXPECT_EQ(vfs.GetAttr(999999).status().ToErrno(), ENOENT);
}

TEST(VfsTest, ReaddirIsResumableInAnyBatchSize) {
  Vfs vfs(TwoSources(), {});
  uint64_t one = vfs.Lookup(1, "one")->ino;
  uint64_t many = vfs.Lookup(one, "many")->ino;
  auto full = ListAll(vfs, many, false, 1000);
  ASSERT_EQ(full.size(), 502u);
  for (size_t batch : {1, 7, 64}) EXPECT_EQ(ListAll(vfs, many, false, batch), full);
}

TEST(VfsTest, ReaddirPlusTakesOneLookupPerTakenEntry) {
  Vfs vfs(TwoSources(), {});
  uint64_t one = vfs.Lookup(1, "one")->ino;
  size_t before = vfs.inodes().size();
  auto names = ListAll(vfs, one, true, 2);  // batches of 2 force refused entries
  EXPECT_EQ(names.size(), 6u);              // . .. a.txt sub many link
  EXPECT_EQ(vfs.inodes().size(), before + 4);
  // One forget per readdirplus entry releases them all.
  uint64_t a = vfs.Lookup(one, "a.txt")->ino;  // now 2 references
  vfs.Forget(a, 2);
  EXPECT_FALSE(vfs.GetAttr(a).ok());
}

TEST(VfsTest, OpenRefusesWritesAndDirectories) {
  Vfs vfs(TwoSources(), {});
  uint64_t one = vfs.Lookup(1, "one")->ino;
  uint64_t a = vfs.Lookup(one, "a.txt")->ino;
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_APPEND}) {
    EXPECT_EQ(vfs.Open(a, flags, {}).status().ToErrno(), EROFS) << flags;
  }
  EXPECT_EQ(vfs.Open(one, O_RDONLY, {}).status().ToErrno(), EISDIR);
  Caller other;
  other.uid = 4242;
  EXPECT_EQ(vfs.Open(a, O_RDONLY, other).status().ToErrno(), EACCES);
  Result<std::unique_ptr<OpenFile>> f = vfs.Open(a, O_RDONLY, {});
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> buf(16);
  Result<size_t> n = vfs.Read(**f, 1, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + *n), "lpha");
  EXPECT_EQ(vfs.stats().bytes_read(), 4u);
}

TEST(VfsTest, ControlStatsFileRendersCounters) {
  Vfs vfs(TwoSources(), {});
  vfs.stats().Count(Op::kRead, false);
  uint64_t ctl = vfs.Lookup(1, ".daqfs")->ino;
  Result<Vfs::Entry> st = vfs.Lookup(ctl, "stats");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->attr.dynamic);
  auto f = vfs.Open(st->ino, O_RDONLY, {});
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> buf(4096);
  size_t n = *vfs.Read(**f, 0, buf);
  std::string text(buf.begin(), buf.begin() + n);
  // The operations table: name, requests, errors (then latency columns).
  EXPECT_NE(text.find("\nread                    1        0 "), std::string::npos) << text;
  // Figures the table shows are not dumped again.
  EXPECT_EQ(text.find("daqfs_fuse_requests_total"), std::string::npos) << text;
}

TEST(VfsTest, CountsOpensBytesAndErrorsPerSource) {
  std::vector<Vfs::Source> sources = TwoSources();
  auto bad = std::make_unique<FakeBackend>();
  bad->corrupt = true;
  sources[1].backend = std::move(bad);
  Vfs vfs(std::move(sources), {});
  std::vector<uint8_t> buf(16);
  uint64_t one = vfs.Lookup(1, "one")->ino;
  auto good = vfs.Open(vfs.Lookup(one, "a.txt")->ino, O_RDONLY, {});
  ASSERT_TRUE(good.ok());
  ASSERT_EQ(*vfs.Read(**good, 0, buf), 5u);
  ASSERT_TRUE(vfs.ReadPieces(**good, 1, 16).ok());
  uint64_t two = vfs.Lookup(1, "two")->ino;
  auto broken = vfs.Open(vfs.Lookup(two, "a.txt")->ino, O_RDONLY, {});
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ(vfs.Read(**broken, 0, buf).status().code(), Code::kCorrupt);
  EXPECT_FALSE(vfs.ReadPieces(**broken, 0, 4).ok());

  Metrics& m = vfs.stats().metrics();
  const std::string one_l = Label("source", "one"), two_l = Label("source", "two");
  EXPECT_EQ(m.Value("daqfs_opens_total", one_l), 1);
  EXPECT_EQ(m.Value("daqfs_read_bytes_total", one_l), 9);  // 5 + 4
  EXPECT_EQ(m.Value("daqfs_read_errors_total", one_l), 0);
  EXPECT_EQ(m.Value("daqfs_opens_total", two_l), 1);
  EXPECT_EQ(m.Value("daqfs_read_bytes_total", two_l), 0);
  EXPECT_EQ(m.Value("daqfs_read_errors_total", two_l), 2);
  EXPECT_EQ(m.Value("daqfs_corrupt_reads_total", two_l), 2);
  EXPECT_EQ(m.Value("daqfs_opens_total", Label("source", ".daqfs")), 0);
  EXPECT_EQ(vfs.stats().bytes_read(), 9u);
  // Each backend registers its own metrics under its source label, at Start.
  EXPECT_FALSE(m.Value("fake_backend_total", one_l));
  ASSERT_TRUE(vfs.Start().ok());
  EXPECT_EQ(m.Value("fake_backend_total", one_l), 3);
  EXPECT_EQ(m.Value("fake_backend_total", two_l), 3);
}

TEST(VfsTest, OwnerOverrideAppliesEverywhere) {
  VfsOptions o;
  o.uid = 7;
  o.gid = 8;
  Vfs vfs(TwoSources(), o);
  uint64_t one = vfs.Lookup(1, "one")->ino;
  Result<Vfs::Entry> a = vfs.Lookup(one, "a.txt");
  EXPECT_EQ(a->attr.uid, 7u);
  EXPECT_EQ(a->attr.gid, 8u);
  Status s = vfs.ReadDir(one, 0, false, [](std::string_view, uint64_t, const Attr& attr, uint64_t) {
    EXPECT_EQ(attr.uid, 7u);
    return true;
  });
  EXPECT_TRUE(s.ok());
}

TEST(VfsTest, NoNodeIsShownSetuidOrSetgid) {
  Vfs vfs(TwoSources(), {});
  uint64_t one = vfs.Lookup(1, "one")->ino;
  Result<Vfs::Entry> a = vfs.Lookup(one, "a.txt");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attr.mode, 0755u);  // stored 06755
  EXPECT_EQ(vfs.GetAttr(a->ino)->mode, 0755u);
  int seen = 0;
  Status s =
      vfs.ReadDir(one, 0, true, [&](std::string_view n, uint64_t, const Attr& attr, uint64_t) {
        if (n == "a.txt") {
          EXPECT_EQ(attr.mode, 0755u);
          ++seen;
        }
        return true;
      });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(seen, 1);
}

TEST(VfsTest, DaqfsAttributesAreReadableButListedOnlyOnRequest) {
  for (bool list : {false, true}) {
    VfsOptions o;
    o.list_daqfs_xattrs = list;
    Vfs vfs(TwoSources(), o);
    uint64_t one = vfs.Lookup(1, "one")->ino;
    uint64_t a = vfs.Lookup(one, "a.txt")->ino;
    Result<std::vector<std::string>> names = vfs.ListXattr(a);
    ASSERT_TRUE(names.ok());
    std::vector<std::string> want = {"user.origin"};
    if (list) want = {"user.origin", "user.daqfs.archive", "user.daqfs.offset"};
    EXPECT_EQ(*names, want);
    EXPECT_EQ(*vfs.GetXattr(a, "user.daqfs.archive"), "v:user.daqfs.archive");
    EXPECT_EQ(*vfs.GetXattr(a, "user.origin"), "v:user.origin");
  }
}

TEST(VfsTest, StatFsReportsTheCacheSpaceAndFreeInodes) {
  Vfs vfs(TwoSources(), {});
  Vfs::FsStat plain = vfs.StatFs();  // no cache: content size, all free, never 100% full
  EXPECT_EQ(plain.blocks, plain.blocks_free);
  EXPECT_GT(plain.files, 0u);
  EXPECT_GT(plain.files_free, 0u);
  vfs.SetSpace([] { return FsSpace{64ull << 30, 16ull << 30}; });
  Vfs::FsStat st = vfs.StatFs();
  EXPECT_EQ(st.block_size, 4096u);
  EXPECT_EQ(st.blocks, (64ull << 30) / 4096);
  EXPECT_EQ(st.blocks_free, (16ull << 30) / 4096);
  EXPECT_GT(st.files_free, 0u);
  EXPECT_GE(st.files, st.files_free);
  vfs.SetSpace([] { return FsSpace{4096 * 10, 4096 * 20}; });  // free is capped by the total
  EXPECT_EQ(vfs.StatFs().blocks_free, 10u);
}

TEST(VfsTest, ReadLink) {
  Vfs vfs(TwoSources(), {});
  uint64_t one = vfs.Lookup(1, "one")->ino;
  EXPECT_EQ(*vfs.ReadLink(vfs.Lookup(one, "link")->ino), "a.txt");
  EXPECT_EQ(vfs.ReadLink(vfs.Lookup(one, "a.txt")->ino).status().ToErrno(), EINVAL);
}

}  // namespace
}  // namespace daqfs

namespace daqfs {
namespace {

struct RecordingNotifier final : KernelNotifier {
  std::vector<std::string> calls;
  void NotifyInvalEntry(uint64_t parent, std::string_view name) override {
    calls.push_back("entry " + std::to_string(parent) + " " + std::string(name));
  }
  void NotifyInvalInode(uint64_t ino) override { calls.push_back("inode " + std::to_string(ino)); }
};

// A folder of 10 files whose listing fails after `fail_after` entries; records forgets and
// keeps its environment.
class FlakyBackend final : public Backend {
 public:
  Status Start(BackendEnv& env) override {
    env_ = env;
    return Status::Ok();
  }
  void Stop() override { ++stops; }
  void Forget(NodeId n) override { forgotten.push_back(n); }
  Result<NodeId> Lookup(NodeId parent, std::string_view name) override {
    if (parent == kRootNode && name.size() == 2 && name[0] == 'f')
      return NodeId(10 + name[1] - '0');
    if (parent == kRootNode && name == "sub") return NodeId(2);
    return NotFound(std::string(name));
  }
  Result<Attr> GetAttr(NodeId node) override {
    Attr a;
    a.type = node < 10 ? NodeType::kDirectory : NodeType::kFile;
    return a;
  }
  Status ReadDir(NodeId, uint64_t cookie, const EmitFn& emit) override {
    for (uint64_t i = cookie; i < 10; ++i) {
      if (i == fail_after) return IoError("backing storage failed");
      Attr a;
      if (!emit(DirEntry{"f" + std::to_string(i), 10 + i, a}, i + 1)) break;
    }
    return Status::Ok();
  }
  Result<std::shared_ptr<ByteSource>> Open(NodeId, const Caller&) override {
    return Status(Code::kIo, "no");
  }
  Result<std::string> ReadLink(NodeId) override { return Status(Code::kNotLink, ""); }

  uint64_t fail_after = 100;
  int stops = 0;
  std::vector<NodeId> forgotten;
  BackendEnv env_;
};

struct FlakyVfs {
  FlakyBackend* backend;
  std::unique_ptr<Vfs> vfs;
};

FlakyVfs MakeFlaky() {
  auto b = std::make_unique<FlakyBackend>();
  FlakyBackend* raw = b.get();
  std::vector<Vfs::Source> s;
  s.push_back({"flaky", std::move(b)});
  return FlakyVfs{raw, std::make_unique<Vfs>(std::move(s), VfsOptions{})};
}

TEST(VfsLifecycleTest, StartGivesEachSourceItsEnvAndStopStopsThemOnce) {
  FlakyVfs f = MakeFlaky();
  testing::TempDir temp("vfsstate");  // removed with its content, also when a check fails
  const std::string& root = temp.path();
  VfsEnv env;
  env.state_root = root + "/state";
  env.blobs = [](const std::string& name) -> BlobStore* {
    return name == "flaky" ? nullptr : reinterpret_cast<BlobStore*>(1);
  };
  ASSERT_TRUE(f.vfs->Start(env).ok());
  EXPECT_EQ(f.backend->env_.source_name, "flaky");
  EXPECT_EQ(f.backend->env_.source_label, "source=\"flaky\"");
  EXPECT_EQ(f.backend->env_.state_dir, root + "/state/flaky");
  EXPECT_EQ(f.backend->env_.blobs, nullptr);
  EXPECT_NE(f.backend->env_.invalidator, nullptr);
  EXPECT_EQ(f.backend->env_.metrics, &f.vfs->stats().metrics());
  EXPECT_NE(f.backend->env_.clock, nullptr);
  struct stat st;
  EXPECT_EQ(stat((root + "/state/flaky").c_str(), &st), 0);
  f.vfs->Stop();
  f.vfs->Stop();
  EXPECT_EQ(f.backend->stops, 1);
}

TEST(VfsLifecycleTest, InvalidationsReachOnlyInodesTheKernelHolds) {
  FlakyVfs f = MakeFlaky();
  ASSERT_TRUE(f.vfs->Start().ok());
  RecordingNotifier n;
  f.vfs->SetNotifier(&n);
  Invalidator* inv = f.backend->env_.invalidator;
  inv->EntryAdded(kRootNode, "new");  // the kernel has not looked the source up: nothing to do
  EXPECT_TRUE(n.calls.empty());
  Result<Vfs::Entry> src = f.vfs->Lookup(1, "flaky");
  ASSERT_TRUE(src.ok());
  uint64_t s = src->ino;
  inv->EntryAdded(kRootNode, "new");
  inv->EntryRemoved(kRootNode, "old");
  Result<Vfs::Entry> f3 = f.vfs->Lookup(s, "f3");
  inv->ContentChanged(13);
  inv->ContentChanged(14);  // never looked up
  EXPECT_EQ(n.calls, (std::vector<std::string>{
                         "entry " + std::to_string(s) + " new", "inode " + std::to_string(s),
                         "entry " + std::to_string(s) + " old", "inode " + std::to_string(s),
                         "inode " + std::to_string(f3->ino)}));
  f.vfs->SetNotifier(nullptr);
  inv->ContentChanged(13);  // no notifier: dropped
  EXPECT_EQ(n.calls.size(), 5u);
}

TEST(VfsLifecycleTest, AListingThatFailsMidwayEndsEarlyWithoutLeakingReferences) {
  FlakyVfs f = MakeFlaky();
  ASSERT_TRUE(f.vfs->Start().ok());
  uint64_t s = f.vfs->Lookup(1, "flaky")->ino;
  size_t live = f.vfs->inodes().size();
  f.backend->fail_after = 4;
  std::vector<std::string> got;
  uint64_t last = 0;
  Status st =
      f.vfs->ReadDir(s, 0, true, [&](std::string_view name, uint64_t, const Attr&, uint64_t next) {
        got.emplace_back(name);
        last = next;
        return true;
      });
  EXPECT_TRUE(st.ok()) << st.ToString();  // never an error after entries
  EXPECT_EQ(got, (std::vector<std::string>{".", "..", "f0", "f1", "f2", "f3"}));
  EXPECT_EQ(f.vfs->inodes().size(), live + 4);  // the four entries taken hold a reference
  // Resumed at the failing entry, the error comes before any entry.
  st = f.vfs->ReadDir(s, last, true, [&](std::string_view, uint64_t, const Attr&, uint64_t) {
    ADD_FAILURE() << "no entry expected";
    return true;
  });
  EXPECT_EQ(st.code(), Code::kIo);
  // An entry the caller does not take gives its reference back (and the backend hears it).
  f.backend->fail_after = 100;
  int taken = 0;
  st = f.vfs->ReadDir(s, last, true, [&](std::string_view, uint64_t, const Attr&, uint64_t) {
    return taken++ < 2;
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(f.vfs->inodes().size(), live + 6);
  EXPECT_EQ(f.backend->forgotten, (std::vector<NodeId>{16}));
}

TEST(VfsLifecycleTest, ForgetOfTheLastReferenceReachesTheBackend) {
  FlakyVfs f = MakeFlaky();
  ASSERT_TRUE(f.vfs->Start().ok());
  uint64_t s = f.vfs->Lookup(1, "flaky")->ino;
  uint64_t a = f.vfs->Lookup(s, "f1")->ino;
  ASSERT_EQ(f.vfs->Lookup(s, "f1")->ino, a);
  f.vfs->Forget(a, 1);
  EXPECT_TRUE(f.backend->forgotten.empty());  // one reference left
  f.vfs->Forget(a, 1);
  EXPECT_EQ(f.backend->forgotten, (std::vector<NodeId>{11}));
  f.vfs->Forget(a, 1);  // unknown now: ignored
  EXPECT_EQ(f.backend->forgotten.size(), 1u);
}

}  // namespace
}  // namespace daqfs
