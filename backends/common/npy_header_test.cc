#include "backends/common/npy_header.h"

#include <gtest/gtest.h>

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

TEST(NpyHeaderTest, StructuredAndVersionTwo) {
  std::vector<std::string> numpy;
  // A header dict past 65535 bytes needs format version 2.0 (a 4-byte length).
  std::string descr = "[", py = "[";
  for (int i = 0; i < 5000; ++i) {
    std::string name = "f" + std::to_string(10000 + i);
    descr += std::string(i ? ", " : "") + "('" + name + "', '<u2')";
    py += std::string(i ? ", " : "") + "('" + name + "', '<u2')";
  }
  descr += "]";
  py += "]";
  Bytes h = NpyHeader(descr, {7});
  ASSERT_GT(h.size(), 65536u);
  EXPECT_EQ(h[6], 2);
  EXPECT_EQ(h.size() % 64, 0u);
  numpy = NumpyHeaders({{"[('a', '<u2'), ('b', '<f8')]", "(3,)"}, {py, "(7,)"}});
  ASSERT_EQ(numpy.size(), 2u);
  EXPECT_EQ(Str(NpyHeader("[('a', '<u2'), ('b', '<f8')]", {3})), numpy[0]);
  EXPECT_EQ(Str(h), numpy[1]);
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
