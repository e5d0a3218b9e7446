// Waiting in tests for something another thread does: polls `pred` every millisecond, up to
// 10 s (generous for a loaded machine or a sanitizer build).
#pragma once

#include <chrono>
#include <thread>

namespace daqfs::testing {

// True as soon as `pred()` is; false if it still is not after 10 s.
template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 10000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace daqfs::testing
