#include "backends/hdf5/hdf5_file_view.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

using Kind = Hdf5FileView::Kind;

class Hdf5FileViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // a.h5 links into b.h5; b.h5's group g holds a soft link inside g and one outside it.
    ASSERT_TRUE(
        testing::RunPython("import h5py, numpy as np\n"
                           "with h5py.File('b.h5', 'w') as f:\n"
                           "  f['/g/x'] = np.arange(4)\n"
                           "  f['/g/inside'] = h5py.SoftLink('/g/x')\n"
                           "  f['/g/outside'] = h5py.SoftLink('/other')\n"
                           "  f['/other/y'] = 7.5\n"
                           "  f['/g/deep/z'] = 1\n"
                           "with h5py.File('a.h5', 'w') as f:\n"
                           "  f['ext'] = h5py.ExternalLink('b.h5', '/g')\n"
                           "  f['grp/v'] = np.arange(3)\n"
                           "  f['grp/v'].attrs['units'] = 'mm'\n"
                           "  f['grp'].attrs['NX_class'] = 'NXdata'\n"
                           "  f['same'] = f['grp/v']\n"
                           "  f['weird'] = np.array([f.ref], dtype=h5py.ref_dtype)\n"
                           "  f['grp/v@units'] = 1\n",  // collides with the attribute file of v
                           dir_.path()));
    env_->source = "t";
    env_->pool = std::make_shared<Hdf5FilePool>(8);
    env_->units = [](std::shared_ptr<const Hdf5DatasetRef>, Hdf5DatasetUnits::Layout) {
      return nullptr;
    };
    struct stat st;
    ASSERT_EQ(stat((dir_ / "a.h5").c_str(), &st), 0);
    view_ = std::make_unique<Hdf5FileView>(env_, dir_ / "a.h5", st);
  }
  Result<std::shared_ptr<const Hdf5FileView::Node>> At(const std::string& path) {
    uint64_t local = Hdf5FileView::kFolder;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      Result<uint64_t> next = view_->Lookup(local, path.substr(pos, slash - pos));
      if (!next.ok()) return next.status();
      local = *next;
      pos = slash + 1;
    }
    return view_->NodeOf(local);
  }
  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    Result<std::shared_ptr<const Hdf5FileView::Node>> n = At(path);
    EXPECT_TRUE(n.ok()) << path;
    if (!n.ok()) return names;
    Status s =
        view_->List((*n)->local, 0, [&](const std::string& name, uint64_t, const Attr&, uint64_t) {
          names.push_back(name);
          return true;
        });
    EXPECT_TRUE(s.ok());
    return names;
  }

  testing::TempDir dir_{"hdf5-view"};
  std::shared_ptr<Hdf5FileView::Env> env_ = std::make_shared<Hdf5FileView::Env>();
  std::unique_ptr<Hdf5FileView> view_;
};

TEST_F(Hdf5FileViewTest, EntriesOfEveryKind) {
  EXPECT_EQ(List(""), (std::vector<std::string>{"ext", "grp", "same.npy", "same@units"}));
  EXPECT_EQ(List("grp"), (std::vector<std::string>{"@NX_class", "v.npy", "v@units"}));
  Result<std::shared_ptr<const Hdf5FileView::Node>> v = At("grp/v.npy");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->kind, Kind::kNpy);
  EXPECT_EQ((*v)->xattrs, (std::vector<std::pair<std::string, std::string>>{{"user.units", "mm"}}));
  // The link named like the attribute file wins; the attribute stays an xattr.
  Result<std::shared_ptr<const Hdf5FileView::Node>> units = At("grp/v@units");
  ASSERT_TRUE(units.ok());
  EXPECT_EQ((*units)->content, "1\n");
  // A hard link: another node, the same object.
  Result<std::shared_ptr<const Hdf5FileView::Node>> same = At("same.npy");
  ASSERT_TRUE(same.ok());
  EXPECT_NE((*same)->local, (*v)->local);
  EXPECT_EQ((*same)->addr, (*v)->addr);
  EXPECT_EQ((*same)->file_identity, (*v)->file_identity);
  Result<std::vector<std::pair<std::string, std::string>>> folder_x =
      view_->Xattrs((*At("grp"))->local);
  ASSERT_TRUE(folder_x.ok());
  EXPECT_EQ(*folder_x,
            (std::vector<std::pair<std::string, std::string>>{{"user.NX_class", "NXdata"}}));
  EXPECT_EQ(At("grp/nope").status().code(), Code::kNotFound);
  EXPECT_EQ(view_->Lookup((*v)->local, "x").status().code(), Code::kNotDir);
  EXPECT_EQ(view_->NodeOf(123456).status().code(), Code::kNotFound);
}

TEST_F(Hdf5FileViewTest, SoftLinksInsideWhatAFolderShowsAreSymlinksOthersAreFollowed) {
  EXPECT_EQ(List("ext"), (std::vector<std::string>{"deep", "inside", "outside", "x.npy"}));
  Result<std::shared_ptr<const Hdf5FileView::Node>> inside = At("ext/inside");
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ((*inside)->kind, Kind::kSymlink);
  EXPECT_EQ((*inside)->content, "x.npy");
  // /other is not under b.h5's /g, which is all that ext shows: the link is followed.
  Result<std::shared_ptr<const Hdf5FileView::Node>> outside = At("ext/outside");
  ASSERT_TRUE(outside.ok());
  EXPECT_EQ((*outside)->kind, Kind::kFolder);
  EXPECT_EQ((*outside)->file, dir_ / "b.h5");
  EXPECT_EQ((*outside)->path, "/other");
  EXPECT_EQ(List("ext/outside"), (std::vector<std::string>{"y"}));
  EXPECT_EQ((*At("ext/outside/y"))->content, "7.5\n");
  // Below an external link, folders keep the link's anchor: deep's objects are b.h5's.
  Result<std::shared_ptr<const Hdf5FileView::Node>> deep = At("ext/deep");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ((*deep)->anchor_path, "/g");
}

TEST_F(Hdf5FileViewTest, NextFilesForSiblingPrefetch) {
  Result<std::shared_ptr<const Hdf5FileView::Node>> grp = At("grp");
  ASSERT_TRUE(grp.ok());
  auto after = view_->FilesAfter((*grp)->local, "@NX_class", 5);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].first, "v.npy");
  EXPECT_EQ(after[1].first, "v@units");
}

}  // namespace
}  // namespace daqfs
