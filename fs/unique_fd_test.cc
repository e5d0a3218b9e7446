// The descriptor owner and its read/write helpers: whole writes through pipes larger than a pipe
// holds, writes at an offset that leave the file offset alone, errors that name what failed.
#include "fs/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

class UniqueFdTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }
  UniqueFd Create(const std::string& name) {
    return UniqueFd(open((dir_ + "/" + name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  }
  testing::TempDir temp_{"fd"};  // removed with its content
  std::string dir_;
};

TEST_F(UniqueFdTest, WriteAllPassesMoreThanAPipeHolds) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  std::vector<uint8_t> data(4 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  std::vector<uint8_t> got;
  std::thread reader([&] {
    uint8_t buf[3000];  // reads smaller than the writes: the writer sees a full pipe often
    for (ssize_t n; (n = read(r.get(), buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + n);
  });
  Status s = WriteAll(w.get(), data, "the pipe");
  w.Reset();
  reader.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(got == data);
}

TEST_F(UniqueFdTest, WriteAllAppendsAtTheFileOffsetAndTakesText) {
  UniqueFd fd = Create("f");
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(WriteAll(fd.get(), std::string_view("hello "), "f").ok());
  ASSERT_TRUE(WriteAll(fd.get(), std::string_view("world"), "f").ok());
  std::vector<uint8_t> buf(32);
  Result<size_t> n = PreadFull(fd.get(), 0, buf, "f");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + *n), "hello world");
}

TEST_F(UniqueFdTest, PwriteAllWritesAtAnOffsetAndLeavesTheFileOffset) {
  UniqueFd fd = Create("g");
  ASSERT_TRUE(WriteAll(fd.get(), std::string_view("0123456789"), "g").ok());
  const uint8_t xy[] = {'x', 'y'};
  ASSERT_TRUE(PwriteAll(fd.get(), 3, xy, "g").ok());
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 10);
  ASSERT_TRUE(PwriteAll(fd.get(), 12, xy, "g").ok());  // past the end: a hole of zeros
  std::vector<uint8_t> buf(32);
  Result<size_t> n = PreadFull(fd.get(), 0, buf, "g");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + *n), std::string("012xy56789\0\0xy", 14));
}

TEST_F(UniqueFdTest, WriteErrorsNameTheTargetAndTheOffset) {
  UniqueFd fd = Create("h");
  UniqueFd ro(open((dir_ + "/h").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ro.valid());
  Status s = WriteAll(ro.get(), std::string_view("x"), "the index");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write the index"), std::string::npos) << s.message();
  const uint8_t x[] = {'x'};
  s = PwriteAll(ro.get(), 4096, x, "the spill");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write the spill at offset 4096"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace daqfs
