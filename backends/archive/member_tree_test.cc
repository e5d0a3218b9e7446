#include "backends/archive/member_tree.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace daqfs {
namespace {

ArchiveIndex IndexOf(const std::vector<std::string>& files) {
  ArchiveIndex x;
  for (const std::string& f : files) {
    ArchiveMember m;
    m.path = f;
    m.stored_path = f;
    m.mode = 0644;
    m.size = f.size();
    x.members.push_back(m);
  }
  return x;
}

struct Recorder final : Invalidator {
  std::vector<std::string> events;
  void EntryAdded(NodeId p, std::string_view n) override {
    events.push_back("+" + std::to_string(p) + " " + std::string(n));
  }
  void EntryRemoved(NodeId p, std::string_view n) override {
    events.push_back("-" + std::to_string(p) + " " + std::string(n));
  }
  void ContentChanged(NodeId n) override { events.push_back("~" + std::to_string(n)); }
};

std::shared_ptr<MemberTree> Build(TreeIds* ids, const std::vector<std::string>& files,
                                  const std::string& identity = "id") {
  Attr top;
  top.type = NodeType::kDirectory;
  TreeBuilder b(top, ids);
  TreeArchive a;
  a.slot = 1;
  a.path = "a.tar";
  a.identity = identity;
  b.AddArchive(a, IndexOf(files), "t", ids != nullptr);
  auto tree = b.Finish();
  if (ids) ids->EndBuild();
  return tree;
}

uint64_t Child(const MemberTree& t, uint64_t dir, const std::string& name) {
  const MemberTree::Node* d = t.Find(dir);
  if (!d) return 0;
  for (auto& [n, id] : d->children) {
    if (n == name) return id;
  }
  return 0;
}

TEST(MemberTreeTest, MergedIdsAreStableAcrossRebuildsAndReleasedWhenGone) {
  TreeIds ids;
  auto t1 = Build(&ids, {"d/a", "d/b", "c"});
  uint64_t d = Child(*t1, 1, "d"), a = Child(*t1, d, "a");
  ASSERT_NE(a, 0u);
  auto t2 = Build(&ids, {"d/a", "e"});
  EXPECT_EQ(Child(*t2, 1, "d"), d);
  EXPECT_EQ(Child(*t2, d, "a"), a);  // same path, same archive: same node
  uint64_t e = Child(*t2, 1, "e");
  ASSERT_NE(e, 0u);
  // "e" reuses a released slot under a new generation: never an old id.
  std::set<uint64_t> old_ids;
  for (auto& n : t1->nodes) {
    if (n.valid) old_ids.insert(n.id);
  }
  EXPECT_FALSE(old_ids.count(e));
  EXPECT_EQ(t2->Find(Child(*t1, d, "b")), nullptr);  // a gone node's id finds nothing
}

TEST(MemberTreeTest, ManyRescansKeepTheTablesBounded) {
  TreeIds ids;
  std::shared_ptr<MemberTree> t;
  for (int round = 0; round < 500; ++round) {
    // Each round: 20 lasting files and 30 that exist for this round only.
    std::vector<std::string> files;
    for (int i = 0; i < 20; ++i) files.push_back("keep/" + std::to_string(i));
    for (int i = 0; i < 30; ++i) {
      files.push_back("r" + std::to_string(round) + "/" + std::to_string(i));
    }
    t = Build(&ids, files, "id" + std::to_string(round % 3));
  }
  // root + keep + 20 + one round folder + 30 = 53 live; slots never beyond two rounds' worth.
  EXPECT_EQ(ids.live(), 53u);
  EXPECT_LE(ids.slots(), 2 * 53u);
  EXPECT_LE(t->nodes.size(), 2 * 53u + 1);
}

TEST(MemberTreeTest, ChangesAreAnnouncedPerFolder) {
  TreeIds ids;
  auto t1 = Build(&ids, {"d/a", "d/b", "gone/x"});
  uint64_t d = Child(*t1, 1, "d");
  auto t2 = Build(&ids, {"d/a", "d/c", "new"});
  Recorder r;
  AnnounceTreeChanges(*t1, *t2, r);
  std::set<std::string> got(r.events.begin(), r.events.end());
  std::string ds = std::to_string(d);
  EXPECT_EQ(got, (std::set<std::string>{"-1 gone", "+1 new", "-" + ds + " b", "+" + ds + " c"}));
  // A file of a changed archive (new identity) is another node: its name is announced.
  auto t3 = Build(&ids, {"d/a", "d/c", "new"}, "changed");
  Recorder r2;
  AnnounceTreeChanges(*t2, *t3, r2);
  std::set<std::string> got2(r2.events.begin(), r2.events.end());
  EXPECT_EQ(got2, (std::set<std::string>{"-" + ds + " a", "-" + ds + " c", "-1 new"}));
}

TEST(MemberTreeTest, PerArchiveIdsAreSequentialAndListingsSortedByName) {
  auto t = Build(nullptr, {"z", "a", "m/x"});
  const MemberTree::Node* top = t->Find(1);
  ASSERT_NE(top, nullptr);
  ASSERT_EQ(top->children.size(), 3u);
  EXPECT_EQ(top->children[0].first, "a");
  EXPECT_EQ(top->children[2].first, "z");
  EXPECT_EQ(t->count, 5u);
}

}  // namespace
}  // namespace daqfs
