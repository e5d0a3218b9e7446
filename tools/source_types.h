// The source types the daqfs daemon serves, registered in one place: the daemon's main and the
// tests of the example configuration (which names every type) use the same registry.
//
// Thread safety: a plain function; the registry it returns is the caller's.
#pragma once

#include "fs/source_type.h"
#include "fs/status.h"

namespace daqfs {

// A registry of every source type: archive, hdf5, tiff, stream (in this order: --source tries
// them so).
Result<SourceTypeRegistry> MakeSourceTypes();

}  // namespace daqfs
