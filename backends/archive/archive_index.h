// ArchiveIndex: everything daqfs needs to serve one archive file, built once and persisted.
//
// Building reads tar headers (never member data) and the frame structure of zstd data:
//  - plain tar: members with their offsets; a member `X.zst` (strip_suffix) becomes `X` with
//    its decompressed size and frame index (seek table, or a walk over frame and block
//    headers; a frame that records no content size is decoded once to learn it);
//  - .tar.gz / .tgz (a gzip magic at offset 0): one forward inflate reads the tar headers and
//    records inflate checkpoints about every 4 MiB of output (gzip_index.h, windows kept
//    zstd-compressed in the saved index): members are windows of the decompressed stream, a
//    read anywhere inflating at most one interval; a remount reuses the checkpoints. Data that
//    does not inflate ends the index there: the members before it are kept, the member it falls
//    in too (its reads past the damage fail with EIO);
//  - .tar.xz of many blocks (xz -T, pixz): the blocks come from the xz index (no data decoded),
//    the tar headers are read by decoding the blocks that hold them; members are windows of the
//    blocks, each decoded on its own. One-block .tar.xz and .tar.lz4 are decoded once into the
//    spill (stream_codecs.h) and served as a plain tar;
//  - .tar.bz2: one pass decodes every bzip2 block once (bz2_blocks.h; the tar headers are read
//    from its output) and records each block's bit range; members are windows of the blocks,
//    each decoded on its own. Damage ends the index at the damaged block (the members wholly
//    before it are kept);
//  - .tar.zst / .tzst (or a zstd magic at offset 0): the archive's frames are indexed and the
//    tar headers are read in decompressed space through one forward streaming decode. When the
//    archive's frames are large or of unknown size and a blob store is given, that decode
//    writes the whole decompressed tar once as a large blob (SpillBlobName; members are then
//    plain slices of it, the blob pinned while the index holds it); otherwise members are
//    windows of the archive's decompressed stream (frames decoded on demand).
// The index is saved as a small blob (IndexBlobName) named after the archive's identity
// (device, inode, size, mtime, ctime), with a checksum of its own: a changed archive never
// matches an old index, a corrupt index is rejected and rebuilt.
//
// Thread safety: functions are reentrant; an ArchiveIndex is a value.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/archive/bz2_blocks.h"
#include "backends/archive/gzip_index.h"
#include "backends/archive/tar_index.h"
#include "backends/archive/xz_blocks.h"
#include "backends/common/zstd_frames.h"
#include "fs/blob_store.h"
#include "fs/defaults.h"
#include "fs/status.h"

namespace daqfs {

struct ArchiveIndexOptions {
  std::string strip_suffix{kDefaultStripSuffix};  // "" = show compressed members as stored
  // Where large-frame .tar.zst archives are decompressed (a large blob); null = no spill.
  BlobStore* spill = nullptr;
  // Output bytes between inflate checkpoints of a .tar.gz.
  uint64_t gzip_interval = kDefaultGzipInterval;
};

struct ArchiveMember {
  TarMember::Kind kind = TarMember::Kind::kFile;
  std::string path;          // as shown (strip_suffix removed for zstd members)
  std::string stored_path;   // as stored in the archive
  uint64_t data_offset = 0;  // in the container's data space (file, or decompressed stream)
  uint64_t stored_size = 0;  // bytes stored in the tar
  uint64_t size = 0;         // bytes shown (decompressed for zstd members)
  uint32_t mode = 0, uid = 0, gid = 0;
  timespec mtime{};
  std::string link_target;  // symlink target; hard link target path (as shown)
  std::vector<std::pair<std::string, std::string>> xattrs;
  bool zstd = false;  // stored zstd-compressed; `frames` is its index
  bool seek_table = false;
  std::vector<ZstdFrame> frames;  // compressed offsets relative to data_offset
};

struct ArchiveIndex {
  enum class Container : uint8_t {
    kTar = 0,
    kTarZst = 1,
    kSpilled = 2,
    kTarGz = 3,
    kTarXz = 4,
    kTarBz2 = 5
  };
  std::string identity;  // FileIdentity() of the archive when indexed
  Container container = Container::kTar;
  std::vector<ZstdFrame> archive_frames;    // kTarZst / kSpilled: frames of the whole archive
  uint64_t decompressed_size = 0;           // kTarZst / kSpilled
  std::vector<GzipCheckpoint> gzip_points;  // kTarGz: inflate checkpoints of the archive
  std::vector<XzBlock> xz_blocks;           // kTarXz: the archive's xz blocks
  std::vector<Bz2Block> bz2_blocks;         // kTarBz2: the archive's bzip2 blocks
  std::string spill_path;                   // kSpilled: the spill blob's name (SpillBlobName)
  std::shared_ptr<Blob> spill_blob;         // kSpilled: the opened, pinned spill (not saved)
  std::vector<ArchiveMember> members;       // archive order, duplicates kept
  std::vector<std::string> warnings;
  std::string damage;  // "" or what ended indexing early (archive and offset)
};

Result<ArchiveIndex> BuildArchiveIndex(const std::string& path, int fd, const struct stat& st,
                                       const ArchiveIndexOptions& options);

std::string SerializeArchiveIndex(const ArchiveIndex& index);
Result<ArchiveIndex> ParseArchiveIndex(std::string_view bytes);
// Blob names of an archive identity: <16 hex digits of XXH64(identity)>.idx / .tar.
std::string IndexBlobName(const std::string& identity);
std::string SpillBlobName(const std::string& identity);
// Saves `index` as the small blob IndexBlobName(index.identity).
Status SaveArchiveIndex(BlobStore& blobs, const ArchiveIndex& index);
// kNotFound when there is none for this identity; kCorrupt when it is damaged, belongs to
// another identity, or its spill blob is gone or of another size. A kSpilled index comes back
// with its spill blob opened (pinned).
Result<ArchiveIndex> LoadArchiveIndex(BlobStore& blobs, const std::string& identity);

}  // namespace daqfs
