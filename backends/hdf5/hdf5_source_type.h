// The HDF5 source type (`type = hdf5`): its INI keys, --source sniffing, start-up check and the
// Hdf5Backend it creates (backends/hdf5/hdf5_backend.h).
//
// Keys of its own (the shared ones are in fs/config.h):
//   path      required: an HDF5 / NeXus file, a folder of them (found by their signature, not
//             recursive) or a glob (*_master.h5); relative to the configuration file's folder
//   text_max  bytes (K/M suffixes): strings whose text is at most this long are text files
//             (longer fixed-length strings are .npy, longer variable-length ones are left out);
//             0..16M, default kDefaultHdf5TextMax (4096)
//   raw       true/false: image stacks' frames/ also hold NNNNNN.raw (the decoded pixels, little
//             endian) beside each NNNNNN.tif (hdf5_stack_views.h); default false
//   direct_reads  auto/always/never: whether chunks the page cache does not hold are read with
//             direct I/O (fs/direct_read.h); default auto (cold chunks of 64 KiB or more on a
//             local disk filesystem, on Linux 6.5 or later)
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "fs/defaults.h"
#include "fs/direct_read.h"
#include "fs/source_type.h"

namespace daqfs {

struct Hdf5Options final : SourceOptions {
  std::string path;
  uint64_t text_max = kDefaultHdf5TextMax;
  bool raw = false;
  DirectReads direct_reads = DirectReads::kAuto;
};

inline constexpr uint64_t kMaxHdf5TextMax = 16ull << 20;

class Hdf5SourceType final : public SourceType {
 public:
  std::string_view Name() const override { return "hdf5"; }
  IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                     std::shared_ptr<SourceOptions>* options) const override;
  std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const override;
  void ResolvePaths(SourceOptions& options, const std::string& base_dir) const override;
  // Accepts an HDF5 file, or a folder or glob holding at least one (CheckHdf5Source).
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override;
  // CheckHdf5Source; a folder or glob that is rescanned may be empty at start-up (files arrive
  // later): then a warning. Summary: "PATH: N HDF5 files".
  Result<SourceCheck> Check(const SourceSpec& spec) const override;
  // An Hdf5Backend scanning in the background once started.
  Result<std::unique_ptr<Backend>> Create(const SourceSpec& spec) const override;
};

// Registers the hdf5 type in `registry`.
Status RegisterHdf5SourceType(SourceTypeRegistry& registry);

}  // namespace daqfs
