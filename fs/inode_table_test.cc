#include "fs/inode_table.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace daqfs {
namespace {

TEST(InodeTableTest, RootIsPinned) {
  InodeTable t(InodeKey{1, kRootNode});
  ASSERT_TRUE(t.Resolve(InodeTable::kRootIno).has_value());
  t.Forget(InodeTable::kRootIno, 100);
  EXPECT_TRUE(t.Resolve(InodeTable::kRootIno).has_value());
  EXPECT_EQ(t.Acquire(InodeKey{1, kRootNode}), InodeTable::kRootIno);
}

TEST(InodeTableTest, LookupCountsAndForget) {
  InodeTable t(InodeKey{1, kRootNode});
  InodeKey k{2, 77};
  uint64_t ino = t.Acquire(k);
  EXPECT_EQ(t.Acquire(k), ino);
  EXPECT_EQ(t.Acquire(k, 3), ino);  // 5 lookups now
  t.Forget(ino, 4);
  ASSERT_TRUE(t.Resolve(ino).has_value());
  EXPECT_EQ(t.Resolve(ino)->node, 77u);
  t.Forget(ino, 1);
  EXPECT_FALSE(t.Resolve(ino).has_value());
  EXPECT_FALSE(t.Find(k).has_value());
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeTableTest, NumbersAreNotReusedAfterForget) {
  InodeTable t(InodeKey{1, kRootNode});
  uint64_t a = t.Acquire(InodeKey{1, 5});
  t.Forget(a, 1);
  uint64_t b = t.Acquire(InodeKey{1, 5});
  EXPECT_NE(a, b);
  EXPECT_FALSE(t.Resolve(a).has_value());
}

TEST(InodeTableTest, ForgetOfUnknownIsIgnored) {
  InodeTable t(InodeKey{1, kRootNode});
  t.Forget(12345, 1);
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeTableTest, ConcurrentAcquireAndForgetBalance) {
  InodeTable t(InodeKey{1, kRootNode});
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&t] {
      for (int i = 0; i < 2000; ++i) {
        uint64_t ino = t.Acquire(InodeKey{3, static_cast<NodeId>(i % 50)});
        t.Forget(ino, 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.size(), 1u);
}

}  // namespace
}  // namespace daqfs
