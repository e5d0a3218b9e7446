#include "backends/hdf5/hdf5_datasets.h"

#include "backends/hdf5/hdf5_links.h"
#include "backends/hdf5/hdf5_types.h"
#include "fs/byte_source.h"

namespace daqfs {
namespace {

uint64_t Product(const std::vector<uint64_t>& v) {
  uint64_t n = 1;
  for (uint64_t d : v) n *= d;
  return n;
}

bool IsString(const H5Element& e) {
  return e.kind == H5Element::Kind::kString || e.kind == H5Element::Kind::kVlenString;
}

bool IsScalarNumber(const H5Element& e) {
  using Kind = H5Element::Kind;
  return e.kind == Kind::kSigned || e.kind == Kind::kUnsigned || e.kind == Kind::kFloat ||
         e.kind == Kind::kBool || e.kind == Kind::kEnum;
}

std::string VirtualName(hid_t dcpl, size_t i, bool file) {
  ssize_t n = file ? H5Pget_virtual_filename(dcpl, i, nullptr, 0)
                   : H5Pget_virtual_dsetname(dcpl, i, nullptr, 0);
  if (n < 0) return "";
  std::string s(static_cast<size_t>(n) + 1, '\0');
  if (file) {
    H5Pget_virtual_filename(dcpl, i, s.data(), s.size());
  } else {
    H5Pget_virtual_dsetname(dcpl, i, s.data(), s.size());
  }
  s.resize(static_cast<size_t>(n));
  return s;
}

// Reads all of `obj` (a dataset or an attribute, `space` its dataspace) as `e`, formatted.
Result<std::string> ReadAsText(hid_t obj, bool attribute, hid_t space, const H5Element& e,
                               const std::vector<uint64_t>& shape, uint64_t count) {
  Result<H5Id> mt = MemoryType(e);
  if (!mt.ok()) return mt.status();
  Bytes buf(count * e.size + 1);
  herr_t rc = attribute ? H5Aread(obj, mt->get(), buf.data())
                        : H5Dread(obj, mt->get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  if (rc < 0) return H5Failure(Code::kCorrupt, "cannot read the value");
  std::string text = FormatValues(e, buf.data(), count, shape);
  if (e.HasVlen()) H5Dvlen_reclaim(mt->get(), space, H5P_DEFAULT, buf.data());
  return text;
}

}  // namespace

Result<H5DatasetInfo> DescribeDataset(const Hdf5File& file, const std::string& path,
                                      uint64_t text_max) {
  const std::string what = file.path + ": " + path;
  H5Id dset(H5Dopen2(file.id.get(), path.c_str(), H5P_DEFAULT));
  if (!dset.valid()) return H5Failure(Code::kCorrupt, what + ": cannot open the dataset");
  H5DatasetInfo info;
  info.path = path;
  H5O_info_t oinfo;
  if (H5Oget_info2(dset.get(), &oinfo, H5O_INFO_BASIC) >= 0) info.addr = oinfo.addr;
  H5Id space(H5Dget_space(dset.get()));
  H5Id ftype(H5Dget_type(dset.get()));
  H5Id dcpl(H5Dget_create_plist(dset.get()));
  if (!space.valid() || !ftype.valid() || !dcpl.valid()) {
    return H5Failure(Code::kCorrupt, what + ": cannot read the dataset's description");
  }
  H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  if (sclass == H5S_NULL) {
    info.hidden_because = "it holds no data (null dataspace)";
    return info;
  }
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) return H5Failure(Code::kCorrupt, what + ": cannot read the dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  info.dims.assign(dims.begin(), dims.end());
  info.layout = H5Pget_layout(dcpl.get());
  if (info.layout == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(static_cast<size_t>(rank));
    if (rank > 0 && H5Pget_chunk(dcpl.get(), rank, chunk.data()) == rank) {
      info.chunk.assign(chunk.begin(), chunk.end());
    }
  } else if (info.layout == H5D_VIRTUAL) {
    size_t count = 0;
    H5Pget_virtual_count(dcpl.get(), &count);
    for (size_t i = 0; i < count; ++i) {
      VdsMapping m;
      m.file = VirtualName(dcpl.get(), i, true);
      m.dataset = VirtualName(dcpl.get(), i, false);
      m.printf_names =
          m.file.find('%') != std::string::npos || m.dataset.find('%') != std::string::npos;
      m.row_begin = 0;
      m.row_end = UINT64_MAX;
      H5Id vspace(H5Pget_virtual_vspace(dcpl.get(), i));
      if (vspace.valid() && rank > 0 && H5Sis_regular_hyperslab(vspace.get()) >= 0) {
        std::vector<hsize_t> lo(static_cast<size_t>(rank)), hi(static_cast<size_t>(rank));
        if (H5Sget_select_bounds(vspace.get(), lo.data(), hi.data()) >= 0) {
          m.row_begin = lo[0];
          m.row_end = hi[0] + 1;
        }
      }
      H5ErrorText();  // unlimited selections have no bounds: the mapping covers every row
      info.vds.push_back(std::move(m));
    }
  }

  Result<H5Element> elem = ClassifyType(ftype.get());
  if (!elem.ok()) {
    info.hidden_because = "its type is not supported: " + elem.status().message();
    return info;
  }
  const uint64_t count = Product(info.dims);
  // Text: number scalars, and strings whose text fits text_max.
  if ((info.dims.empty() && IsScalarNumber(*elem)) || IsString(*elem)) {
    bool fits = true;
    if (elem->kind == H5Element::Kind::kString) {
      fits = count * elem->size <= text_max + count;  // padding is dropped, newlines added
    } else if (elem->kind == H5Element::Kind::kVlenString && !info.dims.empty()) {
      // (libhdf5 1.10 crashes in H5Dvlen_get_buf_size on a scalar dataspace: a scalar string
      // is read whole and measured after.)
      Result<H5Id> mt = MemoryType(*elem);
      hsize_t bytes = 0;
      fits = mt.ok() && H5Dvlen_get_buf_size(dset.get(), mt->get(), space.get(), &bytes) >= 0 &&
             bytes <= text_max;
      H5ErrorText();
    }
    if (fits) {
      Result<std::string> text =
          ReadAsText(dset.get(), false, space.get(), *elem, info.dims, count);
      if (!text.ok()) return Status(text.status().code(), what + ": " + text.status().message());
      if (text->size() <= text_max || info.dims.empty()) {
        info.text = std::move(*text);
        return info;
      }
    }
    if (elem->kind == H5Element::Kind::kVlenString) {
      info.hidden_because = "its variable-length strings are longer than text_max (" +
                            std::to_string(text_max) + " bytes) and NumPy cannot hold them";
      return info;
    }
  }
  if (elem->HasVlen()) {
    info.hidden_because = "its type holds variable-length strings, which NumPy cannot hold";
    return info;
  }
  std::vector<uint64_t> extra = ArrayDims(*elem);
  info.shape = info.dims;
  info.shape.insert(info.shape.end(), extra.begin(), extra.end());
  info.stored = *elem;
  info.element = *elem;
  while (info.element.kind == H5Element::Kind::kArray) {
    H5Element base = *info.element.base;  // a copy first: the assignment frees the original
    info.element = std::move(base);
  }
  info.descr = NumpyDescrOf(info.element);
  if (info.descr.empty()) {
    info.hidden_because = "NumPy has no form for its compound member names";
    return info;
  }
  info.data_bytes = Product(info.shape) * info.element.size;
  return info;
}

Result<std::vector<H5AttrText>> ReadAttributeTexts(const Hdf5File& file, const std::string& path,
                                                   std::vector<std::string>* skipped) {
  const std::string what = file.path + ": " + path;
  H5Id obj(H5Oopen(file.id.get(), path.c_str(), H5P_DEFAULT));
  if (!obj.valid()) return H5Failure(Code::kCorrupt, what + ": cannot open the object");
  H5O_info_t oinfo;
  if (H5Oget_info2(obj.get(), &oinfo, H5O_INFO_NUM_ATTRS) < 0) {
    return H5Failure(Code::kCorrupt, what + ": cannot count its attributes");
  }
  std::vector<H5AttrText> out;
  for (hsize_t i = 0; i < oinfo.num_attrs; ++i) {
    H5Id attr(
        H5Aopen_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid()) {
      // Without a name index (compact storage written without one) go by creation order.
      H5ErrorText();
      attr = H5Id(H5Aopen_by_idx(obj.get(), ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, H5P_DEFAULT,
                                 H5P_DEFAULT));
    }
    if (!attr.valid()) {
      H5ErrorText();
      if (skipped) skipped->push_back("#" + std::to_string(i) + ": cannot be opened");
      continue;
    }
    ssize_t n = H5Aget_name(attr.get(), 0, nullptr);
    std::string name(n > 0 ? static_cast<size_t>(n) + 1 : 1, '\0');
    if (n > 0) H5Aget_name(attr.get(), name.size(), name.data());
    name.resize(n > 0 ? static_cast<size_t>(n) : 0);
    H5Id ftype(H5Aget_type(attr.get()));
    H5Id space(H5Aget_space(attr.get()));
    Result<H5Element> e = ClassifyType(ftype.get());
    if (!e.ok()) {
      if (skipped) skipped->push_back(name + ": " + e.status().message());
      continue;
    }
    std::vector<uint64_t> shape;
    uint64_t count = 0;
    if (H5Sget_simple_extent_type(space.get()) != H5S_NULL) {
      int rank = H5Sget_simple_extent_ndims(space.get());
      std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
      if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
      shape.assign(dims.begin(), dims.end());
      count = Product(shape);
    }
    std::string text;
    if (count > 0) {
      Result<std::string> t = ReadAsText(attr.get(), true, space.get(), *e, shape, count);
      if (!t.ok()) {
        if (skipped) skipped->push_back(name + ": " + t.status().message());
        continue;
      }
      text = std::move(*t);
    }
    out.push_back(H5AttrText{std::move(name), std::move(text)});
  }
  return out;
}

Status ReadRows(const Hdf5File& file, const H5DatasetInfo& info, uint64_t row, uint64_t rows,
                std::span<uint8_t> out) {
  const std::string what = file.path + ": " + info.path + ": rows " + std::to_string(row) + ".." +
                           std::to_string(row + rows);
  if (out.size() != rows * info.row_bytes()) return Invalid(what + ": buffer size mismatch");
  H5Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
  if (info.layout == H5D_VIRTUAL) {
    // Relative source file names next to this file, never in the working directory first.
    H5Pset_virtual_prefix(dapl.get(), DirName(file.path).c_str());
  }
  H5Id dset(H5Dopen2(file.id.get(), info.path.c_str(), dapl.get()));
  if (!dset.valid()) return H5Failure(Code::kCorrupt, what + ": cannot open the dataset");
  Result<H5Id> mt = MemoryType(info.stored);
  if (!mt.ok()) return Status(mt.status().code(), what + ": " + mt.status().message());
  H5Id fspace(H5Dget_space(dset.get()));
  H5Id mspace;
  if (!info.dims.empty()) {
    std::vector<hsize_t> start(info.dims.size(), 0), count(info.dims.begin(), info.dims.end());
    start[0] = row;
    count[0] = rows;
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr) < 0) {
      return H5Failure(Code::kInvalid, what + ": cannot select the rows");
    }
    mspace = H5Id(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  } else {
    mspace = H5Id(H5Screate(H5S_SCALAR));
  }
  if (H5Dread(dset.get(), mt->get(), mspace.get(), fspace.get(), H5P_DEFAULT, out.data()) < 0) {
    return H5Failure(Code::kCorrupt, what);
  }
  return Status::Ok();
}

}  // namespace daqfs
