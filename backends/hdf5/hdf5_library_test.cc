#include "backends/hdf5/hdf5_library.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace daqfs {
namespace {

TEST(Hdf5LibraryTest, TheLockIsRecursiveAndExcludesOtherThreads) {
  {
    H5Lock outer;
    H5Lock inner;  // the same thread again: no deadlock
  }
  // A read-modify-write that is only correct under mutual exclusion.
  volatile uint64_t counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        H5Lock lock;
        counter = counter + 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, 80000u);
}

TEST(Hdf5LibraryTest, IdsAreReleasedOnceAndMoved) {
  hid_t raw;
  {
    H5Lock lock;
    raw = H5Pcreate(H5P_FILE_ACCESS);
  }
  ASSERT_GE(raw, 0);
  H5Id a(raw);
  EXPECT_TRUE(a.valid());
  H5Id b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), raw);
  {
    H5Lock lock;
    EXPECT_GT(H5Iis_valid(raw), 0);
  }
  b.Reset();
  EXPECT_FALSE(b.valid());
  H5Lock lock;
  EXPECT_LE(H5Iis_valid(raw), 0);
  H5ErrorText();
}

TEST(Hdf5LibraryTest, FailedCallsBecomeStatusesAndTheStackIsCleared) {
  H5Lock lock;
  H5Id f(H5Fopen("/nonexistent/daqfs-test.h5", H5F_ACC_RDONLY, H5P_DEFAULT));
  EXPECT_FALSE(f.valid());
  Status s = H5Failure(Code::kUnavailable, "opening it");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message().rfind("opening it: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("unable to open file"), std::string::npos) << s.message();
  EXPECT_EQ(H5ErrorText(), "");  // cleared
  EXPECT_EQ(H5Failure(Code::kIo, "nothing failed").message(), "nothing failed");
}

}  // namespace
}  // namespace daqfs
