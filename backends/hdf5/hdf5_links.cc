#include "backends/hdf5/hdf5_links.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <deque>

namespace daqfs {
namespace {

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

struct IterState {
  std::vector<H5LinkEntry>* out;
  Status error;
};

herr_t CollectLink(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* st = static_cast<IterState*>(data);
  H5LinkEntry e;
  e.name = name;
  e.type = info->type;
  if (info->type == H5L_TYPE_HARD) {
    e.addr = info->u.address;
  } else if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL) {
    std::vector<char> buf(info->u.val_size + 1, '\0');
    if (H5Lget_val(group, name, buf.data(), buf.size(), H5P_DEFAULT) < 0) {
      st->error =
          H5Failure(Code::kCorrupt, std::string("link ") + name + ": cannot read its value");
      return -1;
    }
    if (info->type == H5L_TYPE_SOFT) {
      e.value = std::string(buf.data());
    } else {
      unsigned flags = 0;
      const char* file = nullptr;
      const char* obj = nullptr;
      if (H5Lunpack_elink_val(buf.data(), info->u.val_size, &flags, &file, &obj) < 0) {
        st->error = H5Failure(Code::kCorrupt,
                              std::string("external link ") + name + ": cannot unpack its value");
        return -1;
      }
      e.file = file ? file : "";
      e.value = obj ? obj : "";
    }
  }
  st->out->push_back(std::move(e));
  return 0;
}

}  // namespace

std::vector<std::string> SplitH5Path(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    if (!part.empty() && part != ".") out.push_back(part);
    pos = slash + 1;
  }
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string NormalizePath(const std::string& path) {
  bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  for (std::string& part : SplitH5Path(path)) {
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
  return out.empty() ? "." : out;
}

std::string JoinH5Path(const std::string& group, const std::string& name) {
  if (group.empty() || group == "/") return "/" + name;
  return group + "/" + name;
}

std::vector<std::string> ExternalFileCandidates(const std::string& linking_file,
                                                const std::string& target) {
  std::string dir = DirName(linking_file);
  std::vector<std::string> out;
  if (target.empty()) return out;
  if (target[0] == '/') {
    out.push_back(NormalizePath(target));
    out.push_back(NormalizePath(dir + "/" + BaseName(target)));
  } else {
    out.push_back(NormalizePath(dir + "/" + target));
  }
  return out;
}

Result<std::shared_ptr<const Hdf5File>> OpenExternalFile(Hdf5FilePool& pool,
                                                         const std::string& linking_file,
                                                         const std::string& target) {
  std::vector<std::string> tried = ExternalFileCandidates(linking_file, target);
  for (const std::string& candidate : tried) {
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0) continue;
    std::string real = Canonical(candidate);
    if (real.empty()) continue;
    return pool.Open(real);
  }
  std::string looked;
  for (const std::string& c : tried) looked += (looked.empty() ? "" : ", ") + c;
  return Status(Code::kUnavailable,
                "missing external file " + target + " (looked for " + looked + ")");
}

Result<std::vector<H5LinkEntry>> ListLinks(const Hdf5File& file, const std::string& group_path) {
  H5Id group(H5Gopen2(file.id.get(), group_path.c_str(), H5P_DEFAULT));
  if (!group.valid()) {
    return H5Failure(Code::kCorrupt, file.path + ": " + group_path + ": cannot open the group");
  }
  std::vector<H5LinkEntry> out;
  IterState st{&out, Status::Ok()};
  hsize_t idx = 0;
  if (H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, CollectLink, &st) < 0) {
    if (!st.error.ok()) {
      return Status(st.error.code(), file.path + ": " + group_path + ": " + st.error.message());
    }
    return H5Failure(Code::kCorrupt, file.path + ": " + group_path + ": cannot list the group");
  }
  return out;
}

Result<H5Location> ObjectAt(std::shared_ptr<const Hdf5File> file, const std::string& path) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(file->id.get(), path.c_str(), &info, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS,
                           H5P_DEFAULT) < 0) {
    return H5Failure(Code::kCorrupt, file->path + ": " + path + ": cannot read the object");
  }
  H5Location loc;
  loc.file = std::move(file);
  loc.path = path;
  loc.type = info.type;
  loc.addr = info.addr;
  loc.num_attrs = info.num_attrs;
  return loc;
}

Result<H5Location> ResolvePath(Hdf5FilePool& pool, std::shared_ptr<const Hdf5File> file,
                               const std::string& path) {
  std::deque<std::string> todo;
  for (std::string& p : SplitH5Path(path)) todo.push_back(std::move(p));
  std::string cur = "/";
  int hops = 0;
  const std::string asked = file->path + ": " + path;
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    std::string link_path = JoinH5Path(cur, comp);
    H5L_info_t info;
    htri_t exists = H5Lexists(file->id.get(), link_path.c_str(), H5P_DEFAULT);
    if (exists <= 0 || H5Lget_info(file->id.get(), link_path.c_str(), &info, H5P_DEFAULT) < 0) {
      H5ErrorText();  // clears the stack
      return NotFound(asked + ": no such object (" + file->path + ": " + link_path + ")");
    }
    if (info.type == H5L_TYPE_HARD) {
      cur = link_path;
      continue;
    }
    if (info.type != H5L_TYPE_SOFT && info.type != H5L_TYPE_EXTERNAL) {
      return Status(Code::kNotSupported, asked + ": user-defined link " + link_path);
    }
    if (++hops > kMaxLinkHops) {
      return Invalid(asked + ": more than " + std::to_string(kMaxLinkHops) + " links (a loop?)");
    }
    std::vector<char> buf(info.u.val_size + 1, '\0');
    if (H5Lget_val(file->id.get(), link_path.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0) {
      return H5Failure(Code::kCorrupt, asked + ": cannot read link " + link_path);
    }
    std::vector<std::string> next;
    if (info.type == H5L_TYPE_SOFT) {
      std::string target(buf.data());
      // A relative soft link is relative to the group that holds it.
      next = SplitH5Path(target[0] == '/' ? target : JoinH5Path(cur, target));
    } else {
      unsigned flags = 0;
      const char* fname = nullptr;
      const char* obj = nullptr;
      if (H5Lunpack_elink_val(buf.data(), info.u.val_size, &flags, &fname, &obj) < 0) {
        return H5Failure(Code::kCorrupt, asked + ": cannot unpack external link " + link_path);
      }
      Result<std::shared_ptr<const Hdf5File>> target =
          OpenExternalFile(pool, file->path, fname ? fname : "");
      if (!target.ok()) {
        return Status(target.status().code(), file->path + ": external link " + link_path + ": " +
                                                  target.status().message());
      }
      file = std::move(*target);
      next = SplitH5Path(obj ? obj : "/");
    }
    for (auto it = next.rbegin(); it != next.rend(); ++it) todo.push_front(*it);
    cur = "/";
  }
  return ObjectAt(std::move(file), cur);
}

Result<H5Location> FollowLink(Hdf5FilePool& pool, std::shared_ptr<const Hdf5File> file,
                              const std::string& group_path, const H5LinkEntry& link) {
  return ResolvePath(pool, std::move(file), JoinH5Path(group_path, link.name));
}

}  // namespace daqfs
