#include "backends/tiff/tiff_source_type.h"

#include "backends/tiff/tiff_backend.h"
#include "fs/config.h"

namespace daqfs {
namespace {

const TiffOptions& Options(const SourceOptions& o) {
  return static_cast<const TiffOptions&>(o);  // a spec's options come from its own type
}

}  // namespace

IniCheck TiffSourceType::ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                                   std::shared_ptr<SourceOptions>* options) const {
  auto o = std::make_shared<TiffOptions>();
  bool has_path = false;
  for (const IniEntry& e : keys) {
    const std::string& v = e.value;
    if (e.key == "path") {
      if (v.empty()) return IniError{e.line, BadIniValue(e.key, v, "must not be empty")};
      o->path = v;
      has_path = true;
    } else if (e.key == "raw") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return IniError{e.line, BadIniValue(e.key, v, b.status().message())};
      o->raw = *b;
    } else {
      return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
    }
  }
  if (!has_path) return IniError{section.line, "[" + section.name + "] needs 'path'"};
  *options = std::move(o);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> TiffSourceType::FormatKeys(
    const SourceOptions& options) const {
  const TiffOptions& o = Options(options);
  return {{"path", o.path}, {"raw", o.raw ? "true" : "false"}};
}

void TiffSourceType::ResolvePaths(SourceOptions& options, const std::string& base_dir) const {
  auto& o = static_cast<TiffOptions&>(options);
  if (!o.path.empty() && o.path[0] != '/') o.path = base_dir + "/" + o.path;
}

Result<std::shared_ptr<SourceOptions>> TiffSourceType::Sniff(const std::string& path) const {
  size_t count = 0;
  if (Status s = CheckTiffSource(path, &count); !s.ok()) return s;
  auto o = std::make_shared<TiffOptions>();
  o->path = path;
  return std::shared_ptr<SourceOptions>(std::move(o));
}

Result<SourceCheck> TiffSourceType::Check(const SourceSpec& spec) const {
  const TiffOptions& o = Options(*spec.options);
  SourceCheck check;
  size_t count = 0;
  if (Status s =
          MountAnywayIfRescanned(CheckTiffSource(o.path, &count), o.path, spec.rescan, &check);
      !s.ok()) {
    return s;
  }
  check.summary = o.path + ": " + std::to_string(count) + " TIFF files";
  return check;
}

Result<std::unique_ptr<Backend>> TiffSourceType::Create(const SourceSpec& spec) const {
  const TiffOptions& o = Options(*spec.options);
  TiffSourceOptions to;
  to.raw_frames = o.raw;
  to.rescan_seconds = spec.rescan;
  to.background = true;
  Result<std::unique_ptr<TiffBackend>> b = TiffBackend::Create(spec.name, o.path, to);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Backend>(std::move(*b));
}

Status RegisterTiffSourceType(SourceTypeRegistry& registry) {
  return registry.Register(std::make_shared<TiffSourceType>());
}

}  // namespace daqfs
