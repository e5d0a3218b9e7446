// Hdf5Views: extra entries the HDF5 backend shows beside what a file holds. This is the seam
// for views computed from the data, such as an EIGER master's `data.npy` and `frames/` over all
// its data files, or a `NAME.stack/` folder beside a 3-D chunked dataset (the image-stack views
// of backends/common/).
//
// When the backend first needs a folder's extra entries (a file's own folder or a group's:
// listing it, or looking up a name its links and attribute files do not hold), it asks the
// Hdf5Views it was given for entries to add there, passing what it found in the folder. So a
// path walked through a folder (a lookup of one of its links) never costs the extra entries,
// which may read other files (an EIGER master's data.npy needs its data files' shapes).
// Entries are files (opened through `open`) or folders whose entries are computed
// (`Hdf5ExtraDir`: a listing of 100,000 frames is not a vector of 100,000 nodes; its entries may
// be folders with computed entries in turn). A name the folder already holds wins over an extra
// entry of the same name (logged). Entries are asked for once per folder and kept.
//
// Thread safety: ForFolder may be called concurrently for different folders; an Hdf5ExtraDir
// and the `open` functions are called from any thread (they must be thread-safe). ForFolder is
// called without H5Lock held; it may take it for its own HDF5 calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/hdf5/hdf5_dataset_units.h"
#include "backends/hdf5/hdf5_file_pool.h"
#include "fs/backend.h"

namespace daqfs {

class Hdf5ExtraDir;

struct Hdf5ExtraEntry {
  std::string name;
  Attr attr;  // type kFile (size known) or kDirectory; owner, mode and mtime as the caller wants
  // Files: opens the content (called per open).
  std::function<Result<std::shared_ptr<ByteSource>>()> open;
  // Folders: the computed listing.
  std::shared_ptr<const Hdf5ExtraDir> dir;
  // Files: the files (canonical paths) whose bytes it shows besides the folder's HDF5 file (a
  // frame's data file): opening it requires read access to each, as for the backend's files.
  std::vector<std::string> files;
};

// A folder whose entries are computed on demand, in a fixed order.
class Hdf5ExtraDir {
 public:
  virtual ~Hdf5ExtraDir() = default;
  virtual uint64_t Count() const = 0;
  // Entry `index` (< Count()), in listing order.
  virtual Hdf5ExtraEntry At(uint64_t index) const = 0;
  // The index of the entry named `name`, or nullopt.
  virtual std::optional<uint64_t> Find(std::string_view name) const = 0;
};

// What the backend found in a folder it loaded.
struct Hdf5FolderContext {
  std::string source_file;  // canonical path of the HDF5 file whose folder this is in
  std::string file;         // canonical path of the file holding the group (external targets)
  std::string group_path;   // the group's hard path in `file` ("/" for the file's folder)
  bool file_root = false;   // this is the file's own folder
  Attr folder_attr;         // the folder's attributes (owner, mode, mtime to reuse)
  // The datasets shown in the folder as .npy files, by link name.
  std::vector<std::pair<std::string, std::shared_ptr<const Hdf5DatasetRef>>> datasets;
  // The backend's file pool (use under H5Lock) and a maker of shared units sources (the same
  // object for the same dataset and layout, so that caching is shared with the backend's own
  // .npy files: ask for kAuto first, kFrames only when kAuto does not give one frame per unit).
  std::shared_ptr<Hdf5FilePool> pool;
  std::function<std::shared_ptr<Hdf5DatasetUnits>(std::shared_ptr<const Hdf5DatasetRef>,
                                                  Hdf5DatasetUnits::Layout)>
      units;
  std::string source;     // the source's name (for log lines)
  uint64_t text_max = 0;  // the source's text_max (to describe datasets as the backend does)
};

class Hdf5Views {
 public:
  virtual ~Hdf5Views() = default;
  // Extra entries for the folder described by `folder` (none: empty).
  virtual std::vector<Hdf5ExtraEntry> ForFolder(const Hdf5FolderContext& folder) = 0;
};

}  // namespace daqfs
