// Direct reads: large byte ranges of backing files that the page cache does not hold are read
// with O_DIRECT into a buffer the reading thread keeps, instead of through the page cache.
//
// Why: a scan of compressed detector data reads each chunk once and decodes it; the decoded
// frames are what gets cached (the block cache, the SSD tier, the kernel's page cache of the
// mount). Read through the page cache, the compressed bytes also fill fresh page-cache pages
// (pushing other users' cached files out on a shared node) and are copied once more. Measured
// on a 2-core VM whose hypervisor takes freed guest memory back (every fresh page costs a
// fault to the host): a cold `cat frames/*.tif` of 2000 HDF5 frames spent 0.6-1.3 s of CPU
// copying 0.9 GB of compressed chunks out of fresh page-cache pages; read directly, none.
//
// When (DirectReads): `never`; `always` (every range of at least kMinDirectRead bytes);
// `auto`, the default: such a range when the page cache does not hold all of it (cachestat(2),
// Linux 6.5 and later; without it, never) and the file lives on a local disk filesystem (ext2/3/4,
// XFS, Btrfs, F2FS). Network and parallel filesystems (NFS, Lustre, GPFS, CephFS...) keep the
// page cache and its read-ahead under `auto`: direct I/O there is a round trip per read.
//
// Thread safety: every function is thread-safe; a DirectRead's bytes live in the calling
// thread's buffer until that thread's next DirectRead.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string>

#include "fs/status.h"
#include "fs/unique_fd.h"

namespace daqfs {

enum class DirectReads { kAuto, kAlways, kNever };
// "auto", "always", "never".
bool ParseDirectReads(const std::string& text, DirectReads* out);
const char* DirectReadsName(DirectReads mode);

// Ranges shorter than this always go through the page cache (its read-ahead serves small
// chunks better than one device request each).
inline constexpr uint64_t kMinDirectRead = 64 << 10;

// The file at `path` opened with O_DIRECT for direct reads under `mode`, if it is the file
// `st` describes (same device and inode) and its filesystem suits `mode`; an invalid
// descriptor otherwise (never an error: the caller reads through the page cache).
UniqueFd OpenDirect(const std::string& path, const struct stat& st, DirectReads mode);

// Whether [offset, offset + length) of `fd` should be read directly under `mode`: long
// enough, and for kAuto not wholly in the page cache (false when that cannot be known).
bool WantDirectRead(int fd, uint64_t offset, uint64_t length, DirectReads mode);

// Reads [offset, offset + length) of `direct_fd` (opened by OpenDirect) into the calling
// thread's buffer; fewer bytes only at the end of the file. The read counts as blocking
// (BlockingScope). kNotSupported: the file refused direct I/O (read it through the page cache
// from now on); other errors as pread's, naming `what`.
Result<std::span<const uint8_t>> DirectRead(int direct_fd, uint64_t offset, size_t length,
                                            const std::string& what);

}  // namespace daqfs
