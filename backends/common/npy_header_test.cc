#include "backends/common/npy_header.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

// What numpy.save writes before the data, for arrays of `dtype` (a Python expression) and
// `shape` (a Python tuple expression), one per case: numpy itself is the reference (Debian's
// python3-numpy), asked once for all cases.
std::vector<std::string> NumpyHeaders(
    const std::vector<std::pair<std::string, std::string>>& cases) {
  testing::TempDir dir("npy");
  std::string script =
      "import io, sys, numpy as np, warnings\n"
      "warnings.simplefilter('ignore')\n"
      "def header(dt, shape):\n"
      "    b = io.BytesIO()\n"
      "    d = {'descr': np.lib.format.dtype_to_descr(np.dtype(dt)), 'fortran_order': False,\n"
      "         'shape': shape}\n"
      "    np.lib.format._write_array_header(b, d)\n"
      "    return b.getvalue()\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    script += "open(sys.argv[1] + '/" + std::to_string(i) + "', 'wb').write(header(" +
              cases[i].first + ", " + cases[i].second + "))\n";
  }
  std::string file = dir.path() + "/s.py";
  testing::WriteFile(file, script);
  EXPECT_EQ(testing::Shell("/usr/bin/python3 " + file + " " + dir.path()), 0) << script;
  std::vector<std::string> out;
  for (size_t i = 0; i < cases.size(); ++i)
    out.push_back(testing::Slurp(dir.path() + "/" + std::to_string(i)));
  return out;
}

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(NpyHeaderTest, MatchesNumpyForEveryPixelTypeAndShape) {
  struct Case {
    PixelType type;
    std::vector<uint64_t> shape;
    std::string py_shape;
  };
  const PixelType types[] = {{PixelKind::kUnsigned, 1}, {PixelKind::kUnsigned, 2},
                             {PixelKind::kUnsigned, 4}, {PixelKind::kUnsigned, 8},
                             {PixelKind::kSigned, 1},   {PixelKind::kSigned, 2},
                             {PixelKind::kSigned, 4},   {PixelKind::kSigned, 8},
                             {PixelKind::kFloat, 4},    {PixelKind::kFloat, 8}};
  const std::vector<std::pair<std::vector<uint64_t>, std::string>> shapes = {
      {{}, "()"},
      {{5}, "(5,)"},
      {{0}, "(0,)"},
      {{2, 3}, "(2, 3)"},
      {{2000, 1065, 1030}, "(2000, 1065, 1030)"},
      {{123456789012, 4371, 4150}, "(123456789012, 4371, 4150)"},
      {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "(1,) * 16"}};
  std::vector<std::pair<std::string, std::string>> cases;
  std::vector<Bytes> ours;
  for (PixelType t : types) {
    for (const auto& [shape, py] : shapes) {
      cases.emplace_back("'" + NumpyDescr(t) + "'", py);
      ours.push_back(NpyHeader(t, shape));
    }
  }
  std::vector<std::string> numpy = NumpyHeaders(cases);
  ASSERT_EQ(numpy.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(Str(ours[i]), numpy[i]) << cases[i].first << " " << cases[i].second;
  }
}

// The padding edges (1 and 64 spaces) and both sides of the switch to format 2.0 (a header
// of 65536 bytes is the largest 1.0 one here): lengths found with numpy.
TEST(NpyHeaderTest, StructuredPaddingEdgesAndVersionTwo) {
  auto fields = [](int n) {
    std::string d = "[";
    for (int i = 0; i < n; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "f%05d", i);
      d += std::string(i ? ", " : "") + "('" + name + "', '<u2')";
    }
    return d + "]";
  };
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> cases = {
      {"[('a', '<u2'), ('b', '<f8')]", {3}},
      {"[('" + std::string(31, 'a') + "', '<u2')]", {3}},  // 1 space of padding
      {"[('" + std::string(32, 'a') + "', '<u2')]", {3}},  // 64 spaces
      {fields(3444), {7}},                                 // 1.0, 65536 bytes
      {fields(3445), {7}}};                                // 2.0
  std::vector<std::pair<std::string, std::string>> py;
  for (const auto& [descr, shape] : cases)
    py.emplace_back(descr, "(" + std::to_string(shape[0]) + ",)");
  std::vector<std::string> numpy = NumpyHeaders(py);
  ASSERT_EQ(numpy.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(Str(NpyHeader(cases[i].first, cases[i].second)), numpy[i]) << i;
  }
  Bytes last_v1 = NpyHeader(cases[3].first, {7}), first_v2 = NpyHeader(cases[4].first, {7});
  EXPECT_EQ(last_v1.size(), 65536u);
  EXPECT_EQ(last_v1[6], 1);
  EXPECT_EQ(first_v2[6], 2);
  EXPECT_EQ(first_v2.size() % 64, 0u);
}

// Field names beyond Latin-1 need format 3.0 (UTF-8); Latin-1 ones are written as Latin-1.
TEST(NpyHeaderTest, NonAsciiFieldNames) {
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> cases = {
      {"[('temp\u00e9rature', '<f4')]", {2}}, {"[('\u03bb', '<f8')]", {2}}};
  std::vector<std::string> numpy =
      NumpyHeaders({{cases[0].first, "(2,)"}, {cases[1].first, "(2,)"}});
  ASSERT_EQ(numpy.size(), 2u);
  EXPECT_EQ(Str(NpyHeader("[('temp\xc3\xa9rature', '<f4')]", {2})), numpy[0]);  // UTF-8 in
  EXPECT_EQ(Str(NpyHeader("[('\xce\xbb', '<f8')]", {2})), numpy[1]);
  EXPECT_EQ(numpy[1][6], 3);
}

TEST(NpyHeaderTest, UnsupportedTypeGivesNoHeader) {
  EXPECT_TRUE(NpyHeader(PixelType{PixelKind::kFloat, 2}, {3}).empty());
  EXPECT_TRUE(NpyHeader(std::string(), {3}).empty());
}

TEST(NpyHeaderTest, DescriptorsAndNames) {
  EXPECT_EQ(NumpyDescr({PixelKind::kUnsigned, 1}), "|u1");
  EXPECT_EQ(NumpyDescr({PixelKind::kSigned, 1}), "|i1");
  EXPECT_EQ(NumpyDescr({PixelKind::kFloat, 4}), "<f4");
  EXPECT_EQ(NumpyDescr({PixelKind::kFloat, 2}), "");
  EXPECT_EQ(NumpyDescr({PixelKind::kUnsigned, 3}), "");
  EXPECT_EQ(PixelTypeName({PixelKind::kSigned, 8}), "int64");
  EXPECT_EQ(PixelTypeName({PixelKind::kFloat, 8}), "float64");
  EXPECT_FALSE(IsSupportedPixelType({PixelKind::kFloat, 1}));
}

}  // namespace
}  // namespace daqfs
