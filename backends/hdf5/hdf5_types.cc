#include "backends/hdf5/hdf5_types.h"

#include <cstring>
#include <memory>

namespace daqfs {
namespace {

Status Unsupported(const std::string& what) { return Status(Code::kNotSupported, what); }

// A copy of a predefined type (predefined ids belong to the library: never release them).
H5Id Copy(hid_t predefined) { return H5Id(H5Tcopy(predefined)); }

hid_t StdInt(bool is_signed, uint64_t size) {
  switch (size) {
    case 1:
      return is_signed ? H5T_STD_I8LE : H5T_STD_U8LE;
    case 2:
      return is_signed ? H5T_STD_I16LE : H5T_STD_U16LE;
    case 4:
      return is_signed ? H5T_STD_I32LE : H5T_STD_U32LE;
    default:
      return is_signed ? H5T_STD_I64LE : H5T_STD_U64LE;
  }
}

hid_t StdBitfield(uint64_t size) {
  switch (size) {
    case 1:
      return H5T_STD_B8LE;
    case 2:
      return H5T_STD_B16LE;
    case 4:
      return H5T_STD_B32LE;
    default:
      return H5T_STD_B64LE;
  }
}

bool StdSize(size_t n) { return n == 1 || n == 2 || n == 4 || n == 8; }

std::string MemberName(hid_t type, unsigned i) {
  char* raw = H5Tget_member_name(type, i);
  std::string name = raw ? raw : "";
  if (raw) H5free_memory(raw);
  return name;
}

// The value of enum member `i`, as a signed 64-bit number (the base's sign and order honoured).
int64_t EnumValue(hid_t type, unsigned i, size_t size, bool is_signed, bool big_endian) {
  uint8_t buf[8] = {0};
  H5Tget_member_value(type, i, buf);
  uint64_t v = 0;
  for (size_t k = 0; k < size; ++k) {
    uint8_t b = big_endian ? buf[size - 1 - k] : buf[k];
    v |= static_cast<uint64_t>(b) << (8 * k);
  }
  if (is_signed && size < 8 && ((v >> (8 * size - 1)) & 1)) v |= ~uint64_t{0} << (8 * size);
  return static_cast<int64_t>(v);
}

}  // namespace

Result<H5Element> ClassifyType(hid_t t) {
  H5Element e;
  size_t size = H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER:
      if (!StdSize(size)) return Unsupported(std::to_string(size) + "-byte integers");
      e.kind = H5Tget_sign(t) == H5T_SGN_2 ? H5Element::Kind::kSigned : H5Element::Kind::kUnsigned;
      e.size = size;
      return e;
    case H5T_BITFIELD:
      if (!StdSize(size)) return Unsupported(std::to_string(size) + "-byte bitfields");
      e.kind = H5Element::Kind::kUnsigned;
      e.bitfield = true;
      e.size = size;
      return e;
    case H5T_FLOAT:
      if (size != 2 && size != 4 && size != 8) {
        return Unsupported(std::to_string(size) + "-byte floats");
      }
      e.kind = H5Element::Kind::kFloat;
      e.size = size;
      return e;
    case H5T_ENUM: {
      H5Id base(H5Tget_super(t));
      size_t bsize = H5Tget_size(base.get());
      if (!base.valid() || H5Tget_class(base.get()) != H5T_INTEGER || !StdSize(bsize)) {
        return Unsupported("enums over " + std::to_string(bsize) + "-byte bases");
      }
      bool is_signed = H5Tget_sign(base.get()) == H5T_SGN_2;
      bool big = H5Tget_order(base.get()) == H5T_ORDER_BE;
      int n = H5Tget_nmembers(t);
      for (int i = 0; i < n; ++i) {
        e.members.emplace_back(MemberName(t, static_cast<unsigned>(i)),
                               EnumValue(t, static_cast<unsigned>(i), bsize, is_signed, big));
      }
      e.size = bsize;
      e.enum_signed = is_signed;
      bool boolean = bsize == 1 && is_signed && e.members.size() == 2;
      for (const auto& [name, value] : e.members) {
        boolean = boolean && ((name == "FALSE" && value == 0) || (name == "TRUE" && value == 1));
      }
      e.kind = boolean ? H5Element::Kind::kBool : H5Element::Kind::kEnum;
      return e;
    }
    case H5T_STRING: {
      e.utf8 = H5Tget_cset(t) == H5T_CSET_UTF8;
      if (H5Tis_variable_str(t) > 0) {
        e.kind = H5Element::Kind::kVlenString;
        e.size = sizeof(char*);
        return e;
      }
      e.kind = H5Element::Kind::kString;
      e.size = size;
      H5T_str_t pad = H5Tget_strpad(t);
      e.pad = pad == H5T_STR_NULLPAD    ? H5Element::Pad::kNullPad
              : pad == H5T_STR_SPACEPAD ? H5Element::Pad::kSpacePad
                                        : H5Element::Pad::kNullTerm;
      if (size == 0) return Unsupported("empty fixed-length strings");
      return e;
    }
    case H5T_OPAQUE: {
      e.kind = H5Element::Kind::kOpaque;
      e.size = size;
      char* tag = H5Tget_tag(t);
      if (tag) {
        e.tag = tag;
        H5free_memory(tag);
      }
      return e;
    }
    case H5T_ARRAY: {
      int rank = H5Tget_array_ndims(t);
      if (rank < 1 || rank > H5S_MAX_RANK)
        return Unsupported("arrays of rank " + std::to_string(rank));
      hsize_t dims[H5S_MAX_RANK];
      H5Tget_array_dims2(t, dims);
      H5Id base(H5Tget_super(t));
      Result<H5Element> b = ClassifyType(base.get());
      if (!b.ok()) return Unsupported("arrays of " + b.status().message());
      e.kind = H5Element::Kind::kArray;
      uint64_t n = 1;
      for (int i = 0; i < rank; ++i) {
        e.dims.push_back(dims[i]);
        n *= dims[i];
      }
      e.size = n * b->size;
      e.base = std::make_shared<const H5Element>(std::move(*b));
      return e;
    }
    case H5T_COMPOUND: {
      int n = H5Tget_nmembers(t);
      if (n <= 0) return Unsupported("compounds without members");
      uint64_t offset = 0;
      for (int i = 0; i < n; ++i) {
        H5Element::Field f;
        f.name = MemberName(t, static_cast<unsigned>(i));
        H5Id mt(H5Tget_member_type(t, static_cast<unsigned>(i)));
        Result<H5Element> m = ClassifyType(mt.get());
        if (!m.ok()) {
          return Unsupported("compounds with a member '" + f.name + "' of " + m.status().message());
        }
        f.offset = offset;
        offset += m->size;
        f.type = std::make_shared<const H5Element>(std::move(*m));
        e.fields.push_back(std::move(f));
      }
      e.kind = H5Element::Kind::kCompound;
      e.size = offset;
      e.complex = e.fields.size() == 2 && e.fields[0].name == "r" && e.fields[1].name == "i" &&
                  e.fields[0].type->kind == H5Element::Kind::kFloat &&
                  e.fields[1].type->kind == H5Element::Kind::kFloat &&
                  e.fields[0].type->size == e.fields[1].type->size && e.fields[0].type->size != 2;
      return e;
    }
    case H5T_REFERENCE:
      return Unsupported("references");
    case H5T_VLEN:
      return Unsupported("variable-length sequences");
    case H5T_TIME:
      return Unsupported("time values");
    default:
      return Unsupported("an unknown type class");
  }
}

Result<H5Id> MemoryType(const H5Element& e) {
  using Kind = H5Element::Kind;
  H5Id t;
  switch (e.kind) {
    case Kind::kSigned:
    case Kind::kUnsigned:
      t = e.bitfield ? Copy(StdBitfield(e.size)) : Copy(StdInt(e.kind == Kind::kSigned, e.size));
      break;
    case Kind::kFloat:
      if (e.size == 4) {
        t = Copy(H5T_IEEE_F32LE);
      } else if (e.size == 8) {
        t = Copy(H5T_IEEE_F64LE);
      } else {
        // IEEE half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
        t = Copy(H5T_IEEE_F32LE);
        // (h5py builds its float16 the same way.)
        if (t.valid() && (H5Tset_fields(t.get(), 15, 10, 5, 0, 10) < 0 ||
                          H5Tset_size(t.get(), 2) < 0 || H5Tset_ebias(t.get(), 15) < 0)) {
          return H5Failure(Code::kIo, "cannot build a half-float type");
        }
      }
      break;
    case Kind::kBool:
    case Kind::kEnum: {
      H5Id base = Copy(StdInt(e.enum_signed, e.size));
      t = H5Id(H5Tenum_create(base.get()));
      for (const auto& [name, value] : e.members) {
        uint8_t buf[8];
        for (uint64_t k = 0; k < 8; ++k) buf[k] = static_cast<uint8_t>(value >> (8 * k));
        if (t.valid() && H5Tenum_insert(t.get(), name.c_str(), buf) < 0) {
          return H5Failure(Code::kIo, "cannot build an enum type");
        }
      }
      break;
    }
    case Kind::kString:
    case Kind::kVlenString:
      t = Copy(H5T_C_S1);
      if (t.valid()) {
        bool ok = H5Tset_size(t.get(), e.kind == Kind::kVlenString ? H5T_VARIABLE : e.size) >= 0 &&
                  H5Tset_cset(t.get(), e.utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0;
        if (ok && e.kind == Kind::kString) {
          ok = H5Tset_strpad(t.get(), e.pad == H5Element::Pad::kNullPad    ? H5T_STR_NULLPAD
                                      : e.pad == H5Element::Pad::kSpacePad ? H5T_STR_SPACEPAD
                                                                           : H5T_STR_NULLTERM) >= 0;
        }
        if (!ok) return H5Failure(Code::kIo, "cannot build a string type");
      }
      break;
    case Kind::kOpaque:
      t = H5Id(H5Tcreate(H5T_OPAQUE, e.size));
      if (t.valid() && !e.tag.empty()) H5Tset_tag(t.get(), e.tag.c_str());
      break;
    case Kind::kArray: {
      if (!e.base) return Status(Code::kInvalid, "array without a base type");
      Result<H5Id> base = MemoryType(*e.base);
      if (!base.ok()) return base.status();
      std::vector<hsize_t> dims(e.dims.begin(), e.dims.end());
      t = H5Id(H5Tarray_create2(base->get(), static_cast<unsigned>(dims.size()), dims.data()));
      break;
    }
    case Kind::kCompound: {
      t = H5Id(H5Tcreate(H5T_COMPOUND, e.size));
      for (const H5Element::Field& f : e.fields) {
        Result<H5Id> m = MemoryType(*f.type);
        if (!m.ok()) return m.status();
        if (t.valid() && H5Tinsert(t.get(), f.name.c_str(), f.offset, m->get()) < 0) {
          return H5Failure(Code::kIo, "cannot build a compound type");
        }
      }
      break;
    }
  }
  if (!t.valid()) return H5Failure(Code::kIo, "cannot build a memory type");
  return t;
}

}  // namespace daqfs
