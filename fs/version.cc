#include "fs/version.h"

#ifndef DAQFS_VERSION
#error "DAQFS_VERSION must be defined by the build (fs/CMakeLists.txt)"
#endif

namespace daqfs {

const char* DaqfsVersion() { return DAQFS_VERSION; }

}  // namespace daqfs
