#include "backends/hdf5/hdf5_element.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

std::shared_ptr<const H5Element> Scalar(H5Element::Kind kind, uint64_t size) {
  auto e = std::make_shared<H5Element>();
  e->kind = kind;
  e->size = size;
  return e;
}

uint16_t HalfBits(float f) {
  // Exact for the values used below (halves that are exact floats).
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = (x >> 16) & 0x8000;
  int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  uint16_t mant = (x >> 13) & 0x3ff;
  if (f == 0) return sign;
  return static_cast<uint16_t>(sign | (exp << 10) | mant);
}

TEST(Hdf5ElementTest, FloatsPrintAsNumpyPrintsItsScalars) {
  EXPECT_EQ(FormatFloat64(1023.5), "1023.5");
  EXPECT_EQ(FormatFloat64(100.0), "100.0");
  EXPECT_EQ(FormatFloat64(1e-05), "1e-05");
  EXPECT_EQ(FormatFloat64(0.0001), "0.0001");
  EXPECT_EQ(FormatFloat64(1e16), "1e+16");
  EXPECT_EQ(FormatFloat64(1.5e16), "1.5e+16");
  EXPECT_EQ(FormatFloat64(1e15), "1000000000000000.0");
  EXPECT_EQ(FormatFloat64(123456789012345680.0), "1.2345678901234568e+17");
  EXPECT_EQ(FormatFloat64(-0.0), "-0.0");
  EXPECT_EQ(FormatFloat64(0.0), "0.0");
  EXPECT_EQ(FormatFloat64(NAN), "nan");
  EXPECT_EQ(FormatFloat64(-INFINITY), "-inf");
  EXPECT_EQ(FormatFloat32(0.075f), "0.075");
  EXPECT_EQ(FormatFloat32(0.0001f), "1e-04");  // just below 1e-4 as a float
  EXPECT_EQ(FormatFloat32(123456789.0f), "123456790.0");
  EXPECT_EQ(FormatFloat32(3.4e38f), "3.4e+38");
  EXPECT_EQ(FormatFloat16(HalfBits(65504.0f)), "65500.0");
  EXPECT_EQ(FormatFloat16(HalfBits(-2.0f)), "-2.0");
  EXPECT_EQ(FormatFloat16(0x2e66), "0.1");  // the half nearest 0.1
  EXPECT_EQ(FormatFloat16(0x7c00), "inf");
  EXPECT_EQ(FormatFloat16(0x0001), "6e-08");  // the smallest subnormal
}

TEST(Hdf5ElementTest, RandomFloatsPrintLikeNumpy) {
  testing::TempDir dir;
  std::mt19937_64 rng(5);
  std::vector<double> d;
  std::vector<float> f;
  std::vector<uint16_t> h;
  for (int i = 0; i < 2000; ++i) {
    double mag = std::pow(10.0, static_cast<double>(static_cast<int>(rng() % 60) - 30));
    double v = (static_cast<double>(rng() % 1000000) / 1000.0 - 500.0) * mag;
    uint64_t bits = rng();
    double raw;
    std::memcpy(&raw, &bits, 8);
    d.push_back(i % 4 == 0 && std::isfinite(raw) ? raw : v);
    f.push_back(static_cast<float>(v));
    h.push_back(static_cast<uint16_t>(rng() & 0x7bff));  // finite halves
  }
  std::string bin(reinterpret_cast<const char*>(d.data()), d.size() * 8);
  bin += std::string(reinterpret_cast<const char*>(f.data()), f.size() * 4);
  bin += std::string(reinterpret_cast<const char*>(h.data()), h.size() * 2);
  testing::WriteFile(dir / "values.bin", bin);
  ASSERT_TRUE(testing::RunPython(
      "import numpy as np\n"
      "b = open('values.bin', 'rb').read()\n"
      "d = np.frombuffer(b, '<f8', 2000)\n"
      "f = np.frombuffer(b, '<f4', 2000, 16000)\n"
      "h = np.frombuffer(b, '<f2', 2000, 24000)\n"
      "open('want.txt', 'w').write('\\n'.join(str(x) for x in list(d) + list(f) + list(h)))\n",
      dir.path()));
  std::ifstream in(dir / "want.txt");
  std::string line;
  for (size_t i = 0; i < 6000 && std::getline(in, line); ++i) {
    std::string got = i < 2000   ? FormatFloat64(d[i])
                      : i < 4000 ? FormatFloat32(f[i - 2000])
                                 : FormatFloat16(h[i - 4000]);
    ASSERT_EQ(got, line) << "value " << i;
  }
}

TEST(Hdf5ElementTest, NumpyDescriptors) {
  using Kind = H5Element::Kind;
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kUnsigned, 1)), "|u1");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kSigned, 8)), "<i8");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kFloat, 2)), "<f2");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kBool, 1)), "|b1");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kString, 7)), "|S7");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kOpaque, 3)), "|V3");
  EXPECT_EQ(NumpyDescrOf(*Scalar(Kind::kVlenString, 8)), "");
  H5Element arr;
  arr.kind = Kind::kArray;
  arr.dims = {2, 3};
  arr.base = Scalar(Kind::kFloat, 4);
  arr.size = 24;
  EXPECT_EQ(NumpyDescrOf(arr), "<f4");
  EXPECT_EQ(ArrayDims(arr), (std::vector<uint64_t>{2, 3}));
  H5Element inner;
  inner.kind = Kind::kCompound;
  inner.fields = {{"x", 0, Scalar(Kind::kSigned, 4)}};
  inner.size = 4;
  H5Element c;
  c.kind = Kind::kCompound;
  c.fields = {{"a", 0, Scalar(Kind::kUnsigned, 2)},
              {"c", 2, std::make_shared<H5Element>(arr)},
              {"n", 26, std::make_shared<H5Element>(inner)},
              {"it's", 30, Scalar(Kind::kString, 5)}};
  c.size = 35;
  EXPECT_EQ(NumpyDescrOf(c),
            "[('a', '<u2'), ('c', '<f4', (2, 3)), ('n', [('x', '<i4')]), (\"it's\", '|S5')]");
  H5Element cplx;
  cplx.kind = Kind::kCompound;
  cplx.complex = true;
  cplx.fields = {{"r", 0, Scalar(Kind::kFloat, 8)}, {"i", 8, Scalar(Kind::kFloat, 8)}};
  cplx.size = 16;
  EXPECT_EQ(NumpyDescrOf(cplx), "<c16");
  // A field name numpy would escape has no descriptor here (the dataset is left out).
  H5Element odd = c;
  odd.fields[0].name = "caf\xc3\xa9";
  EXPECT_EQ(NumpyDescrOf(odd), "");
  EXPECT_EQ(PythonStrRepr("a'b\"c"), "'a\\'b\"c'");
  EXPECT_EQ(PythonStrRepr("back\\slash"), "'back\\\\slash'");
}

TEST(Hdf5ElementTest, ValuesAsText) {
  using Kind = H5Element::Kind;
  int32_t ints[6] = {1, -2, 3, 4, 5, 6};
  auto i4 = Scalar(Kind::kSigned, 4);
  const auto* p = reinterpret_cast<const uint8_t*>(ints);
  EXPECT_EQ(FormatValues(*i4, p, 1, {}), "1\n");
  EXPECT_EQ(FormatValues(*i4, p, 1, {1}), "1\n");
  EXPECT_EQ(FormatValues(*i4, p, 6, {6}), "1 -2 3 4 5 6\n");
  EXPECT_EQ(FormatValues(*i4, p, 6, {2, 3}), "1 -2 3\n4 5 6\n");
  EXPECT_EQ(FormatValues(*i4, p, 0, {0}), "");
  uint64_t big = ~uint64_t{0};
  EXPECT_EQ(FormatValues(*Scalar(Kind::kUnsigned, 8), reinterpret_cast<uint8_t*>(&big), 1, {}),
            "18446744073709551615\n");
  H5Element s;
  s.kind = Kind::kString;
  s.size = 4;
  s.pad = H5Element::Pad::kNullPad;
  const char strs[] = "ab\0\0cdef";
  EXPECT_EQ(FormatValues(s, reinterpret_cast<const uint8_t*>(strs), 2, {2}), "ab\ncdef\n");
  s.pad = H5Element::Pad::kSpacePad;
  EXPECT_EQ(FormatValues(s, reinterpret_cast<const uint8_t*>("x   "), 1, {}), "x\n");
  H5Element v;
  v.kind = Kind::kVlenString;
  v.size = sizeof(char*);
  const char* ptrs[2] = {"first", nullptr};
  EXPECT_EQ(FormatValues(v, reinterpret_cast<const uint8_t*>(ptrs), 2, {2}), "first\n\n");
  uint8_t b[2] = {1, 0};
  EXPECT_EQ(FormatValues(*Scalar(Kind::kBool, 1), b, 2, {2}), "True False\n");
  H5Element c;
  c.kind = Kind::kCompound;
  c.fields = {{"n", 0, Scalar(Kind::kSigned, 4)}, {"x", 4, Scalar(Kind::kFloat, 4)}};
  c.size = 8;
  uint8_t rec[8];
  int32_t n = 7;
  float x = 0.5f;
  std::memcpy(rec, &n, 4);
  std::memcpy(rec + 4, &x, 4);
  EXPECT_EQ(FormatValues(c, rec, 1, {}), "(7, 0.5)\n");
  c.fields = {{"r", 0, Scalar(Kind::kFloat, 4)}, {"i", 4, Scalar(Kind::kFloat, 4)}};
  c.complex = true;
  float z[2] = {1.0f, 2.0f};
  EXPECT_EQ(FormatElement(c, reinterpret_cast<uint8_t*>(z)), "(1+2j)");
  float zi[2] = {0.0f, -0.5f};
  EXPECT_EQ(FormatElement(c, reinterpret_cast<uint8_t*>(zi)), "-0.5j");
}

}  // namespace
}  // namespace daqfs
