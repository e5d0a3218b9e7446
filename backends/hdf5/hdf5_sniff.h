// Sniffing for the HDF5 source: is a file an HDF5 file, is it whole, and which files a source
// path names.
//
// An HDF5 file starts with the 8-byte signature "\x89HDF\r\n\x1a\n" at offset 0, 512, 1024,
// 2048, ... (after a user block of a power of two >= 512 bytes). The superblock that follows
// records where the file ends (its end-of-file address); a file shorter than that is
// truncated (a copy that did not finish), which libhdf5 refuses to open: it is found here by
// reading the superblock only, so a folder of 1000 data files is sorted without opening any
// with libhdf5. Names do not decide.
//
// Thread safety: plain functions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fs/status.h"

namespace daqfs {

inline constexpr uint8_t kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

// What a file is, for the HDF5 source.
enum class Hdf5Kind {
  kHdf5,       // an HDF5 file whose superblock says it is whole
  kTruncated,  // an HDF5 signature and superblock, but the file is shorter than they say
  kDamaged,    // an HDF5 signature without a superblock that parses
  kOther,      // no HDF5 signature: not an HDF5 file
};

// Reads up to n bytes at an offset into the buffer: how many were read (short at the end).
using Hdf5ReadFn = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

// Classifies a file of `size` bytes read through `read`; *superblock gets the signature's
// offset for kHdf5/kTruncated/kDamaged. Errors: the read's.
Result<Hdf5Kind> SniffHdf5(const Hdf5ReadFn& read, uint64_t size, uint64_t* superblock = nullptr);

// SniffHdf5 of the file at `path`. Errors: the open's or read's errno status.
Result<Hdf5Kind> SniffHdf5File(const std::string& path);

// "an HDF5 file", "a truncated HDF5 file", "a damaged HDF5 file", "not an HDF5 file".
const char* Hdf5KindName(Hdf5Kind kind);

// The files a source `path` names: a regular file, a folder's regular files (not recursive)
// or a glob's matches, sorted; split into HDF5 files and the rest ("name: what it is").
struct Hdf5Files {
  std::vector<std::string> hdf5;
  std::vector<std::string> skipped;  // "PATH: a truncated HDF5 file", "PATH: not an HDF5 file"
};
// Errors: the errno status of a path that cannot be looked at; Code::kInvalid when `path` is
// neither a file, a folder nor a glob.
Result<Hdf5Files> FindHdf5Files(const std::string& path);

// Start-up check of a [source] path of type hdf5: ok when it names at least one whole HDF5
// file. Errors (Code::kInvalid, or the errno status of a missing path) say what was found:
// "PATH: not an HDF5 file", "PATH: a truncated HDF5 file (...)", "PATH: no HDF5 file in this
// folder (3 files: a.tar (not an HDF5 file), ...)".
Status CheckHdf5Source(const std::string& path);

}  // namespace daqfs
