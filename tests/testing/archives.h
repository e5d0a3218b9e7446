// Test archives made the way users make them: GNU tar over a folder of files, members
// compressed with zstd in several frames, and whole .tar.zst files cut into fixed-size frames
// of the tar stream (as t2sz or a seekable writer does: frame edges fall anywhere, not on member
// boundaries). The expected bytes of a test are always the files before packing.
//
// Failures (a tool missing, a write failing) are GoogleTest failures. Reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace daqfs::testing {

// `tar --format=gnu -cf archive -C src_dir .` (members named ./path, in name order).
void MakeTar(const std::string& src_dir, const std::string& archive);

// `data` as independent zstd frames of `frame_bytes` decompressed bytes each (the last one
// shorter), every frame recording its content size. Empty data gives one empty frame.
std::string ZstdFrames(std::string_view data, size_t frame_bytes, int level = 3);

// Copies the tree `src_dir` to `dst_dir` with every regular file F replaced by F.zst
// (ZstdFrames with `frame_bytes`); folders are recreated.
void CompressTree(const std::string& src_dir, const std::string& dst_dir, size_t frame_bytes);

// MakeTar of `src_dir`, then the whole tar as ZstdFrames of `frame_bytes` into `archive`.
void MakeTarZst(const std::string& src_dir, const std::string& archive, size_t frame_bytes);

// MakeTar of `src_dir` piped through `zstd -c` into `archive`: one frame that does not record
// its content size (what `tar --zstd` and pipes make).
void MakeTarZstStreamed(const std::string& src_dir, const std::string& archive);

}  // namespace daqfs::testing
