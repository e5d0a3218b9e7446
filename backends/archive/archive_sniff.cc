#include "backends/archive/archive_sniff.h"

#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backends/archive/stream_codecs.h"
#include "backends/archive/tar_backend.h"
#include "backends/common/tiff_header.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

constexpr size_t kHead = 512;
constexpr const char* kServed =
    "daqfs serves tar, .tar.zst, .tzst, .tar.gz, .tgz, .tar.xz, .tar.bz2 and .tar.lz4 archives";

bool StartsWith(std::span<const uint8_t> h, std::initializer_list<uint8_t> magic) {
  return h.size() >= magic.size() && std::equal(magic.begin(), magic.end(), h.begin());
}

bool IsTarHeader(std::span<const uint8_t> h) {
  if (h.size() < kHead) return false;
  // The checksum field: octal digits, then NUL and/or spaces.
  uint64_t stored = 0;
  size_t i = 148;
  while (i < 156 && h[i] == ' ') ++i;
  size_t digits = 0;
  for (; i < 156 && h[i] >= '0' && h[i] <= '7'; ++i, ++digits) stored = stored * 8 + (h[i] - '0');
  if (digits == 0) return false;
  for (; i < 156; ++i) {
    if (h[i] != ' ' && h[i] != '\0') return false;
  }
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t k = 0; k < kHead; ++k) {
    uint8_t b = (k >= 148 && k < 156) ? ' ' : h[k];
    unsigned_sum += b;
    signed_sum += static_cast<int8_t>(b);
  }
  return stored == unsigned_sum || static_cast<int64_t>(stored) == signed_sum;
}

// A zstd frame or a skippable frame (pzstd, seek tables) starts here.
bool IsZstdStart(std::span<const uint8_t> h) {
  if (StartsWith(h, {0x28, 0xB5, 0x2F, 0xFD})) return true;
  return h.size() >= 4 && (h[0] & 0xF0) == 0x50 && h[1] == 0x2A && h[2] == 0x4D && h[3] == 0x18;
}

bool IsGzipStart(std::span<const uint8_t> h) { return StartsWith(h, {0x1F, 0x8B, 8}); }

// gzip data whose first 512 bytes of output are a tar header or an empty tar's zero block. The
// head's 512 compressed bytes hold at least that much of any tar (headers compress well).
bool GzipHoldsTar(std::span<const uint8_t> head) {
  if (!IsGzipStart(head)) return false;
  z_stream s{};
  if (inflateInit2(&s, 31) != Z_OK) return false;
  std::vector<uint8_t> out(kHead);
  s.next_in = const_cast<Bytef*>(head.data());
  s.avail_in = static_cast<uInt>(head.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  const int ret = inflate(&s, Z_SYNC_FLUSH);
  const size_t got = out.size() - s.avail_out;
  inflateEnd(&s);
  if ((ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) || got < kHead) return false;
  return std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }) || IsTarHeader(out);
}

struct Head {
  std::vector<uint8_t> bytes;
  uint64_t size = 0;
};

Result<Head> ReadHead(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, path);
  Head h;
  h.size = static_cast<uint64_t>(st.st_size);
  h.bytes.resize(kHead);
  Result<size_t> got = PreadFull(fd->get(), 0, h.bytes, path);
  if (!got.ok()) return got.status();
  h.bytes.resize(*got);
  return h;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "name (what it is)" for up to `max` files, then ", ..." when there are more.
std::string ListFound(const std::vector<std::string>& files, size_t max = 4) {
  std::string out;
  for (size_t i = 0; i < files.size() && i < max; ++i) {
    Result<Head> h = ReadHead(files[i]);
    out += (i ? ", " : "") + BaseName(files[i]) + " (" +
           (h.ok() ? DescribeFileHead(h->bytes, h->size) : h.status().message()) + ")";
  }
  if (files.size() > max) out += ", ...";
  return out;
}

std::string Plural(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

bool LooksLikeArchive(std::span<const uint8_t> head, uint64_t size) {
  // xz, bzip2 and lz4 cannot be looked into from a few hundred bytes (a bzip2 or lz4 block is
  // decoded whole): their magic is taken, as zstd's is.
  if (IsZstdStart(head) || GzipHoldsTar(head) || SniffStreamCodec(head)) return true;
  if (head.size() < kHead || size < kHead) return false;
  if (std::all_of(head.begin(), head.begin() + kHead, [](uint8_t b) { return b == 0; })) {
    return true;  // the end-of-archive block of an empty tar
  }
  return IsTarHeader(head.first(kHead));
}

std::string DescribeFileHead(std::span<const uint8_t> head, uint64_t size) {
  if (size == 0) return "an empty file";
  if (LooksLikeArchive(head, size)) {
    if (std::optional<StreamCodec> c = SniffStreamCodec(head)) {
      return std::string(StreamCodecName(*c)) + "-compressed data";
    }
    return IsZstdStart(head)   ? "zstd-compressed data"
           : IsGzipStart(head) ? "a gzip-compressed tar archive"
                               : "a tar archive";
  }
  if (StartsWith(head, {0x89, 'H', 'D', 'F', '\r', '\n', 0x1A, '\n'})) return "an HDF5 file";
  if (IsTiffSignature(head)) return "a TIFF image";
  if (StartsWith(head, {0x1F, 0x8B})) return "gzip-compressed data (not a tar)";
  if (StartsWith(head, {'P', 'K', 3, 4})) return "a zip archive (not served)";
  if (StartsWith(head, {0x93, 'N', 'U', 'M', 'P', 'Y'})) return "a NumPy .npy file";
  bool text = std::all_of(head.begin(), head.end(), [](uint8_t b) {
    return b == '\n' || b == '\r' || b == '\t' || (b >= 0x20 && b != 0x7F);
  });
  if (text) return "text";
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x", head.size() > 0 ? head[0] : 0,
                head.size() > 1 ? head[1] : 0, head.size() > 2 ? head[2] : 0,
                head.size() > 3 ? head[3] : 0);
  return std::string("unrecognized data (starts ") + hex + ")";
}

Status CheckArchiveSource(const std::string& path) {
  Result<std::vector<std::string>> files = FindArchives(path);
  if (!files.ok()) return files.status();
  std::vector<std::string> others;
  for (const std::string& f : *files) {
    Result<Head> h = ReadHead(f);
    if (h.ok() && LooksLikeArchive(h->bytes, h->size)) return Status::Ok();
    others.push_back(f);
  }
  struct stat st;
  bool is_dir = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  bool is_file = !is_dir && files->size() == 1 && (*files)[0] == path;
  if (is_file) {
    Result<Head> h = ReadHead(path);
    if (!h.ok()) return h.status();
    return Invalid(path + ": not an archive: " + DescribeFileHead(h->bytes, h->size) + "; " +
                   kServed);
  }
  if (is_dir) {
    // Name what the folder holds, archives by name that are not archives first.
    std::vector<std::string> all = others;
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string full = path + (path.back() == '/' ? "" : "/") + e->d_name;
        struct stat fst;
        if (stat(full.c_str(), &fst) != 0 || !S_ISREG(fst.st_mode)) continue;
        if (std::find(all.begin(), all.end(), full) == all.end()) all.push_back(full);
      }
      closedir(d);
    }
    std::sort(all.begin() + static_cast<long>(others.size()), all.end());
    if (all.empty())
      return Invalid(path + ": no archive in this folder (it holds no files); " + kServed);
    return Invalid(path + ": no archive in this folder (" + Plural(all.size(), "file") + ": " +
                   ListFound(all) + "); " + kServed);
  }
  if (others.empty()) return Invalid(path + ": the pattern matches no file; " + kServed);
  return Invalid(path + ": the pattern matches no archive (" + Plural(others.size(), "file") +
                 ": " + ListFound(others) + "); " + kServed);
}

}  // namespace daqfs
