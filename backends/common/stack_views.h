// The files an image stack is shown as: frames/NNNNNN.tif (one uncompressed TIFF per frame),
// frames/NNNNNN.raw (the frame's decoded pixels) and data.npy (the whole stack as one NumPy
// array, C order).
//
// Each view is a ComposedSource of the stack's generated headers (ImageStack::tiff_head() etc.,
// shared by every view of the stack) and byte ranges of the parts' units sources: a frame file
// is one unit between two headers, data.npy one range per part. So the read path fetches,
// decodes and caches each frame once under its units' key, whichever view reads it, and the
// prefetcher reads ahead across frames and parts. A view's Size() is known without decoding,
// building one costs O(log parts) for a frame and O(parts) for data.npy, and the views
// themselves are never cached (their Identity() names them for logs and per-file state: the
// stack's identity plus the view).
//
// The bytes: a TIFF is what libtiff 4.5 writes for the frame as one strip
// (backends/common/tiff_header.h); data.npy is what numpy.save writes
// (backends/common/npy_header.h) for an array of ImageStack::Shape(); a .raw file is the
// pixels alone (little endian, C order of (height, width, channels)).
//
// Thread safety: pure functions of an immutable stack; the returned sources are thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "backends/common/image_stack.h"
#include "fs/byte_source.h"

namespace daqfs {

// Sizes for a listing, without building a source: every frame's TIFF has the same size.
uint64_t TiffFrameSize(const ImageStack& stack);
uint64_t RawFrameSize(const ImageStack& stack);  // = FrameBytes()
uint64_t NpySize(const ImageStack& stack);       // header + frames() * FrameBytes()

// frames/NNNNNN.tif of frame `index`; null when index >= stack.frames().
std::shared_ptr<ByteSource> MakeTiffFrame(const ImageStack& stack, uint64_t index);
// frames/NNNNNN.raw of frame `index`; null when index >= stack.frames().
std::shared_ptr<ByteSource> MakeRawFrame(const ImageStack& stack, uint64_t index);
// data.npy: shape (N, H, W), or (N, H, W, C) when channels > 1, every part in order.
std::shared_ptr<ByteSource> MakeNpy(const ImageStack& stack);

}  // namespace daqfs
