// TiffBackend over folders written by tifffile: one stack in file-name order with numbers by
// value, data.npy and frame files equal to the arrays, frame xattrs naming file and page,
// .raw frames, rejected files skipped, a shape mismatch an error (an empty folder, logged and
// counted), rescans that keep the frame nodes of unchanged files and announce each changed
// name, files still being written waiting until stable, read access
// checked per backing file for a non-root caller, a file changed after listing unavailable.
#include "backends/tiff/tiff_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/test_env.h"

namespace daqfs {
namespace {

using testing::Shell;
using testing::Slurp;

// Three single-page files whose byte order and value order differ (proj_10 after proj_2), a
// two-page file, a broken one, a text file; every frame's pixels saved in value order.
constexpr const char* kWrite = R"PY(
import numpy as np, tifffile
rng = np.random.default_rng(7)
f = [rng.integers(0, 60000, (24, 40)).astype('u2') for _ in range(5)]
tifffile.imwrite('proj_1.tif', f[0])
tifffile.imwrite('proj_2.tif', f[1], compression='zlib')
tifffile.imwrite('proj_10.tif', np.stack([f[2], f[3]]), photometric='minisblack')
tifffile.imwrite('proj_11.TIFF', f[4], compression='zlib', predictor=True)
open('proj_3.tif', 'wb').write(b'II*\x00' + b'\xff' * 30)
open('notes.txt', 'w').write('not a frame\n')
np.stack(f).tofile('all.bin')
)PY";

std::string ReadAll(Backend& b, NodeId node, const Caller& caller = {}) {
  Result<std::shared_ptr<ByteSource>> s = b.Open(node, caller);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return "";
  std::string out((*s)->Size(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    Result<size_t> n = (*s)->ReadAt(
        done, std::span(reinterpret_cast<uint8_t*>(out.data()) + done, out.size() - done));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    done += *n;
  }
  out.resize(done);
  return out;
}

std::vector<DirEntry> List(Backend& b, NodeId dir) {
  std::vector<DirEntry> out;
  Status s = b.ReadDir(dir, 0, [&](const DirEntry& e, uint64_t) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

NodeId Find(Backend& b, NodeId parent, const std::string& name) {
  Result<NodeId> n = b.Lookup(parent, name);
  EXPECT_TRUE(n.ok()) << name << ": " << n.status().ToString();
  return n.ok() ? *n : 0;
}

size_t NpyHeader(const std::string& npy) {
  if (npy.size() < 10) return 0;
  return 10 +
         (static_cast<uint8_t>(npy[8]) | static_cast<size_t>(static_cast<uint8_t>(npy[9])) << 8);
}

class RecordingInvalidator final : public Invalidator {
 public:
  void EntryAdded(NodeId p, std::string_view n) override {
    events.push_back("+" + std::to_string(p) + ":" + std::string(n));
  }
  void EntryRemoved(NodeId p, std::string_view n) override {
    events.push_back("-" + std::to_string(p) + ":" + std::string(n));
  }
  void ContentChanged(NodeId n) override { events.push_back("*" + std::to_string(n)); }
  std::vector<std::string> events;
};

class TiffBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testing::RunPython(kWrite, dir_.path())); }

  std::unique_ptr<TiffBackend> Make(TiffSourceOptions o = {}, std::string path = "") {
    Result<std::unique_ptr<TiffBackend>> b =
        TiffBackend::Create("tomo", path.empty() ? dir_.path() : path, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return nullptr;
    EXPECT_TRUE((*b)->Start(env_.env).ok());
    return std::move(*b);
  }

  testing::TempDir dir_{"tiff-backend"};
  testing::TestBackendEnv env_;
};

TEST_F(TiffBackendTest, FolderIsOneStackInFileNameOrderWithNumbersByValue) {
  std::unique_ptr<TiffBackend> b = Make();
  ASSERT_TRUE(b);
  std::vector<DirEntry> root = List(*b, kRootNode);
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root[0].name, "data.npy");
  EXPECT_EQ(root[1].name, "frames");
  EXPECT_EQ(root[1].attr.type, NodeType::kDirectory);
  const std::string npy = ReadAll(*b, root[0].node);
  EXPECT_EQ(npy.size(), root[0].attr.size);
  const size_t h = NpyHeader(npy);
  EXPECT_NE(npy.substr(0, h).find("'descr': '<u2', 'fortran_order': False, 'shape': (5, 24, 40)"),
            std::string::npos)
      << npy.substr(0, h);
  EXPECT_TRUE(npy.substr(h) == Slurp(dir_ / "all.bin"));

  std::vector<DirEntry> frames = List(*b, root[1].node);
  ASSERT_EQ(frames.size(), 5u);
  const std::string all = Slurp(dir_ / "all.bin");
  const size_t frame_bytes = 24 * 40 * 2;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].name, FrameFileName(static_cast<int64_t>(i), "tif"));
    const std::string tif = ReadAll(*b, frames[i].node);
    EXPECT_EQ(tif.size(), frames[i].attr.size);
    EXPECT_NE(tif.find(all.substr(i * frame_bytes, frame_bytes)), std::string::npos) << i;
  }
  // Frames 2 and 3 are the pages of proj_10.tif; proj_3.tif (broken) is skipped, proj_11.TIFF
  // (another case) is taken.
  NodeId f3 = Find(*b, root[1].node, "000003.tif");
  Result<std::string> file = b->GetXattr(f3, "user.daqfs.file");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, dir_ / "proj_10.tif");
  EXPECT_EQ(*b->GetXattr(f3, "user.daqfs.page"), "1");
  EXPECT_EQ(*b->GetXattr(Find(*b, root[1].node, "000004.tif"), "user.daqfs.file"),
            dir_ / "proj_11.TIFF");
  EXPECT_EQ(b->GetXattr(root[0].node, "user.daqfs.file").status().code(), Code::kNoAttr);
  EXPECT_EQ(env_.metrics.Value("daqfs_tiff_skipped_files", "source=\"t\""), 1.0);
  EXPECT_EQ(env_.metrics.Value("daqfs_tiff_files", "source=\"t\""), 4.0);
  EXPECT_EQ(env_.metrics.Value("daqfs_tiff_frames", "source=\"t\""), 5.0);

  // Lookups: names of no frame, .raw without the option, a file as a folder.
  EXPECT_EQ(b->Lookup(root[1].node, "000005.tif").status().code(), Code::kNotFound);
  EXPECT_EQ(b->Lookup(root[1].node, "000001.raw").status().code(), Code::kNotFound);
  EXPECT_EQ(b->Lookup(root[1].node, "1.tif").status().code(), Code::kNotFound);
  EXPECT_EQ(b->Lookup(kRootNode, "proj_1.tif").status().code(), Code::kNotFound);
  EXPECT_EQ(b->Lookup(root[0].node, "x").status().code(), Code::kNotDir);
  EXPECT_EQ(b->Open(root[1].node, {}).status().code(), Code::kIsDir);

  // Sibling prefetch names the entries after a frame, in listing order.
  std::vector<DirEntry> next = b->NextSiblings(root[1].node, "000001.tif", 2);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].name, "000002.tif");
  EXPECT_EQ(next[1].name, "000003.tif");
  EXPECT_EQ(b->TotalNodes(), 3u + 5u);
}

TEST_F(TiffBackendTest, RawFramesAreThePixels) {
  TiffSourceOptions o;
  o.raw_frames = true;
  std::unique_ptr<TiffBackend> b = Make(o);
  ASSERT_TRUE(b);
  NodeId frames = Find(*b, kRootNode, "frames");
  std::vector<DirEntry> list = List(*b, frames);
  ASSERT_EQ(list.size(), 10u);
  EXPECT_EQ(list[0].name, "000000.tif");
  EXPECT_EQ(list[1].name, "000000.raw");
  const std::string all = Slurp(dir_ / "all.bin");
  EXPECT_TRUE(ReadAll(*b, Find(*b, frames, "000004.raw")) == all.substr(4 * 1920, 1920));
  // A listing resumed at every cookie neither repeats nor skips.
  for (uint64_t c = 0; c < list.size(); ++c) {
    std::vector<std::string> rest;
    ASSERT_TRUE(b->ReadDir(frames, c, [&](const DirEntry& e, uint64_t) {
                   rest.push_back(e.name);
                   return true;
                 }).ok());
    ASSERT_EQ(rest.size(), list.size() - c);
    EXPECT_EQ(rest[0], list[c].name);
  }
}

TEST_F(TiffBackendTest, AnotherShapeLeavesTheFolderEmptyAndIsCounted) {
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_5.tif', np.zeros((24, 41), 'u2'))\n",
                         dir_.path()));
  std::unique_ptr<TiffBackend> b = Make();
  ASSERT_TRUE(b);
  EXPECT_TRUE(List(*b, kRootNode).empty());
  EXPECT_EQ(b->Lookup(kRootNode, "data.npy").status().code(), Code::kNotFound);
  EXPECT_EQ(env_.metrics.Value("daqfs_tiff_series_errors_total", "source=\"t\""), 1.0);
  EXPECT_EQ(b->TotalNodes(), 1u);
}

TEST_F(TiffBackendTest, ARescanKeepsTheFramesOfUnchangedFilesAndAnnouncesWhatChanged) {
  RecordingInvalidator inv;
  env_.env.invalidator = &inv;
  TiffSourceOptions o;
  o.rescan_seconds = 3600;  // the scanner waits; the test rescans with ScanNow
  o.stable_seconds = 0;
  o.background = true;
  std::unique_ptr<TiffBackend> b = Make(o);
  ASSERT_TRUE(b);
  NodeId npy = Find(*b, kRootNode, "data.npy");
  NodeId frames = Find(*b, kRootNode, "frames");
  NodeId f4 = Find(*b, frames, "000004.tif");
  Result<Attr> before = b->GetAttr(npy);
  ASSERT_TRUE(before.ok());
  inv.events.clear();
  b->ScanNow();  // nothing changed: nothing published
  EXPECT_TRUE(inv.events.empty());
  EXPECT_EQ(*b->Lookup(kRootNode, "data.npy"), npy);

  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_12.tif', np.full((24, 40), 7, 'u2'))\n",
                         dir_.path()));
  b->ScanNow();
  // The new file sorts last: one frame name added, the frames before keep their nodes.
  EXPECT_EQ(inv.events,
            (std::vector<std::string>{"+2:000005.tif", "-1:data.npy", "+1:data.npy", "*2", "*1"}));
  EXPECT_EQ(Find(*b, frames, "000004.tif"), f4);
  NodeId grown = Find(*b, kRootNode, "data.npy");
  EXPECT_NE(grown, npy);
  Result<Attr> after = b->GetAttr(grown);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size, before->size + 24 * 40 * 2);
  // The old node still answers (a reader that holds it); its bytes are the old series'.
  Result<Attr> old = b->GetAttr(npy);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->size, before->size);
  const std::string bytes = ReadAll(*b, grown);
  EXPECT_EQ(bytes.substr(bytes.size() - 2), std::string("\x07\x00", 2));
  EXPECT_TRUE(b->Lookup(frames, "000005.tif").ok());

  // A file inserted before others renames the frames after it: each such name is announced.
  inv.events.clear();
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_0.tif', np.full((24, 40), 9, 'u2'))\n",
                         dir_.path()));
  b->ScanNow();
  EXPECT_EQ(inv.events,
            (std::vector<std::string>{"-2:000000.tif", "-2:000001.tif", "-2:000002.tif",
                                      "-2:000003.tif", "-2:000004.tif", "-2:000005.tif",
                                      "+2:000006.tif", "-1:data.npy", "+1:data.npy", "*2", "*1"}));
  EXPECT_EQ(Find(*b, frames, "000005.tif"), f4);  // proj_11's frame moved up by one
  EXPECT_EQ(b->GetAttr(f4).ok(), true);

  // Removed files leave the series.
  ASSERT_EQ(unlink((dir_ / "proj_12.tif").c_str()), 0);
  ASSERT_EQ(unlink((dir_ / "proj_0.tif").c_str()), 0);
  b->ScanNow();
  Result<Attr> shrunk = b->GetAttr(Find(*b, kRootNode, "data.npy"));
  ASSERT_TRUE(shrunk.ok());
  EXPECT_EQ(shrunk->size, before->size);

  // A file of another shape makes the series an error: its entries go; back when it goes.
  inv.events.clear();
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_99.tif', np.zeros((5, 5), 'u2'))\n",
                         dir_.path()));
  b->ScanNow();
  EXPECT_TRUE(List(*b, kRootNode).empty());
  auto has = [&](const std::string& e) {
    return std::find(inv.events.begin(), inv.events.end(), e) != inv.events.end();
  };
  EXPECT_TRUE(has("-1:data.npy") && has("-1:frames") && has("-2:000004.tif")) << inv.events.size();
  EXPECT_FALSE(has("+1:data.npy"));
  inv.events.clear();
  ASSERT_EQ(unlink((dir_ / "proj_99.tif").c_str()), 0);
  b->ScanNow();
  EXPECT_TRUE(has("+1:data.npy") && has("+1:frames") && has("+2:000004.tif")) << inv.events.size();
  EXPECT_EQ(List(*b, kRootNode).size(), 2u);
  EXPECT_EQ(Find(*b, frames, "000004.tif"), f4);  // proj_11 unchanged: its node too
}

TEST_F(TiffBackendTest, AFileStillBeingWrittenWaitsUntilStable) {
  TiffSourceOptions o;
  o.rescan_seconds = 3600;
  o.stable_seconds = 60;
  o.background = true;
  ASSERT_TRUE(Shell("touch -d '-2 minutes' " + dir_.path() + "/*") == 0);
  std::unique_ptr<TiffBackend> b = Make(o);
  ASSERT_TRUE(b);
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_12.tif', np.full((24, 40), 7, 'u2'))\n",
                         dir_.path()));
  b->ScanNow();
  const NodeId frames = Find(*b, kRootNode, "frames");
  EXPECT_FALSE(b->Lookup(frames, "000005.tif").ok());
  ASSERT_TRUE(Shell("touch -d '-2 minutes' " + dir_.path() + "/proj_12.tif") == 0);
  b->ScanNow();
  EXPECT_TRUE(b->Lookup(frames, "000005.tif").ok());
  // A file of the series being rewritten keeps its place (no name shifts); its frame reads
  // fail until it is stable, then show the new content.
  const NodeId f0 = Find(*b, frames, "000000.tif");
  const NodeId f1 = Find(*b, frames, "000001.tif");
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_1.tif', np.full((24, 40), 3, 'u2'))\n",
                         dir_.path()));
  b->ScanNow();
  EXPECT_EQ(Find(*b, frames, "000000.tif"), f0);
  EXPECT_EQ(Find(*b, frames, "000001.tif"), f1);
  Result<std::shared_ptr<ByteSource>> open = b->Open(f0, {});
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  std::vector<uint8_t> buf((*open)->Size());
  EXPECT_FALSE((*open)->ReadAt(0, buf).ok());
  ASSERT_TRUE(Shell("touch -d '-2 minutes' " + dir_.path() + "/proj_1.tif") == 0);
  b->ScanNow();
  EXPECT_NE(Find(*b, frames, "000000.tif"), f0);
  EXPECT_EQ(Find(*b, frames, "000001.tif"), f1);
}

TEST_F(TiffBackendTest, ReadAccessIsCheckedPerBackingFile) {
  ASSERT_EQ(chmod((dir_ / "proj_2.tif").c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  std::unique_ptr<TiffBackend> b = Make();
  ASSERT_TRUE(b);
  Caller nobody;
  nobody.uid = 65534;
  nobody.gid = 65534;
  NodeId frames = Find(*b, kRootNode, "frames");
  // Frame 1 comes from proj_2.tif (root's, 0600); frame 0 from proj_1.tif (0644).
  EXPECT_EQ(b->Open(Find(*b, frames, "000001.tif"), nobody).status().code(), Code::kPermission);
  EXPECT_TRUE(b->Open(Find(*b, frames, "000000.tif"), nobody).ok());
  EXPECT_EQ(b->Open(Find(*b, kRootNode, "data.npy"), nobody).status().code(), Code::kPermission);
  // Attributes show the backing file's mode, read bits only.
  Result<Attr> a = b->GetAttr(Find(*b, frames, "000000.tif"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode, 0444u);
  // A chmod after listing (a new ctime) does not stop data.npy from opening for whoever may
  // read every file.
  ASSERT_EQ(chmod((dir_ / "proj_2.tif").c_str(), 0644), 0);
  EXPECT_TRUE(b->Open(Find(*b, kRootNode, "data.npy"), nobody).ok());
}

TEST_F(TiffBackendTest, AFileChangedAfterListingIsUnavailableUntilRescanned) {
  std::unique_ptr<TiffBackend> b = Make();
  ASSERT_TRUE(b);
  NodeId frames = Find(*b, kRootNode, "frames");
  NodeId f0 = Find(*b, frames, "000000.tif");
  ASSERT_TRUE(
      testing::RunPython("import numpy as np, tifffile\n"
                         "tifffile.imwrite('proj_1.tif', np.full((24, 40), 3, 'u2'))\n",
                         dir_.path()));
  // Rewritten in place (the same inode): it opens, its page reads fail; a file replaced by
  // another (a new inode) does not open.
  Result<std::shared_ptr<ByteSource>> open = b->Open(f0, {});
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  std::vector<uint8_t> buf((*open)->Size());
  EXPECT_EQ((*open)->ReadAt(0, buf).status().code(), Code::kUnavailable);
  EXPECT_TRUE(b->Open(Find(*b, frames, "000001.tif"), {}).ok());
  NodeId f1 = Find(*b, frames, "000001.tif");
  ASSERT_EQ(Shell("cd " + dir_.path() + " && cp proj_2.tif x && mv x proj_2.tif"), 0);
  EXPECT_EQ(b->Open(f1, {}).status().code(), Code::kUnavailable);
  b->ScanNow();
  NodeId fresh = Find(*b, Find(*b, kRootNode, "frames"), "000000.tif");
  std::string threes;
  for (int i = 0; i < 24 * 40; ++i) threes += std::string("\x03\x00", 2);
  EXPECT_NE(ReadAll(*b, fresh).find(threes), std::string::npos);
}

TEST_F(TiffBackendTest, OneMultiPageFileOrAGlobIsASource) {
  std::unique_ptr<TiffBackend> one = Make({}, dir_ / "proj_10.tif");
  ASSERT_TRUE(one);
  EXPECT_EQ(List(*one, Find(*one, kRootNode, "frames")).size(), 2u);
  std::unique_ptr<TiffBackend> glob = Make({}, dir_ / "proj_1*");
  ASSERT_TRUE(glob);
  // proj_1.tif, proj_10.tif (2 pages), proj_11.TIFF
  EXPECT_EQ(List(*glob, Find(*glob, kRootNode, "frames")).size(), 4u);
  EXPECT_EQ(TiffBackend::Create("x", dir_ / "missing", {}).status().code(), Code::kNotFound);
}

TEST(FileNameLessTest, NumbersCompareByValue) {
  std::vector<std::string> names = {"p_10.tif", "p_2.tif",   "p_1.tif", "p_02.tif", "a.tif",
                                    "p_1b.tif", "p_100.tif", "p_.tif",  "P_3.tif"};
  std::sort(names.begin(), names.end(), FileNameLess);
  EXPECT_EQ(names, (std::vector<std::string>{"P_3.tif", "a.tif", "p_.tif", "p_1.tif", "p_1b.tif",
                                             "p_2.tif", "p_02.tif", "p_10.tif", "p_100.tif"}));
  EXPECT_FALSE(FileNameLess("x1", "x1"));
  EXPECT_TRUE(FileNameLess("x1", "x01"));
  EXPECT_FALSE(FileNameLess("x01", "x1"));
}

}  // namespace
}  // namespace daqfs
