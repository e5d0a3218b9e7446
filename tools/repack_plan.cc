// Planning for daqfs-repack (PlanRepack in tools/repack.h): single-threaded, reads tar headers
// and the first bytes of each file member only. Each member is matched against the --group
// regex (PCRE2), its numeric groups bucketed into --window ranges, and its output named by the
// --name template; unmatched folders follow their contents. Every input is validated here, so a
// damaged input fails before anything is written.
#include "tools/repack.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "fs/unique_fd.h"
#include "tools/repack_member_data.h"

namespace daqfs {

using repack::BaseName;
using repack::IsZstdMagic;
using repack::kMaxFrameSize;
using repack::kMinFrameSize;
using repack::kUnmatchedName;
using repack::ProbeZstd;
using repack::Quote;
using repack::ZstdProbe;

namespace {

struct Pcre2CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct Pcre2MatchFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

using Values = std::map<std::string, std::string>;  // placeholder name -> text

class GroupMatcher {
 public:
  enum class Outcome { kMatch, kNoMatch, kUnusable };

  static Result<std::unique_ptr<GroupMatcher>> Create(const std::string& pattern,
                                                      const std::vector<WindowSpec>& windows) {
    auto m = std::unique_ptr<GroupMatcher>(new GroupMatcher());
    int err = 0;
    PCRE2_SIZE err_off = 0;
    m->code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr));
    if (!m->code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Invalid("bad --group regex " + Quote(pattern) + ": " +
                     reinterpret_cast<const char*>(msg) + " at offset " + std::to_string(err_off));
    }
    m->match_.reset(pcre2_match_data_create_from_pattern(m->code_.get(), nullptr));
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(m->code_.get(), PCRE2_INFO_NAMETABLE, &table);
    std::map<std::string, uint32_t> first;  // name -> lowest group number (duplicates: (?J))
    for (uint32_t i = 0; i < count; ++i) {
      const PCRE2_SPTR e = table + i * entry_size;
      const uint32_t number = uint32_t{e[0]} << 8 | e[1];
      const std::string name(reinterpret_cast<const char*>(e + 2));
      auto [it, inserted] = first.emplace(name, number);
      if (!inserted) it->second = std::min(it->second, number);
    }
    if (first.empty()) {
      return Invalid("--group regex " + Quote(pattern) +
                     " has no named groups; name them like (?<chan>\\d+)");
    }
    for (const auto& [name, number] : first) m->groups_.push_back({name, number, 0});
    std::sort(m->groups_.begin(), m->groups_.end(),
              [](const Group& a, const Group& b) { return a.number < b.number; });
    for (const WindowSpec& w : windows) {
      auto it = std::find_if(m->groups_.begin(), m->groups_.end(),
                             [&](const Group& g) { return g.name == w.group; });
      if (it == m->groups_.end()) {
        return Invalid("--window " + w.group + "=" + std::to_string(w.width) +
                       ": the regex has no group named " + Quote(w.group));
      }
      if (w.width == 0) return Invalid("--window " + w.group + ": the width must be positive");
      it->window = w.width;
    }
    return m;
  }

  // Placeholders a template may use.
  std::set<std::string> Placeholders() const {
    std::set<std::string> out;
    for (const Group& g : groups_) {
      out.insert(g.name);
      if (g.window != 0) out.insert(g.name + "_end");
    }
    return out;
  }

  // Fills `values` (every placeholder) and `ordered` (group values in group order) on a match.
  Outcome Match(std::string_view path, Values* values, std::vector<std::string>* ordered,
                std::string* why) {
    const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(path.data()), path.size(),
                               0, 0, match_.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return Outcome::kNoMatch;
    if (rc < 0) {  // a match or depth limit, say: not silent, the member is still placed
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      *why = std::string("regex match failed: ") + reinterpret_cast<const char*>(msg);
      return Outcome::kUnusable;
    }
    values->clear();
    ordered->clear();
    for (const Group& g : groups_) {
      PCRE2_SIZE len = 0;
      std::string v;
      const auto* name = reinterpret_cast<PCRE2_SPTR>(g.name.c_str());
      if (pcre2_substring_length_byname(match_.get(), name, &len) == 0) {
        v.resize(len + 1);
        PCRE2_SIZE copied = len + 1;
        pcre2_substring_copy_byname(match_.get(), name, reinterpret_cast<PCRE2_UCHAR*>(v.data()),
                                    &copied);
        v.resize(copied);
      }  // else: the group took no part in the match; its value is empty
      if (g.window != 0) {
        uint64_t n = 0;
        const bool digits =
            !v.empty() && v.size() <= 19 &&
            std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
          *why = "group " + Quote(g.name) + " value " + Quote(v) + " is not a decimal number";
          return Outcome::kUnusable;
        }
        n = std::stoull(v);
        const uint64_t start = n / g.window * g.window;
        const uint64_t end = start + std::min(g.window - 1, UINT64_MAX - start);
        (*values)[g.name + "_end"] = Padded(end, v.size());
        v = Padded(start, v.size());
      }
      (*values)[g.name] = v;
      ordered->push_back(v);
    }
    return Outcome::kMatch;
  }

 private:
  struct Group {
    std::string name;
    uint32_t number;
    uint64_t window;
  };
  GroupMatcher() = default;

  static std::string Padded(uint64_t v, size_t width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llu", static_cast<int>(width),
                  static_cast<unsigned long long>(v));
    return buf;
  }

  std::unique_ptr<pcre2_code, Pcre2CodeFree> code_;
  std::unique_ptr<pcre2_match_data, Pcre2MatchFree> match_;
  std::vector<Group> groups_;
};

struct TemplatePart {
  bool placeholder = false;
  std::string text;  // literal text, or the placeholder's name
};

Result<std::vector<TemplatePart>> ParseTemplate(const std::string& t,
                                                const std::set<std::string>& known) {
  std::vector<TemplatePart> parts;
  std::string literal;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      literal.push_back('}');
      ++i;
    } else if (t[i] == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      literal.push_back('{');
      ++i;
    } else if (t[i] == '{') {
      const size_t close = t.find('}', i);
      if (close == std::string::npos) return Invalid("--name " + Quote(t) + ": unclosed '{'");
      const std::string name = t.substr(i + 1, close - i - 1);
      if (!known.contains(name)) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + ("{" + k + "}");
        return Invalid("--name " + Quote(t) + ": unknown placeholder {" + name +
                       "}; known: " + (list.empty() ? "none" : list));
      }
      if (!literal.empty()) parts.push_back({false, std::move(literal)});
      literal.clear();
      parts.push_back({true, name});
      i = close;
    } else if (t[i] == '}') {
      return Invalid("--name " + Quote(t) + ": unmatched '}' (write '}}' for a brace)");
    } else {
      literal.push_back(t[i]);
    }
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

std::string Expand(const std::vector<TemplatePart>& parts, const Values& values) {
  std::string out;
  for (const TemplatePart& p : parts) out += p.placeholder ? values.at(p.text) : p.text;
  return out;
}

// An output name must stay inside the output folder.
Status CheckOutputName(const std::string& name, const std::string& source) {
  bool ok = !name.empty() && name[0] != '/';
  for (size_t i = 0; ok && i <= name.size();) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    const std::string_view c = std::string_view(name).substr(i, j - i);
    ok = !c.empty() && c != "." && c != "..";
    i = j + 1;
  }
  if (ok) return Status::Ok();
  return Invalid("output name " + Quote(name) + " (for " + source +
                 ") is not a relative path inside the output folder");
}

}  // namespace

Result<RepackPlan> PlanRepack(const RepackOptions& options,
                              const std::vector<std::string>& input_paths) {
  // Options first: a usage error must not wait for (or depend on) the inputs.
  if (input_paths.empty()) return Invalid("no input archives");
  if (options.frame_size < kMinFrameSize || options.frame_size > kMaxFrameSize) {
    return Invalid("--frame-size " + std::to_string(options.frame_size) +
                   " is not between 1 KiB and 1 GiB");
  }
  if (options.level < ZSTD_minCLevel() || options.level > ZSTD_maxCLevel()) {
    return Invalid("--level " + std::to_string(options.level) + " is not between " +
                   std::to_string(ZSTD_minCLevel()) + " and " + std::to_string(ZSTD_maxCLevel()));
  }
  std::unique_ptr<GroupMatcher> matcher;
  std::set<std::string> known{"input"};
  if (!options.group_regex.empty()) {
    Result<std::unique_ptr<GroupMatcher>> m =
        GroupMatcher::Create(options.group_regex, options.windows);
    if (!m.ok()) return m.status();
    matcher = std::move(*m);
    known = matcher->Placeholders();
  } else if (!options.windows.empty()) {
    return Invalid("--window needs --group");
  }
  std::optional<std::vector<TemplatePart>> name_template;
  if (!options.name_template.empty()) {
    Result<std::vector<TemplatePart>> t = ParseTemplate(options.name_template, known);
    if (!t.ok()) return t.status();
    name_template = std::move(*t);
  }

  RepackPlan plan;
  // Where each member goes: output name -> out_path -> member (later sources replace earlier).
  std::map<std::string, std::map<std::string, PlannedMember>> outputs;
  struct PendingDir {
    PlannedMember member;
    std::string path;
  };
  std::vector<PendingDir> pending_dirs;  // unmatched folders, placed after all else

  auto place = [&](const std::string& output, PlannedMember pm) {
    auto& members = outputs[output];
    auto [it, inserted] = members.try_emplace(pm.out_path, pm);
    if (!inserted) {
      if (pm.kind != TarEntry::Kind::kDirectory || it->second.kind != TarEntry::Kind::kDirectory) {
        const RepackInput& in = plan.inputs[pm.input];
        plan.warnings.push_back(in.path + ": member " + Quote(in.index.members[pm.member].path) +
                                " replaces an earlier " + Quote(pm.out_path) + " in " + output);
      }
      it->second = std::move(pm);
    }
  };

  for (size_t i = 0; i < input_paths.size(); ++i) {
    const std::string& path = input_paths[i];
    Result<UniqueFd> fd = OpenReadOnly(path);
    if (!fd.ok()) return fd.status();
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
    if (S_ISDIR(st.st_mode)) return Status(Code::kIsDir, path + ": is a folder, not a tar archive");
    const int raw_fd = fd->get();
    uint8_t head[6] = {};
    Result<size_t> h = PreadFull(raw_fd, 0, head, path);
    if (!h.ok()) return h.status();
    const bool zstd_tar = *h >= 4 && IsZstdMagic(uint32_t{head[0]} | uint32_t{head[1]} << 8 |
                                                 uint32_t{head[2]} << 16 | uint32_t{head[3]} << 24);
    const bool gzip_tar = *h >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    const bool xz_tar = *h >= 6 && std::memcmp(head,
                                               "\xFD"
                                               "7zXZ\0",
                                               6) == 0;
    if (zstd_tar || gzip_tar || xz_tar) {
      return Corrupt(path + ": a compressed archive (" +
                     (zstd_tar   ? "zstd"
                      : gzip_tar ? "gzip"
                                 : "xz") +
                     "); decompress it first, inputs must be plain tar");
    }
    Result<TarIndex> index = IndexTar(
        [raw_fd, path](uint64_t off, std::span<uint8_t> out) {
          return PreadFull(raw_fd, off, out, path);
        },
        static_cast<uint64_t>(st.st_size), path);
    if (!index.ok()) return index.status();
    if (!index->damage.ok()) return Corrupt(path + ": " + index->damage.message());
    for (const std::string& w : index->warnings) plan.warnings.push_back(w);
    plan.inputs.push_back({path, static_cast<uint64_t>(st.st_size), std::move(*index)});
    const RepackInput& in = plan.inputs.back();
    const std::vector<TarMember>& members = in.index.members;

    std::unordered_map<std::string, size_t> last;  // path -> latest member so far
    std::vector<size_t> resolved(members.size());  // hard links: the member holding the data
    std::map<size_t, ZstdProbe> probes;            // data member -> probe
    for (size_t k = 0; k < members.size(); ++k) {
      const TarMember& m = members[k];
      PlannedMember pm;
      pm.input = i;
      pm.member = k;
      pm.data_member = k;
      resolved[k] = k;
      switch (m.kind) {
        case TarMember::Kind::kFile:
          pm.kind = TarEntry::Kind::kFile;
          break;
        case TarMember::Kind::kDirectory:
          pm.kind = TarEntry::Kind::kDirectory;
          break;
        case TarMember::Kind::kSymlink:
          pm.kind = TarEntry::Kind::kSymlink;
          pm.link_target = m.link_target;
          break;
        case TarMember::Kind::kHardLink: {
          auto it = last.find(m.link_target);
          if (it == last.end()) {
            return Corrupt(path + ": hard link " + Quote(m.path) + " to " + Quote(m.link_target) +
                           ", which comes nowhere before it");
          }
          const TarMember& target = members[resolved[it->second]];
          if (target.kind == TarMember::Kind::kDirectory) {
            return Corrupt(path + ": hard link " + Quote(m.path) + " to the folder " +
                           Quote(m.link_target));
          }
          resolved[k] = resolved[it->second];
          pm.data_member = resolved[k];
          if (target.kind == TarMember::Kind::kSymlink) {
            pm.kind = TarEntry::Kind::kSymlink;
            pm.link_target = target.link_target;
          } else {
            pm.kind = TarEntry::Kind::kFile;
          }
          break;
        }
      }
      last[m.path] = k;
      pm.out_path = m.path;
      if (pm.kind == TarEntry::Kind::kFile) {
        const TarMember& data = members[pm.data_member];
        auto it = probes.find(pm.data_member);
        if (it == probes.end()) {
          Result<ZstdProbe> p = ProbeZstd(raw_fd, path, data, data.path);
          if (!p.ok()) return p.status();
          it = probes.emplace(pm.data_member, *p).first;
        }
        pm.zstd = it->second.zstd;
        pm.content_size_known = it->second.content_size_known;
        pm.content_bytes = it->second.content_bytes;
        pm.stored_bytes = data.size;
        if (!(pm.zstd && m.path.ends_with(".zst"))) pm.out_path += ".zst";
      }

      std::string output;
      if (!matcher) {
        std::string stem = BaseName(path);
        const std::string base = stem;
        if (stem.ends_with(".tar")) stem.resize(stem.size() - 4);
        output = name_template ? Expand(*name_template, {{"input", stem}}) : base;
      } else {
        Values values;
        std::vector<std::string> ordered;
        std::string why;
        switch (matcher->Match(m.path, &values, &ordered, &why)) {
          case GroupMatcher::Outcome::kMatch:
            if (name_template) {
              output = Expand(*name_template, values);
            } else {
              for (const std::string& v : ordered) output += (output.empty() ? "" : "_") + v;
              output += ".tar";
            }
            break;
          case GroupMatcher::Outcome::kUnusable:
            plan.warnings.push_back(path + ": member " + Quote(m.path) + ": " + why + "; sent to " +
                                    kUnmatchedName);
            [[fallthrough]];
          case GroupMatcher::Outcome::kNoMatch:
            if (pm.kind == TarEntry::Kind::kDirectory) {
              pending_dirs.push_back({std::move(pm), m.path});
              continue;
            }
            output = kUnmatchedName;
            ++plan.unmatched;
            break;
        }
      }
      if (Status s = CheckOutputName(output, path + ": member " + Quote(m.path)); !s.ok()) {
        return s;
      }
      place(output, std::move(pm));
    }
  }

  // Unmatched folders follow their contents: into every output holding something beneath them.
  if (!pending_dirs.empty()) {
    std::map<std::string, std::set<std::string>> ancestors;  // output -> folders it needs
    for (const auto& [name, members] : outputs) {
      std::set<std::string>& a = ancestors[name];
      for (const auto& [out_path, pm] : members) {
        const std::string& p = plan.inputs[pm.input].index.members[pm.member].path;
        for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1)) {
          a.insert(p.substr(0, s));
        }
      }
    }
    for (PendingDir& d : pending_dirs) {
      bool placed = false;
      for (const auto& [name, a] : ancestors) {
        if (a.contains(d.path)) {
          place(name, d.member);
          placed = true;
        }
      }
      if (!placed) {
        place(kUnmatchedName, d.member);
        ++plan.unmatched;
      }
    }
  }

  for (auto& [name, members] : outputs) {
    PlannedOutput o;
    o.name = name;
    for (auto& [out_path, pm] : members) {
      o.stored_bytes += pm.stored_bytes;
      o.members.push_back(std::move(pm));
    }
    plan.stored_bytes += o.stored_bytes;
    plan.outputs.push_back(std::move(o));
  }
  return plan;
}

Result<WindowSpec> ParseWindowSpec(std::string_view text) {
  const size_t eq = text.find('=');
  const std::string orig(text);
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return Invalid("--window " + Quote(orig) + ": expected NAME=N");
  }
  WindowSpec w;
  w.group = std::string(text.substr(0, eq));
  for (char c : text.substr(eq + 1)) {
    if (c < '0' || c > '9' || w.width > (UINT64_MAX - (c - '0')) / 10) {
      return Invalid("--window " + Quote(orig) + ": N must be a positive integer");
    }
    w.width = w.width * 10 + (c - '0');
  }
  if (w.width == 0) return Invalid("--window " + Quote(orig) + ": N must be positive");
  return w;
}

}  // namespace daqfs
