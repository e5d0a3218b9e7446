#include "backends/hdf5/hdf5_element.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace daqfs {
namespace {

uint64_t LoadLe(const uint8_t* p, uint64_t n) {
  uint64_t v = 0;
  for (uint64_t i = 0; i < n && i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

int64_t LoadSigned(const uint8_t* p, uint64_t n) {
  uint64_t v = LoadLe(p, n);
  if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
  return static_cast<int64_t>(v);
}

double HalfToDouble(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(1024 + mant, exp - 25);
  }
  return sign ? -v : v;
}

// Round to nearest, ties to even (the default rounding mode).
uint16_t DoubleToHalf(double d) {
  uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  if (std::isnan(d)) return 0x7e00;
  double a = std::fabs(d);
  if (a >= 65520.0) return sign | 0x7c00;
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1;    // a = 1.f * 2^exp
  if (a == 0 || exp < -14) {
    auto mant = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, 24)));
    return static_cast<uint16_t>(sign | mant);  // 1024 = the smallest normal, encoded right
  }
  auto mant = static_cast<uint32_t>(std::nearbyint((std::ldexp(a, -exp) - 1.0) * 1024.0));
  if (mant == 1024) {
    mant = 0;
    ++exp;
  }
  if (exp + 15 >= 31) return sign | 0x7c00;
  return static_cast<uint16_t>(sign | ((exp + 15) << 10) | mant);
}

// The shortest "%.Ne" text of `v` for which `same` accepts the parsed value.
template <typename Same>
std::string ShortestSci(double v, Same same) {
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (same(buf)) return buf;
  }
  std::snprintf(buf, sizeof buf, "%.16e", v);
  return buf;
}

// NumPy's scalar text from the shortest scientific digits of `v` ("d.ddde+XX").
std::string FromSci(double v, const std::string& sci) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  std::string sign = std::signbit(v) ? "-" : "";
  if (v == 0) return sign + "0.0";
  size_t epos = sci.find('e');
  std::string mant = sci.substr(sign.size(), epos - sign.size());
  int exp = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  double a = std::fabs(v);
  if (a >= 1e-4 && a < 1e16) {
    std::string out;
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      while (ip.size() < static_cast<size_t>(exp) + 1) ip += '0';
      std::string fp = digits.size() > static_cast<size_t>(exp) + 1 ? digits.substr(exp + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
    return sign + out;
  }
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return sign + out + e;
}

// Python's complex repr parts: a float without a trailing ".0".
std::string ComplexPart(const std::string& f) {
  if (f.size() > 2 && f.compare(f.size() - 2, 2, ".0") == 0) return f.substr(0, f.size() - 2);
  return f;
}

std::string FloatText(const uint8_t* p, uint64_t size) {
  if (size == 2) return FormatFloat16(static_cast<uint16_t>(LoadLe(p, 2)));
  if (size == 4) {
    float f;
    std::memcpy(&f, p, 4);
    return FormatFloat32(f);
  }
  double d;
  std::memcpy(&d, p, 8);
  return FormatFloat64(d);
}

std::string StringText(const H5Element& e, const uint8_t* p) {
  std::string s(reinterpret_cast<const char*>(p), e.size);
  switch (e.pad) {
    case H5Element::Pad::kNullTerm: {
      size_t nul = s.find('\0');
      if (nul != std::string::npos) s.resize(nul);
      break;
    }
    case H5Element::Pad::kNullPad:
      while (!s.empty() && s.back() == '\0') s.pop_back();
      break;
    case H5Element::Pad::kSpacePad:
      while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
      break;
  }
  return s;
}

std::string TupleText(const std::vector<uint64_t>& dims) {
  std::string out = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(dims[i]);
  }
  return out + (dims.size() == 1 ? ",)" : ")");
}

std::string IntDescr(bool is_signed, uint64_t size) {
  return std::string(size == 1 ? "|" : "<") + (is_signed ? "i" : "u") + std::to_string(size);
}

bool IsStringKind(const H5Element& e) {
  return e.kind == H5Element::Kind::kString || e.kind == H5Element::Kind::kVlenString;
}

}  // namespace

bool H5Element::HasVlen() const {
  if (kind == Kind::kVlenString) return true;
  if (kind == Kind::kArray) return base && base->HasVlen();
  for (const Field& f : fields) {
    if (f.type->HasVlen()) return true;
  }
  return false;
}

std::string FormatFloat64(double v) {
  std::string sci = ShortestSci(v, [v](const char* s) { return std::strtod(s, nullptr) == v; });
  return FromSci(v, sci);
}

std::string FormatFloat32(float v) {
  std::string sci = ShortestSci(static_cast<double>(v),
                                [v](const char* s) { return std::strtof(s, nullptr) == v; });
  return FromSci(static_cast<double>(v), sci);
}

std::string FormatFloat16(uint16_t bits16) {
  double v = HalfToDouble(bits16);
  std::string sci = ShortestSci(
      v, [bits16](const char* s) { return DoubleToHalf(std::strtod(s, nullptr)) == bits16; });
  return FromSci(v, sci);
}

std::string PythonStrRepr(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return "";
  }
  bool single = s.find('\'') != std::string::npos;
  bool dbl = s.find('"') != std::string::npos;
  char quote = single && !dbl ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == quote) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + quote;
}

std::vector<uint64_t> ArrayDims(const H5Element& e) {
  if (e.kind != H5Element::Kind::kArray || !e.base) return {};
  std::vector<uint64_t> dims = e.dims;
  std::vector<uint64_t> inner = ArrayDims(*e.base);
  dims.insert(dims.end(), inner.begin(), inner.end());
  return dims;
}

std::string NumpyDescrOf(const H5Element& e) {
  using Kind = H5Element::Kind;
  switch (e.kind) {
    case Kind::kSigned:
      return IntDescr(true, e.size);
    case Kind::kUnsigned:
      return IntDescr(false, e.size);
    case Kind::kFloat:
      return "<f" + std::to_string(e.size);
    case Kind::kBool:
      return "|b1";
    case Kind::kEnum:
      return IntDescr(e.enum_signed, e.size);
    case Kind::kString:
      return "|S" + std::to_string(e.size);
    case Kind::kVlenString:
      return "";
    case Kind::kOpaque:
      return "|V" + std::to_string(e.size);
    case Kind::kArray:
      return e.base ? NumpyDescrOf(*e.base) : "";
    case Kind::kCompound: {
      if (e.complex) return "<c" + std::to_string(e.size);
      std::string out = "[";
      for (size_t i = 0; i < e.fields.size(); ++i) {
        const H5Element::Field& f = e.fields[i];
        std::string name = PythonStrRepr(f.name);
        std::string d = NumpyDescrOf(*f.type);
        if (name.empty() || d.empty()) return "";
        std::vector<uint64_t> dims = ArrayDims(*f.type);
        // A nested structure is a list, a plain one a quoted string.
        std::string ds = d[0] == '[' ? d : "'" + d + "'";
        out += (i ? ", " : "") + ("(" + name + ", " + ds) +
               (dims.empty() ? "" : ", " + TupleText(dims)) + ")";
      }
      return out + "]";
    }
  }
  return "";
}

std::string FormatElement(const H5Element& e, const uint8_t* p) {
  using Kind = H5Element::Kind;
  switch (e.kind) {
    case Kind::kSigned:
      return std::to_string(LoadSigned(p, e.size));
    case Kind::kUnsigned:
      return std::to_string(LoadLe(p, e.size));
    case Kind::kFloat:
      return FloatText(p, e.size);
    case Kind::kBool:
      return p[0] ? "True" : "False";
    case Kind::kEnum:
      return e.enum_signed ? std::to_string(LoadSigned(p, e.size))
                           : std::to_string(LoadLe(p, e.size));
    case Kind::kString:
      return StringText(e, p);
    case Kind::kVlenString: {
      const char* s;
      std::memcpy(&s, p, sizeof s);
      return s ? std::string(s) : std::string();
    }
    case Kind::kOpaque: {
      static const char kHex[] = "0123456789abcdef";
      std::string out;
      for (uint64_t i = 0; i < e.size; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
      }
      return out;
    }
    case Kind::kArray: {
      std::string out = "[";
      uint64_t n = 1;
      for (uint64_t d : e.dims) n *= d;
      for (uint64_t i = 0; e.base && i < n; ++i) {
        out += (i ? " " : "") + FormatElement(*e.base, p + i * e.base->size);
      }
      return out + "]";
    }
    case Kind::kCompound: {
      if (e.complex && e.fields.size() == 2) {
        std::string re = ComplexPart(FormatElement(*e.fields[0].type, p + e.fields[0].offset));
        std::string im = ComplexPart(FormatElement(*e.fields[1].type, p + e.fields[1].offset));
        if (im[0] != '-') im = "+" + im;
        if (re == "0") return (im[0] == '+' ? im.substr(1) : im) + "j";
        return "(" + re + im + "j)";
      }
      std::string out = "(";
      for (size_t i = 0; i < e.fields.size(); ++i) {
        out += (i ? ", " : "") + FormatElement(*e.fields[i].type, p + e.fields[i].offset);
      }
      return out + (e.fields.size() == 1 ? ",)" : ")");
    }
  }
  return "";
}

std::string FormatValues(const H5Element& e, const uint8_t* data, uint64_t count,
                         const std::vector<uint64_t>& shape) {
  if (count == 0) return "";
  if (count == 1) return FormatElement(e, data) + "\n";
  std::string out;
  if (IsStringKind(e)) {
    for (uint64_t i = 0; i < count; ++i) out += FormatElement(e, data + i * e.size) + "\n";
    return out;
  }
  uint64_t row = shape.empty() || shape.back() == 0 ? count : shape.back();
  for (uint64_t i = 0; i < count; ++i) {
    out += FormatElement(e, data + i * e.size);
    out += (i + 1) % row == 0 || i + 1 == count ? "\n" : " ";
  }
  return out;
}

}  // namespace daqfs
