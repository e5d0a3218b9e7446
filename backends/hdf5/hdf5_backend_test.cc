// The HDF5 backend without FUSE: every file make_hdf5_samples.py expects, byte for byte; the
// root's files and folders; links, loops, attributes, bad input; the real samples; bounded file
// handles under a low open-file limit; rescans.
#include "backends/hdf5/hdf5_backend.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "backends/hdf5/hdf5_backend_test_util.h"
#include "tests/testing/test_env.h"

namespace daqfs {
namespace {

using namespace hdf5_test;  // NOLINT: the helpers of these tests
using testing::RealHdf5Samples;
using testing::RunPython;
using testing::Shell;
using testing::ShellQuote;

TEST_F(Hdf5BackendTest, EveryExpectedFileHasItsSizeAndBytes) {
  ASSERT_GT(expected_.size(), 40u);
  auto b = Make(src());
  ASSERT_TRUE(b);
  for (const auto& [path, bytes] : expected_) {
    SCOPED_TRACE(path);
    Result<NodeId> n = Resolve(*b, path);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    Result<Attr> a = b->GetAttr(*n);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->type, NodeType::kFile);
    EXPECT_EQ(a->size, bytes.size());
    Result<std::string> got = ReadAll(*b, path);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == bytes) << "content differs";
  }
  // Every unit of the .npy files was read by the fallback path (H5Dread), none failed.
  EXPECT_GT(env_.metrics.Value("daqfs_hdf5_units_read_total", "source=\"t\",path=\"fallback\"")
                .value_or(0),
            0);
  EXPECT_EQ(env_.metrics.Value("daqfs_hdf5_read_errors_total", "source=\"t\"").value_or(-1), 0);
}

TEST_F(Hdf5BackendTest, RootShowsEveryFileAndFoldersOnlyForFilesNothingLinks) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  std::vector<std::string> root = List(*b, kRootNode);
  std::set<std::string> names(root.begin(), root.end());
  EXPECT_EQ(names, (std::set<std::string>{"sample_data_000001.h5", "sample_data_000002.h5",
                                          "sample_master.h5", "sample_master", "vds_master.h5",
                                          "vds_master", "vds_missing.h5", "vds_missing"}));
  EXPECT_EQ(b->file_count(), 5u);
  EXPECT_EQ(b->folder_count(), 3u);
  EXPECT_EQ(b->Lookup(kRootNode, "sample_data_000001").status().code(), Code::kNotFound);
  Result<Attr> root_attr = b->GetAttr(kRootNode);
  ASSERT_TRUE(root_attr.ok());
  EXPECT_EQ(root_attr->nlink, 5u);
}

TEST_F(Hdf5BackendTest, FoldersHoldGroupsDatasetsAttributesAndLinks) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  std::vector<std::string> top = ListPath(*b, "sample_master");
  // data.npy and frames/: the master's image stack (hdf5_stack_views_test.cc).
  EXPECT_EQ(top, (std::vector<std::string>{"@file_name", "data.npy", "entry", "frames", "types"}));
  std::vector<std::string> entry = ListPath(*b, "sample_master/entry");
  for (const char* name : {"@NX_class", "dangling", "data", "definition", "instrument",
                           "link_to_detector", "link_to_mask", "onechunk.npy", "sample"}) {
    EXPECT_TRUE(Contains(entry, name)) << name;
  }
  // A hard link to its own parent and an external link back into the same file are cut.
  EXPECT_FALSE(Contains(entry, "loop"));
  EXPECT_FALSE(Contains(entry, "ext_loop"));
  std::vector<std::string> data = ListPath(*b, "sample_master/entry/data");
  EXPECT_EQ(data, (std::vector<std::string>{"@signal", "data_000001.npy",
                                            "data_000001@image_nr_high", "data_000001@image_nr_low",
                                            "data_000002.npy", "data_000002@image_nr_high",
                                            "data_000002@image_nr_low", "data_000003"}));
  // Datasets NumPy cannot hold are left out.
  std::vector<std::string> types = ListPath(*b, "sample_master/types");
  EXPECT_FALSE(Contains(types, "refs"));
  EXPECT_FALSE(Contains(types, "refs.npy"));
  EXPECT_FALSE(Contains(types, "long_vlen"));
  EXPECT_FALSE(Contains(types, "long_vlen.npy"));
  EXPECT_TRUE(Contains(types, "long_fixed.npy"));
}

TEST_F(Hdf5BackendTest, SoftLinksAreRelativeSymlinksToWhereTheTargetIsShown) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  struct Case {
    const char* path;
    const char* target;
  } cases[] = {
      {"sample_master/entry/link_to_detector", "instrument/detector"},
      {"sample_master/entry/link_to_mask", "instrument/detector/detectorSpecific/pixel_mask.npy"},
      {"sample_master/entry/dangling", "nothing/here"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    Result<NodeId> n = Resolve(*b, c.path);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    Result<Attr> a = b->GetAttr(*n);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->type, NodeType::kSymlink);
    Result<std::string> t = b->ReadLink(*n);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, c.target);
    EXPECT_EQ(a->size, std::string(c.target).size());
  }
}

TEST_F(Hdf5BackendTest, AttributesAreExtendedAttributes) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  Result<NodeId> det = Resolve(*b, "sample_master/entry/instrument/detector");
  ASSERT_TRUE(det.ok());
  Result<std::string> cls = b->GetXattr(*det, "user.NX_class");
  ASSERT_TRUE(cls.ok()) << cls.status().ToString();
  EXPECT_EQ(*cls, "NXdetector");
  Result<NodeId> bcx = Resolve(*b, "sample_master/entry/instrument/detector/beam_center_x");
  ASSERT_TRUE(bcx.ok());
  EXPECT_EQ(b->GetXattr(*bcx, "user.units").value(), "pixel");
  Result<std::vector<std::string>> names = b->ListXattr(*bcx);
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(Contains(*names, "user.units"));
  EXPECT_EQ(b->GetXattr(*bcx, "user.nope").status().code(), Code::kNoAttr);
  Result<NodeId> d1 = Resolve(*b, "sample_master/entry/data/data_000001.npy");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(b->GetXattr(*d1, "user.image_nr_low").value(), "1");
  EXPECT_EQ(b->GetXattr(*d1, "user.daqfs.hdf5_path").value(), "/entry/data/data");
  EXPECT_EQ(b->GetXattr(*d1, "user.daqfs.hdf5_layout").value(), "chunked 1x64x80");
  Result<NodeId> spec = Resolve(*b, "sample_master/entry/instrument/detector/detectorSpecific");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(b->GetXattr(*spec, "user.vector").value(), "0.0 0.5 -1.0");
  EXPECT_EQ(b->GetXattr(*spec, "user.names").value(), "alpha\nbeta");
  Result<NodeId> root_group = Resolve(*b, "sample_master");
  ASSERT_TRUE(root_group.ok());
  EXPECT_EQ(b->GetXattr(*root_group, "user.file_name").value(), "sample_master.h5");
}

TEST_F(Hdf5BackendTest, DanglingExternalLinkIsListedAndItsOpenFailsNamingBothFiles) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  Result<NodeId> n = Resolve(*b, "sample_master/entry/data/data_000003");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  Result<Attr> a = b->GetAttr(*n);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, NodeType::kFile);
  EXPECT_EQ(a->size, 0u);
  Result<std::shared_ptr<ByteSource>> src = b->Open(*n, Caller{});
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().ToErrno(), EIO);
  EXPECT_NE(src.status().message().find("sample_master.h5"), std::string::npos)
      << src.status().message();
  EXPECT_NE(src.status().message().find("missing_data_000003.h5"), std::string::npos)
      << src.status().message();
}

TEST_F(Hdf5BackendTest, MissingVirtualSourceGivesEioForItsRowsOnlyNeverZeros) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  Result<NodeId> n = Resolve(*b, "vds_missing/data.npy");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  Result<Attr> a = b->GetAttr(*n);
  ASSERT_TRUE(a.ok());
  const std::string& whole = expected_.at("vds_master/data.npy");
  EXPECT_EQ(a->size, whole.size());  // listed as the file promises
  Result<std::shared_ptr<ByteSource>> src = b->Open(*n, Caller{});
  ASSERT_TRUE(src.ok());
  const uint64_t frame = 64 * 80 * 2;
  const uint64_t header = whole.size() - 8 * frame;
  // Frames 0..4 come from the file that is there.
  std::string head(header + 5 * frame, '\0');
  Result<size_t> got =
      (*src)->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(head.data()), head.size()));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(head == whole.substr(0, head.size()));
  // Frame 6 maps to gone_data.h5: EIO naming both files.
  std::string tail(frame, '\0');
  got = (*src)->ReadAt(header + 6 * frame,
                       std::span(reinterpret_cast<uint8_t*>(tail.data()), tail.size()));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().ToErrno(), EIO);
  EXPECT_NE(got.status().message().find("vds_missing.h5"), std::string::npos);
  EXPECT_NE(got.status().message().find("gone_data.h5"), std::string::npos)
      << got.status().message();
  EXPECT_GE(env_.metrics.Value("daqfs_hdf5_read_errors_total", "source=\"t\"").value_or(0), 1);
}

TEST_F(Hdf5BackendTest, ExternalLinksResolveNextToTheLinkingFileNotInTheWorkingDirectory) {
  // A decoy of the same name in the working directory, holding other data.
  TempDir cwd("hdf5-cwd");
  ASSERT_TRUE(RunPython(
      "import h5py, numpy as np\n"
      "for n in ('sample_data_000001.h5', 'sample_data_000002.h5'):\n"
      "  with h5py.File(n, 'w') as f:\n"
      "    f.create_dataset('/entry/data/data', data=np.full((5, 64, 80), 9, np.uint16))\n",
      cwd.path()));
  char old[PATH_MAX];
  ASSERT_TRUE(getcwd(old, sizeof old));
  ASSERT_EQ(chdir(cwd.path().c_str()), 0);
  auto b = Make(src());
  Result<std::string> d1 = b ? ReadAll(*b, "sample_master/entry/data/data_000001.npy")
                             : Result<std::string>(Status(Code::kIo, "no backend"));
  Result<std::string> v =
      b ? ReadAll(*b, "vds_master/data.npy") : Result<std::string>(Status(Code::kIo, "no backend"));
  ASSERT_EQ(chdir(old), 0);
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_TRUE(*d1 == expected_.at("sample_master/entry/data/data_000001.npy"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(*v == expected_.at("vds_master/data.npy"));
}

TEST_F(Hdf5BackendTest, ListingAMastersGroupsOpensNoDataFile) {
  auto b = Make(src());
  ASSERT_TRUE(b);
  uint64_t opens = b->pool().opens();  // the scan opened the masters, not the data files
  EXPECT_EQ(opens, 3u);
  for (const char* dir : {"sample_master/entry", "sample_master/entry/instrument",
                          "sample_master/entry/instrument/detector", "sample_master/types"}) {
    ListPath(*b, dir);
  }
  EXPECT_EQ(b->pool().opens(), opens);
  ListPath(*b, "sample_master/entry/data");  // follows the external links: two data files
  EXPECT_EQ(b->pool().opens(), opens + 2);
  // The master's own folder shows data.npy, whose size needs the data files' shapes (their
  // metadata: no unit is read).
  ListPath(*b, "sample_master");
  EXPECT_EQ(env_.metrics.Value("daqfs_hdf5_units_read_total", "source=\"t\",path=\"fallback\"")
                .value_or(-1),
            0);
}

TEST_F(Hdf5BackendTest, CorruptChunkGivesEioForThatFrameOnly) {
  std::string folder = dir_ / "corrupt";
  ASSERT_TRUE(
      RunPython("import h5py, os, numpy as np, shutil\n"
                "os.makedirs('corrupt', exist_ok=True)\n"
                "shutil.copy('src/sample_data_000001.h5', 'corrupt/c.h5')\n"
                "with h5py.File('corrupt/c.h5', 'r') as f:\n"
                "  info = f['/entry/data/data'].id.get_chunk_info(2)\n"
                "with open('corrupt/c.h5', 'r+b') as g:\n"
                "  g.seek(info.byte_offset + 2)\n"
                "  g.write(b'\\xff' * 16)\n",
                dir_.path()));
  auto b = Make(folder);
  ASSERT_TRUE(b);
  Result<NodeId> n = Resolve(*b, "c/entry/data/data.npy");
  ASSERT_TRUE(n.ok());
  Result<std::shared_ptr<ByteSource>> s = b->Open(*n, Caller{});
  ASSERT_TRUE(s.ok());
  const std::string& whole = expected_.at("sample_master/entry/data/data_000001.npy");
  const uint64_t frame = 64 * 80 * 2, header = whole.size() - 5 * frame;
  for (uint64_t f = 0; f < 5; ++f) {
    std::string buf(frame, '\0');
    Result<size_t> got =
        (*s)->ReadAt(header + f * frame, std::span(reinterpret_cast<uint8_t*>(buf.data()), frame));
    if (f == 2) {
      ASSERT_FALSE(got.ok()) << "frame 2 should not decode";
      EXPECT_EQ(got.status().ToErrno(), EIO);
    } else {
      ASSERT_TRUE(got.ok()) << f << ": " << got.status().ToString();
      EXPECT_TRUE(buf == whole.substr(header + f * frame, frame)) << "frame " << f;
    }
  }
}

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST_F(Hdf5BackendTest, AThousandDataFilesListInUnderASecondWithBoundedHandles) {
  std::string large = RealHdf5Samples() + "/dectris-h5-testfiles/dataset_artificial_large_001";
  // Far fewer descriptors than files: the pool must close what it does not use.
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  struct rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Hdf5SourceOptions o;
  o.max_open_files = 64;
  auto b = Make(large, o);
  std::vector<std::string> root, data;
  double secs = 0;
  Result<std::string> last = Status(Code::kIo, "not read");
  size_t open_after = 0;
  if (b) {
    root = List(*b, kRootNode);
    auto start = std::chrono::steady_clock::now();
    data = ListPath(*b, "test_master/entry/data");
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (int i : {1, 500, 999, 1000}) {
      char name[64];
      std::snprintf(name, sizeof name, "test_master/entry/data/data_%06d.npy", i);
      last = ReadAll(*b, name);
      if (!last.ok()) break;
    }
    open_after = b->pool().open_files();
  }
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(root.size(), 1002u);  // 1001 files, one folder (the master)
  EXPECT_TRUE(Contains(root, "test_master"));
  EXPECT_FALSE(Contains(root, "test_data_000001"));
  EXPECT_EQ(std::count_if(data.begin(), data.end(),
                          [](const std::string& n) {
                            return n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0;
                          }),
            1000);
  EXPECT_LT(secs, 1.0 * testing::kSanitizerSlowdown)
      << "listing 1000 external links took " << secs << " s";
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->size(), 128 + 5 * 13 * 11 * 2u);
  EXPECT_LE(open_after, 64u);
}
#endif

#if DAQFS_HAVE_SAMPLE_DATA  // the real samples (../shared/data): registered only where present
TEST_F(Hdf5BackendTest, EveryRealSampleIsListedAndItsFilesReadOrFailWithEio) {
  std::string real = RealHdf5Samples();
  for (const char* sub :
       {"dectris-h5-testfiles/dataset_artificial_small_001",
        "dectris-h5-testfiles/datasets_different_h5ver", "dectris-h5-testfiles/datasets_eiger1",
        "dectris-h5-testfiles/datasets_eiger2", "dials-data-files", "nexusformat-exampledata",
        "rosettasciio-arina"}) {
    SCOPED_TRACE(sub);
    TestBackendEnv env;
    Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create("real", real + "/" + sub, {});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_TRUE((*b)->Start(env.env).ok());
    // Walk every folder; read every file whose size is below 16 MiB.
    std::vector<NodeId> todo = {kRootNode};
    size_t files = 0, unreadable = 0;
    while (!todo.empty()) {
      NodeId dir = todo.back();
      todo.pop_back();
      std::vector<DirEntry> entries;
      ASSERT_TRUE((*b)->ReadDir(dir, 0,
                                [&](const DirEntry& e, uint64_t) {
                                  entries.push_back(e);
                                  return true;
                                })
                      .ok());
      for (const DirEntry& e : entries) {
        if (e.attr.type == NodeType::kDirectory) {
          todo.push_back(e.node);
          continue;
        }
        if (e.attr.type != NodeType::kFile || e.attr.size > (16u << 20)) continue;
        ++files;
        Result<std::shared_ptr<ByteSource>> s = (*b)->Open(e.node, Caller{});
        Status st = s.status();
        if (s.ok()) {
          std::string buf(e.attr.size, '\0');
          Result<size_t> got =
              (*s)->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(buf.data()), buf.size()));
          st = got.status();
          if (got.ok()) {
            EXPECT_EQ(*got, e.attr.size) << e.name;
          }
        }
        if (!st.ok()) {
          ++unreadable;
          EXPECT_EQ(st.ToErrno(), EIO) << e.name << ": " << st.ToString();
        }
      }
    }
    EXPECT_GT(files, 0u);
    // Only the dangling links of the samples that have them fail.
    bool dangling =
        std::string(sub) == "dials-data-files" || std::string(sub) == "nexusformat-exampledata";
    if (dangling) {
      EXPECT_GT(unreadable, 0u);
    } else {
      EXPECT_EQ(unreadable, 0u);
    }
  }
}
#endif

TEST_F(Hdf5BackendTest, SourcesAreNamedByWhatTheyShowNotByTheOrderOfListings) {
  // One backend lists everything first, the other looks up the files at once: the node ids
  // differ, the sources' identities (cache keys, also on the SSD across remounts) do not.
  auto listed = Make(src());
  auto direct = Make(src());
  ASSERT_TRUE(listed && direct);
  ListPath(*listed, "sample_master/types");
  ListPath(*listed, "sample_master/entry/instrument/detector/detectorSpecific");
  for (const char* path : {"sample_master/entry/instrument/detector/beam_center_x",
                           "sample_master/entry/instrument/detector/beam_center_x@units",
                           "sample_master/entry/instrument/detector/@NX_class",
                           "sample_master/entry/data/data_000001.npy"}) {
    SCOPED_TRACE(path);
    Result<NodeId> a = Resolve(*listed, path), b = Resolve(*direct, path);
    ASSERT_TRUE(a.ok() && b.ok());
    Result<std::shared_ptr<ByteSource>> sa = listed->Open(*a, Caller{});
    Result<std::shared_ptr<ByteSource>> sb = direct->Open(*b, Caller{});
    ASSERT_TRUE(sa.ok() && sb.ok());
    EXPECT_EQ((*sa)->Identity(), (*sb)->Identity());
  }
  Result<NodeId> x = Resolve(*listed, "sample_master/entry/instrument/detector/beam_center_x");
  Result<NodeId> y = Resolve(*listed, "sample_master/entry/instrument/detector/beam_center_y");
  EXPECT_NE((*listed->Open(*x, Caller{}))->Identity(), (*listed->Open(*y, Caller{}))->Identity());
}

// Extra entries from an Hdf5Views: a file in every file's folder and a computed folder holding
// three files and a computed folder of its own.
class FakeViews final : public Hdf5Views {
 public:
  class Numbers final : public Hdf5ExtraDir {
   public:
    explicit Numbers(int depth) : depth_(depth) {}
    uint64_t Count() const override { return depth_ > 0 ? 4 : 3; }
    Hdf5ExtraEntry At(uint64_t i) const override {
      Hdf5ExtraEntry e;
      if (i == 3) {
        e.name = "deeper";
        e.attr.type = NodeType::kDirectory;
        e.attr.mode = 0555;
        e.dir = std::make_shared<Numbers>(depth_ - 1);
        return e;
      }
      e.name = "n" + std::to_string(i);
      e.attr.size = 1;
      e.attr.mode = 0444;
      e.open = [i] {
        return Result<std::shared_ptr<ByteSource>>(
            std::make_shared<MemorySource>(std::to_string(i), "n" + std::to_string(i)));
      };
      return e;
    }
    std::optional<uint64_t> Find(std::string_view name) const override {
      if (name.size() == 2 && name[0] == 'n' && name[1] >= '0' && name[1] <= '2') {
        return name[1] - '0';
      }
      if (name == "deeper" && depth_ > 0) return 3;
      return std::nullopt;
    }

   private:
    int depth_;
  };
  std::vector<Hdf5ExtraEntry> ForFolder(const Hdf5FolderContext& folder) override {
    std::vector<Hdf5ExtraEntry> out;
    if (folder.file_root) {
      ++root_calls;
      Hdf5ExtraEntry f;
      f.name = "extra.txt";
      f.attr = folder.folder_attr;
      f.attr.type = NodeType::kFile;
      f.attr.size = 5;
      f.open = [] {
        return Result<std::shared_ptr<ByteSource>>(std::make_shared<MemorySource>("hello", "x"));
      };
      out.push_back(f);
      Hdf5ExtraEntry d;
      d.name = "numbers";
      d.attr = folder.folder_attr;
      d.attr.type = NodeType::kDirectory;
      d.dir = std::make_shared<Numbers>(1);
      out.push_back(d);
    }
    if (folder.group_path == "/entry/data") {
      datasets_seen += folder.datasets.size();
      for (const auto& [name, ref] : folder.datasets) {
        if (name == "data_000001")
          units_rows = folder.units(ref, Hdf5DatasetUnits::Layout::kAuto)->rows_per_unit();
      }
    }
    return out;
  }
  size_t datasets_seen = 0;
  uint64_t units_rows = 0;
  std::atomic<int> root_calls{0};
};

TEST_F(Hdf5BackendTest, ExtraViewsAddFilesAndComputedFolders) {
  auto views = std::make_shared<FakeViews>();
  Hdf5SourceOptions o;
  o.views = views;
  auto b = Make(src() + "/sample_master.h5", o);
  ASSERT_TRUE(b);
  std::vector<std::string> top = ListPath(*b, "sample_master");
  EXPECT_EQ(top,
            (std::vector<std::string>{"@file_name", "entry", "extra.txt", "numbers", "types"}));
  EXPECT_EQ(ReadAll(*b, "sample_master/extra.txt").value(), "hello");
  EXPECT_EQ(ListPath(*b, "sample_master/numbers"),
            (std::vector<std::string>{"n0", "n1", "n2", "deeper"}));
  EXPECT_EQ(ReadAll(*b, "sample_master/numbers/n2").value(), "2");
  // A computed folder inside a computed folder: a folder with an id of its own, kept.
  Result<NodeId> deeper = Resolve(*b, "sample_master/numbers/deeper");
  ASSERT_TRUE(deeper.ok());
  EXPECT_EQ(b->GetAttr(*deeper)->type, NodeType::kDirectory);
  EXPECT_EQ(Resolve(*b, "sample_master/numbers/deeper").value(), *deeper);
  EXPECT_EQ(List(*b, *deeper), (std::vector<std::string>{"n0", "n1", "n2"}));
  EXPECT_EQ(ReadAll(*b, "sample_master/numbers/deeper/n1").value(), "1");
  EXPECT_EQ(b->Open(*deeper, Caller{}).status().code(), Code::kIsDir);
  std::vector<DirEntry> after = b->NextSiblings(*Resolve(*b, "sample_master/numbers"), "n1", 9);
  ASSERT_EQ(after.size(), 1u);  // files only: n2, not deeper/
  EXPECT_EQ(after[0].name, "n2");
  EXPECT_EQ(Resolve(*b, "sample_master/numbers/n7").status().code(), Code::kNotFound);
  ListPath(*b, "sample_master/entry/data");
  EXPECT_EQ(views->datasets_seen, 2u);
  EXPECT_EQ(views->units_rows, 1u);  // EIGER frames: one frame per unit
  EXPECT_EQ(views->root_calls.load(), 1);
}

// Extra entries are asked for when a folder is listed or a name its links do not hold is looked
// up there, once; walking a path through the folder does not ask.
TEST_F(Hdf5BackendTest, ExtraEntriesAreAskedForOnFirstNeedOnly) {
  for (bool list_first : {false, true}) {
    SCOPED_TRACE(list_first);
    auto views = std::make_shared<FakeViews>();
    Hdf5SourceOptions o;
    o.views = views;
    auto b = Make(src() + "/sample_master.h5", o);
    ASSERT_TRUE(b);
    ASSERT_TRUE(Resolve(*b, "sample_master/entry/instrument/detector/beam_center_x").ok());
    EXPECT_EQ(views->root_calls.load(), 0);
    if (list_first) {
      EXPECT_EQ(ListPath(*b, "sample_master").size(), 5u);
    } else {
      EXPECT_EQ(ReadAll(*b, "sample_master/extra.txt").value(), "hello");
    }
    EXPECT_EQ(views->root_calls.load(), 1);
    EXPECT_EQ(Resolve(*b, "sample_master/nothing").status().code(), Code::kNotFound);
    EXPECT_EQ(ListPath(*b, "sample_master").size(), 5u);
    EXPECT_TRUE(Resolve(*b, "sample_master/numbers/n0").ok());
    EXPECT_EQ(views->root_calls.load(), 1);
  }
}

}  // namespace
}  // namespace daqfs
