// The archive source type (`type = archive`): its INI keys, --source sniffing, start-up check and
// the TarBackend it creates (backends/archive/tar_backend.h).
//
// Keys of its own (the shared ones are in fs/config.h):
//   path          required: a tar / .tar.zst file, a folder of them (not recursive) or a glob;
//                 relative to the configuration file's folder
//   layout        per-archive (default: a folder per archive) or merged (one tree of all members)
//   strip_suffix  a member NAME + this suffix stored zstd-compressed is shown as NAME ("" = as
//                 stored); default kDefaultStripSuffix (".zst"); never contains '/'
//
// Thread safety: immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "fs/defaults.h"
#include "fs/source_type.h"

namespace daqfs {

struct ArchiveOptions final : SourceOptions {
  std::string path;
  bool merged = false;  // layout = merged
  std::string strip_suffix{kDefaultStripSuffix};
};

class ArchiveSourceType final : public SourceType {
 public:
  std::string_view Name() const override { return "archive"; }
  IniCheck ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                     std::shared_ptr<SourceOptions>* options) const override;
  std::vector<std::pair<std::string, std::string>> FormatKeys(
      const SourceOptions& options) const override;
  void ResolvePaths(SourceOptions& options, const std::string& base_dir) const override;
  // Accepts an archive file, or a folder or glob holding at least one (CheckArchiveSource).
  Result<std::shared_ptr<SourceOptions>> Sniff(const std::string& path) const override;
  // CheckArchiveSource; a folder or glob that is rescanned may be empty at start-up (archives
  // arrive later): then a warning, not an error. Summary: "PATH: N archive files".
  Result<SourceCheck> Check(const SourceSpec& spec) const override;
  // A TarBackend indexing in the background once started.
  Result<std::unique_ptr<Backend>> Create(const SourceSpec& spec) const override;
};

// Registers the archive type in `registry`.
Status RegisterArchiveSourceType(SourceTypeRegistry& registry);

}  // namespace daqfs
