#include "fs/byte_source.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace daqfs {
namespace {

// Variable-size blocks of a counting pattern, decoded only through ReadBlock.
class PatternSource : public ByteSource {
 public:
  explicit PatternSource(std::vector<uint64_t> sizes) : sizes_(std::move(sizes)) {
    uint64_t off = 0;
    for (uint64_t s : sizes_) {
      starts_.push_back(off);
      off += s;
    }
    size_ = off;
  }
  uint64_t Size() const override { return size_; }
  std::string Identity() const override { return "pattern"; }
  uint64_t BlockCount() const override { return sizes_.size(); }
  BlockRange BlockRangeOf(uint64_t i) const override {
    return i < sizes_.size() ? BlockRange{starts_[i], sizes_[i]} : BlockRange{size_, 0};
  }
  uint64_t BlockOf(uint64_t off) const override {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), off);
    return static_cast<uint64_t>(it - starts_.begin()) - 1;
  }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    for (uint64_t k = 0; k < out.size(); ++k) out[k] = static_cast<uint8_t>((starts_[i] + k) * 7);
    return Status::Ok();
  }

 private:
  std::vector<uint64_t> sizes_, starts_;
  uint64_t size_ = 0;
};

TEST(ByteSourceTest, ReadAtAssemblesBlocksAtAnyOffset) {
  PatternSource src({10, 1, 4096, 3, 100});
  for (uint64_t off : {0ull, 5ull, 10ull, 11ull, 4000ull, 4105ull, 4209ull, 4210ull, 9999ull}) {
    std::vector<uint8_t> buf(300, 0xAA);
    Result<size_t> n = src.ReadAt(off, buf);
    ASSERT_TRUE(n.ok());
    size_t want = off >= src.Size() ? 0 : std::min<uint64_t>(300, src.Size() - off);
    ASSERT_EQ(*n, want) << off;
    for (size_t k = 0; k < *n; ++k) ASSERT_EQ(buf[k], static_cast<uint8_t>((off + k) * 7));
  }
}

TEST(ByteSourceTest, DefaultBlocksAreOneMiB) {
  MemorySource m(std::string(ByteSource::kDefaultBlockSize * 2 + 5, 'x'), "m");
  EXPECT_EQ(m.BlockCount(), 3u);
  EXPECT_EQ(m.BlockRangeOf(2).length, 5u);
  EXPECT_EQ(m.BlockOf(ByteSource::kDefaultBlockSize), 1u);
  std::vector<uint8_t> out(5);
  EXPECT_TRUE(m.ReadBlock(2, out).ok());
}

TEST(ByteSourceTest, MemorySourceShortAtEnd) {
  MemorySource m("hello", "m");
  std::vector<uint8_t> buf(10);
  EXPECT_EQ(*m.ReadAt(3, buf), 2u);
  EXPECT_EQ(*m.ReadAt(5, buf), 0u);
  EXPECT_EQ(*m.ReadAt(500, buf), 0u);
}

}  // namespace
}  // namespace daqfs
