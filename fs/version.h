// The daqfs version of this build (CMake's PROJECT_VERSION), for --version and the
// daqfs_build_info metric. Defined in version.cc, the one file compiled with DAQFS_VERSION.
#pragma once

namespace daqfs {

const char* DaqfsVersion();

}  // namespace daqfs
