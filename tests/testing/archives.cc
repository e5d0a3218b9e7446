#include "tests/testing/archives.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>

#include "tests/testing/files.h"

namespace daqfs::testing {

void MakeTar(const std::string& src_dir, const std::string& archive) {
  int rc = Shell("tar --format=gnu --sort=name -cf " + ShellQuote(archive) + " -C " +
                 ShellQuote(src_dir) + " .");
  if (rc != 0) ADD_FAILURE() << "tar -cf " << archive << " failed: exit " << rc;
}

std::string ZstdFrames(std::string_view data, size_t frame_bytes, int level) {
  std::string out;
  size_t pos = 0;
  do {
    size_t n = std::min(frame_bytes, data.size() - pos);
    std::string frame(ZSTD_compressBound(n), '\0');
    size_t z = ZSTD_compress(frame.data(), frame.size(), data.data() + pos, n, level);
    if (ZSTD_isError(z)) {
      ADD_FAILURE() << "ZSTD_compress: " << ZSTD_getErrorName(z);
      return out;
    }
    out.append(frame.data(), z);
    pos += n;
  } while (pos < data.size());
  return out;
}

void CompressTree(const std::string& src_dir, const std::string& dst_dir, size_t frame_bytes) {
  namespace fs = std::filesystem;
  MakeDirs(dst_dir);
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(src_dir)) {
    std::string rel = fs::relative(e.path(), src_dir).string();
    if (e.is_directory()) {
      MakeDirs(dst_dir + "/" + rel);
    } else if (e.is_regular_file()) {
      WriteFile(dst_dir + "/" + rel + ".zst", ZstdFrames(Slurp(e.path()), frame_bytes));
    }
  }
}

void MakeTarZst(const std::string& src_dir, const std::string& archive, size_t frame_bytes) {
  std::string tar = archive + ".plain-tar";
  MakeTar(src_dir, tar);
  WriteFile(archive, ZstdFrames(Slurp(tar), frame_bytes));
  std::filesystem::remove(tar);
}

void MakeTarZstStreamed(const std::string& src_dir, const std::string& archive) {
  int rc = Shell("set -o pipefail; tar --format=gnu --sort=name -cf - -C " + ShellQuote(src_dir) +
                 " . | zstd -q -c > " + ShellQuote(archive));
  if (rc != 0) ADD_FAILURE() << "tar | zstd > " << archive << " failed: exit " << rc;
}

}  // namespace daqfs::testing
