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

// How much slower a time limit of the issues (a listing in under a second) may be in a
// sanitizer build (tools/check.sh --asan): ASan costs about 2-3x; the limits hold in the
// normal build, which CI runs.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr double kSanitizerSlowdown = 3.0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr double kSanitizerSlowdown = 3.0;
#else
inline constexpr double kSanitizerSlowdown = 1.0;
#endif
#else
inline constexpr double kSanitizerSlowdown = 1.0;
#endif

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
