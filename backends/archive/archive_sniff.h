// Sniffing for the archive source: does a path hold anything this source can serve, and if not,
// what is there. Used at start-up so that a `--source` (or a [source] path) that names the wrong
// thing stops with a message naming what was found (exit 3), instead of mounting empty folders.
//
// A file is an archive when its first 512 bytes are a tar header with a valid checksum (ustar,
// GNU, pax or v7), the zero block of an empty tar, the start of a zstd stream (a frame or a
// skippable frame: .tar.zst as zstd, pzstd or daqfs-repack write it), gzip data whose first
// 512 decompressed bytes are such a tar block, or the start of xz, bzip2 or lz4 data. Names do
// not decide.
//
// Thread safety: plain functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "fs/status.h"

namespace daqfs {

// True when `head` (the first min(512, size) bytes of a file of `size` bytes) starts an archive.
bool LooksLikeArchive(std::span<const uint8_t> head, uint64_t size);

// A short description of what the file is, from its first bytes: "a tar archive",
// "zstd-compressed data", "a gzip-compressed tar archive", "an HDF5 file", "a TIFF image",
// "gzip-compressed data (not a tar)", "an empty
// file", "text", "unrecognized data (starts 0x...)".
std::string DescribeFileHead(std::span<const uint8_t> head, uint64_t size);

// Checks a [source] path of type archive (a file, a folder or a glob): ok when at least one
// archive is there. Errors (Code::kInvalid, or the errno status of a missing path) name what was
// found: "PATH: not an archive: an HDF5 file", "PATH: no archive in this folder (3 files:
// a.h5 (an HDF5 file), ...); daqfs serves tar, .tar.zst, .tzst, .tar.gz, .tgz, .tar.xz, .tar.bz2
// and .tar.lz4 archives".
Status CheckArchiveSource(const std::string& path);

}  // namespace daqfs
