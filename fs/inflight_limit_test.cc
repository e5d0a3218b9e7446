#include "fs/inflight_limit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace daqfs {
namespace {

using Clock = std::chrono::steady_clock;

// A source of `size` bytes (each byte 7) whose reads block until Release(): storage that stopped
// answering. WaitEntered(n) returns once n reads are blocked inside it.
class BlockingSource final : public ByteSource {
 public:
  explicit BlockingSource(uint64_t size) : size_(size) {}
  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return "blocking"; }
  Group GroupOf(uint64_t i) const override { return Group{i - i % 2, 2}; }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    Block();
    std::fill(out.begin(), out.end(), uint8_t{7});
    (void)i;
    return Status::Ok();
  }
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    Block();
    Group g = GroupOf(i);
    for (uint64_t b = g.first; b < g.first + g.count && b < BlockCount(); ++b) {
      emit(b, Bytes(BlockRangeOf(b).length, 7));
    }
    return Status::Ok();
  }
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override {
    Block();
    size_t n = off >= size_ ? 0 : std::min<uint64_t>(out.size(), size_ - off);
    std::fill(out.begin(), out.begin() + n, uint8_t{7});
    return n;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }

 private:
  void Block() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  uint64_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST(InflightLimitTest, ReadsBeyondTheLimitFailAfterTheTimeoutAndAreCounted) {
  auto blocking = std::make_shared<BlockingSource>(3 << 20);
  auto limit = std::make_shared<InflightLimit>("slow", 2, 0.2);
  Metrics metrics;
  limit->RegisterMetrics(metrics, Label("source", "slow"));
  InflightLimitedSource source(blocking, limit);

  // Two reads take both slots and hang.
  auto read = [&] {
    std::vector<uint8_t> buf(4096);
    return source.ReadAt(0, buf);
  };
  auto a = std::async(std::launch::async, read);
  auto b = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(1 << 20);
    return source.ReadBlock(1, buf);
  });
  blocking->WaitEntered(2);
  EXPECT_EQ(limit->inflight(), 2u);
  EXPECT_EQ(metrics.Value("daqfs_source_inflight", Label("source", "slow")), 2.0);

  // A third waits the timeout, then fails with EIO, counted; so does a group decode.
  Clock::time_point start = Clock::now();
  std::vector<uint8_t> buf(4096);
  Result<size_t> third = source.ReadAt(0, buf);
  double waited = SecondsSince(start);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Code::kUnavailable);
  EXPECT_EQ(third.status().ToErrno(), EIO);
  EXPECT_EQ(third.status().message(),
            "source slow: storage not answering: 2 calls in flight for more than 0.2 s");
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.0);
  Status group = source.ReadGroup(0, [](uint64_t, Bytes&&) { ADD_FAILURE() << "decoded"; });
  EXPECT_EQ(group.code(), Code::kUnavailable);
  EXPECT_EQ(limit->stuck(), 2u);
  EXPECT_EQ(metrics.Value("daqfs_source_stuck_total", Label("source", "slow")), 2.0);

  // The storage answers: the hung reads finish, slots come back, reads work again.
  blocking->Release();
  Result<size_t> ra = a.get();
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(*ra, 4096u);
  EXPECT_TRUE(b.get().ok());
  EXPECT_EQ(limit->inflight(), 0u);
  Result<size_t> again = source.ReadAt(0, buf);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(buf[0], 7);
  EXPECT_EQ(limit->stuck(), 2u);
}

// A stuck source holds at most its slots and as many waiters: one call more fails at once
// instead of taking another FUSE worker for the whole timeout.
TEST(InflightLimitTest, CallsBeyondSlotsAndWaitersFailAtOnce) {
  auto limit = std::make_shared<InflightLimit>("s", 1, 30.0);
  std::optional<Result<InflightLimit::Slot>> held(limit->Acquire());
  ASSERT_TRUE(held->ok());
  auto waiter = std::async(std::launch::async, [&] { return limit->Acquire().ok(); });
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (limit->waiting() < 1 && Clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(limit->waiting(), 1u);
  auto start = Clock::now();
  Result<InflightLimit::Slot> refused = limit->Acquire();
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));  // not the 30 s timeout
  EXPECT_EQ(limit->stuck(), 1u);
  held.reset();  // the slot is freed: the waiter gets it
  EXPECT_TRUE(waiter.get());
  EXPECT_EQ(limit->inflight(), 0u);
}

TEST(InflightLimitTest, AWaiterGetsTheSlotWhenOneIsFreed) {
  auto blocking = std::make_shared<BlockingSource>(1 << 20);
  auto limit = std::make_shared<InflightLimit>("s", 1, 30);
  InflightLimitedSource source(blocking, limit);
  auto a = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(10);
    return source.ReadAt(0, buf);
  });
  blocking->WaitEntered(1);
  // The second read waits (the slot is taken) and proceeds once it is freed, well within 30 s.
  auto b = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(10);
    return source.ReadAt(0, buf);
  });
  EXPECT_EQ(b.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  blocking->Release();
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(b.get().ok());
  EXPECT_EQ(limit->stuck(), 0u);
}

TEST(InflightLimitTest, SourceForwardsTheBlockLayout) {
  auto blocking = std::make_shared<BlockingSource>((5 << 20) + 3);
  blocking->Release();
  InflightLimitedSource source(blocking, std::make_shared<InflightLimit>("s", 1, 1));
  EXPECT_EQ(source.Size(), blocking->Size());
  EXPECT_EQ(source.Identity(), "blocking");
  EXPECT_EQ(source.BlockCount(), 6u);
  EXPECT_EQ(source.BlockRangeOf(5).length, 3u);
  EXPECT_EQ(source.BlockOf(3 << 20), 3u);
  EXPECT_EQ(source.GroupOf(3).first, 2u);
  EXPECT_EQ(source.GroupOf(3).count, 2u);
  std::vector<uint64_t> emitted;
  ASSERT_TRUE(source.ReadGroup(3, [&](uint64_t i, Bytes&&) { emitted.push_back(i); }).ok());
  EXPECT_EQ(emitted, (std::vector<uint64_t>{2, 3}));
}

// A backend of one file (node 2, "f") whose content is `source`.
class OneFileBackend final : public Backend {
 public:
  explicit OneFileBackend(std::shared_ptr<ByteSource> source) : source_(std::move(source)) {}
  Result<NodeId> Lookup(NodeId, std::string_view name) override {
    if (name == "f") return NodeId{2};
    return NotFound(std::string(name));
  }
  Result<Attr> GetAttr(NodeId node) override {
    Attr a;
    a.type = node == kRootNode ? NodeType::kDirectory : NodeType::kFile;
    return a;
  }
  Status ReadDir(NodeId, uint64_t cookie, const EmitFn& emit) override {
    if (cookie == 0) emit(DirEntry{"f", 2, {}}, 1);
    return Status::Ok();
  }
  Result<std::shared_ptr<ByteSource>> Open(NodeId, const Caller&) override { return source_; }
  Result<std::string> ReadLink(NodeId) override { return Status(Code::kNotLink, "f"); }
  Status Start(BackendEnv&) override {
    registered = true;
    return Status::Ok();
  }
  bool registered = false;

 private:
  std::shared_ptr<ByteSource> source_;
};

TEST(InflightLimitTest, BackendCallsShareTheSourcesLimitAndOtherSourcesKeepAnswering) {
  auto stuck_storage = std::make_shared<BlockingSource>(1 << 20);
  auto inner = std::make_unique<OneFileBackend>(stuck_storage);
  OneFileBackend* inner_ptr = inner.get();
  InflightLimitBackend stuck(std::move(inner), std::make_shared<InflightLimit>("stuck", 1, 0.1));
  Metrics metrics;
  NullInvalidator invalidator;
  SystemClock clock;
  BackendEnv env;
  env.source_name = "stuck";
  env.source_label = Label("source", "stuck");
  env.metrics = &metrics;
  env.invalidator = &invalidator;
  env.clock = &clock;
  ASSERT_TRUE(stuck.Start(env).ok());
  EXPECT_TRUE(inner_ptr->registered);
  EXPECT_TRUE(metrics.Value("daqfs_source_stuck_total", Label("source", "stuck")).has_value());

  auto fine_storage = std::make_shared<BlockingSource>(1 << 20);
  fine_storage->Release();
  InflightLimitBackend fine(std::make_unique<OneFileBackend>(fine_storage),
                            std::make_shared<InflightLimit>("fine", 1, 0.1));

  Result<std::shared_ptr<ByteSource>> opened = stuck.Open(2, Caller{});
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<ByteSource> file = *opened;
  auto hung = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(10);
    return file->ReadAt(0, buf);
  });
  stuck_storage->WaitEntered(1);

  // Every call that may touch the stuck source's storage now fails after the timeout ...
  EXPECT_EQ(stuck.Lookup(kRootNode, "f").status().code(), Code::kUnavailable);
  EXPECT_EQ(stuck.GetAttr(2).status().code(), Code::kUnavailable);
  EXPECT_EQ(stuck.ReadDir(kRootNode, 0, [](const DirEntry&, uint64_t) { return true; }).code(),
            Code::kUnavailable);
  EXPECT_EQ(stuck.Open(2, Caller{}).status().code(), Code::kUnavailable);
  EXPECT_EQ(stuck.ReadLink(2).status().code(), Code::kUnavailable);
  EXPECT_EQ(stuck.GetXattr(2, "user.x").status().code(), Code::kUnavailable);
  EXPECT_EQ(stuck.ListXattr(2).status().code(), Code::kUnavailable);
  EXPECT_TRUE(stuck.NextSiblings(kRootNode, "", 8).empty());
  EXPECT_EQ(metrics.Value("daqfs_source_stuck_total", Label("source", "stuck")), 8.0);
  // ... except the root's attributes, which the mount root lists.
  Clock::time_point start = Clock::now();
  EXPECT_TRUE(stuck.GetAttr(kRootNode).ok());
  EXPECT_LT(SecondsSince(start), 0.1);

  // Another source is not affected.
  Result<std::shared_ptr<ByteSource>> other = fine.Open(2, Caller{});
  ASSERT_TRUE(other.ok());
  std::vector<uint8_t> buf(10);
  EXPECT_TRUE((*other)->ReadAt(0, buf).ok());
  EXPECT_TRUE(fine.Lookup(kRootNode, "f").ok());
  EXPECT_EQ(fine.limit().stuck(), 0u);

  stuck_storage->Release();
  EXPECT_TRUE(hung.get().ok());
  EXPECT_TRUE(stuck.Lookup(kRootNode, "f").ok());
  EXPECT_EQ(stuck.limit().inflight(), 0u);
}

}  // namespace
}  // namespace daqfs
