#include "backends/common/npy_header.h"

#include <algorithm>
#include <cstring>

namespace daqfs {

namespace {

// `utf8` as Latin-1 bytes, or false when it holds a character beyond Latin-1 (or is not UTF-8).
bool ToLatin1(const std::string& utf8, std::string* out) {
  out->clear();
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<uint8_t>(utf8[i]);
    if (c < 0x80) {
      *out += static_cast<char>(c);
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size() &&
               (static_cast<uint8_t>(utf8[i + 1]) & 0xC0) == 0x80) {
      *out += static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(utf8[++i]) & 0x3F));
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Bytes NpyHeader(const std::string& descr, const std::vector<uint64_t>& shape) {
  if (descr.empty()) return {};
  // numpy's repr of the shape tuple: "()", "(5,)", "(2, 3)".
  std::string dims = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dims += ", ";
    dims += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  dims += ")";
  std::string dict = "{'descr': " + (descr[0] == '[' ? descr : "'" + descr + "'") +
                     ", 'fortran_order': False, 'shape': " + dims + ", }";
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
  if (!shape.empty()) dict.append(21 - std::min<size_t>(21, std::to_string(shape[0]).size()), ' ');
  // numpy writes the dict in Latin-1 with a 2-byte length (format 1.0, 10-byte preamble) or,
  // when that overflows, a 4-byte one (2.0, 12 bytes); a dict with characters beyond Latin-1
  // goes in UTF-8 as format 3.0 (12 bytes). It pads with 1..64 spaces and a '\n' so that the
  // data starts at a multiple of 64.
  std::string latin1;
  bool utf8 = !ToLatin1(dict, &latin1);
  if (!utf8) dict = latin1;
  auto padded_length = [&](size_t preamble) {
    size_t hlen = dict.size() + 1;
    return hlen + 64 - (preamble + hlen) % 64;
  };
  uint8_t version = utf8 ? 3 : 1;
  size_t preamble = utf8 ? 12 : 10;
  size_t header_len = padded_length(preamble);
  if (version == 1 && header_len > 65535) {
    version = 2;
    preamble = 12;
    header_len = padded_length(preamble);
  }
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  Bytes out(preamble + header_len);
  std::memcpy(out.data(), "\x93NUMPY", 6);
  out[6] = version;
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
