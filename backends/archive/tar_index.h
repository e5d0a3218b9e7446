// Tar header parser: turns the headers of a tar archive into a list of members with the offsets
// of their data, reading headers only (member data is skipped, never read).
//
// Formats: ustar (prefix field), GNU (long names 'L', long link names 'K', base-256 numbers),
// pax (extended 'x' and global 'g' headers: path, linkpath, size, mtime with fraction, uid, gid,
// SCHILY.xattr.*), v7. Types: regular ('0', '\0', '7'), hard link '1', symlink '2', directory
// '5'; other types (devices, fifos, GNU sparse 'S', volume labels 'V', multi-volume 'M') are
// skipped with a warning. Checksums are verified (unsigned sum, signed sum accepted).
//
// Member paths are normalized: a leading "./" and empty or "." components are dropped, a trailing
// "/" removed. Absolute paths and any ".." component make the member hostile: it is skipped and
// reported in `warnings`. Hard-link targets are normalized the same way.
//
// Damage (a bad checksum, a header or data running past the end of the archive, a malformed pax
// record) ends indexing: members before it are kept, `damage` says where and why; the damaged
// member itself is not returned.
//
// Thread safety: IndexTar is a pure function of what `read` returns.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/status.h"

namespace daqfs {

struct TarMember {
  enum class Kind { kFile, kDirectory, kSymlink, kHardLink };
  Kind kind = Kind::kFile;
  std::string path;            // normalized, relative, never empty, no "." / ".." components
  uint64_t header_offset = 0;  // offset of the member's first header block (incl. L/K/x blocks)
  uint64_t data_offset = 0;    // offset of the member's data in the archive
  uint64_t size = 0;           // data size (0 for directories, links)
  uint32_t mode = 0;           // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  timespec mtime{};
  std::string link_target;  // symlink target as stored; hard-link target path normalized
  std::vector<std::pair<std::string, std::string>> xattrs;  // from pax SCHILY.xattr.NAME
};

struct TarIndex {
  std::vector<TarMember> members;     // in archive order (duplicates kept; later wins is the
                                      // caller's rule)
  std::vector<std::string> warnings;  // one line per skipped member: offset, path, reason
  Status damage;                      // ok, or what stopped indexing early and at which offset
  uint64_t end_offset = 0;            // offset just past the last header or data consumed
};

// Random-access reader of the archive bytes: fills as much of `out` as it can from `offset`,
// returns the count (short only at end of file).
using TarReadFn = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

// Indexes an archive of `size` bytes. Returns a non-ok Status only when the very first read
// fails with an I/O error; damage inside the archive is reported in TarIndex::damage. `name` is
// used in messages (normally the archive's path).
Result<TarIndex> IndexTar(const TarReadFn& read, uint64_t size, const std::string& name);

// Normalizes a member path as described above; returns false for hostile or empty paths.
bool NormalizeMemberPath(std::string_view raw, std::string* out);

}  // namespace daqfs
