#include "backends/hdf5/hdf5_source_type.h"

#include "backends/hdf5/hdf5_backend.h"
#include "backends/hdf5/hdf5_sniff.h"
#include "fs/config.h"

namespace daqfs {
namespace {

const Hdf5Options& Options(const SourceOptions& o) {
  return static_cast<const Hdf5Options&>(o);  // a spec's options come from its own type
}

}  // namespace

IniCheck Hdf5SourceType::ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                                   std::shared_ptr<SourceOptions>* options) const {
  auto o = std::make_shared<Hdf5Options>();
  bool has_path = false;
  for (const IniEntry& e : keys) {
    const std::string& v = e.value;
    if (e.key == "path") {
      if (v.empty()) return IniError{e.line, BadIniValue(e.key, v, "must not be empty")};
      o->path = v;
      has_path = true;
    } else if (e.key == "text_max") {
      Result<uint64_t> n = ParseSize(v);
      if (!n.ok()) return IniError{e.line, BadIniValue(e.key, v, n.status().message())};
      if (*n > kMaxHdf5TextMax) {
        return IniError{e.line, BadIniValue(e.key, v, "at most 16M")};
      }
      o->text_max = *n;
    } else if (e.key == "raw") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return IniError{e.line, BadIniValue(e.key, v, b.status().message())};
      o->raw = *b;
    } else if (e.key == "direct_reads") {
      if (!ParseDirectReads(v, &o->direct_reads)) {
        return IniError{e.line, BadIniValue(e.key, v, "must be auto, always or never")};
      }
    } else {
      return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
    }
  }
  if (!has_path) return IniError{section.line, "[" + section.name + "] needs 'path'"};
  *options = std::move(o);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Hdf5SourceType::FormatKeys(
    const SourceOptions& options) const {
  const Hdf5Options& o = Options(options);
  return {{"path", o.path},
          {"text_max", std::to_string(o.text_max)},
          {"raw", o.raw ? "true" : "false"},
          {"direct_reads", DirectReadsName(o.direct_reads)}};
}

void Hdf5SourceType::ResolvePaths(SourceOptions& options, const std::string& base_dir) const {
  auto& o = static_cast<Hdf5Options&>(options);
  if (!o.path.empty() && o.path[0] != '/') o.path = base_dir + "/" + o.path;
}

Result<std::shared_ptr<SourceOptions>> Hdf5SourceType::Sniff(const std::string& path) const {
  if (Status s = CheckHdf5Source(path); !s.ok()) return s;
  auto o = std::make_shared<Hdf5Options>();
  o->path = path;
  return std::shared_ptr<SourceOptions>(std::move(o));
}

Result<SourceCheck> Hdf5SourceType::Check(const SourceSpec& spec) const {
  const Hdf5Options& o = Options(*spec.options);
  SourceCheck check;
  if (Status s = MountAnywayIfRescanned(CheckHdf5Source(o.path), o.path, spec.rescan, &check);
      !s.ok()) {
    return s;
  }
  Result<Hdf5Files> files = FindHdf5Files(o.path);
  check.summary =
      o.path + ": " + std::to_string(files.ok() ? files->hdf5.size() : 0) + " HDF5 files";
  return check;
}

Result<std::unique_ptr<Backend>> Hdf5SourceType::Create(const SourceSpec& spec) const {
  const Hdf5Options& o = Options(*spec.options);
  Hdf5SourceOptions ho;
  ho.text_max = o.text_max;
  ho.raw_frames = o.raw;
  ho.direct_reads = o.direct_reads;
  ho.rescan_seconds = spec.rescan;
  ho.background = true;
  Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create(spec.name, o.path, ho);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Backend>(std::move(*b));
}

Status RegisterHdf5SourceType(SourceTypeRegistry& registry) {
  return registry.Register(std::make_shared<Hdf5SourceType>());
}

}  // namespace daqfs
