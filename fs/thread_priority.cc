#include "fs/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace daqfs {

bool SetThreadNice(int nice) {
  // On Linux the nice value is per thread: PRIO_PROCESS with the thread's id.
  return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0;
}

}  // namespace daqfs
