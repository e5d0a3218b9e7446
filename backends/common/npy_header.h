// NpyHeader: the header of a NumPy .npy file, byte for byte what numpy.save writes for a
// C-ordered array.
//
// Format (numpy/lib/format.py): the magic "\x93NUMPY", version 1.0 (2.0 when the header dict
// does not fit in 65535 bytes), a little-endian header length, then the dict
// "{'descr': '<u2', 'fortran_order': False, 'shape': (N, H, W), }" padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64 bytes. The data follows in C order.
// A view over decoded pixels is then this header plus the pixels, its size known before any
// pixel is decoded.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/common/pixel_type.h"
#include "fs/byte_source.h"

namespace daqfs {

// The header for an array of `shape` (C order; empty shape = a 0-d array) of `descr` (a NumPy
// descriptor as NumpyDescr gives, or a structured one such as "[('a', '<u2'), ('b', '<f8')]"
// written as numpy's repr of it, UTF-8). Formats 1.0, 2.0 and 3.0 are chosen as numpy does.
// Empty when `descr` is empty.
Bytes NpyHeader(const std::string& descr, const std::vector<uint64_t>& shape);

// NpyHeader(NumpyDescr(type), shape): empty for a type IsSupportedPixelType refuses.
Bytes NpyHeader(PixelType type, const std::vector<uint64_t>& shape);

}  // namespace daqfs
