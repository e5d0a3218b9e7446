// Datasets and attributes of HDF5 files, read the way daqfs shows them: a dataset's description
// (shape, element, storage layout, virtual-dataset mappings, and its text when it is shown as
// a text file), attribute values as text, and rows of a dataset's data.
//
// Which datasets are text: a scalar of a number, boolean or enum, and strings (fixed or
// variable length, any shape) whose text has at most `text_max` bytes (the text is read when the
// dataset is described, so its size is known for the listing). Every other dataset of a type
// NumPy can hold is a `.npy` file; a variable-length string dataset longer than `text_max` and
// types NumPy cannot hold (hdf5_types.h) are not shown (the description says why). A dataset
// with a null dataspace (no data at all) is not shown either.
//
// Rows: "row r" is index r along the first dimension (a frame of an image stack); a scalar is
// one row of one element. Data is read with H5Dread in the memory type of hdf5_types.h: little
// endian, packed, C order, exactly the bytes of the `.npy` file after its header.
//
// Thread safety: every function must be called with H5Lock held.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/hdf5/hdf5_element.h"
#include "backends/hdf5/hdf5_file_pool.h"
#include "fs/status.h"

namespace daqfs {

// One mapping of a virtual dataset: which rows of the virtual dataset come from which source.
struct VdsMapping {
  std::string file;        // source file name as stored ("." = the virtual dataset's own file)
  std::string dataset;     // source dataset path in that file
  uint64_t row_begin = 0;  // rows of the virtual dataset the mapping selects (bounding box)
  uint64_t row_end = 0;
  bool printf_names = false;  // names with printf-style patterns (%b): not checked
};

struct H5DatasetInfo {
  std::string path;  // hard in-file path
  haddr_t addr = HADDR_UNDEF;
  std::vector<uint64_t> dims;  // the dataspace's dims (empty: a scalar)
  H5Element stored;            // the element as stored (what H5Dread reads: maybe an array)
  H5Element element;           // the .npy element: `stored`, or its base when it is an array
  // The .npy form (descr empty: none): shape = dims + the stored element's array dims.
  std::string descr;
  std::vector<uint64_t> shape;
  uint64_t data_bytes = 0;  // bytes of the data in C order (shape product * element size)
  H5D_layout_t layout = H5D_CONTIGUOUS;
  std::vector<uint64_t> chunk;      // chunk dims (chunked layout)
  std::vector<VdsMapping> vds;      // virtual layout
  std::optional<std::string> text;  // shown as a text file with this content
  std::string hidden_because;       // non-empty: not shown, and why
  // Rows along the dataspace's first dimension (a scalar: 1).
  uint64_t rows() const { return dims.empty() ? 1 : dims[0]; }
  // Bytes of one row (a scalar: all of it; no rows: 0).
  uint64_t row_bytes() const { return rows() == 0 ? 0 : data_bytes / rows(); }
};

// Describes the dataset at hard path `path` of `file`. Errors: kCorrupt when libhdf5 cannot open
// or read it (a type NumPy cannot hold is not an error: see hidden_because).
Result<H5DatasetInfo> DescribeDataset(const Hdf5File& file, const std::string& path,
                                      uint64_t text_max);

struct H5AttrText {
  std::string name;
  std::string text;  // FormatValues of its value (a newline at the end unless empty)
};
// The attributes of the object at hard path `path` of `file`, by name, as text. Attributes of
// types that cannot be shown are left out and named in *skipped ("NAME: reason").
Result<std::vector<H5AttrText>> ReadAttributeTexts(const Hdf5File& file, const std::string& path,
                                                   std::vector<std::string>* skipped);

// Reads rows [row, row + rows) of the dataset at `info.path` of `file` into `out` (exactly
// rows * info.row_bytes() bytes). A virtual dataset's relative source file names are looked
// for next to `file` (H5Pset_virtual_prefix); the caller checks the sources exist first.
// Errors: kCorrupt "FILE: PATH: rows A..B: <libhdf5's message>".
Status ReadRows(const Hdf5File& file, const H5DatasetInfo& info, uint64_t row, uint64_t rows,
                std::span<uint8_t> out);

}  // namespace daqfs
