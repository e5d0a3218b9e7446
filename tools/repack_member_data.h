// Internal parts of the daqfs-repack engine (tools/repack.h) that its three jobs share:
// planning (repack_plan.cc), writing (repack_execute.cc) and verification (repack_verify.cc).
// Reading a member's data out of an input (or output) tar, recognising zstd data, and small
// helpers for names, paths and hashes. Not a public interface: only the repack_*.cc files
// include it.
//
// Thread safety: the functions are pure over their file descriptors (pread only), so any
// thread may call them, also on one descriptor at once.
#pragma once

#include <xxhash.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "backends/archive/tar_index.h"
#include "backends/common/zstd_frames.h"
#include "fs/status.h"

namespace daqfs::repack {

inline constexpr const char* kUnmatchedName = "unmatched.tar";
inline constexpr size_t kPiece = size_t{1} << 20;         // read and stream granularity
inline constexpr uint64_t kDirectFrameLimit = 16u << 20;  // larger zstd frames are streamed
inline constexpr uint64_t kMinFrameSize = 1024;
inline constexpr uint64_t kMaxFrameSize = uint64_t{1} << 30;  // ZstdSeekableWriter's limit

// 'text', for messages.
std::string Quote(std::string_view s);
// The last component of `path` (trailing slashes ignored).
std::string BaseName(const std::string& path);
// dir + "/" + name (no doubled slash; `name` alone when `dir` is empty).
std::string JoinPath(const std::string& dir, const std::string& name);

struct XxhStateFree {
  void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
};
using XxhState = std::unique_ptr<XXH64_state_t, XxhStateFree>;
// A fresh XXH64 state with seed 0 (aborts when a few hundred bytes cannot be allocated).
XxhState NewXxh();

// A reader of one member's data bytes, for IndexZstd and StreamZstdFrame. Reads past the
// member's end return 0 bytes; an input that ends inside the member is kCorrupt.
CompressedReadFn MemberReader(int fd, const TarMember& m, const std::string& what);

// The zstd frame magic 0xFD2FB528.
bool IsZstdMagic(uint32_t m);

struct ZstdProbe {
  bool zstd = false;
  bool content_size_known = true;
  uint64_t content_bytes = 0;
};

// Decides whether a member's data is zstd: a zstd frame magic, or a skippable frame (pzstd)
// followed by something IndexZstd accepts. A name ending in ".zst" must be zstd data (kCorrupt
// otherwise); zstd data that does not index is kCorrupt.
Result<ZstdProbe> ProbeZstd(int fd, const std::string& tar_name, const TarMember& data,
                            const std::string& name_for_suffix);

// Hands a member's content (decompressed when `zstd`) to `emit` in pieces of at most kPiece
// bytes (whole frames up to kDirectFrameLimit). `stored_done` grows by the stored bytes
// consumed, as they are consumed. Stops at the first failing emit and returns its status.
Status ReadContent(int fd, const std::string& tar_name, const TarMember& m, bool zstd,
                   const std::function<Status(std::span<const uint8_t>)>& emit,
                   std::atomic<uint64_t>* stored_done);

}  // namespace daqfs::repack
