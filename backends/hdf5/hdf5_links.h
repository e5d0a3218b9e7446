// Links inside HDF5 files, followed the way daqfs shows them: group listings, object lookups and
// paths through soft and external links, with external link targets found next to the linking
// file and never in the daemon's working directory.
//
// libhdf5 resolves a relative external link against the linking file's folder and then the
// process's working directory; a daemon must not depend on the latter (another file of the same
// name there would be served). So ResolvePath never lets libhdf5 traverse an external link: it
// walks a path one link at a time (H5Lget_info, H5Lget_val, H5Lunpack_elink_val), opens external
// targets itself through the file pool (ExternalFileCandidates) and continues inside the target
// file. What it returns is a location whose path crosses hard links only, so later calls
// (H5Dopen, H5Oget_info) never leave that file.
//
// Loops: a path that takes more than kMaxLinkHops soft or external links is refused (the way a
// kernel refuses a symlink loop with ELOOP).
//
// Thread safety: every function that takes an Hdf5File or the pool must be called with H5Lock
// held; ExternalFileCandidates and the path helpers are pure.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/hdf5/hdf5_file_pool.h"
#include "fs/status.h"

namespace daqfs {

inline constexpr int kMaxLinkHops = 40;

// Where an object lives.
struct H5Location {
  std::shared_ptr<const Hdf5File> file;
  std::string path;  // absolute in-file path over hard links only ("/" = the root group)
  H5O_type_t type = H5O_TYPE_UNKNOWN;
  haddr_t addr = HADDR_UNDEF;  // the object header's address: with the file, the object's key
  uint64_t num_attrs = 0;
};

// One link of a group, in name order.
struct H5LinkEntry {
  std::string name;
  H5L_type_t type = H5L_TYPE_ERROR;
  haddr_t addr = HADDR_UNDEF;  // hard links: the object's address
  std::string value;           // soft: the target path as stored; external: the object path
  std::string file;            // external: the file name as stored
};

// The files an external link to `target` (as stored in the link) made from the file at
// `linking_file` may name, in the order to try: a relative name in the linking file's folder;
// an absolute name as is, then its base name in the linking file's folder (as libhdf5 does).
// Paths are normalised ("a/./b" -> "a/b", "a/../b" -> "b").
std::vector<std::string> ExternalFileCandidates(const std::string& linking_file,
                                                const std::string& target);

// The folder of `path` ("/d" for "/d/f.h5").
std::string DirName(const std::string& path);
// `path` with "." and ".." components resolved and repeated slashes removed; absolute stays
// absolute ("/" for the root).
std::string NormalizePath(const std::string& path);
// Joins an in-file group path and a link name ("/" + "a" = "/a", "/g" + "a" = "/g/a").
std::string JoinH5Path(const std::string& group, const std::string& name);
// The parts of an HDF5 path in order, empty and "." parts left out ("/a//./b" -> a, b).
std::vector<std::string> SplitH5Path(const std::string& path);

// Opens the file an external link names (the first candidate that exists, canonical path).
// Errors: kUnavailable "missing external file NAME (looked for ...)", or the pool's error.
Result<std::shared_ptr<const Hdf5File>> OpenExternalFile(Hdf5FilePool& pool,
                                                         const std::string& linking_file,
                                                         const std::string& target);

// The links of group `group_path` (a hard path) of `file`, by name. Errors: kCorrupt with
// libhdf5's message.
Result<std::vector<H5LinkEntry>> ListLinks(const Hdf5File& file, const std::string& group_path);

// The object at hard path `path` of `file` (type, address, attribute count).
Result<H5Location> ObjectAt(std::shared_ptr<const Hdf5File> file, const std::string& path);

// Follows absolute in-file `path` from the root of `file` through hard, soft and external links
// to the object it names. Errors: kNotFound "FILE: PATH: no such object" (a dangling link or a
// missing component); kUnavailable (an external file missing); kInvalid "... more than 40 links"
// (a loop); kNotSupported (a user-defined link); kCorrupt (libhdf5 could not read the file).
Result<H5Location> ResolvePath(Hdf5FilePool& pool, std::shared_ptr<const Hdf5File> file,
                               const std::string& path);

// Follows one link entry of group `group_path` in `file` (a listing's entry) to its object.
Result<H5Location> FollowLink(Hdf5FilePool& pool, std::shared_ptr<const Hdf5File> file,
                              const std::string& group_path, const H5LinkEntry& link);

}  // namespace daqfs
