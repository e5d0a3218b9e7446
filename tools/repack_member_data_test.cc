// Reading member data for daqfs-repack: plain and zstd members recognised and read back whole,
// a member claiming .zst that is not, and the name helpers.
#include "tools/repack_member_data.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fs/unique_fd.h"
#include "tests/testing/files.h"

namespace daqfs::repack {
namespace {

class RepackMemberDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    fd_ = UniqueFd(open((dir_ + "/in").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd_.valid());
  }
  // Appends `bytes` to the file as a member's data.
  TarMember Add(const std::string& path, const std::vector<uint8_t>& bytes) {
    TarMember m;
    m.path = path;
    m.data_offset = static_cast<uint64_t>(lseek(fd_.get(), 0, SEEK_END));
    m.size = bytes.size();
    EXPECT_TRUE(WriteAll(fd_.get(), bytes, "in").ok());
    return m;
  }
  std::vector<uint8_t> Content(const TarMember& m, bool zstd, uint64_t* stored) {
    std::vector<uint8_t> out;
    std::atomic<uint64_t> done{0};
    Status s = ReadContent(
        fd_.get(), "in", m, zstd,
        [&](std::span<const uint8_t> b) {
          out.insert(out.end(), b.begin(), b.end());
          return Status::Ok();
        },
        &done);
    EXPECT_TRUE(s.ok()) << s.ToString();
    *stored = done;
    return out;
  }
  daqfs::testing::TempDir temp_{"member"};  // removed with its content
  std::string dir_;
  UniqueFd fd_;
};

TEST_F(RepackMemberDataTest, PlainAndZstdMembersReadBackWhole) {
  std::vector<uint8_t> plain(3 * kPiece + 17);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i % 251);
  const TarMember a = Add("a.dat", plain);
  const TarMember z = Add("z.dat", CompressSeekable(plain, 1 << 20, 1));

  Result<ZstdProbe> pa = ProbeZstd(fd_.get(), "in", a, a.path);
  ASSERT_TRUE(pa.ok());
  EXPECT_FALSE(pa->zstd);
  EXPECT_EQ(pa->content_bytes, plain.size());
  Result<ZstdProbe> pz = ProbeZstd(fd_.get(), "in", z, z.path);
  ASSERT_TRUE(pz.ok());
  EXPECT_TRUE(pz->zstd);
  EXPECT_TRUE(pz->content_size_known);
  EXPECT_EQ(pz->content_bytes, plain.size());

  uint64_t stored = 0;
  EXPECT_TRUE(Content(a, false, &stored) == plain);
  EXPECT_EQ(stored, a.size);
  EXPECT_TRUE(Content(z, true, &stored) == plain);
  EXPECT_EQ(stored, z.size);  // frames plus the seek table
}

TEST_F(RepackMemberDataTest, ANameEndingInZstMustHoldZstd) {
  const TarMember m = Add("x.zst", {'n', 'o', 't', ' ', 'z', 's', 't', 'd'});
  Result<ZstdProbe> p = ProbeZstd(fd_.get(), "in", m, m.path);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("named .zst"), std::string::npos) << p.status().message();
}

TEST_F(RepackMemberDataTest, ATruncatedMemberIsCorrupt) {
  TarMember m = Add("t.dat", {1, 2, 3});
  m.size = 10;  // claims more than the file holds
  std::vector<uint8_t> buf(10);
  Result<size_t> r = MemberReader(fd_.get(), m, "t")(0, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
}

TEST(RepackNamesTest, BaseNameJoinPathQuote) {
  EXPECT_EQ(BaseName("/a/b/c.tar"), "c.tar");
  EXPECT_EQ(BaseName("c.tar/"), "c.tar");
  EXPECT_EQ(JoinPath("", "x"), "x");
  EXPECT_EQ(JoinPath("d/", "x"), "d/x");
  EXPECT_EQ(JoinPath("d", "x"), "d/x");
  EXPECT_EQ(Quote("a b"), "'a b'");
}

}  // namespace
}  // namespace daqfs::repack
