#include "backends/archive/archive_source_type.h"

#include "backends/archive/archive_sniff.h"
#include "backends/archive/tar_backend.h"

namespace daqfs {
namespace {

const ArchiveOptions& Options(const SourceOptions& o) {
  return static_cast<const ArchiveOptions&>(o);  // a spec's options come from its own type
}

}  // namespace

IniCheck ArchiveSourceType::ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                                      std::shared_ptr<SourceOptions>* options) const {
  auto o = std::make_shared<ArchiveOptions>();
  bool has_path = false;
  for (const IniEntry& e : keys) {
    const std::string& v = e.value;
    if (e.key == "path") {
      if (v.empty()) return IniError{e.line, BadIniValue(e.key, v, "must not be empty")};
      o->path = v;
      has_path = true;
    } else if (e.key == "layout") {
      if (v != "per-archive" && v != "merged") {
        return IniError{e.line, BadIniValue(e.key, v, "expected one of: per-archive, merged")};
      }
      o->merged = v == "merged";
    } else if (e.key == "strip_suffix") {
      if (v.find('/') != std::string::npos) {
        return IniError{e.line, BadIniValue(e.key, v, "must not contain '/'")};
      }
      o->strip_suffix = v;
    } else {
      return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
    }
  }
  if (!has_path) return IniError{section.line, "[" + section.name + "] needs 'path'"};
  *options = std::move(o);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ArchiveSourceType::FormatKeys(
    const SourceOptions& options) const {
  const ArchiveOptions& o = Options(options);
  return {{"path", o.path},
          {"layout", o.merged ? "merged" : "per-archive"},
          {"strip_suffix", o.strip_suffix}};
}

void ArchiveSourceType::ResolvePaths(SourceOptions& options, const std::string& base_dir) const {
  auto& o = static_cast<ArchiveOptions&>(options);
  if (!o.path.empty() && o.path[0] != '/') o.path = base_dir + "/" + o.path;
}

Result<std::shared_ptr<SourceOptions>> ArchiveSourceType::Sniff(const std::string& path) const {
  if (Status s = CheckArchiveSource(path); !s.ok()) return s;
  auto o = std::make_shared<ArchiveOptions>();
  o->path = path;
  return std::shared_ptr<SourceOptions>(std::move(o));
}

Result<SourceCheck> ArchiveSourceType::Check(const SourceSpec& spec) const {
  const ArchiveOptions& o = Options(*spec.options);
  SourceCheck check;
  if (Status s = MountAnywayIfRescanned(CheckArchiveSource(o.path), o.path, spec.rescan, &check);
      !s.ok()) {
    return s;
  }
  Result<std::vector<std::string>> files = FindArchives(o.path);
  check.summary = o.path + ": " + std::to_string(files.ok() ? files->size() : 0) + " archive files";
  return check;
}

Result<std::unique_ptr<Backend>> ArchiveSourceType::Create(const SourceSpec& spec) const {
  const ArchiveOptions& o = Options(*spec.options);
  ArchiveSourceOptions ao;
  ao.merged = o.merged;
  ao.strip_suffix = o.strip_suffix;
  ao.rescan_seconds = spec.rescan;
  ao.background = true;
  Result<std::unique_ptr<TarBackend>> b = TarBackend::Create(spec.name, o.path, ao);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Backend>(std::move(*b));
}

Status RegisterArchiveSourceType(SourceTypeRegistry& registry) {
  return registry.Register(std::make_shared<ArchiveSourceType>());
}

}  // namespace daqfs
