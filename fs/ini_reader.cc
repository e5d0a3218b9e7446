// The INI reader: inih parses key = value lines, a reader of our own feeds it one line at a time.
//
// inih calls its handler for line N before it asks the reader for line N + 1, so the line count
// kept by the reader is the line the handler is working on, and a section is complete when the
// reader sees the next header or the end of the text. Both inih callbacks share one Reader; the
// first error is kept and the line reader returns NULL so inih stops. Nothing may unwind through
// inih's C frames: the callbacks catch everything.
#include "fs/ini_reader.h"

#include <ini.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <system_error>

namespace daqfs {

constexpr std::string_view kIniSpace = " \t\r\n\v\f";  // what inih's isspace() strips

std::string_view IniTrim(std::string_view s) {
  size_t b = s.find_first_not_of(kIniSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kIniSpace);
  return s.substr(b, e - b + 1);
}

bool IsIniSpace(char c) { return kIniSpace.find(c) != std::string_view::npos; }
namespace {

class Reader {
 public:
  Reader(std::string_view text, const std::string& file, IniHandler& handler)
      : text_(text), name_(IniFileName(file)), handler_(handler) {
    // inih skips a UTF-8 byte order mark on line 1; do it here so both sides see the same line.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  Status Run() {
    int rc = ini_parse_stream(&Reader::ReadCallback, this, &Reader::HandlerCallback, this);
    if (!error_.empty()) return Invalid(error_);
    // The reader checks every line that inih would refuse, so these are only a safety net.
    if (rc == -2) return Status(Code::kNoMemory, name_ + ": out of memory in inih");
    if (rc != 0) return Invalid(name_ + ":" + std::to_string(rc) + ": syntax error");
    return Status::Ok();
  }

 private:
  static char* ReadCallback(char* buf, int num, void* stream) {
    auto* r = static_cast<Reader*>(stream);
    try {
      return r->NextLine(buf, num);
    } catch (const std::exception& e) {
      r->Fail(std::string("internal error: ") + e.what());
      return nullptr;
    }
  }

  static int HandlerCallback(void* user, const char* section, const char* name, const char* value) {
    auto* r = static_cast<Reader*>(user);
    try {
      return r->Handle(section ? section : "", name ? name : "", value ? value : "") ? 1 : 0;
    } catch (const std::exception& e) {
      r->Fail(std::string("internal error: ") + e.what());
      return 0;
    }
  }

  // Copies the next line (without "\n" or "\r\n") into inih's buffer of `num` bytes after checking
  // it. Returns NULL at the end of the text or after an error, which ends ini_parse_stream.
  char* NextLine(char* buf, int num) {
    if (!error_.empty()) return nullptr;
    if (pos_ >= text_.size()) {
      CloseSection();
      return nullptr;
    }
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    std::string_view line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    line_++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    size_t max = num > 1 ? static_cast<size_t>(num - 1) : 0;
    if (line.size() > max) {
      Fail("line longer than " + std::to_string(max) + " bytes");
      return nullptr;
    }
    if (line.find('\0') != std::string_view::npos) {
      Fail("NUL byte in line");
      return nullptr;
    }
    if (!CheckLine(line)) return nullptr;

    std::memcpy(buf, line.data(), line.size());
    buf[line.size()] = '\0';
    return buf;
  }

  // Classifies a line the way inih r55 does and handles what inih does not tell the handler.
  bool CheckLine(std::string_view line) {
    std::string_view start = IniTrim(line);
    if (start.empty() || start[0] == ';' || start[0] == '#') return true;  // blank or comment
    if (start.data() != line.data()) {
      if (key_since_header_) {
        return Fail("indented line continues the value of '" + last_key_ +
                    "' (multi-line values are not supported); remove the indentation");
      }
      return Fail(
          "indented line (inih reads an indented line after a key as part of that "
          "key's value); remove the indentation");
    }
    if (start[0] == '[') return OpenSection(start);
    // A key line: inih looks for '=' or ':' and stops early at an inline comment.
    size_t i = FindCharsOrComment(start, 0, "=:");
    if (i == start.size() || (start[i] != '=' && start[i] != ':')) {
      return Fail("expected '[section]', 'key = value' or a comment, got '" + std::string(start) +
                  "'");
    }
    key_since_header_ = true;
    return true;
  }

  // inih's find_chars_or_comment(): the first of `chars`, or ';' after whitespace.
  static size_t FindCharsOrComment(std::string_view s, size_t from, std::string_view chars) {
    bool was_space = false;
    size_t i = from;
    for (; i < s.size(); i++) {
      if (chars.find(s[i]) != std::string_view::npos) break;
      if (was_space && s[i] == ';') break;
      was_space = IsIniSpace(s[i]);
    }
    return i;
  }

  // `header` is the trimmed line, starting with '['.
  bool OpenSection(std::string_view header) {
    size_t close = FindCharsOrComment(header, 1, "]");
    if (close == header.size() || header[close] != ']') {
      return Fail("missing ']' in section header '" + std::string(header) + "'");
    }
    std::string_view rest = IniTrim(header.substr(close + 1));
    if (!rest.empty() && rest[0] != ';') {
      return Fail("unexpected text after ']': '" + std::string(rest) + "'");
    }
    std::string_view raw = header.substr(1, close - 1);
    if (raw.size() > kIniMaxSectionBytes) {
      return Fail("section name longer than " + std::to_string(kIniMaxSectionBytes) + " bytes");
    }
    if (!CloseSection()) return false;

    raw_section_ = std::string(raw);
    section_ = IniSection{std::string(IniTrim(raw)), line_, {}};
    keys_.clear();
    key_since_header_ = false;
    last_key_.clear();
    return Check(handler_.OpenSection(section_));
  }

  // Hands the section that just ended to the handler.
  bool CloseSection() {
    if (section_.line == 0) return true;  // none open (or only keys before any header)
    IniSection done = std::move(section_);
    section_ = IniSection{};
    return Check(handler_.CloseSection(done));
  }

  bool Handle(std::string_view section, const std::string& key, std::string_view value) {
    if (!error_.empty()) return false;
    if (section != raw_section_) {  // the reader and inih disagree: a bug here, not in the file
      return Fail("internal error: inih reports section [" + std::string(section) +
                  "], the reader [" + raw_section_ + "]");
    }
    IniEntry entry{key, std::string(IniTrim(value)), line_};  // inih trims already; keep our word
    if (section_.line == 0) return Check(handler_.Key(section_, entry));  // before any header
    if (key.empty()) return Fail("missing key name before '='");
    if (!keys_.insert(key).second) {
      return Fail("duplicate key '" + key + "' in [" + section_.name + "]");
    }
    last_key_ = key;
    // "key =;x" gives ";x", but written back as "key = ;x" (as .daqfs/config does) the ';'
    // after a space starts a comment: such a value would not mean the same twice.
    if (!entry.value.empty() && entry.value[0] == ';') {
      return Fail("value of '" + key + "' starts with ';', which reads as a comment after a space");
    }
    if (!Check(handler_.Key(section_, entry))) return false;
    section_.entries.push_back(std::move(entry));
    return true;
  }

  // Records a handler's error; true when there is none.
  bool Check(const IniCheck& check) {
    if (!check) return true;
    if (error_.empty()) {
      error_ = check->line > 0 ? name_ + ":" + std::to_string(check->line) + ": " + check->message
                               : name_ + ": " + check->message;
    }
    return false;
  }

  // Records the first error at the current line ("FILE:LINE: message") and returns false.
  bool Fail(const std::string& message) { return Check(IniError{line_, message}); }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 0;       // the line last handed to inih (1-based)
  std::string name_;   // file name for messages
  std::string error_;  // first error, complete with "FILE:LINE: "
  IniHandler& handler_;

  std::string raw_section_;     // the text between the brackets, as inih passes it
  IniSection section_;          // the open section (line 0: none)
  std::set<std::string> keys_;  // keys seen in the open section
  bool key_since_header_ = false;
  std::string last_key_;
};

}  // namespace

Status ReadIni(std::string_view text, const std::string& file, IniHandler& handler) {
  return Reader(text, file, handler).Run();
}

std::string IniFileName(const std::string& file) { return file.empty() ? "<config>" : file; }

Result<std::string> ReadIniFile(const std::string& path) {
  struct Closer {
    void operator()(FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<FILE, Closer> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Invalid(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[16384];
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, f.get());
    if (n < sizeof buf && std::ferror(f.get())) {
      int err = errno;  // e.g. EISDIR: fopen() opens a directory, fread() fails
      return Invalid(path + ": cannot read: " + std::strerror(err));
    }
    text.append(buf, n);
    if (text.size() > kIniMaxFileBytes) {
      return Invalid(path + ": larger than " + std::to_string(kIniMaxFileBytes) + " bytes");
    }
    if (n < sizeof buf) break;
  }
  return text;
}

std::string FormatIniLine(std::string_view key, std::string_view value) {
  std::string line = std::string(key) + " = " + std::string(value);
  if (line.size() > kIniMaxLineBytes) line = std::string(key) + "=" + std::string(value);
  return line + "\n";
}

std::optional<uint64_t> ParseIniUint(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

std::optional<double> ParseIniSeconds(std::string_view s) {
  if (s.empty() || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return v;
}

std::string FormatIniSeconds(double seconds) {
  char buf[64];
  auto tc = std::to_chars(buf, buf + sizeof buf, seconds);
  return std::string(buf, tc.ptr);
}

std::string BadIniValue(std::string_view key, std::string_view value, std::string_view reason) {
  return "bad value '" + std::string(value) + "' for " + std::string(key) + ": " +
         std::string(reason);
}

}  // namespace daqfs
