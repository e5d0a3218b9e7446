// TarWriter: writes a tar archive in POSIX pax/ustar format, member by member, to a sink.
//
// Each member is one 512-byte ustar header (magic "ustar\0", version "00", unsigned checksum),
// preceded by a pax extended header ('x') only when ustar cannot say something exactly:
//   - path: when it fits neither the 100-byte name field nor a split at a '/' into the 155-byte
//     prefix plus the name field;
//   - linkpath: longer than 100 bytes;
//   - size, uid, gid: beyond the 11 / 7 octal digits of the fields (the field then also holds
//     the value in GNU base-256, for readers that ignore pax);
//   - mtime: negative, beyond 11 octal digits, or with a fraction of a second;
//   - SCHILY.xattr.NAME for each extended attribute.
// Data follows the header, padded with zeros to a 512-byte boundary; Finish() writes the two
// zero blocks that end an archive. GNU tar, bsdtar and daqfs's IndexTar read the result.
// uname/gname are left empty (extractors then use the numeric ids).
//
// Usage: WriteHeader(entry); WriteData(...) until entry.size bytes; EndMember(); ...; Finish().
// A writer checks that exactly `size` bytes of data were written for each member.
//
// Errors: sink failures are returned as they come; misuse (too much or too little data,
// an empty path) returns kInvalid. After any error the archive is unusable.
//
// Thread safety: none; one writer per thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fs/status.h"

namespace daqfs {

struct TarEntry {
  enum class Kind { kFile, kDirectory, kSymlink };
  Kind kind = Kind::kFile;
  std::string path;      // relative, no trailing '/' (added for directories)
  uint64_t size = 0;     // data bytes (0 for directories and symlinks)
  uint32_t mode = 0644;  // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  timespec mtime{};
  std::string link_target;  // symlinks only
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Encodes the header blocks of `entry` (a pax 'x' header and its records if needed, then the
// ustar header): a multiple of 512 bytes. Returns kInvalid for an empty path.
Result<std::vector<uint8_t>> EncodeTarHeader(const TarEntry& entry);

// Encodes one pax record "LEN key=value\n" (LEN counts the whole record, itself included).
std::string PaxRecord(const std::string& key, const std::string& value);

class TarWriter {
 public:
  // `sink` writes all of the given bytes or fails.
  using SinkFn = std::function<Status(std::span<const uint8_t>)>;
  explicit TarWriter(SinkFn sink) : sink_(std::move(sink)) {}
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Status WriteHeader(const TarEntry& entry);
  // Appends member data; the total must not exceed the entry's size.
  Status WriteData(std::span<const uint8_t> data);
  // Records that `n` bytes of data were written to the underlying file by someone else (a copy
  // straight between files); counts them as WriteData would.
  Status SkipWrittenData(uint64_t n);
  // Pads the member's data to a 512-byte boundary; fails if the data is short.
  Status EndMember();
  // Writes the end-of-archive marker (two zero blocks). Call once, after the last EndMember().
  Status Finish();

  uint64_t bytes_written() const { return written_; }

 private:
  Status Emit(std::span<const uint8_t> data);
  SinkFn sink_;
  uint64_t written_ = 0;
  uint64_t remaining_ = 0;  // data bytes the current member still needs
  uint64_t data_size_ = 0;  // the current member's size (for padding)
  bool in_member_ = false;
};

}  // namespace daqfs
