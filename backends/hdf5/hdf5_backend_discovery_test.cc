// Discovery in the HDF5 backend: which files of a folder, a glob or one file are shown, the
// files skipped (truncated, damaged, not HDF5), and rescans (new files, a master that arrives
// after its data files and hides their folders, removed files), each change announced.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "backends/hdf5/hdf5_backend.h"
#include "backends/hdf5/hdf5_backend_test_util.h"

namespace daqfs {
namespace {

using namespace hdf5_test;  // NOLINT: the helpers of these tests
using testing::RunPython;
using testing::Shell;
using testing::ShellQuote;

TEST_F(Hdf5BackendTest, TruncatedGarbageAndOtherFilesInAFolderAreSkipped) {
  std::string folder = dir_ / "mixed";
  ASSERT_EQ(
      Shell("set -e; mkdir -p " + ShellQuote(folder) + "; cp " +
            ShellQuote(src() + "/sample_data_000001.h5") + " " + ShellQuote(folder) +
            "/good.h5; head -c 3000 " + ShellQuote(src() + "/sample_master.h5") + " > " +
            ShellQuote(folder) + "/truncated.h5; printf '\\211HDF\\r\\n\\032\\nrubbish' > " +
            ShellQuote(folder) + "/garbage.h5; echo hello > " + ShellQuote(folder) + "/notes.txt"),
      0);
  auto b = Make(folder);
  ASSERT_TRUE(b);
  EXPECT_EQ(List(*b, kRootNode), (std::vector<std::string>{"good.h5", "good"}));
  EXPECT_EQ(env_.metrics.Value("daqfs_hdf5_file_errors_total", "source=\"t\"").value_or(0), 2);
  EXPECT_TRUE(ReadAll(*b, "good/entry/data/data.npy").ok());
}

TEST_F(Hdf5BackendTest, AFileThatCannotBeReadBeyondItsSuperblockIsSkipped) {
  std::string folder = dir_ / "damaged";
  // A whole superblock followed by rubbish: the sniff accepts it, libhdf5 does not.
  ASSERT_TRUE(
      RunPython("import os\n"
                "os.makedirs('damaged', exist_ok=True)\n"
                "b = bytearray(open('src/sample_data_000001.h5', 'rb').read())\n"
                "b[96:4000] = bytes(len(b[96:4000]))\n"
                "open('damaged/zeroed.h5', 'wb').write(b)\n",
                dir_.path()));
  ASSERT_EQ(Shell("cp " + ShellQuote(src() + "/sample_master.h5") + " " + ShellQuote(folder)), 0);
  auto b = Make(folder);
  ASSERT_TRUE(b);
  std::vector<std::string> root = List(*b, kRootNode);
  EXPECT_FALSE(Contains(root, "zeroed.h5")) << ::testing::PrintToString(root);
  EXPECT_TRUE(Contains(root, "sample_master"));
  EXPECT_EQ(env_.metrics.Value("daqfs_hdf5_file_errors_total", "source=\"t\"").value_or(0), 1);
}

TEST_F(Hdf5BackendTest, OneFileSourceAndGlobSource) {
  auto one = Make(src() + "/sample_master.h5");
  ASSERT_TRUE(one);
  EXPECT_EQ(List(*one, kRootNode), (std::vector<std::string>{"sample_master.h5", "sample_master"}));
  auto glob = Make(src() + "/*_master.h5");
  ASSERT_TRUE(glob);
  EXPECT_EQ(List(*glob, kRootNode), (std::vector<std::string>{"sample_master.h5", "sample_master",
                                                              "vds_master.h5", "vds_master"}));
  // The data files are not in the source, but the master's links still find them.
  Result<std::string> d = ReadAll(*glob, "sample_master/entry/data/data_000002.npy");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(*d == expected_.at("sample_master/entry/data/data_000002.npy"));
}

TEST_F(Hdf5BackendTest, NewFilesAppearOnRescanAndAMasterHidesItsDataFilesFolders) {
  std::string folder = dir_ / "grow";
  ASSERT_EQ(Shell("mkdir -p " + ShellQuote(folder) + " && cp " +
                  ShellQuote(src() + "/sample_data_000001.h5") + " " +
                  ShellQuote(src() + "/sample_data_000002.h5") + " " + ShellQuote(folder)),
            0);
  Hdf5SourceOptions o;
  o.background = true;
  o.rescan_seconds = 0.05;
  o.stable_seconds = 0;
  auto b = Make(folder, o);
  ASSERT_TRUE(b);
  b->WaitScanned();
  EXPECT_EQ(b->folder_count(), 2u);  // nothing links them yet
  ASSERT_TRUE(b->Lookup(kRootNode, "sample_data_000001").ok());
  ASSERT_EQ(Shell("cp " + ShellQuote(src() + "/sample_master.h5") + " " + ShellQuote(folder) +
                  "/.tmp && mv " + ShellQuote(folder) + "/.tmp " + ShellQuote(folder) +
                  "/sample_master.h5"),
            0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!b->Lookup(kRootNode, "sample_master").ok() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(b->Lookup(kRootNode, "sample_master").ok());
  b->WaitScanned();
  EXPECT_EQ(b->folder_count(), 1u);
  EXPECT_EQ(b->Lookup(kRootNode, "sample_data_000001").status().code(), Code::kNotFound);
  EXPECT_TRUE(b->Lookup(kRootNode, "sample_data_000001.h5").ok());
}

// Records what the backend announces.
class RecordingInvalidator final : public Invalidator {
 public:
  void EntryAdded(NodeId parent, std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (parent == kRootNode) events_.push_back("+" + std::string(name));
  }
  void EntryRemoved(NodeId parent, std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (parent == kRootNode) events_.push_back("-" + std::string(name));
  }
  void ContentChanged(NodeId) override {}
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

TEST_F(Hdf5BackendTest, RemovedFilesDisappearAndEveryChangeIsAnnounced) {
  std::string folder = dir_ / "announce";
  ASSERT_EQ(
      Shell("mkdir -p " + ShellQuote(folder) + " && cp " + ShellQuote(src() + "/sample_master.h5") +
            " " + ShellQuote(src() + "/sample_data_000001.h5") + " " + ShellQuote(folder)),
      0);
  RecordingInvalidator inv;
  env_.env.invalidator = &inv;
  Hdf5SourceOptions o;
  o.background = true;
  o.rescan_seconds = 0.05;
  o.stable_seconds = 0;
  auto b = Make(folder, o);
  ASSERT_TRUE(b);
  b->WaitScanned();
  EXPECT_EQ(List(*b, kRootNode), (std::vector<std::string>{"sample_data_000001.h5",
                                                           "sample_master.h5", "sample_master"}));
  // The master goes: its data file is now nothing's, and shown as a folder.
  ASSERT_EQ(Shell("rm " + ShellQuote(folder + "/sample_master.h5")), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!b->Lookup(kRootNode, "sample_data_000001").ok() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(b->Lookup(kRootNode, "sample_data_000001").ok());
  EXPECT_EQ(b->Lookup(kRootNode, "sample_master.h5").status().code(), Code::kNotFound);
  std::vector<std::string> events = inv.events();
  // (Files found before Start are not announced: the kernel has not seen the source yet.)
  for (const char* e :
       {"+sample_master", "-sample_master.h5", "-sample_master", "+sample_data_000001"}) {
    EXPECT_TRUE(Contains(events, e)) << e << " not announced";
  }
  auto at = [&](const char* e) { return std::find(events.begin(), events.end(), e); };
  EXPECT_LT(at("-sample_master.h5"), at("+sample_data_000001"))
      << "the data file's folder showed while its master was there";
}

}  // namespace
}  // namespace daqfs
