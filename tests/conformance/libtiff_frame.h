// The expected bytes of a frame's TIFF view, written by libtiff itself (never by daqfs): one
// uncompressed strip with the tags of backends/common/tiff_header.h. For the conformance
// flavours of the image-stack sources (hdf5, stream).
#pragma once

#include <cstdint>
#include <string>

#include "backends/common/pixel_type.h"

namespace daqfs::testing {

// What libtiff writes (TIFFOpen "w", TIFFWriteEncodedStrip, TIFFClose) for `pixels` (little
// endian, C order (height, width)) of one sample of `type`, using the file `scratch`. "" and a
// test failure when libtiff refuses.
std::string LibtiffFrame(const std::string& pixels, uint32_t width, uint32_t height, PixelType type,
                         const std::string& scratch);

}  // namespace daqfs::testing
