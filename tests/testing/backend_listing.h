// A backend folder's names in listing order, read with one ReadDir from the start (a failed
// listing fails the test).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/backend.h"

namespace daqfs::testing {

inline std::vector<std::string> ListNames(Backend& b, NodeId dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(b.ReadDir(dir, 0, [&](const DirEntry& e, uint64_t) {
                 names.push_back(e.name);
                 return true;
               }).ok());
  return names;
}

}  // namespace daqfs::testing
