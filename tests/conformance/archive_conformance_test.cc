// The backend conformance suite on every archive flavour: plain tar, tar of zstd members (one
// of them a huge single frame served in grouped sub-blocks), .tar.zst read by frame (1 MiB
// frames of the tar stream that do not line up with members), .tar.zst spilled (one frame of
// unknown size, decompressed once into the spill folder), .tar.gz read through inflate
// checkpoints (GNU tar + gzip: one member) and pigz-like (gzip members of 1 MiB of tar),
// .tar.xz of many blocks read by block, .tar.bz2 read by bzip2 block (bzip2 -1: 100 kB blocks at
// arbitrary bit offsets), one-block .tar.xz and .tar.lz4 (decompressed once into the spill
// folder), and the merged layout. The expected bytes are the files before
// packing.
#include <map>
#include <memory>
#include <string>

#include "backends/archive/tar_backend.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/testing/archives.h"
#include "tests/testing/files.h"

namespace daqfs::testing {
namespace {

enum class Packing {
  kTar,
  kZstdMembers,
  kTarZstFrames,
  kTarZstSpilled,
  kTarGz,
  kTarGzMembers,
  kTarXz,
  kTarXzBlocks,
  kTarBz2,
  kTarLz4
};

// Builds the TarBackend of a flavour: the one place that knows TarBackend's options.
Result<std::unique_ptr<Backend>> MakeArchiveBackend(const std::string& dir, bool rescan,
                                                    bool merged) {
  ArchiveSourceOptions o;
  o.merged = merged;
  o.background = rescan;  // rescans run on the indexer thread
  o.rescan_seconds = rescan ? 0.05 : 0;
  o.stable_seconds = 0;
  Result<std::unique_ptr<TarBackend>> b = TarBackend::Create("conformance", dir + "/archives", o);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Backend>(std::move(*b));
}

class ArchiveFlavour final : public ConformanceFlavour {
 public:
  ArchiveFlavour(std::string name, Packing packing, bool merged)
      : name_(std::move(name)), packing_(packing), merged_(merged) {}
  std::string Name() const override { return name_; }

  std::map<std::string, std::string> MakeData(const std::string& dir) override {
    MakeDirs(dir + "/archives");
    std::map<std::string, std::string> files;
    // Archive "a": a tree with a file of several MiB, a small, an empty and a nested one.
    std::map<std::string, std::string> a = {
        {"big.dat", SampleData(1, 5 * (1 << 20) + 4321)},
        {"sub/small.dat", SampleData(2, 5000)},
        {"sub/empty.dat", ""},
        {"sub/deeper/odd.dat", SampleData(3, (1 << 20) + 1)},
    };
    if (packing_ == Packing::kZstdMembers) {
      a["huge.dat"] = SampleData(4, 9 * (1 << 20) + 17);  // one frame: grouped sub-blocks
    }
    Pack(dir, "a", a, &files);
    Pack(dir, "c", {{"c1.dat", SampleData(5, 70000)}}, &files);
    Pack(dir, "e", {{"e1.dat", SampleData(6, 3 * (1 << 20))}}, &files);
    return files;
  }

  Result<std::unique_ptr<Backend>> MakeBackend(const std::string& dir, bool rescan) override {
    return MakeArchiveBackend(dir, rescan, merged_);
  }

  // Archive 0-<n> sorts before every archive; merged, its member 0-m<n>.dat sorts before
  // every root entry: each insertion lands ahead of the reader's position.
  std::string Grow(const std::string& dir, int n) override {
    std::string member = "0-m" + std::to_string(n) + ".dat";
    std::string archive =
        Pack(dir, "0-" + std::to_string(n), {{member, SampleData(10 + n, 3000)}}, nullptr);
    return merged_ ? member : archive;
  }

 private:
  // Packs `content` as archive `stem` in dir/archives; adds its files to `files` under the
  // paths the backend shows; returns the archive's file name.
  std::string Pack(const std::string& dir, const std::string& stem,
                   const std::map<std::string, std::string>& content,
                   std::map<std::string, std::string>* files) {
    std::string src = dir + "/src-" + stem;
    for (const auto& [path, bytes] : content) {
      MakeDirs((src + "/" + path).substr(0, (src + "/" + path).rfind('/')));
      WriteFile(src + "/" + path, bytes);
    }
    std::string name;
    // Built beside the folder and moved in whole, so a rescan never sees half an archive.
    std::string staged = dir + "/staged-" + stem;
    switch (packing_) {
      case Packing::kTar:
        name = stem + ".tar";
        MakeTar(src, staged);
        break;
      case Packing::kZstdMembers:
        name = stem + ".tar";
        CompressTree(src, src + "-zst", 1 << 20);
        if (content.count("huge.dat")) {
          WriteFile(src + "-zst/huge.dat.zst", ZstdFrames(content.at("huge.dat"), 16 << 20));
        }
        MakeTar(src + "-zst", staged);
        break;
      case Packing::kTarZstFrames:
        name = stem + ".tar.zst";
        MakeTarZst(src, staged, 1 << 20);
        break;
      case Packing::kTarZstSpilled:
        name = stem + ".tar.zst";
        MakeTarZstStreamed(src, staged);
        break;
      case Packing::kTarGz:
        name = stem + ".tar.gz";
        EXPECT_EQ(Shell("tar -czf " + ShellQuote(staged) + " -C " + ShellQuote(src) + " ."), 0);
        break;
      case Packing::kTarXz:
      case Packing::kTarXzBlocks:
      case Packing::kTarBz2:
      case Packing::kTarLz4: {
        const char* compress = packing_ == Packing::kTarXz         ? "xz -1 -T1"
                               : packing_ == Packing::kTarXzBlocks ? "xz -1 -T2 --block-size=1MiB"
                               : packing_ == Packing::kTarBz2      ? "bzip2 -1"
                                                                   : "lz4 -q";
        name = stem + (packing_ == Packing::kTarBz2   ? ".tar.bz2"
                       : packing_ == Packing::kTarLz4 ? ".tar.lz4"
                                                      : ".tar.xz");
        EXPECT_EQ(Shell("tar -cf - -C " + ShellQuote(src) + " . | " + compress + " -c > " +
                        ShellQuote(staged)),
                  0);
        break;
      }
      case Packing::kTarGzMembers:
        name = stem + ".tgz";
        EXPECT_EQ(Shell("tar -cf - -C " + ShellQuote(src) +
                        " . | split -b 1M --filter='gzip -1' > " + ShellQuote(staged)),
                  0);
        break;
    }
    EXPECT_EQ(Shell("mv " + ShellQuote(staged) + " " + ShellQuote(dir + "/archives/" + name)), 0);
    if (files) {
      for (const auto& [path, bytes] : content) {
        (*files)[merged_ ? path : name + "/" + path] = bytes;
      }
    }
    return name;
  }

  std::string name_;
  Packing packing_;
  bool merged_;
};

INSTANTIATE_TEST_SUITE_P(
    Archive, BackendConformanceTest,
    ::testing::Values(
        std::make_shared<ArchiveFlavour>("PlainTar", Packing::kTar, false),
        std::make_shared<ArchiveFlavour>("ZstdMembers", Packing::kZstdMembers, false),
        std::make_shared<ArchiveFlavour>("TarZstByFrame", Packing::kTarZstFrames, false),
        std::make_shared<ArchiveFlavour>("TarZstSpilled", Packing::kTarZstSpilled, false),
        std::make_shared<ArchiveFlavour>("TarGz", Packing::kTarGz, false),
        std::make_shared<ArchiveFlavour>("TarGzMembers", Packing::kTarGzMembers, false),
        std::make_shared<ArchiveFlavour>("TarXzSpilled", Packing::kTarXz, false),
        std::make_shared<ArchiveFlavour>("TarXzByBlock", Packing::kTarXzBlocks, false),
        std::make_shared<ArchiveFlavour>("TarBz2ByBlock", Packing::kTarBz2, false),
        std::make_shared<ArchiveFlavour>("TarLz4Spilled", Packing::kTarLz4, false),
        std::make_shared<ArchiveFlavour>("Merged", Packing::kTar, true),
        std::make_shared<ArchiveFlavour>("MergedZstdMembers", Packing::kZstdMembers, true)),
    FlavourName);

}  // namespace
}  // namespace daqfs::testing
