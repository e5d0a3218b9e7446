#include "tools/source_types.h"

#include "backends/archive/archive_source_type.h"
#include "backends/hdf5/hdf5_source_type.h"
#include "backends/stream/stream_source_type.h"
#include "backends/tiff/tiff_source_type.h"

namespace daqfs {

Result<SourceTypeRegistry> MakeSourceTypes() {
  SourceTypeRegistry types;
  if (Status s = RegisterArchiveSourceType(types); !s.ok()) return s;
  if (Status s = RegisterHdf5SourceType(types); !s.ok()) return s;
  if (Status s = RegisterTiffSourceType(types); !s.ok()) return s;
  if (Status s = RegisterStreamSourceType(types); !s.ok()) return s;
  return types;
}

}  // namespace daqfs
