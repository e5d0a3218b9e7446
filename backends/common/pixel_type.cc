#include "backends/common/pixel_type.h"

#include <utility>

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

bool ParsePixelTypeName(const std::string& name, PixelType* out) {
  static const std::pair<const char*, PixelType> kNames[] = {
      {"uint8", {PixelKind::kUnsigned, 1}},  {"uint16", {PixelKind::kUnsigned, 2}},
      {"uint32", {PixelKind::kUnsigned, 4}}, {"uint64", {PixelKind::kUnsigned, 8}},
      {"int8", {PixelKind::kSigned, 1}},     {"int16", {PixelKind::kSigned, 2}},
      {"int32", {PixelKind::kSigned, 4}},    {"int64", {PixelKind::kSigned, 8}},
      {"float32", {PixelKind::kFloat, 4}},   {"float64", {PixelKind::kFloat, 8}},
      {"|u1", {PixelKind::kUnsigned, 1}},    {"<u2", {PixelKind::kUnsigned, 2}},
      {"<u4", {PixelKind::kUnsigned, 4}},    {"<u8", {PixelKind::kUnsigned, 8}},
      {"|i1", {PixelKind::kSigned, 1}},      {"<i2", {PixelKind::kSigned, 2}},
      {"<i4", {PixelKind::kSigned, 4}},      {"<i8", {PixelKind::kSigned, 8}},
      {"<f4", {PixelKind::kFloat, 4}},       {"<f8", {PixelKind::kFloat, 8}},
  };
  for (const auto& [n, t] : kNames) {
    if (name == n) {
      *out = t;
      return true;
    }
  }
  return false;
}

}  // namespace daqfs
