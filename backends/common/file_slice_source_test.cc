#include "backends/common/file_slice_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

using testing::SampleData;
using testing::TempDir;
using testing::WriteFile;

std::shared_ptr<UniqueFd> OpenFd(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  EXPECT_TRUE(fd.ok()) << fd.status().ToString();
  return std::make_shared<UniqueFd>(fd.ok() ? std::move(*fd) : UniqueFd());
}

std::string Read(ByteSource& s, uint64_t off, size_t n) {
  std::string out(n, '\0');
  Result<size_t> got = s.ReadAt(off, std::span(reinterpret_cast<uint8_t*>(out.data()), n));
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  out.resize(got.ok() ? *got : 0);
  return out;
}

TEST(FileSliceSourceTest, ReadsItsRangeInBlocksAndByOffset) {
  TempDir dir;
  std::string data = SampleData(7, 3 * (1 << 20) + 123);
  WriteFile(dir / "f", data);
  const uint64_t off = 1000, size = data.size() - 2000;
  FileSliceSource s(OpenFd(dir / "f"), "f", off, size, "id");
  EXPECT_EQ(s.Size(), size);
  EXPECT_EQ(s.Identity(), "id");
  EXPECT_FALSE(s.IsDecoded());
  EXPECT_EQ(s.BlockCount(), 3u);
  std::string all;
  for (uint64_t i = 0; i < s.BlockCount(); ++i) {
    std::string b(s.BlockRangeOf(i).length, '\0');
    ASSERT_TRUE(s.ReadBlock(i, std::span(reinterpret_cast<uint8_t*>(b.data()), b.size())).ok());
    all += b;
  }
  EXPECT_TRUE(all == data.substr(off, size));
  EXPECT_TRUE(Read(s, 12345, 5000) == data.substr(off + 12345, 5000));
  EXPECT_TRUE(Read(s, size - 10, 100) == data.substr(off + size - 10, 10));
  EXPECT_EQ(Read(s, size, 100), "");
  // A wrong buffer size is refused.
  std::string small(10, '\0');
  EXPECT_EQ(
      s.ReadBlock(0, std::span(reinterpret_cast<uint8_t*>(small.data()), small.size())).code(),
      Code::kInvalid);
}

TEST(FileSliceSourceTest, BackingFileShorterThanTheSliceIsCorrupt) {
  TempDir dir;
  WriteFile(dir / "f", std::string(100, 'x'));
  FileSliceSource s(OpenFd(dir / "f"), "short file", 50, 200, "id");
  std::string out(200, '\0');
  Result<size_t> got = s.ReadAt(0, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kCorrupt);
  EXPECT_NE(got.status().message().find("short file"), std::string::npos);
  EXPECT_NE(got.status().message().find("offset 100"), std::string::npos) << got.status().message();
}

}  // namespace
}  // namespace daqfs
