#include "fs/source_type.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>

namespace daqfs {

Status SourceTypeRegistry::Register(std::shared_ptr<const SourceType> type) {
  if (!type || type->Name().empty()) return Invalid("a source type needs a name");
  if (Find(type->Name())) {
    return Invalid("source type '" + std::string(type->Name()) + "' registered twice");
  }
  types_.push_back(std::move(type));
  return Status::Ok();
}

std::shared_ptr<const SourceType> SourceTypeRegistry::Find(std::string_view name) const {
  for (const auto& t : types_) {
    if (t->Name() == name) return t;
  }
  return nullptr;
}

std::vector<std::string> SourceTypeRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& t : types_) names.emplace_back(t->Name());
  return names;
}

std::string SourceTypeRegistry::JoinedNames() const {
  std::string out;
  for (const auto& t : types_) out += (out.empty() ? "" : ", ") + std::string(t->Name());
  return out;
}

Result<SourceSpec> SourceTypeRegistry::Sniff(const std::string& path) const {
  if (types_.empty()) return Invalid(path + ": no source types are known");
  std::string reasons;
  // A type that cannot look at PATH (missing, no permission) does not stop the others: a stream
  // endpoint (tcp://HOST:PORT) is no file. The first such error is the answer when no type
  // serves PATH; a type that does not apply to PATH at all says so with an empty reason.
  std::optional<Status> cannot_look;
  for (const auto& t : types_) {
    Result<std::shared_ptr<SourceOptions>> o = t->Sniff(path);
    if (o.ok()) {
      SourceSpec spec;
      spec.type = std::string(t->Name());
      spec.source_type = t;
      spec.options = std::move(*o);
      return spec;
    }
    if (o.status().code() != Code::kInvalid) {
      if (!cannot_look) cannot_look = o.status();
      continue;
    }
    if (o.status().message().empty()) continue;
    reasons += (reasons.empty() ? "" : "; ") + o.status().message();
  }
  if (cannot_look) return *cannot_look;
  return Invalid(reasons);
}

Status MountAnywayIfRescanned(const Status& missing, const std::string& path, double rescan,
                              SourceCheck* check) {
  if (missing.ok()) return missing;
  struct stat st;
  bool single_file = stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (rescan <= 0 || missing.code() != Code::kInvalid || single_file) return missing;
  char every[32];
  std::snprintf(every, sizeof every, "%g", rescan);
  check->warning = missing.message() + "; mounting anyway, rescanned every " + every + " s";
  return Status::Ok();
}

bool HasGlobChars(const std::string& path) {
  return path.find_first_of("*?[") != std::string::npos;
}

Result<std::vector<std::string>> ListSourceFiles(
    const std::string& path, const std::function<bool(const std::string& name)>& accept) {
  std::vector<std::string> out;
  if (HasGlobChars(path)) {
    glob_t g{};
    int rc = glob(path.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) out.emplace_back(g.gl_pathv[i]);
      }
    }
    globfree(&g);
    if (rc != 0 && rc != GLOB_NOMATCH) return IoError("glob " + path + " failed");
  } else {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, path);
    if (S_ISREG(st.st_mode)) {
      out.push_back(path);
    } else if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(path.c_str());
      if (!d) return ErrnoStatus(errno, "open folder " + path);
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == ".." || !accept(name)) continue;
        std::string full = path + (path.back() == '/' ? "" : "/") + name;
        struct stat fst;
        if (stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) out.push_back(full);
      }
      closedir(d);
    } else {
      return Invalid(path + ": not a file or folder");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace daqfs
