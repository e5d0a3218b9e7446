#include "fs/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace daqfs {
namespace {

TEST(StatusTest, ErrnoTableCoversEveryCode) {
  EXPECT_EQ(Status::Ok().ToErrno(), 0);
  EXPECT_EQ(NotFound("x").ToErrno(), ENOENT);
  EXPECT_EQ(Status(Code::kReadOnly, "").ToErrno(), EROFS);
  EXPECT_EQ(Corrupt("x").ToErrno(), EIO);
  EXPECT_EQ(IoError("x").ToErrno(), EIO);
  EXPECT_EQ(Status(Code::kUnavailable, "").ToErrno(), EIO);
  EXPECT_EQ(Status(Code::kPermission, "").ToErrno(), EACCES);
  EXPECT_EQ(Status(Code::kNoAttr, "").ToErrno(), ENODATA);
  EXPECT_EQ(Status(Code::kRange, "").ToErrno(), ERANGE);
  EXPECT_EQ(Status(Code::kNotDir, "").ToErrno(), ENOTDIR);
  EXPECT_EQ(Status(Code::kIsDir, "").ToErrno(), EISDIR);
  EXPECT_EQ(Status(Code::kNoMemory, "").ToErrno(), ENOMEM);
  EXPECT_EQ(Status(Code::kNotLink, "").ToErrno(), EINVAL);
}

TEST(StatusTest, ErrnoStatusKeepsMeaningAndMessage) {
  Status s = ErrnoStatus(ENOENT, "open /x");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("open /x"), std::string::npos);
  EXPECT_EQ(ErrnoStatus(EACCES, "a").ToErrno(), EACCES);
  EXPECT_EQ(ErrnoStatus(EBADF, "a").ToErrno(), EIO);
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<std::string> good = std::string("five");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, "five");
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Corrupt("bad header");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorrupt);
  EXPECT_EQ(bad.status().ToString(), "corrupt: bad header");
}

}  // namespace
}  // namespace daqfs
