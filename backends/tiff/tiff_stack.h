// A series of TIFF files as one image stack (backends/common/image_stack.h): the core of the
// TIFF source. Each file is a part, each page a frame; frames are numbered 0, 1, ... in the
// order the files are given (the source lists them by file name) and, within a file, page order.
//
// A file libtiff rejects is skipped and reported (`skipped`: "PATH: reason"), as a tomography
// scan with one broken file should still show the rest. Files of another shape or pixel type
// than the first good one make the whole series an error naming both files (kInvalid): a stack
// that silently mixed them would be wrong data.
//
// Thread safety: a plain function; the stack is immutable.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/common/image_stack.h"
#include "backends/tiff/tiff_pages.h"
#include "fs/status.h"

namespace daqfs {

struct TiffStack {
  std::shared_ptr<const ImageStack> stack;
  std::vector<std::string> skipped;  // "PATH: why", files libtiff rejected
};

// `files` in frame order; `identity` names the series (the source and its path) for the views.
// kNotFound when no file holds a page.
Result<TiffStack> BuildTiffStack(const std::vector<std::string>& files,
                                 const std::string& identity);

// A file as DescribeTiff found it: its page units, or why it cannot be read.
struct DescribedTiff {
  std::string path;
  std::shared_ptr<TiffPageUnits> units;  // null when rejected
  Status error;                          // why, when rejected (kInvalid: a layout never served)
};
// Describes `path` (DescribeTiff) into a DescribedTiff.
DescribedTiff DescribeTiffFile(const std::string& path);

// The stack of files already described, in the order given (BuildTiffStack without the
// describing: a rescanning source keeps what it described of unchanged files). A rejected
// file is skipped, except one of kInvalid (a layout the views never take), which fails the
// series like a file of another shape.
Result<TiffStack> StackTiffs(const std::vector<DescribedTiff>& files, const std::string& identity);

// File-name order as people number files: runs of digits compare by their value, so
// "proj_2.tif" comes before "proj_10.tif"; equal values with more leading zeros come later;
// everything else byte by byte. A strict weak order (equal only for equal strings).
bool FileNameLess(std::string_view a, std::string_view b);

}  // namespace daqfs
