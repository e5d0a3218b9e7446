// The one INI reader: inih (as Debian builds it) fed by a reader of our own that counts lines, so
// that every key reaches a schema with its line and every error reads "FILE:LINE: message".
//
// Debian's inih (r55) is built with INI_MAX_LINE 200 (longer lines are cut silently), multi-line
// values on (an indented line after a key continues that key's value), inline comments on (';'
// after whitespace ends a value: "a ;b" gives "a", "a;b" stays "a;b"; '#' is a comment only at
// the start of a line), section names cut at 49 bytes, no handler call for a section header and
// no line number in the handler. ReadIni() does the line-level work before inih sees each line:
// it rejects over-long lines, NUL bytes, indented lines that are not comments (a multi-line value
// or an indented key is an error, not a value with "b = 2" inside), malformed and over-long
// section headers; then per key: an empty key name, a key given twice in one section, and a value
// starting with ';' (written back as "key = ;x" it would read as a comment).
//
// What the text means is left to an IniHandler (a schema: fs/config.cc for [mount], [cache] and
// the keys every [source] shares; each SourceType for its own keys). The reader hands it each
// section as it opens, each key as it is read (with its line), and each section again when it
// ends, with all its keys in file order. The first error ends the reading.
//
// Thread safety: ReadIni is reentrant (no globals); a handler is used by one call at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/status.h"

namespace daqfs {

// Longest line the reader accepts (and FormatIniLine writes): inih's INI_MAX_LINE minus the NUL.
inline constexpr size_t kIniMaxLineBytes = 199;
// Longest section name (the text between the brackets): inih's MAX_SECTION minus the NUL.
inline constexpr size_t kIniMaxSectionBytes = 49;
// Largest file ReadIniFile accepts: a configuration this big is a mistake.
inline constexpr uint64_t kIniMaxFileBytes = 1 << 20;

struct IniEntry {
  std::string key;    // as written (case kept), never empty
  std::string value;  // trimmed, inline comment removed; may be empty
  int line = 0;       // 1-based
};

struct IniSection {
  std::string name;  // the text between the brackets, trimmed; "" for keys before any header
  int line = 0;      // line of the header; 0 for keys before any header
  std::vector<IniEntry> entries;  // filled by the time CloseSection sees the section
};

// An error a handler found, at a line of the file (0: about the whole file, no line shown).
struct IniError {
  int line = 0;
  std::string message;
};
using IniCheck = std::optional<IniError>;  // nullopt: go on

class IniHandler {
 public:
  virtual ~IniHandler() = default;
  // A header was read; `section.entries` is empty.
  virtual IniCheck OpenSection(const IniSection& section) = 0;
  // A key of `section` (the one opened last; name "" and line 0 before any header).
  virtual IniCheck Key(const IniSection& section, const IniEntry& entry) = 0;
  // `section` ended (the next header or the end of the text), with all its keys. Not called for
  // the keys before any header.
  virtual IniCheck CloseSection(const IniSection& section) = 0;
};

// Reads `text`; `file` names it in messages ("" shows as "<config>"). A UTF-8 byte order mark is
// skipped. Errors: Code::kInvalid "FILE:LINE: message" (the reader's own, or the handler's at the
// line it gave; "FILE: message" for line 0); Code::kNoMemory if inih runs out of memory.
Status ReadIni(std::string_view text, const std::string& file, IniHandler& handler);

// The whole of a configuration file. Errors: Code::kInvalid "PATH: cannot read: REASON" (also
// for a folder) or "PATH: larger than 1048576 bytes".
Result<std::string> ReadIniFile(const std::string& path);

// How ReadIni names `file` in messages.
std::string IniFileName(const std::string& file);

// "key = value\n", or "key=value\n" where the spaces would make the line longer than
// kIniMaxLineBytes, so that what a program writes always reads back.
std::string FormatIniLine(std::string_view key, std::string_view value);
// `s` without the whitespace inih strips (its isspace(): space, \t, \r, \n, \v, \f) at both ends.
std::string_view IniTrim(std::string_view s);
// Whether `c` is whitespace as inih counts it.
bool IsIniSpace(char c);

// Value helpers for schemas (no line numbers: the caller reports at the key's line).
// A decimal integer of digits only (no sign, no spaces), at most `max`.
std::optional<uint64_t> ParseIniUint(std::string_view text, uint64_t max);
// Non-negative decimal seconds: "3600", "0.5", ".5", "1e3". No sign, inf or nan.
std::optional<double> ParseIniSeconds(std::string_view text);
// The shortest text that reads back with ParseIniSeconds as the same double ("3600", "0.25").
std::string FormatIniSeconds(double seconds);
// "bad value 'VALUE' for KEY: REASON", the one wording of a rejected value.
std::string BadIniValue(std::string_view key, std::string_view value, std::string_view reason);

}  // namespace daqfs
