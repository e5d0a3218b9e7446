// H5Element: one element of an HDF5 datatype as daqfs shows it, described without libhdf5, plus
// the two ways daqfs writes values of it: a NumPy descriptor for `.npy` files and text for small
// datasets, attribute files and extended attributes.
//
// An element always describes the *memory* form daqfs reads with H5Dread/H5Aread: little endian,
// compound members packed in order (no padding), so `.npy` data and text come from one buffer
// layout. hdf5_types.h builds an H5Element from a file datatype and the matching memory datatype.
//
// NumPy descriptors are written exactly as numpy.lib.format.dtype_to_descr gives them ("<u2",
// "|b1", "|S8", "[('a', '<u2'), ('c', '<f4', (3,))]"), so the .npy header is byte for byte what
// numpy.save writes for the same array.
//
// Text (FormatValues): numbers as NumPy prints its scalars, which for float64 is Python's repr:
// integers in decimal; floats as the shortest digits that read back to the same value of their
// own precision (16, 32 or 64 bits), positional when 1e-4 <= |x| < 1e16 ("1023.5", "100.0",
// "0.075"), else scientific with at least two exponent digits ("1e-05", "1.5e+20"); "nan",
// "inf", "-inf"; booleans "True"/"False"; enums by their integer value; complex as "(1+2j)".
// Strings as stored (fixed-length ones without their padding). A compound element is
// "(a, b, ...)", an array element "[a b ...]". A value of one element is that element and a
// newline; strings one per line; other arrays one row (the last dimension) per line, elements
// separated by a space. No elements: empty text.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace daqfs {

struct H5Element {
  enum class Kind {
    kSigned,      // two's complement integer of `size` 1, 2, 4 or 8 bytes
    kUnsigned,    // unsigned integer (also an HDF5 bitfield)
    kFloat,       // IEEE float of 2, 4 or 8 bytes
    kBool,        // h5py's boolean enum (FALSE = 0, TRUE = 1 over int8): one byte
    kEnum,        // another enum: shown as its integer base (`enum_signed`, `size`)
    kString,      // fixed-length byte string of `size` bytes
    kVlenString,  // variable-length string: a char* in memory (no NumPy form)
    kOpaque,      // opaque bytes: NumPy void
    kCompound,    // members in `fields`, packed
    kArray,       // `dims` of `base`
  };
  enum class Pad { kNullTerm, kNullPad, kSpacePad };
  struct Field {
    std::string name;
    uint64_t offset = 0;  // in the packed memory element
    std::shared_ptr<const H5Element> type;
  };

  Kind kind = Kind::kUnsigned;
  uint64_t size = 0;           // bytes of one element in memory
  bool bitfield = false;       // kUnsigned read from an HDF5 bitfield (converted as a bitfield)
  std::string tag;             // kOpaque: the HDF5 tag (conversions need it)
  Pad pad = Pad::kNullTerm;    // kString
  bool utf8 = false;           // kString, kVlenString: the stored character set
  std::vector<Field> fields;   // kCompound
  bool complex = false;        // kCompound of two floats `r`, `i` of one size: NumPy complex
  std::vector<uint64_t> dims;  // kArray
  std::shared_ptr<const H5Element> base;                 // kArray
  bool enum_signed = false;                              // kEnum
  std::vector<std::pair<std::string, int64_t>> members;  // kEnum (names and values)

  // True when the element holds a variable-length string anywhere (no NumPy form; memory holds
  // pointers that libhdf5 allocated).
  bool HasVlen() const;
};

// NumPy's descriptor of an element ("" when there is none: variable-length strings). An array
// element gives its base's descriptor: the caller appends ArrayDims() to the shape.
std::string NumpyDescrOf(const H5Element& e);
// The dims an array element adds to a dataset's shape (empty for other elements).
std::vector<uint64_t> ArrayDims(const H5Element& e);

// Text of `count` elements at `data` (count * e.size bytes), laid out in C order as `shape`
// (empty shape = a scalar); see the file comment.
std::string FormatValues(const H5Element& e, const uint8_t* data, uint64_t count,
                         const std::vector<uint64_t>& shape);
// Text of one element (no newline).
std::string FormatElement(const H5Element& e, const uint8_t* data);

// NumPy's text of a float scalar of `bits` 16, 32 or 64 (a half is given as its bits in the low
// 16 bits of `bits16`): "1023.5", "1e-05", "nan".
std::string FormatFloat64(double v);
std::string FormatFloat32(float v);
std::string FormatFloat16(uint16_t bits16);

// Python's repr of a str of printable ASCII ("'a'", or "\"it's\"" when it holds a quote and no
// double quote); "" when `s` needs escapes numpy writes differently (non-ASCII, control bytes).
std::string PythonStrRepr(const std::string& s);

}  // namespace daqfs
