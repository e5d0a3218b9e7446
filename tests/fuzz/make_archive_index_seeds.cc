// Writes the seed corpus of the archive_index fuzz target: the saved index of one small archive
// of every container kind (plain tar, tar of zstd members, .tar.zst read by frame, .tar.zst
// spilled, .tar.gz with checkpoints, .tar.xz by blocks, .tar.bz2 by blocks), each as a whole index
// file (NAME.idx) and as the payload behind its header (NAME.payload), which the target also tries.
// The archives are made with GNU tar, zstd, split, gzip, xz and bzip2 in a temporary folder. Usage:
// make_archive_index_seeds OUTDIR
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "backends/archive/archive_index.h"
#include "tests/testing/files.h"
#include "tests/testing/folder_blob_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_archive_index_seeds OUTDIR\n");
    return 1;
  }
  const std::string out = argv[1];
  daqfs::testing::TempDir tmp("seeds");
  const std::string d = tmp.path();
  const std::string make =
      "set -e; cd " + d +
      "; mkdir -p src/sub spill; seq 1000000 2000000 | head -c 300000 > src/a.bin; "
      "printf 'hello\\n' > src/sub/h.txt; seq 1 200000 > src/sub/n.txt; "
      "tar -cf plain_tar.tar -C src .; cp -a src z; zstd -q --rm z/a.bin; "
      "tar -cf zstd_members.tar -C z .; split -b 128K --filter='zstd -q -c' plain_tar.tar > "
      "tar_zst_frames.tar.zst; "
      "cat plain_tar.tar | zstd -q -c > spilled.tar.zst; "
      "tar -cf - -C src . | split -b 256K --filter='gzip -c' > tar_gz.tar.gz; "
      "xz -1 -T2 --block-size=200KiB -c plain_tar.tar > tar_xz.tar.xz; "
      "bzip2 -1 -c plain_tar.tar > tar_bz2.tar.bz2";
  if (daqfs::testing::Shell(make) != 0) return 2;
  daqfs::FolderBlobStore spill(d + "/spill", d + "/spill");
  for (const char* name :
       {"plain_tar.tar", "zstd_members.tar", "tar_zst_frames.tar.zst", "spilled.tar.zst",
        "tar_gz.tar.gz", "tar_xz.tar.xz", "tar_bz2.tar.bz2"}) {
    const std::string path = d + "/" + name;
    int fd = open(path.c_str(), O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 3;
    daqfs::ArchiveIndexOptions o;
    o.spill = &spill;
    o.gzip_interval = 128 << 10;  // a few checkpoints in a small archive
    daqfs::Result<daqfs::ArchiveIndex> x = daqfs::BuildArchiveIndex(path, fd, st, o);
    close(fd);
    if (!x.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, x.status().ToString().c_str());
      return 4;
    }
    const std::string bytes = daqfs::SerializeArchiveIndex(*x);
    const std::string stem = out + "/" + std::string(name).substr(0, std::string(name).find('.'));
    std::ofstream(stem + ".idx", std::ios::binary) << bytes;
    std::ofstream(stem + ".payload", std::ios::binary) << bytes.substr(28);
  }
  return 0;
}
