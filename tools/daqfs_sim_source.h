// Frames for daqfs-sim to replay: the image stack of an HDF5 / NeXus file (an EIGER master and
// its data files: the stack daqfs shows as data.npy, decoded by daqfs's own HDF5 backend), or
// the pages of TIFF files (one multi-page file, or a folder of them in name order).
//
// Errors name the path and the reason: not an HDF5 or TIFF file, no image stack in the file, a
// TIFF page of another shape or type than the first, tiled or compressed-in-an-unsupported-way
// TIFFs (libtiff reads strips; tiles are refused), more than one sample per pixel.
//
// Thread safety: a pure function of its inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/common/pixel_type.h"
#include "fs/status.h"

namespace daqfs {

struct SimSource {
  uint32_t width = 0, height = 0;
  PixelType type;
  std::vector<std::vector<uint8_t>> frames;  // pixels, little endian, in order
  std::string what;                          // "/data/x_master.h5: 100 frames of 1030x514 uint16"
};

// Reads at most `max_frames` frames (0: all) of `path`.
Result<SimSource> LoadSimSource(const std::string& path, uint64_t max_frames);

}  // namespace daqfs
