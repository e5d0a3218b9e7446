// TarBackend with rescans, an Invalidator and a blob store: what a changing archive folder
// announces, which blobs it keeps, and that the merged layout's tables stay bounded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backends/archive/tar_backend.h"
#include "tests/testing/backend_listing.h"
#include "tests/testing/files.h"
#include "tests/testing/folder_blob_store.h"

namespace daqfs {
namespace {

struct Recorder final : Invalidator {
  std::mutex mu;
  std::vector<std::string> events;
  void EntryAdded(NodeId p, std::string_view n) override { Add("+", p, n); }
  void EntryRemoved(NodeId p, std::string_view n) override { Add("-", p, n); }
  void ContentChanged(NodeId n) override { Add("~", n, ""); }
  void Add(const char* what, NodeId p, std::string_view n) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(what + std::to_string(p) + " " + std::string(n));
  }
  std::set<std::string> Take() {
    std::lock_guard<std::mutex> l(mu);
    std::set<std::string> out(events.begin(), events.end());
    events.clear();
    return out;
  }
};

class TarBackendRescanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    Sh("mkdir -p " + dir_ + "/a " + dir_ + "/blobs " + dir_ + "/src");
    env_.source_name = "t";
    env_.source_label = Label("source", "t");
    env_.metrics = &metrics_;
    env_.invalidator = &recorder_;
    env_.clock = &clock_;
    blobs_ = std::make_unique<FolderBlobStore>(dir_ + "/blobs", dir_ + "/blobs");
    env_.blobs = blobs_.get();
  }
  static void Sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }
  // An archive `name` holding `files` (each with its own name as content), old enough to be
  // stable at once.
  void MakeTar(const std::string& name, const std::vector<std::string>& files) {
    std::string cmd = "set -e; cd " + dir_ + "/src; rm -rf *;";
    for (const std::string& f : files) {
      cmd += " mkdir -p $(dirname " + f + "); echo " + f + " > " + f + ";";
    }
    cmd += " tar -cf " + dir_ + "/a/." + name + ".part *; touch -t 200001010000 " + dir_ + "/a/." +
           name + ".part; mv " + dir_ + "/a/." + name + ".part " + dir_ + "/a/" + name;
    Sh("bash -c '" + cmd + "'");
  }

  testing::TempDir temp_{"rescan"};  // removed with its content, after the members below
  std::string dir_;
  Metrics metrics_;
  Recorder recorder_;
  SystemClock clock_;
  std::unique_ptr<FolderBlobStore> blobs_;
  BackendEnv env_;
};

TEST_F(TarBackendRescanTest, PerArchiveRescanAnnouncesAndErasesBlobsOfGoneArchives) {
  Sh("touch " + dir_ + "/blobs/0123456789abcdef.idx");  // of an archive that is no more
  MakeTar("one.tar", {"x"});
  MakeTar("two.tar", {"y"});
  // Rescans are driven by hand here (Discover runs on the indexer thread in the daemon).
  ArchiveSourceOptions o;
  o.stable_seconds = 0;
  o.rescan_seconds = 0.05;
  o.background = true;
  auto made = TarBackend::Create("t", dir_ + "/a", o);
  ASSERT_TRUE(made.ok());
  TarBackend& b = **made;
  ASSERT_TRUE(b.Start(env_).ok());
  b.WaitIndexed();
  EXPECT_EQ(testing::ListNames(b, kRootNode), (std::vector<std::string>{"one.tar", "two.tar"}));
  // The stale blob went at Start; both indexes were saved.
  std::vector<std::string> kept = blobs_->List();
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(std::count_if(kept.begin(), kept.end(),
                          [](const std::string& n) { return n == "0123456789abcdef.idx"; }),
            0);
  recorder_.Take();

  // A listing read up to "one.tar" resumes after it even when archives come and go.
  uint64_t after_one = 0;
  ASSERT_TRUE(b.ReadDir(kRootNode, 0, [&](const DirEntry& e, uint64_t next) {
                 after_one = next;
                 return e.name != "one.tar";
               }).ok());
  Sh("rm " + dir_ + "/a/one.tar");
  MakeTar("aaa.tar", {"z"});
  for (int i = 0;
       i < 500 && (b.Lookup(kRootNode, "one.tar").ok() || !b.Lookup(kRootNode, "aaa.tar").ok());
       ++i) {
    usleep(10000);
  }
  b.WaitIndexed();
  EXPECT_EQ(testing::ListNames(b, kRootNode),
            (std::vector<std::string>{"two.tar", "aaa.tar"}));  // slot order
  std::vector<std::string> rest;
  ASSERT_TRUE(b.ReadDir(kRootNode, after_one, [&](const DirEntry& e, uint64_t) {
                 rest.push_back(e.name);
                 return true;
               }).ok());
  EXPECT_EQ(rest, (std::vector<std::string>{"two.tar", "aaa.tar"}));
  EXPECT_EQ(recorder_.Take(), (std::set<std::string>{"-1 one.tar", "+1 aaa.tar"}));
  // one.tar's index blob is gone, aaa.tar's is there.
  EXPECT_EQ(blobs_->List().size(), 2u);
  EXPECT_EQ(b.Lookup(kRootNode, "one.tar").status().code(), Code::kNotFound);
  Result<Attr> root = b.GetAttr(kRootNode);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->cache_seconds, kCacheForever);  // announced, so cached long
  b.Stop();
}

TEST_F(TarBackendRescanTest, MergedRescansAnnounceChangesAndKeepTablesBounded) {
  MakeTar("base.tar", {"keep/k"});
  ArchiveSourceOptions o;
  o.merged = true;
  o.stable_seconds = 0;
  o.rescan_seconds = 0.02;
  o.background = true;
  auto made = TarBackend::Create("t", dir_ + "/a", o);
  ASSERT_TRUE(made.ok());
  TarBackend& b = **made;
  ASSERT_TRUE(b.Start(env_).ok());
  b.WaitIndexed();
  EXPECT_EQ(testing::ListNames(b, kRootNode), (std::vector<std::string>{"keep"}));
  Result<NodeId> keep = b.Lookup(kRootNode, "keep");
  ASSERT_TRUE(keep.ok());
  size_t slots_after_one = 0;
  for (int round = 0; round < 25; ++round) {
    std::string name = "r" + std::to_string(round) + ".tar";
    MakeTar(name, {"keep/f" + std::to_string(round), "d" + std::to_string(round) + "/x"});
    for (int i = 0; i < 500 && !b.Lookup(*keep, "f" + std::to_string(round)).ok(); ++i) {
      usleep(5000);
    }
    ASSERT_TRUE(b.Lookup(*keep, "f" + std::to_string(round)).ok()) << round;
    Sh("rm " + dir_ + "/a/" + name);
    for (int i = 0; i < 500 && b.Lookup(*keep, "f" + std::to_string(round)).ok(); ++i) {
      usleep(5000);
    }
    ASSERT_FALSE(b.Lookup(*keep, "f" + std::to_string(round)).ok()) << round;
    b.WaitIndexed();
    if (round == 0) slots_after_one = b.merged_id_slots();
  }
  // The folder "keep" kept its id; ids of vanished paths were released and reused.
  EXPECT_EQ(b.Lookup(kRootNode, "keep").value(), *keep);
  EXPECT_EQ(b.merged_ids_live(), 3u);  // top, keep, keep/k
  EXPECT_LE(b.merged_id_slots(), slots_after_one);
  std::set<std::string> ev = recorder_.Take();
  std::string k = std::to_string(*keep);
  EXPECT_TRUE(ev.count("+" + k + " f3")) << ::testing::PrintToString(ev);
  EXPECT_TRUE(ev.count("-" + k + " f3"));
  EXPECT_TRUE(ev.count("+1 d3"));
  EXPECT_TRUE(ev.count("-1 d3"));
  b.Stop();
}

}  // namespace
}  // namespace daqfs
