#include "backends/hdf5/hdf5_links.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

TEST(Hdf5LinksTest, PathHelpers) {
  EXPECT_EQ(DirName("/d/f.h5"), "/d");
  EXPECT_EQ(DirName("/f.h5"), "/");
  EXPECT_EQ(DirName("f.h5"), ".");
  EXPECT_EQ(NormalizePath("/a/./b//c/../d"), "/a/b/d");
  EXPECT_EQ(NormalizePath("/../a"), "/a");
  EXPECT_EQ(NormalizePath("a/../../b"), "../b");
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(JoinH5Path("/", "a"), "/a");
  EXPECT_EQ(JoinH5Path("/g", "a"), "/g/a");
  EXPECT_EQ(ExternalFileCandidates("/d/m.h5", "data_1.h5"),
            (std::vector<std::string>{"/d/data_1.h5"}));
  EXPECT_EQ(ExternalFileCandidates("/d/m.h5", "../x/./data.h5"),
            (std::vector<std::string>{"/x/data.h5"}));
  // An absolute name as is, then its base name next to the linking file (as libhdf5 does).
  EXPECT_EQ(ExternalFileCandidates("/d/m.h5", "/beamline/run/data.h5"),
            (std::vector<std::string>{"/beamline/run/data.h5", "/d/data.h5"}));
  EXPECT_TRUE(ExternalFileCandidates("/d/m.h5", "").empty());
}

class Hdf5LinksFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeHdf5Samples(dir_.path());
    ASSERT_TRUE(
        testing::RunPython("import h5py, os\n"
                           "os.makedirs('sub', exist_ok=True)\n"
                           "with h5py.File('sub/target.h5', 'w') as f: f['/g/v'] = 5\n"
                           "with h5py.File('links.h5', 'w') as f:\n"
                           "  f['a'] = h5py.SoftLink('/b')\n"
                           "  f['b'] = h5py.SoftLink('/a')\n"
                           "  f['rel'] = h5py.ExternalLink('sub/target.h5', '/g')\n"
                           "  f['abs'] = h5py.ExternalLink('/no/such/folder/target.h5', '/g/v')\n"
                           "  f['chain'] = h5py.ExternalLink('links.h5', '/rel/v')\n"
                           "  g = f.create_group('grp')\n"
                           "  g['up'] = h5py.SoftLink('../rel')\n"
                           "  g['here'] = h5py.SoftLink('v2')\n"
                           "  g['v2'] = 2\n"
                           "import shutil; shutil.copy('sub/target.h5', 'target.h5')\n",
                           dir_.path()));
  }
  Result<H5Location> Resolve(const std::string& file, const std::string& path) {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(file);
    if (!f.ok()) return f.status();
    return ResolvePath(pool_, *f, path);
  }
  testing::TempDir dir_{"hdf5-links"};
  Hdf5FilePool pool_{8};
};

TEST_F(Hdf5LinksFileTest, ResolvesThroughSoftAndExternalLinks) {
  std::string master = dir_ / "src/sample_master.h5";
  Result<H5Location> bcx = Resolve(master, "/entry/link_to_detector/beam_center_x");
  ASSERT_TRUE(bcx.ok()) << bcx.status().ToString();
  EXPECT_EQ(bcx->path, "/entry/instrument/detector/beam_center_x");
  EXPECT_EQ(bcx->file->path, master);
  EXPECT_EQ(bcx->type, H5O_TYPE_DATASET);
  Result<H5Location> d1 = Resolve(master, "/entry/data/data_000001");
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_EQ(d1->file->path, dir_ / "src/sample_data_000001.h5");
  EXPECT_EQ(d1->path, "/entry/data/data");
  EXPECT_EQ(d1->num_attrs, 2u);
  // Relative external links next to the linking file, in sub-folders too; chains of them.
  Result<H5Location> rel = Resolve(dir_ / "links.h5", "/rel/v");
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  EXPECT_EQ(rel->file->path, dir_ / "sub/target.h5");
  Result<H5Location> chain = Resolve(dir_ / "links.h5", "/chain");
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->file->path, dir_ / "sub/target.h5");
  EXPECT_EQ(chain->path, "/g/v");
  // An absolute name that does not exist: its base name next to the linking file.
  Result<H5Location> abs = Resolve(dir_ / "links.h5", "/abs");
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ(abs->file->path, dir_ / "target.h5");
  // Relative soft links are relative to their group.
  Result<H5Location> here = Resolve(dir_ / "links.h5", "/grp/here");
  ASSERT_TRUE(here.ok()) << here.status().ToString();
  EXPECT_EQ(here->path, "/grp/v2");
}

TEST_F(Hdf5LinksFileTest, DanglingMissingAndLoopingLinksFail) {
  std::string master = dir_ / "src/sample_master.h5";
  Result<H5Location> dangling = Resolve(master, "/entry/dangling");
  EXPECT_EQ(dangling.status().code(), Code::kNotFound) << dangling.status().ToString();
  Result<H5Location> missing = Resolve(master, "/entry/data/data_000003");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kUnavailable);
  EXPECT_NE(missing.status().message().find("missing_data_000003.h5"), std::string::npos);
  EXPECT_NE(missing.status().message().find("sample_master.h5"), std::string::npos);
  Result<H5Location> loop = Resolve(dir_ / "links.h5", "/a");
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), Code::kInvalid);
  EXPECT_NE(loop.status().message().find("more than 40 links"), std::string::npos);
  // ".." is no HDF5 path component.
  EXPECT_EQ(Resolve(dir_ / "links.h5", "/grp/up").status().code(), Code::kNotFound);
}

TEST_F(Hdf5LinksFileTest, ExternalTargetsAreNeverLookedForInTheWorkingDirectory) {
  // A decoy next to the working directory, none next to the linking file.
  testing::TempDir cwd("hdf5-links-cwd");
  ASSERT_TRUE(
      testing::RunPython("import h5py\nwith h5py.File('missing_data_000003.h5', 'w') as f: "
                         "f['/entry/data/data'] = 1\n",
                         cwd.path()));
  char old[PATH_MAX];
  ASSERT_TRUE(getcwd(old, sizeof old));
  ASSERT_EQ(chdir(cwd.path().c_str()), 0);
  Result<H5Location> r = Resolve(dir_ / "src/sample_master.h5", "/entry/data/data_000003");
  ASSERT_EQ(chdir(old), 0);
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
}

TEST_F(Hdf5LinksFileTest, ListsAGroupsLinksByName) {
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> f = pool_.Open(dir_ / "src/sample_master.h5");
  ASSERT_TRUE(f.ok());
  Result<std::vector<H5LinkEntry>> links = ListLinks(**f, "/entry/data");
  ASSERT_TRUE(links.ok()) << links.status().ToString();
  ASSERT_EQ(links->size(), 3u);
  EXPECT_EQ((*links)[0].name, "data_000001");
  EXPECT_EQ((*links)[0].type, H5L_TYPE_EXTERNAL);
  EXPECT_EQ((*links)[0].file, "sample_data_000001.h5");
  EXPECT_EQ((*links)[0].value, "/entry/data/data");
  Result<std::vector<H5LinkEntry>> entry = ListLinks(**f, "/entry");
  ASSERT_TRUE(entry.ok());
  bool soft = false, hard = false;
  for (const H5LinkEntry& e : *entry) {
    if (e.name == "link_to_detector") {
      soft = e.type == H5L_TYPE_SOFT && e.value == "/entry/instrument/detector";
    }
    if (e.name == "instrument") hard = e.type == H5L_TYPE_HARD && e.addr != HADDR_UNDEF;
  }
  EXPECT_TRUE(soft);
  EXPECT_TRUE(hard);
  EXPECT_EQ(ListLinks(**f, "/nope").status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace daqfs
