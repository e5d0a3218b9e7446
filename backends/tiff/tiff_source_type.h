// The TIFF source type (`type = tiff`): its INI keys, --source sniffing, start-up check and the
// TiffBackend it creates (backends/tiff/tiff_backend.h).
//
// Keys of its own (the shared ones are in fs/config.h):
//   path  required: a folder of TIFF files (*.tif, *.tiff, any case; not recursive), a glob
//         (/data/scan/proj_*.tif) or one multi-page TIFF; relative to the configuration file's
//         folder. Files are frames in file-name order, numbers in names compared by value.
//   raw   true/false: frames/ also holds NNNNNN.raw (the decoded pixels, little endian) beside
//         each NNNNNN.tif; default false
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "fs/source_type.h"

namespace daqfs {

struct TiffOptions final : SourceOptions {
  std::string path;
  bool raw = false;
};

class TiffSourceType final : public SourceType {
 public:
  std::string_view Name() const override { return "tiff"; }
  IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                     std::shared_ptr<SourceOptions>* options) const override;
  std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const override;
  void ResolvePaths(SourceOptions& options, const std::string& base_dir) const override;
  // Accepts a TIFF file, or a folder or glob holding at least one (CheckTiffSource).
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override;
  // CheckTiffSource; a folder or glob that is rescanned may be empty at start-up (a scan that
  // has not begun): then a warning. Summary: "PATH: N TIFF files" (the files listed, by name).
  Result<SourceCheck> Check(const SourceSpec& spec) const override;
  // A TiffBackend describing its files in the background once started.
  Result<std::unique_ptr<Backend>> Create(const SourceSpec& spec) const override;
};

// Registers the tiff type in `registry`.
Status RegisterTiffSourceType(SourceTypeRegistry& registry);

}  // namespace daqfs
