// BackendEnv: everything a backend may use from outside itself, handed to Backend::Start.
//
// A backend includes neither cache/ nor fs/fuse/: its SSD space comes as a BlobStore, its
// kernel notices as an Invalidator, its metrics as a registry it may add to and remove from at
// run time, its time as a Clock (tests substitute one). Every pointer outlives the backend's
// Stop(); none is owned by the backend.
//
// Thread safety: the pointed-to objects are thread-safe.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

#include "fs/blob_store.h"
#include "fs/invalidator.h"
#include "fs/metrics.h"

namespace daqfs {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  virtual timespec WallNow() const = 0;  // CLOCK_REALTIME
};

// The real clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() const override {
    return std::chrono::steady_clock::now();
  }
  timespec WallNow() const override {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    return t;
  }
};

struct BackendEnv {
  std::string source_name;   // the INI section's NAME
  std::string source_label;  // `source="NAME"`, for metric series
  // A folder of the backend's own for small state ("" = keep none). Anything large or anything
  // that must count against the SSD budget goes into `blobs` instead.
  std::string state_dir;
  BlobStore* blobs = nullptr;          // this source's blobs; null = no SSD tier
  Invalidator* invalidator = nullptr;  // never null (a NullInvalidator without a kernel)
  Metrics* metrics = nullptr;          // never null
  const Clock* clock = nullptr;        // never null
  // RAM a live stream may keep of received frames: this source's share of `[cache] ring`
  // (0 = no bound; sources that keep nothing in RAM ignore it).
  uint64_t ring_bytes = 0;
};

}  // namespace daqfs
