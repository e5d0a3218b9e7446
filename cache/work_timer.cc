#include "cache/work_timer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace daqfs {
namespace {

// The calling thread's schedstat file, opened once per thread (-1 when unavailable).
struct SchedstatFd {
  int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  ~SchedstatFd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

uint64_t ThreadRunQueueWaitNs() {
  thread_local SchedstatFd file;
  if (file.fd < 0) return 0;
  char buf[96];
  ssize_t n = pread(file.fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // "<ns on cpu> <ns waiting on a run queue> <timeslices>"
  char* end = nullptr;
  std::strtoull(buf, &end, 10);
  if (end == buf) return 0;
  return std::strtoull(end, nullptr, 10);
}

WorkTimer::WorkTimer()
    : start_(std::chrono::steady_clock::now()), wait_ns_(ThreadRunQueueWaitNs()) {}

double WorkTimer::Seconds() const {
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  uint64_t wait = ThreadRunQueueWaitNs();
  double waited = wait > wait_ns_ ? static_cast<double>(wait - wait_ns_) * 1e-9 : 0.0;
  return wall > waited ? wall - waited : 0.0;
}

double WorkTimer::Lap() {
  double s = Seconds();
  start_ = std::chrono::steady_clock::now();
  wait_ns_ = ThreadRunQueueWaitNs();
  return s;
}

}  // namespace daqfs
