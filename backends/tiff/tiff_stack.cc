// BuildTiffStack (see tiff_stack.h).
#include "backends/tiff/tiff_stack.h"

#include "backends/tiff/tiff_pages.h"

namespace daqfs {

DescribedTiff DescribeTiffFile(const std::string& path) {
  DescribedTiff d;
  d.path = path;
  Result<TiffLayout> l = DescribeTiff(path);
  if (l.ok()) {
    d.units = std::make_shared<TiffPageUnits>(path, std::move(*l));
  } else {
    d.error = l.status();
  }
  return d;
}

Result<TiffStack> BuildTiffStack(const std::vector<std::string>& files,
                                 const std::string& identity) {
  std::vector<DescribedTiff> described;
  described.reserve(files.size());
  for (const std::string& f : files) described.push_back(DescribeTiffFile(f));
  return StackTiffs(described, identity);
}

Result<TiffStack> StackTiffs(const std::vector<DescribedTiff>& files, const std::string& identity) {
  TiffStack out;
  ImageStackSpec spec;
  spec.identity = identity;
  const DescribedTiff* first = nullptr;
  int64_t number = 0;
  for (const DescribedTiff& f : files) {
    if (!f.units) {
      if (f.error.code() == Code::kInvalid) return f.error;  // a layout never served
      out.skipped.push_back(f.error.message());
      continue;
    }
    const TiffLayout& l = f.units->layout();
    if (!first) {
      first = &f;
      spec.pixel = l.pixel;
      spec.height = l.height;
      spec.width = l.width;
      spec.channels = l.channels;
    } else if (const TiffLayout& fl = first->units->layout(); !fl.SameFrames(l)) {
      return Invalid(f.path + ": " + std::to_string(l.width) + "x" + std::to_string(l.height) +
                     "x" + std::to_string(l.channels) + " of " + NumpyDescr(l.pixel) + ", but " +
                     first->path + ": " + std::to_string(fl.width) + "x" +
                     std::to_string(fl.height) + "x" + std::to_string(fl.channels) + " of " +
                     NumpyDescr(fl.pixel) + ": not one stack");
    }
    const uint64_t pages = l.page_offsets.size();
    ImageStackPart part;
    part.units = f.units;
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

bool FileNameLess(std::string_view a, std::string_view b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      size_t iz = i, jz = j;  // past the leading zeros
      while (iz + 1 < ie && a[iz] == '0') ++iz;
      while (jz + 1 < je && b[jz] == '0') ++jz;
      std::string_view na = a.substr(iz, ie - iz), nb = b.substr(jz, je - jz);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      if (ie - i != je - j) return ie - i < je - j;  // same value: fewer leading zeros first
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

}  // namespace daqfs
