// Helpers of the HDF5 backend's tests: resolve, list and read paths through a Backend, and a
// fixture with generated samples and a started backend.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/hdf5/hdf5_backend.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"
#include "tests/testing/test_env.h"

namespace daqfs::hdf5_test {

using testing::MakeHdf5Samples;
using testing::SplitPath;
using testing::TempDir;
using testing::TestBackendEnv;

inline Result<NodeId> Resolve(Backend& b, const std::string& path) {
  NodeId node = kRootNode;
  for (const std::string& part : SplitPath(path)) {
    Result<NodeId> next = b.Lookup(node, part);
    if (!next.ok()) return next.status();
    node = *next;
  }
  return node;
}

inline std::vector<std::string> List(Backend& b, NodeId dir) {
  std::vector<std::string> names;
  Status s = b.ReadDir(dir, 0, [&](const DirEntry& e, uint64_t) {
    names.push_back(e.name);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return names;
}

inline std::vector<std::string> ListPath(Backend& b, const std::string& path) {
  Result<NodeId> n = Resolve(b, path);
  EXPECT_TRUE(n.ok()) << path << ": " << n.status().ToString();
  return n.ok() ? List(b, *n) : std::vector<std::string>{};
}

inline Result<std::string> ReadAll(Backend& b, const std::string& path) {
  Result<NodeId> n = Resolve(b, path);
  if (!n.ok()) return n.status();
  Result<std::shared_ptr<ByteSource>> src = b.Open(*n, Caller{});
  if (!src.ok()) return src.status();
  std::string out((*src)->Size(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    Result<size_t> got = (*src)->ReadAt(
        done, std::span(reinterpret_cast<uint8_t*>(out.data()) + done, out.size() - done));
    if (!got.ok()) return got.status();
    if (*got == 0) return Status(Code::kIo, "short read");
    done += *got;
  }
  return out;
}

inline bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class Hdf5BackendTest : public ::testing::Test {
 protected:
  void SetUp() override { expected_ = MakeHdf5Samples(dir_.path()); }
  std::unique_ptr<Hdf5Backend> Make(const std::string& path, Hdf5SourceOptions o = {}) {
    Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create("t", path, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return nullptr;
    Status s = (*b)->Start(env_.env);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*b);
  }
  std::string src() const { return dir_ / "src"; }

  TempDir dir_{"hdf5-backend"};
  std::map<std::string, std::string> expected_;
  TestBackendEnv env_;
};

}  // namespace daqfs::hdf5_test
