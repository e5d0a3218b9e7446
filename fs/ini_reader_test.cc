#include "fs/ini_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

// Records what the reader hands over, as one line of text per call; fails where told to.
class Recorder final : public IniHandler {
 public:
  IniCheck OpenSection(const IniSection& s) override {
    log.push_back("open [" + s.name + "]@" + std::to_string(s.line));
    if (s.name == fail_open) return IniError{s.line, "no such section"};
    return std::nullopt;
  }
  IniCheck Key(const IniSection& s, const IniEntry& e) override {
    log.push_back("key [" + s.name + "] " + e.key + "=" + e.value + "@" + std::to_string(e.line));
    if (e.key == fail_key) return IniError{e.line, "bad key"};
    return std::nullopt;
  }
  IniCheck CloseSection(const IniSection& s) override {
    std::string keys;
    for (const IniEntry& e : s.entries) keys += " " + e.key + "@" + std::to_string(e.line);
    log.push_back("close [" + s.name + "]" + keys);
    if (s.name == fail_close) return IniError{fail_close_line, "incomplete"};
    return std::nullopt;
  }
  std::vector<std::string> log;
  std::string fail_open, fail_key, fail_close;
  int fail_close_line = 0;
};

std::string ErrorOf(std::string_view text, Recorder* r = nullptr) {
  Recorder local;
  Status s = ReadIni(text, "f.ini", r ? *r : local);
  EXPECT_FALSE(s.ok()) << text;
  EXPECT_EQ(s.code(), Code::kInvalid);
  return s.message();
}

TEST(IniReaderTest, HandsSectionsAndKeysWithLines) {
  Recorder r;
  Status s = ReadIni(
      "\xEF\xBB\xBF; c\n[a]\nx = 1\r\n\n  ; indented comment\ny: two words ; note\n[ b c ]\n"
      "z =\n",
      "f.ini", r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.log, (std::vector<std::string>{"open [a]@2", "key [a] x=1@3", "key [a] y=two words@6",
                                             "close [a] x@3 y@6", "open [b c]@7", "key [b c] z=@8",
                                             "close [b c] z@8"}));
}

TEST(IniReaderTest, KeysBeforeAnyHeaderGoToTheHandler) {
  Recorder r;
  ASSERT_TRUE(ReadIni("k = v\n[s]\n", "f.ini", r).ok());
  EXPECT_EQ(r.log, (std::vector<std::string>{"key [] k=v@1", "open [s]@2", "close [s]"}));
}

TEST(IniReaderTest, HandlerErrorsAtTheirLines) {
  Recorder a;
  a.fail_key = "y";
  EXPECT_EQ(ErrorOf("[s]\nx = 1\ny = 2\nz = 3\n", &a), "f.ini:3: bad key");
  Recorder b;
  b.fail_open = "t";
  EXPECT_EQ(ErrorOf("[s]\n[t]\n", &b), "f.ini:2: no such section");
  Recorder c;
  c.fail_close = "s";
  c.fail_close_line = 2;
  EXPECT_EQ(ErrorOf("[s]\nx = 1\n\n", &c), "f.ini:2: incomplete");  // at the end of the text
  c.log.clear();
  EXPECT_EQ(ErrorOf("[s]\nx = 1\n[t]\n", &c), "f.ini:2: incomplete");  // at the next header
  EXPECT_EQ(c.log.back(), "close [s] x@2");                            // [t] never opened
  Recorder d;
  d.fail_close = "s";  // line 0: about the whole file
  EXPECT_EQ(ErrorOf("[s]\n", &d), "f.ini: incomplete");
}

TEST(IniReaderTest, ReaderErrors) {
  EXPECT_EQ(ErrorOf("[s]\n" + std::string(200, 'k') + "\n"), "f.ini:2: line longer than 199 bytes");
  EXPECT_EQ(ErrorOf("[s]\nk = v\n  more\n"),
            "f.ini:3: indented line continues the value of 'k' (multi-line values are not "
            "supported); remove the indentation");
  EXPECT_EQ(ErrorOf(std::string("[s]\nk = a\0b\n", 12)), "f.ini:2: NUL byte in line");
  EXPECT_EQ(ErrorOf("[s]\nk = 1\nk = 2\n"), "f.ini:3: duplicate key 'k' in [s]");
  EXPECT_EQ(ErrorOf("[s]\n= 4\n"), "f.ini:2: missing key name before '='");
  EXPECT_EQ(ErrorOf("[s]\nk =;x\n"),
            "f.ini:2: value of 'k' starts with ';', which reads as a comment after a space");
  EXPECT_EQ(ErrorOf("[s\n"), "f.ini:1: missing ']' in section header '[s'");
  EXPECT_EQ(ErrorOf("[s] x\n"), "f.ini:1: unexpected text after ']': 'x'");
  EXPECT_EQ(ErrorOf("[" + std::string(50, 's') + "]\n"),
            "f.ini:1: section name longer than 49 bytes");
  EXPECT_EQ(ErrorOf("[s]\njunk\n"),
            "f.ini:2: expected '[section]', 'key = value' or a comment, got 'junk'");
  // The same key in two sections is fine; an unnamed file shows as <config>.
  Recorder r;
  EXPECT_TRUE(ReadIni("[a]\nk = 1\n[b]\nk = 2\n", "f.ini", r).ok());
  Status s = ReadIni("[a]\nk = 1\nk = 1\n", "", r);
  EXPECT_EQ(s.message(), "<config>:3: duplicate key 'k' in [a]");
}

TEST(IniReaderTest, FormatIniLineReadsBack) {
  EXPECT_EQ(FormatIniLine("k", "v"), "k = v\n");
  std::string v(199 - 4, 'v');  // "k = " + v is 199 bytes: still spaced
  EXPECT_EQ(FormatIniLine("k", v), "k = " + v + "\n");
  std::string w(199 - 2, 'w');  // spaced it would be 200 bytes
  EXPECT_EQ(FormatIniLine("k", w), "k=" + w + "\n");
  Recorder r;
  ASSERT_TRUE(ReadIni("[s]\n" + FormatIniLine("k", w), "f.ini", r).ok());
  EXPECT_EQ(r.log[1], "key [s] k=" + w + "@2");
}

TEST(IniReaderTest, ValueHelpers) {
  EXPECT_EQ(ParseIniUint("42", 100), 42u);
  EXPECT_EQ(ParseIniUint("101", 100), std::nullopt);
  for (const char* bad : {"", "-1", "+1", " 1", "1x", "0x1"}) {
    EXPECT_EQ(ParseIniUint(bad, 100), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseIniSeconds(".5"), 0.5);
  EXPECT_EQ(ParseIniSeconds("1e3"), 1000);
  for (const char* bad : {"", "-1", "inf", "nan", "1s", "+1"}) {
    EXPECT_EQ(ParseIniSeconds(bad), std::nullopt) << bad;
  }
  for (double d : {0.0, 1.0 / 3.0, 1e-7, 1e20, 3600.0}) {
    EXPECT_EQ(ParseIniSeconds(FormatIniSeconds(d)), d);
  }
  EXPECT_EQ(BadIniValue("k", "v", "why"), "bad value 'v' for k: why");
}

}  // namespace
}  // namespace daqfs
