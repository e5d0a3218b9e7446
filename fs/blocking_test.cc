#include "fs/blocking.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "fs/unique_fd.h"
#include "tests/testing/files.h"

namespace daqfs {
namespace {

struct CountingObserver final : BlockingObserver {
  int started = 0, ended = 0;
  void BlockingStarted() override { ++started; }
  void BlockingEnded() override { ++ended; }
};

// Sets `o` as the calling thread's observer while in scope.
struct Observed {
  explicit Observed(BlockingObserver* o) { SetBlockingObserver(o); }
  ~Observed() { SetBlockingObserver(nullptr); }
};

TEST(BlockingTest, OnlyTheOutermostScopeTellsTheObserverOfItsThread) {
  EXPECT_FALSE(BlockingObserved());
  { BlockingScope nobody_listens; }
  CountingObserver o;
  Observed observed(&o);
  EXPECT_TRUE(BlockingObserved());
  {
    BlockingScope outer;
    EXPECT_EQ(o.started, 1);
    {
      BlockingScope inner;
      EXPECT_EQ(o.started, 1);
    }
    EXPECT_EQ(o.ended, 0);
  }
  EXPECT_EQ(o.started, 1);
  EXPECT_EQ(o.ended, 1);
  // Another thread has no observer: its scopes tell nobody.
  std::thread([] {
    EXPECT_FALSE(BlockingObserved());
    BlockingScope other;
  }).join();
  EXPECT_EQ(o.started, 1);
}

TEST(BlockingTest, PreadFullOfCachedBytesDoesNotCountAsBlocking) {
  testing::TempDir dir("daqfs-blocking");
  std::string path = dir / "f";
  std::vector<uint8_t> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(WriteAll(fd, data, path).ok());
    ::close(fd);
  }
  Result<UniqueFd> fd = OpenReadOnly(path);
  ASSERT_TRUE(fd.ok());
  // Whether this filesystem serves cached pages without waiting (RWF_NOWAIT); if it does not,
  // every read counts as blocking.
  uint8_t probe;
  iovec v{&probe, 1};
  bool nowait = ::preadv2(fd->get(), &v, 1, 0, RWF_NOWAIT) == 1;
  CountingObserver o;
  Observed observed(&o);
  std::vector<uint8_t> out(data.size() - 100);
  Result<size_t> n = PreadFull(fd->get(), 100, out, path);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, out.size());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + 100));
  EXPECT_EQ(o.started, nowait ? 0 : 1);
  EXPECT_EQ(o.ended, o.started);
  // Past the end: a short read, told as blocking or not, and still the right count.
  std::vector<uint8_t> tail(200);
  n = PreadFull(fd->get(), data.size() - 50, tail, path);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 50u);
  EXPECT_EQ(o.ended, o.started);
}

}  // namespace
}  // namespace daqfs
