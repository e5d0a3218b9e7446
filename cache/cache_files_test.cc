#include "cache/cache_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

namespace stdfs = std::filesystem;

TEST(CacheFilesTest, MakeDirsWriteAtomicallyReadAndRemoveTree) {
  testing::TempDir temp("cachefiles");
  std::string root = temp / "root";  // created by MakeDirs, removed by RemoveTree
  ASSERT_EQ(MakeDirs(root + "/a/b/c", 0700), 0);
  bool created = true;
  EXPECT_EQ(MakeDir(root + "/a/b/c", 0700, &created), 0);
  EXPECT_FALSE(created);
  const char* op = nullptr;
  std::string text = "hello";
  ASSERT_EQ(WriteFileAtomically(root + "/a/t", root + "/a/b/c/f", text.data(), text.size(), &op),
            0);
  EXPECT_FALSE(stdfs::exists(root + "/a/t"));
  std::string back;
  ASSERT_EQ(ReadWholeFile(root + "/a/b/c/f", &back), 0);
  EXPECT_EQ(back, "hello");
  EXPECT_EQ(WriteFileAtomically(root + "/nope/t", root + "/x", "x", 1, &op), ENOENT);
  EXPECT_STREQ(op, "create");
  int n = 0;
  EXPECT_EQ(ForEachEntry(root + "/a", [&](std::string_view, unsigned char) { ++n; }), 0);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(RemoveTree(root), 0);
  EXPECT_FALSE(stdfs::exists(root));
  EXPECT_EQ(RemoveTree(root), 0);  // absent is fine
}

TEST(CacheFilesTest, SecondLockOfAFolderNamesTheHolder) {
  testing::TempDir temp("cachefiles");
  std::string lock = temp / "lock";
  Result<UniqueFd> first = LockFolder(lock, temp.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<UniqueFd> second = LockFolder(lock, temp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(getpid())), std::string::npos);
}

}  // namespace
}  // namespace daqfs
