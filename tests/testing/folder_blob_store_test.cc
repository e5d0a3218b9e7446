#include "tests/testing/folder_blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

class FolderBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }
  testing::TempDir temp_{"blobs"};  // removed with its content
  std::string dir_;
};

std::span<const uint8_t> B(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST_F(FolderBlobStoreTest, PutGetCreateOpenListEraseWithPrefixes) {
  FolderBlobStore a(dir_, dir_, "a-"), b(dir_, dir_, "b-");
  ASSERT_TRUE(a.Put("x.idx", B("small")).ok());
  Result<Bytes> got = a.Get("x.idx");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(got->begin(), got->end()), "small");
  EXPECT_EQ(b.Get("x.idx").status().code(), Code::kNotFound);  // sources stay apart

  auto w = a.Create("y.tar", 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(B("hello ")).ok());
  ASSERT_TRUE((*w)->Append(B("world")).ok());
  EXPECT_EQ(a.Open("y.tar").status().code(), Code::kNotFound);  // not before Commit
  Result<std::shared_ptr<Blob>> blob = (*w)->Commit();
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ((*blob)->size(), 11u);
  char buf[11];
  ASSERT_EQ(pread((*blob)->fd()->get(), buf, 11, 0), 11);
  EXPECT_EQ(std::string(buf, 11), "hello world");
  {
    auto dropped = a.Create("z.tar", 0);  // never committed: nothing stays
    ASSERT_TRUE((*dropped)->Append(B("zzz")).ok());
  }
  EXPECT_EQ(a.List(), (std::vector<std::string>{"x.idx", "y.tar"}));
  EXPECT_TRUE(b.List().empty());
  a.Erase("y.tar");
  a.Erase("nothing");
  EXPECT_EQ(a.List(), (std::vector<std::string>{"x.idx"}));
  EXPECT_EQ(pread((*blob)->fd()->get(), buf, 5, 0), 5);  // an open blob still reads
  EXPECT_EQ(a.Put("../evil", B("x")).code(), Code::kInvalid);
}

}  // namespace
}  // namespace daqfs
