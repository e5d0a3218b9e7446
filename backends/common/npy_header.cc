#include "backends/common/npy_header.h"

#include <algorithm>
#include <cstring>

namespace daqfs {

bool IsSupportedPixelType(PixelType t) {
  switch (t.kind) {
    case PixelKind::kUnsigned:
    case PixelKind::kSigned:
      return t.bytes == 1 || t.bytes == 2 || t.bytes == 4 || t.bytes == 8;
    case PixelKind::kFloat:
      return t.bytes == 4 || t.bytes == 8;
  }
  return false;
}

std::string NumpyDescr(PixelType t) {
  if (!IsSupportedPixelType(t)) return "";
  char kind = t.kind == PixelKind::kUnsigned ? 'u' : t.kind == PixelKind::kSigned ? 'i' : 'f';
  return std::string(1, t.bytes == 1 ? '|' : '<') + kind + std::to_string(t.bytes);
}

std::string PixelTypeName(PixelType t) {
  if (!IsSupportedPixelType(t)) return "";
  std::string base = t.kind == PixelKind::kUnsigned ? "uint"
                     : t.kind == PixelKind::kSigned ? "int"
                                                    : "float";
  return base + std::to_string(8 * t.bytes);
}

Bytes NpyHeader(const std::string& descr, const std::vector<uint64_t>& shape) {
  // numpy's repr of the shape tuple: "()", "(5,)", "(2, 3)".
  std::string dims = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dims += ", ";
    dims += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  dims += ")";
  std::string dict = "{'descr': " + (descr.empty() || descr[0] == '[' ? descr : "'" + descr + "'") +
                     ", 'fortran_order': False, 'shape': " + dims + ", }";
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
  if (!shape.empty()) dict.append(21 - std::min<size_t>(21, std::to_string(shape[0]).size()), ' ');
  // Then it pads with 1..64 spaces and a '\n' so that magic, version, length and dict end on a
  // multiple of 64. Version 1.0 has a 2-byte length (10-byte preamble), 2.0 a 4-byte one.
  size_t preamble = 10;
  size_t hlen = dict.size() + 1;
  size_t padded = hlen + 64 - (preamble + hlen) % 64;
  if (padded > 65535) {
    preamble = 12;
    padded = hlen + 64 - (preamble + hlen) % 64;
  }
  size_t total = preamble + padded;
  size_t header_len = padded;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  Bytes out(total);
  std::memcpy(out.data(), "\x93NUMPY", 6);
  out[6] = preamble == 10 ? 1 : 2;
  out[7] = 0;
  for (size_t i = 0; i < preamble - 8; ++i)
    out[8 + i] = static_cast<uint8_t>(header_len >> (8 * i));
  std::memcpy(out.data() + preamble, dict.data(), dict.size());
  return out;
}

Bytes NpyHeader(PixelType type, const std::vector<uint64_t>& shape) {
  return NpyHeader(NumpyDescr(type), shape);
}

}  // namespace daqfs
