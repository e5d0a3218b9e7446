#include "cache/prefetch_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace daqfs {
namespace {

TEST(PrefetchPlannerTest, SequentialWindowGrowsToCap) {
  PrefetchPlanner p(8);
  std::vector<uint64_t> issued;
  for (uint64_t b = 0; b < 40; ++b) {
    auto v = p.OnRead(b, b, 1000);
    issued.insert(issued.end(), v.begin(), v.end());
  }
  EXPECT_EQ(p.window(), 8u);
  // Every block ahead was asked for exactly once, in order, never beyond read + window.
  for (size_t i = 0; i < issued.size(); ++i) EXPECT_EQ(issued[i], i + 1);
  EXPECT_LE(issued.back(), 40u + 8u);
  EXPECT_TRUE(p.in_order_from_start());
}

TEST(PrefetchPlannerTest, WindowGrowsOneTwoFour) {
  PrefetchPlanner p(64);
  EXPECT_EQ(p.OnRead(0, 0, 1000), (std::vector<uint64_t>{1}));
  EXPECT_EQ(p.window(), 1u);
  p.OnRead(1, 1, 1000);
  EXPECT_EQ(p.window(), 2u);
  p.OnRead(2, 2, 1000);
  EXPECT_EQ(p.window(), 4u);
}

TEST(PrefetchPlannerTest, ToleratesReorderedConcurrentRequests) {
  PrefetchPlanner p(16);
  // Kernel read-ahead through a multi-threaded loop: blocks arrive like 0 2 1 4 3 5 7 6 ...
  std::vector<uint64_t> order = {0, 2, 1, 4, 3, 5, 7, 6, 9, 8, 11, 10, 12, 14, 13, 15};
  for (uint64_t b : order) p.OnRead(b, b, 1000);
  EXPECT_GE(p.window(), 16u);
  EXPECT_TRUE(p.in_order_from_start());
}

TEST(PrefetchPlannerTest, RandomReadsPrefetchNothing) {
  PrefetchPlanner p(64);
  std::mt19937_64 rng(1);
  size_t asked = 0;
  for (int i = 0; i < 500; ++i) {
    uint64_t b = 100 + rng() % 100000;
    asked += p.OnRead(b, b, 200000).size();
  }
  EXPECT_EQ(asked, 0u);
  EXPECT_EQ(p.window(), 0u);
  EXPECT_FALSE(p.in_order_from_start());
}

TEST(PrefetchPlannerTest, ResetOnSeekThenRegrow) {
  PrefetchPlanner p(64);
  for (uint64_t b = 0; b < 10; ++b) p.OnRead(b, b, 10000);
  EXPECT_GT(p.window(), 4u);
  EXPECT_TRUE(p.OnRead(5000, 5000, 10000).empty());
  EXPECT_EQ(p.window(), 0u);
  EXPECT_TRUE(p.OnRead(5001, 5001, 10000).empty());  // one follow-up read is no evidence yet
  EXPECT_EQ(p.OnRead(5002, 5002, 10000), (std::vector<uint64_t>{5003}));
}

TEST(PrefetchPlannerTest, ConstantStrideIsFollowed) {
  PrefetchPlanner p(64);
  EXPECT_TRUE(p.OnRead(10, 10, 100000).empty());
  EXPECT_TRUE(p.OnRead(60, 60, 100000).empty());  // stride 50 seen once
  auto v = p.OnRead(110, 110, 100000);            // seen twice: follow it
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0], 160u);
  auto w = p.OnRead(160, 160, 100000);
  ASSERT_FALSE(w.empty());
  EXPECT_GT(w[0], 160u);
  EXPECT_EQ(w[0] % 50, 10u);
}

TEST(PrefetchPlannerTest, NeverPastEndAndNotIssuedIsRetried) {
  PrefetchPlanner p(64);
  std::vector<uint64_t> all;
  for (uint64_t b = 0; b < 10; ++b) {
    for (uint64_t x : p.OnRead(b, b, 10)) {
      EXPECT_LT(x, 10u);
      all.push_back(x);
    }
  }
  EXPECT_EQ(all.size(), 9u);
  PrefetchPlanner q(4);
  auto first = q.OnRead(0, 0, 100);  // {1}
  q.NotIssued(1);
  auto again = q.OnRead(1, 1, 100);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0], 2u);  // block 1 is being read now; the rest comes again
}

TEST(PrefetchPlannerTest, ZeroWindowDisables) {
  PrefetchPlanner p(0);
  for (uint64_t b = 0; b < 10; ++b) EXPECT_TRUE(p.OnRead(b, b, 100).empty());
}

}  // namespace
}  // namespace daqfs
