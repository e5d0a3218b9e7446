#include "backends/hdf5/hdf5_sniff.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fs/source_type.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

uint64_t LoadLe(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The end of the file as the superblock `b` records it (its end-of-file address), or 0 when
// the superblock does not parse.
uint64_t RecordedEnd(const uint8_t* b, size_t n) {
  if (n < 9) return 0;
  uint8_t version = b[8];
  size_t off_size, len_size, pos;
  if (version == 0 || version == 1) {
    if (n < 16) return 0;
    off_size = b[13];
    len_size = b[14];
    pos = version == 0 ? 24 : 28;  // v1 adds the indexed-storage K and a reserved field
  } else if (version == 2 || version == 3) {
    if (n < 12) return 0;
    off_size = b[9];
    len_size = b[10];
    pos = 12;
  } else {
    return 0;
  }
  bool ok_off = off_size == 2 || off_size == 4 || off_size == 8;
  bool ok_len = len_size == 2 || len_size == 4 || len_size == 8;
  if (!ok_off || !ok_len) return 0;
  // v0/v1: base, free-space info, end of file; v2/v3: base, superblock extension, end of file.
  if (pos + 3 * off_size > n) return 0;
  uint64_t base = LoadLe(b + pos, off_size);
  uint64_t eof = LoadLe(b + pos + 2 * off_size, off_size);
  uint64_t undef = off_size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * off_size)) - 1;
  if (eof == undef || base == undef || eof == 0) return 0;
  // libhdf5 compares the stored end-of-file address with the whole file's size (user block
  // included): it is not relative to the base address, whatever the format description says.
  return eof;
}

}  // namespace

const char* Hdf5KindName(Hdf5Kind kind) {
  switch (kind) {
    case Hdf5Kind::kHdf5:
      return "an HDF5 file";
    case Hdf5Kind::kTruncated:
      return "a truncated HDF5 file";
    case Hdf5Kind::kDamaged:
      return "a damaged HDF5 file";
    case Hdf5Kind::kOther:
      break;
  }
  return "not an HDF5 file";
}

Result<Hdf5Kind> SniffHdf5(const Hdf5ReadFn& read, uint64_t size, uint64_t* superblock) {
  uint8_t b[64];
  for (uint64_t at = 0; at + 8 <= size; at = at == 0 ? 512 : at * 2) {
    Result<size_t> got = read(at, std::span<uint8_t>(b, sizeof b));
    if (!got.ok()) return got.status();
    if (*got < 8 || std::memcmp(b, kHdf5Signature, 8) != 0) continue;
    if (superblock) *superblock = at;
    uint64_t end = RecordedEnd(b, *got);
    if (end == 0) return Hdf5Kind::kDamaged;
    return end > size ? Hdf5Kind::kTruncated : Hdf5Kind::kHdf5;
  }
  return Hdf5Kind::kOther;
}

Result<Hdf5Kind> SniffHdf5File(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, path);
  if (!S_ISREG(st.st_mode)) return Hdf5Kind::kOther;
  return SniffHdf5(PreadReader(fd->get(), path), static_cast<uint64_t>(st.st_size));
}

Result<Hdf5Files> FindHdf5Files(const std::string& path) {
  Result<std::vector<std::string>> candidates =
      ListSourceFiles(path, [](const std::string&) { return true; });
  if (!candidates.ok()) return candidates.status();
  Hdf5Files out;
  for (const std::string& c : *candidates) {
    Result<Hdf5Kind> kind = SniffHdf5File(c);
    if (!kind.ok()) {
      out.skipped.push_back(c + ": " + kind.status().message());
    } else if (*kind == Hdf5Kind::kHdf5) {
      out.hdf5.push_back(c);
    } else {
      out.skipped.push_back(c + ": " + Hdf5KindName(*kind));
    }
  }
  return out;
}

Status CheckHdf5Source(const std::string& path) {
  Result<Hdf5Files> found = FindHdf5Files(path);
  if (!found.ok()) return found.status();
  if (!found->hdf5.empty()) return Status::Ok();
  struct stat st;
  bool file = !HasGlobChars(path) && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (file) {
    Result<Hdf5Kind> kind = SniffHdf5File(path);
    std::string what = kind.ok() ? Hdf5KindName(*kind) : kind.status().message();
    if (kind.ok() && *kind == Hdf5Kind::kTruncated) {
      what += " (shorter than its superblock says: an unfinished copy?)";
    }
    return Invalid(path + ": " + what);
  }
  std::string listed;
  for (size_t i = 0; i < found->skipped.size() && i < 4; ++i) {
    std::string s = found->skipped[i];
    size_t colon = s.rfind(": ");
    listed += (i ? ", " : "") + BaseName(s.substr(0, colon)) + " (" + s.substr(colon + 2) + ")";
  }
  if (found->skipped.size() > 4) listed += ", ...";
  std::string where = HasGlobChars(path) ? "matching this pattern" : "in this folder";
  if (found->skipped.empty()) return Invalid(path + ": no files " + where);
  return Invalid(path + ": no HDF5 file " + where + " (" + std::to_string(found->skipped.size()) +
                 " files: " + listed + ")");
}

}  // namespace daqfs
