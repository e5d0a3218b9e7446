// From HDF5 datatypes to H5Element (hdf5_element.h): which types daqfs shows and how, and the
// memory datatype it reads them with.
//
// Supported: integers of 1, 2, 4, 8 bytes (either byte order), bitfields of those sizes (as
// unsigned integers), floats of 2, 4, 8 bytes, enums (h5py's boolean enum FALSE/TRUE over int8
// as NumPy bool; others as their integer base, like h5py reads them), fixed-length strings,
// variable-length strings (text only: NumPy cannot hold them), opaque bytes (NumPy void),
// arrays of a supported type, and compounds of supported members (h5py's complex compound of
// two floats `r` and `i` as NumPy complex). Not supported (kNotSupported with the reason):
// references, variable-length sequences, time, floats and integers of other sizes.
//
// The memory datatype is little endian and packed (compound members in order without padding),
// the layout H5Element describes; libhdf5 converts from the stored byte order and layout.
//
// Thread safety: both functions must be called with H5Lock held.
#pragma once

#include <hdf5.h>

#include "backends/hdf5/hdf5_element.h"
#include "backends/hdf5/hdf5_library.h"
#include "fs/status.h"

namespace daqfs {

// Describes the stored datatype `file_type`. Errors: kNotSupported naming what the type is.
Result<H5Element> ClassifyType(hid_t file_type);

// The memory datatype for reading values described by `e` (from ClassifyType). Errors: kIo when
// libhdf5 refuses to build it.
Result<H5Id> MemoryType(const H5Element& e);

}  // namespace daqfs
