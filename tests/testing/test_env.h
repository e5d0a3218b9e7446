// TestBackendEnv: a BackendEnv for tests that owns what it points to (no kernel: a
// NullInvalidator; its own Metrics; the system clock; blobs only when given). Declare it before
// the backend it starts, so that it outlives the backend.
//
// Thread safety: as BackendEnv's parts (all thread-safe).
#pragma once

#include <string>

#include "fs/backend_env.h"
#include "fs/metrics.h"

namespace daqfs::testing {

struct TestBackendEnv {
  explicit TestBackendEnv(BlobStore* blobs = nullptr, const std::string& source = "t") {
    env.source_name = source;
    env.source_label = Label("source", source);
    env.blobs = blobs;
    env.invalidator = &invalidator;
    env.metrics = &metrics;
    env.clock = &clock;
  }
  TestBackendEnv(const TestBackendEnv&) = delete;
  TestBackendEnv& operator=(const TestBackendEnv&) = delete;

  NullInvalidator invalidator;
  Metrics metrics;
  SystemClock clock;
  BackendEnv env;
};

}  // namespace daqfs::testing
