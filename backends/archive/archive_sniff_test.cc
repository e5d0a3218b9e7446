// Sniffing of archive sources: real archives made by GNU tar, bsdtar and zstd are recognized by
// their bytes, and everything else is named in the error.
#include "backends/archive/archive_sniff.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

class ArchiveSniffTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }
  void Run(const std::string& cmd) {
    std::string script = dir_ + "/.make.sh";
    FILE* f = std::fopen(script.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "set -e\ncd '%s'\n%s\n", dir_.c_str(), cmd.c_str());
    std::fclose(f);
    ASSERT_EQ(std::system(("bash " + script).c_str()), 0) << cmd;
  }
  std::string Error(const std::string& path) {
    Status s = CheckArchiveSource(path);
    EXPECT_FALSE(s.ok()) << path;
    return s.message();
  }
  testing::TempDir temp_{"sniff"};
  std::string dir_;
};

TEST_F(ArchiveSniffTest, RealArchivesOfEveryFlavourAreRecognized) {
  Run("mkdir src; echo hi > src/a; "
      "tar --format=gnu -cf gnu.bin -C src a; tar --format=ustar -cf ustar.bin -C src a; "
      "tar --format=pax -cf pax.bin -C src a; tar --format=v7 -cf v7.bin -C src a; "
      "bsdtar -cf bsd.bin -C src a; tar -cf empty.bin -T /dev/null; "
      "zstd -q -o zst.bin gnu.bin; zstd -q -c src/a | cat > unsized.bin; "
      "gzip -c gnu.bin > gz.bin; gzip -c empty.bin > emptygz.bin; gzip -1 -c pax.bin > gz1.bin");
  for (const char* f : {"gnu.bin", "ustar.bin", "pax.bin", "v7.bin", "bsd.bin", "empty.bin",
                        "zst.bin", "unsized.bin", "gz.bin", "emptygz.bin", "gz1.bin"}) {
    Status s = CheckArchiveSource(dir_ + "/" + f);
    EXPECT_TRUE(s.ok()) << f << ": " << s.ToString();
  }
}

TEST_F(ArchiveSniffTest, AFileThatIsNotAnArchiveIsNamed) {
  Run("printf 'beam = 12.4\\n' > notes.tar; : > empty.tar; "
      "printf '\\x89HDF\\r\\n\\x1a\\n0000' > master.h5; printf 'II*\\0rest' > f.tif;"
      "echo x | gzip > x.tar.gz; head -c 600 /dev/zero | tr '\\0' '\\1' > ones.bin");
  EXPECT_EQ(Error(dir_ + "/notes.tar"),
            dir_ +
                "/notes.tar: not an archive: text; daqfs serves tar, .tar.zst, .tzst, "
                ".tar.gz, .tgz, .tar.xz, .tar.bz2 and .tar.lz4 archives");
  EXPECT_NE(Error(dir_ + "/empty.tar").find("not an archive: an empty file"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/master.h5").find("not an archive: an HDF5 file"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/f.tif").find("not an archive: a TIFF image"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/x.tar.gz").find("gzip-compressed data"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/ones.bin").find("unrecognized data (starts 0x01010101)"),
            std::string::npos);
}

TEST_F(ArchiveSniffTest, AFolderWithoutArchivesListsWhatItHolds) {
  Run("mkdir d empty; printf '\\x89HDF\\r\\n\\x1a\\n0000' > d/b_master.h5; echo t > d/a.txt;"
      "echo x | gzip > d/c.tar.gz");
  std::string e = Error(dir_ + "/d");
  EXPECT_EQ(e, dir_ +
                   "/d: no archive in this folder (3 files: c.tar.gz (gzip-compressed data "
                   "(not a tar)), a.txt (text), b_master.h5 (an HDF5 file)); daqfs serves tar, "
                   ".tar.zst, .tzst, .tar.gz, .tgz, .tar.xz, .tar.bz2 and .tar.lz4 archives");
  EXPECT_NE(Error(dir_ + "/empty").find("holds no files"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/d/*.tar").find("the pattern matches no file"), std::string::npos);
  EXPECT_NE(Error(dir_ + "/d/*.h5").find("the pattern matches no archive (1 file: b_master.h5"),
            std::string::npos);
  Status missing = CheckArchiveSource(dir_ + "/nothing");
  EXPECT_EQ(missing.code(), Code::kNotFound) << missing.ToString();
}

TEST_F(ArchiveSniffTest, OneArchiveAmongOtherFilesIsEnough) {
  Run("mkdir d; echo t > d/readme.txt; tar -cf d/x.tar d/readme.txt");
  EXPECT_TRUE(CheckArchiveSource(dir_ + "/d").ok());
  EXPECT_TRUE(CheckArchiveSource(dir_ + "/d/*").ok());
}

TEST_F(ArchiveSniffTest, TarHeaderChecksumIsChecked) {
  Run("echo hi > a; tar -cf a.tar a; printf 'X' | dd of=a.tar bs=1 seek=0 conv=notrunc "
      "status=none");
  EXPECT_NE(Error(dir_ + "/a.tar").find("not an archive"), std::string::npos);
}

}  // namespace
}  // namespace daqfs
