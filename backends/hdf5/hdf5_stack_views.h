// Hdf5StackViews: the image-stack views of the HDF5 backend (an Hdf5Views, wired in by default):
// `data.npy` and `frames/` of an EIGER/NXmx master, and `NAME.stack/` beside any other 3-D
// chunked dataset. The views themselves are backends/common/stack_views.h over an ImageStack
// whose parts are the datasets' units sources, made by the backend's units maker, so a chunk
// read through `frames/000001.tif`, `data.npy` or the data file's own `NAME.npy` is decoded and
// cached once.
//
// An EIGER master is a file whose /entry/data group (reached through any links) holds links named
// data_NNNNNN (six digits or more; external or not) to 3-D datasets (frames, height, width), one
// data file each. Its own folder gets:
//   - `data.npy`: every frame of every part, shape (N, H, W), in image-number order;
//   - `frames/NNNNNN.tif`: one uncompressed TIFF per frame, named by the detector's image number
//     (FrameFileName: six digits at least); with Options::raw also `NNNNNN.raw` (the pixels).
// Parts are numbered by their datasets' image_nr_low attribute (the detector's numbers, from 1);
// a part without it follows the previous part (in link-name order) consecutively, the first from
// 1; parts are then put in number order (image_nr_high, when it disagrees with the dataset's
// length, is logged; the dataset's length wins). Every part that can be read must agree on H, W
// and the pixel type (unsigned, signed, float32/64), and numbers must not overlap; else the
// master shows no stack views (logged once) and the rest of its folder stays.
//
// A part whose data file or dataset is missing keeps its frames in the listing when its length
// can be known: it lies alone between the previous part's end and the next part's image_nr_low,
// or it is the last part and the master's detectorSpecific/nimages (x ntrigger) gives the
// series' length. Its frames then read as EIO (never zeros), logged naming the master and the
// missing file. A missing part whose length cannot be known is left out (logged).
//
// Any other 3-D chunked dataset of a supported pixel type, shown as NAME.npy, gets a folder
// `NAME.stack/` beside it holding `data.npy` and `frames/` the same way, frames numbered from 0
// (the dataset's index). The links data_NNNNNN of an /entry/data group are a master's parts and
// get none.
//
// Cost: a master's views are made when its folder is first listed (or a name is looked up there
// that its links do not hold): one short H5Lock section per data file reads its dataset's shape,
// type and image_nr attributes; no chunk is read. Looking up paths through the master's folder
// (entry/...) opens no data file. Listings are computed (Hdf5ExtraDir), never a node per frame.
// Sizes are known before any pixel is decoded; every view is immutable (cached by the kernel for
// as long as the backend's other files).
//
// Units: one frame per unit. The maker is asked for the kAuto layout (shared with the backend's
// .npy files; one frame per unit for frames of 4 KiB and more) and for kFrames only when kAuto
// groups small frames; a frame over 8 MiB is one unit of 1 MiB sub-blocks (ImageStack groups).
//
// Thread safety: ForFolder may be called concurrently; the entries' listings and opens are
// thread-safe (immutable stacks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/common/image_stack.h"
#include "backends/hdf5/hdf5_views.h"

namespace daqfs {

class Hdf5StackViews final : public Hdf5Views {
 public:
  struct Options {
    bool raw = false;  // frames/NNNNNN.raw beside each .tif
  };
  explicit Hdf5StackViews(Options options) : options_(options) {}

  std::vector<Hdf5ExtraEntry> ForFolder(const Hdf5FolderContext& folder) override;

  // The stack of the master whose own folder `folder` is, and each part's data file (canonical
  // path, "" for a missing one) in part order. Null when the file is no EIGER master or its
  // stack cannot be made (logged, naming the master and why). Reads metadata only.
  struct MasterStack {
    std::shared_ptr<const ImageStack> stack;
    std::vector<std::string> part_files;
  };
  static MasterStack MakeMasterStack(const Hdf5FolderContext& folder);

 private:
  Options options_;
};

}  // namespace daqfs
