#include "fs/source_type.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

namespace daqfs {
namespace {

// A type that accepts paths starting with `prefix`; `hard` paths cannot be looked at at all.
class PrefixType final : public SourceType {
 public:
  PrefixType(std::string name, std::string prefix)
      : name_(std::move(name)), prefix_(std::move(prefix)) {}
  std::string_view Name() const override { return name_; }
  IniCheck ParseKeys(const IniSection&, const std::vector<IniEntry>&,
                     std::shared_ptr<SourceOptions>* options) const override {
    *options = std::make_shared<SourceOptions>();
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> FormatKeys(const SourceOptions&) const override {
    return {};
  }
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override {
    if (path == "/missing") return NotFound(path + ": No such file or directory");
    if (path.rfind(prefix_, 0) != 0) return Invalid(path + ": not " + name_);
    return std::make_shared<SourceOptions>();
  }
  Result<SourceCheck> Check(const SourceSpec&) const override { return SourceCheck{}; }
  Result<std::unique_ptr<Backend>> Create(const SourceSpec&) const override {
    return Invalid("not here");
  }

 private:
  std::string name_, prefix_;
};

TEST(SourceTypeRegistryTest, RegisterAndFind) {
  SourceTypeRegistry r;
  EXPECT_EQ(r.Find("a"), nullptr);
  ASSERT_TRUE(r.Register(std::make_shared<PrefixType>("a", "/a")).ok());
  ASSERT_TRUE(r.Register(std::make_shared<PrefixType>("b", "/b")).ok());
  Status twice = r.Register(std::make_shared<PrefixType>("a", "/x"));
  EXPECT_EQ(twice.code(), Code::kInvalid);
  EXPECT_EQ(twice.message(), "source type 'a' registered twice");
  EXPECT_FALSE(r.Register(std::make_shared<PrefixType>("", "/x")).ok());
  EXPECT_FALSE(r.Register(nullptr).ok());
  ASSERT_NE(r.Find("b"), nullptr);
  EXPECT_EQ(r.Find("b")->Name(), "b");
  EXPECT_EQ(r.Names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.JoinedNames(), "a, b");
}

TEST(SourceTypeRegistryTest, SniffTriesEachTypeInOrder) {
  SourceTypeRegistry r;
  ASSERT_TRUE(r.Register(std::make_shared<PrefixType>("a", "/data")).ok());
  ASSERT_TRUE(r.Register(std::make_shared<PrefixType>("b", "/d")).ok());
  Result<SourceSpec> first = r.Sniff("/data/x");  // both accept: the first registered wins
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->type, "a");
  EXPECT_EQ(first->source_type, r.Find("a"));
  EXPECT_NE(first->options, nullptr);
  EXPECT_EQ(first->max_inflight, kDefaultMaxInflight);
  Result<SourceSpec> second = r.Sniff("/dx");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->type, "b");
  // None: every reason, in order.
  Result<SourceSpec> none = r.Sniff("/x");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kInvalid);
  EXPECT_EQ(none.status().message(), "/x: not a; /x: not b");
  // A path that cannot be looked at: that error alone.
  Result<SourceSpec> missing = r.Sniff("/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  // No types at all.
  EXPECT_FALSE(SourceTypeRegistry().Sniff("/data").ok());
}

}  // namespace
}  // namespace daqfs

namespace daqfs {
namespace {

// A source path names files three ways: itself, a folder's accepted regular files (not
// recursive), or a glob's regular matches; always sorted; errors name the path.
TEST(ListSourceFilesTest, FileFolderAndGlob) {
  char tmpl[] = "/tmp/daqfs-listsrc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const char* name : {"b.tar", "a.tar", "c.txt"}) std::ofstream(dir + "/" + name) << "x";
  ASSERT_EQ(mkdir((dir + "/sub.tar").c_str(), 0700), 0);  // a folder: never listed
  auto tars = [](const std::string& n) { return n.size() > 4 && n.ends_with(".tar"); };
  Result<std::vector<std::string>> r = ListSourceFiles(dir, tars);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{dir + "/a.tar", dir + "/b.tar"}));
  r = ListSourceFiles(dir + "/", [](const std::string&) { return true; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<std::string>{dir + "/a.tar", dir + "/b.tar", dir + "/c.txt"}));
  r = ListSourceFiles(dir + "/c.txt", tars);  // a file named directly: taken as it is
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<std::string>{dir + "/c.txt"}));
  r = ListSourceFiles(dir + "/*.t?r", tars);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<std::string>{dir + "/a.tar", dir + "/b.tar"}));
  r = ListSourceFiles(dir + "/*.none", tars);  // a glob that matches nothing: empty
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = ListSourceFiles(dir + "/missing", tars);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir + "/missing"), std::string::npos);
  r = ListSourceFiles("/dev/null", tars);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_TRUE(HasGlobChars("/d/*.h5"));
  EXPECT_TRUE(HasGlobChars("/d/x[12].h5"));
  EXPECT_FALSE(HasGlobChars("/d/x.h5"));
  EXPECT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
}

}  // namespace
}  // namespace daqfs
