#include "backends/common/pixel_type.h"

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

}  // namespace daqfs
