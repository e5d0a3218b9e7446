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
#include <vector>

#include "backends/common/image_stack.h"
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

}  // namespace daqfs
