// Latency-critical threads (a live stream's receiver and announcer, the kernel notifier) ask
// the scheduler to run before the bulk work (decoding, readers' copies) when the CPUs are busy.
#pragma once

namespace daqfs {

// Sets the calling thread's nice value to `nice` (-20..19; below 0 needs CAP_SYS_NICE, as the
// daemon has when run as root). Best effort: returns false, changing nothing, when not allowed.
bool SetThreadNice(int nice);

}  // namespace daqfs
