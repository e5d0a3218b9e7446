#include "backends/stream/stream_source_type.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "backends/stream/stream_backend.h"
#include "fs/config.h"

namespace daqfs {
namespace {

const StreamOptions& Options(const SourceOptions& o) {
  return static_cast<const StreamOptions&>(o);  // a spec's options come from its own type
}

std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : v) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// A uid or gid: a number below 2^32 - 1, or a user or group name.
bool ParseId(const std::string& v, bool is_group, uint32_t* out) {
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // As [mount] uid/gid: (uid_t)-1 means "unchanged" to chown(2), not an owner.
    std::optional<uint64_t> n = ParseIniUint(v, 0xfffffffeULL);
    if (!n) return false;
    *out = static_cast<uint32_t>(*n);
    return true;
  }
  if (is_group) {
    const struct group* g = getgrnam(v.c_str());
    if (!g) return false;
    *out = g->gr_gid;
  } else {
    const struct passwd* p = getpwnam(v.c_str());
    if (!p) return false;
    *out = p->pw_uid;
  }
  return true;
}

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

}  // namespace

std::string CheckStreamEndpoint(const std::string& e) {
  size_t sep = e.find("://");
  if (sep == std::string::npos) return "not a ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)";
  std::string scheme = e.substr(0, sep);
  std::string rest = e.substr(sep + 3);
  if (rest.empty()) return "no address after " + scheme + "://";
  if (scheme == "tcp") {
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
      return "tcp:// needs HOST:PORT";
    }
    std::string port = rest.substr(colon + 1);
    if (port != "*" &&
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "bad port '" + port + "'";
    }
    if (port != "*" && !ParseIniUint(port, 65535)) {
      return "port " + port + " above 65535";
    }
    return "";
  }
  if (scheme == "ipc" || scheme == "inproc") return "";
  return "unsupported transport '" + scheme + "' (tcp or ipc)";
}

IniCheck StreamSourceType::ParseKeys(const IniSection& section, const std::vector<IniEntry>& keys,
                                     std::shared_ptr<SourceOptions>* options) const {
  auto o = std::make_shared<StreamOptions>();
  o->uid = geteuid();
  o->gid = getegid();
  bool has_endpoint = false;
  for (const IniEntry& e : keys) {
    const std::string& v = e.value;
    auto bad = [&](const std::string& why) { return IniError{e.line, BadIniValue(e.key, v, why)}; };
    if (e.key == "endpoint") {
      o->endpoints = SplitList(v);
      if (o->endpoints.empty()) return bad("must not be empty");
      for (const std::string& x : o->endpoints) {
        if (std::string why = CheckStreamEndpoint(x); !why.empty()) return bad(x + ": " + why);
      }
      has_endpoint = true;
    } else if (e.key == "protocol") {
      if (!ParseStreamProtocol(v, &o->protocol)) {
        return bad("must be dectris-v1, dectris-stream2 or array-1.0");
      }
    } else if (e.key == "socket") {
      if (v == "pull") {
        o->sub = false;
      } else if (v == "sub") {
        o->sub = true;
      } else {
        return bad("must be pull or sub");
      }
    } else if (e.key == "bind") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return bad(b.status().message());
      o->bind = *b;
    } else if (e.key == "array_shape_key" || e.key == "array_type_key" ||
               e.key == "array_frame_key" || e.key == "array_series_key") {
      if (v.empty()) return bad("must not be empty");
      std::string& k = e.key == "array_shape_key"   ? o->array_keys.shape
                       : e.key == "array_type_key"  ? o->array_keys.type
                       : e.key == "array_frame_key" ? o->array_keys.frame
                                                    : o->array_keys.series;
      k = v;
    } else if (e.key == "formats") {
      o->tiff = o->raw = false;
      std::vector<std::string> f = SplitList(v);
      if (f.empty()) return bad("must name tiff, raw or both");
      for (const std::string& x : f) {
        if (x == "tiff" || x == "tif") {
          o->tiff = true;
        } else if (x == "raw") {
          o->raw = true;
        } else {
          return bad("'" + x + "' is not tiff or raw");
        }
      }
    } else if (e.key == "direct_io") {
      Result<bool> b = ParseBool(v);
      if (!b.ok()) return bad(b.status().message());
      o->direct_io = *b;
    } else if (e.key == "keep_series") {
      std::optional<uint64_t> n = ParseIniUint(v, 100000);
      if (!n || *n < 1) return bad("expected an integer from 1 to 100000");
      o->keep_series = *n;
    } else if (e.key == "series_name") {
      if (std::string why = CheckSeriesName(v); !why.empty()) return bad(why);
      o->series_name = v;
    } else if (e.key == "spill") {
      if (v == "auto") {
        o->spill = true;
        o->spill_bytes = 0;
      } else if (v == "off") {
        o->spill = false;
        o->spill_bytes = 0;
      } else {
        Result<uint64_t> n = ParseSize(v);
        if (!n.ok()) return bad("expected auto, off or a size: " + n.status().message());
        if (*n == 0) return bad("a size above 0 (or off)");
        o->spill = true;
        o->spill_bytes = *n;
      }
    } else if (e.key == "uid") {
      if (!ParseId(v, false, &o->uid)) return bad("not a user name or a uid below 4294967295");
    } else if (e.key == "gid") {
      if (!ParseId(v, true, &o->gid)) return bad("not a group name or a gid below 4294967295");
    } else if (e.key == "mode") {
      char* end = nullptr;
      unsigned long m = std::strtoul(v.c_str(), &end, 8);
      if (v.empty() || *end != '\0' || m > 0777 || v.size() > 5) {
        return bad("expected octal permission bits such as 0750 (no setuid, setgid or sticky)");
      }
      o->mode = static_cast<uint32_t>(m);
    } else {
      return IniError{e.line, "unknown key '" + e.key + "' in [" + section.name + "]"};
    }
  }
  if (!has_endpoint) return IniError{section.line, "[" + section.name + "] needs 'endpoint'"};
  *options = std::move(o);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> StreamSourceType::FormatKeys(
    const SourceOptions& options) const {
  const StreamOptions& o = Options(options);
  std::string endpoints;
  for (const std::string& e : o.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
  std::string formats = o.tiff && o.raw ? "tiff,raw" : o.raw ? "raw" : "tiff";
  return {{"endpoint", endpoints},
          {"protocol", StreamProtocolName(o.protocol)},
          {"socket", o.sub ? "sub" : "pull"},
          {"bind", o.bind ? "true" : "false"},
          {"array_shape_key", o.array_keys.shape},
          {"array_type_key", o.array_keys.type},
          {"array_frame_key", o.array_keys.frame},
          {"array_series_key", o.array_keys.series},
          {"formats", formats},
          {"direct_io", o.direct_io ? "true" : "false"},
          {"keep_series", std::to_string(o.keep_series)},
          {"series_name", o.series_name},
          {"spill", !o.spill        ? "off"
                    : o.spill_bytes ? std::to_string(o.spill_bytes)
                                    : "auto"},
          {"uid", std::to_string(o.uid)},
          {"gid", std::to_string(o.gid)},
          {"mode", Octal(o.mode)}};
}

Result<std::shared_ptr<SourceOptions>> StreamSourceType::Sniff(const std::string& path) const {
  // --source makes paths absolute; an endpoint comes through as given.
  // Not an endpoint at all: no reason to add to what the file types found.
  if (path.find("://") == std::string::npos) return Status(Code::kInvalid, "");
  if (std::string why = CheckStreamEndpoint(path); !why.empty()) {
    return Status(Code::kInvalid, path + ": " + why);
  }
  auto o = std::make_shared<StreamOptions>();
  o->endpoints = {path};
  o->uid = geteuid();
  o->gid = getegid();
  return std::shared_ptr<SourceOptions>(std::move(o));
}

Result<SourceCheck> StreamSourceType::Check(const SourceSpec& spec) const {
  const StreamOptions& o = Options(*spec.options);
  SourceCheck check;
  std::string endpoints;
  for (const std::string& e : o.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
  check.summary = endpoints + ": " + StreamProtocolName(o.protocol) + " (" +
                  (o.sub ? "sub" : "pull") + ", " + (o.bind ? "bind" : "connect") + ")";
  return check;
}

Result<std::unique_ptr<Backend>> StreamSourceType::Create(const SourceSpec& spec) const {
  const StreamOptions& o = Options(*spec.options);
  StreamBackendOptions b;
  b.receiver.endpoints = o.endpoints;
  b.receiver.sub = o.sub;
  b.receiver.bind = o.bind;
  b.receiver.protocol = o.protocol;
  b.receiver.array_keys = o.array_keys;
  b.receiver.name = spec.name;
  b.keep_series = o.keep_series;
  b.spill = o.spill;
  b.spill_bytes = o.spill_bytes;
  b.tiff = o.tiff;
  b.raw = o.raw;
  b.direct_io = o.direct_io;
  b.series_name = o.series_name;
  b.uid = o.uid;
  b.gid = o.gid;
  b.mode = o.mode;
  return std::unique_ptr<Backend>(std::make_unique<StreamBackend>(spec.name, std::move(b)));
}

Status RegisterStreamSourceType(SourceTypeRegistry& registry) {
  return registry.Register(std::make_shared<StreamSourceType>());
}

}  // namespace daqfs
