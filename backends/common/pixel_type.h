// PixelType: the element type of an image stack or an array shown as .npy, and its NumPy
// dtype descriptor.
//
// Decoded pixels are always little endian in daqfs' views (a big-endian source is swapped by its
// decoder), so a descriptor is "<u2", "<f4", "|u1" (one byte: no byte order).
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace daqfs {

enum class PixelKind : uint8_t { kUnsigned, kSigned, kFloat };

struct PixelType {
  PixelKind kind = PixelKind::kUnsigned;
  uint32_t bytes = 1;  // 1, 2, 4 or 8 (a float: 4 or 8)

  bool operator==(const PixelType&) const = default;
};

// True for the types the views support: unsigned and signed integers of 1, 2, 4 or 8 bytes,
// floats of 4 or 8 bytes.
bool IsSupportedPixelType(PixelType t);

// NumPy's little-endian descriptor: "|u1", "<i2", "<f8"... ("" for an unsupported type).
std::string NumpyDescr(PixelType t);

// "uint16", "int8", "float32"... ("" for an unsupported type): for logs and text.
std::string PixelTypeName(PixelType t);
// The other way: a type name as detectors and DAQs send it ("uint16", "int32", "float32"...;
// also NumPy's little-endian descriptors "<u2", "|u1"...). False for anything else.
bool ParsePixelTypeName(const std::string& name, PixelType* out);

}  // namespace daqfs
