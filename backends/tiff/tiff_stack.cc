// BuildTiffStack (see tiff_stack.h).
#include "backends/tiff/tiff_stack.h"

#include "backends/tiff/tiff_pages.h"

namespace daqfs {

Result<TiffStack> BuildTiffStack(const std::vector<std::string>& files,
                                 const std::string& identity) {
  TiffStack out;
  ImageStackSpec spec;
  spec.identity = identity;
  std::string first_file;
  TiffLayout first;
  int64_t number = 0;
  for (const std::string& f : files) {
    Result<TiffLayout> l = DescribeTiff(f);
    if (!l.ok()) {
      if (l.status().code() == Code::kInvalid) return l.status();  // a layout never served
      out.skipped.push_back(l.status().message());
      continue;
    }
    if (first_file.empty()) {
      first_file = f;
      first = *l;
      spec.pixel = l->pixel;
      spec.height = l->height;
      spec.width = l->width;
      spec.channels = l->channels;
    } else if (!first.SameFrames(*l)) {
      return Invalid(f + ": " + std::to_string(l->width) + "x" + std::to_string(l->height) + "x" +
                     std::to_string(l->channels) + " of " + NumpyDescr(l->pixel) + ", but " +
                     first_file + ": " + std::to_string(first.width) + "x" +
                     std::to_string(first.height) + "x" + std::to_string(first.channels) + " of " +
                     NumpyDescr(first.pixel) + ": not one stack");
    }
    const uint64_t pages = l->page_offsets.size();
    ImageStackPart part;
    part.units = std::make_shared<TiffPageUnits>(f, std::move(*l));
    part.first_unit = 0;
    part.frames = pages;
    part.first_number = number;
    number += static_cast<int64_t>(pages);
    spec.parts.push_back(std::move(part));
  }
  if (spec.parts.empty()) {
    return Status(Code::kNotFound, identity + ": no TIFF with a page among " +
                                       std::to_string(files.size()) + " files");
  }
  Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
  if (!stack.ok()) return stack.status();
  out.stack = std::move(*stack);
  return out;
}

}  // namespace daqfs
