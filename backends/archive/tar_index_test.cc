// Tests for the tar header parser: archives written by GNU tar and bsdtar in every format they
// offer (checked member by member against the files they were made from, data located through
// data_offset), hand-built damaged and hostile archives, and NormalizeMemberPath.
#include "backends/archive/tar_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

#include "tests/testing/files.h"

namespace daqfs {
namespace {

namespace stdfs = std::filesystem;
using Kind = TarMember::Kind;

// ---- helpers ----

using testing::HaveTool;
using testing::ShellQuote;
using testing::Slurp;
using testing::TempDir;
using testing::WriteFile;

// The archive bytes plus a reader over them that counts its calls.
struct MemArchive {
  explicit MemArchive(std::string b) : bytes(std::move(b)) {}
  std::string bytes;
  int reads = 0;
  TarReadFn Reader() {
    return [this](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
      ++reads;
      if (off >= bytes.size()) return size_t{0};
      const size_t n = std::min<uint64_t>(out.size(), bytes.size() - off);
      std::memcpy(out.data(), bytes.data() + off, n);
      return n;
    };
  }
};

// Indexes `bytes`, claiming `size` bytes (default: the real size).
TarIndex IndexBytes(const std::string& bytes, std::optional<uint64_t> size = std::nullopt,
                    const std::string& name = "test.tar") {
  MemArchive mem(bytes);
  Result<TarIndex> r = IndexTar(mem.Reader(), size.value_or(bytes.size()), name);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : TarIndex{};
}

std::string Paths(const TarIndex& index) {
  std::string out;
  for (const TarMember& m : index.members) out += m.path + ";";
  return out;
}

// ---- hand-built archives ----

// A header to build; chained setters, because g++ 12 warns on partial designated initializers.
struct Hdr {
  explicit Hdr(std::string n) : name(std::move(n)) {}
  Hdr& Type(char v) { return Set(type, v); }
  Hdr& Size(uint64_t v) { return Set(size, v); }
  Hdr& Link(std::string v) { return Set(link, std::move(v)); }
  Hdr& Mode(uint32_t v) { return Set(mode, v); }
  Hdr& Uid(uint32_t v) { return Set(uid, v); }
  Hdr& Gid(uint32_t v) { return Set(gid, v); }
  Hdr& Mtime(uint64_t v) { return Set(mtime, v); }
  Hdr& Prefix(std::string v) { return Set(prefix, std::move(v)); }
  Hdr& GnuMagic() { return Set(gnu_magic, true); }
  template <typename T, typename V>
  Hdr& Set(T& field, V v) {
    field = std::move(v);
    return *this;
  }

  std::string name;
  char type = '0';
  uint64_t size = 0;
  std::string link;
  uint32_t mode = 0644;
  uint32_t uid = 1000;
  uint32_t gid = 100;
  uint64_t mtime = 1700000000;
  std::string prefix;
  bool gnu_magic = false;
};

// Writes `v` as zero-padded octal with a NUL terminator into a field of `len` bytes.
void Octal(std::string* b, size_t off, size_t len, uint64_t v) {
  for (size_t i = len - 1; i-- > 0; v >>= 3) (*b)[off + i] = static_cast<char>('0' + (v & 7));
  (*b)[off + len - 1] = '\0';
}

// Recomputes the checksum field of the header block at `off` after it was edited.
void FixChecksum(std::string* b, size_t off = 0) {
  char* h = b->data() + off;
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<uint8_t>(h[i]);
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
}

std::string Header(const Hdr& h) {
  std::string b(512, '\0');
  std::memcpy(&b[0], h.name.data(), std::min<size_t>(h.name.size(), 100));
  Octal(&b, 100, 8, h.mode);
  Octal(&b, 108, 8, h.uid);
  Octal(&b, 116, 8, h.gid);
  Octal(&b, 124, 12, h.size);
  Octal(&b, 136, 12, h.mtime);
  b[156] = h.type;
  std::memcpy(&b[157], h.link.data(), std::min<size_t>(h.link.size(), 100));
  std::memcpy(&b[257], h.gnu_magic ? "ustar  \0" : "ustar\00000", 8);
  std::memcpy(&b[345], h.prefix.data(), std::min<size_t>(h.prefix.size(), 155));
  FixChecksum(&b);
  return b;
}

std::string Pad(std::string data) {
  data.resize((data.size() + 511) / 512 * 512, '\0');
  return data;
}

std::string File(const std::string& name, const std::string& data) {
  return Header(Hdr(name).Size(data.size())) + Pad(data);
}

std::string PaxRecord(const std::string& key, const std::string& value) {
  const std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

std::string Extended(const std::string& payload, char type = 'x') {
  return Header(Hdr("PaxHeader").Type(type).Size(payload.size())) + Pad(payload);
}

const std::string kEnd(1024, '\0');

// ---- archives written by real tools ----

struct Entry {
  std::string path;
  Kind kind;
  std::string content;  // file data, or link target
  uint32_t mode;
  int level;  // 0: fits v7 (< 100 bytes); 1: needs the ustar prefix; 2: needs long names
};

struct Tool {
  const char* label;
  const char* program;
  std::string args;  // format and ownership
  int max_level;
  bool nanos;  // mtime keeps nanoseconds
  uint32_t uid, gid;
};

std::string Repeat(char c, int n) { return std::string(n, c); }

std::vector<Entry> SourceEntries() {
  const std::string mid = "mid/" + Repeat('m', 60);
  const std::string deep = "long/" + Repeat('a', 90) + "/" + Repeat('b', 90);
  std::vector<Entry> e = {
      {"dir", Kind::kDirectory, "", 0755, 0},
      {"dir/sub", Kind::kDirectory, "", 0700, 0},
      {"dir/sub/nested.txt", Kind::kFile, "nested\n", 0640, 0},
      {"empty", Kind::kFile, "", 0600, 0},
      {"data.bin", Kind::kFile, "", 04755, 0},
      {"data_hard.bin", Kind::kHardLink, "data.bin", 04755, 0},
      {"link", Kind::kSymlink, "dir/sub/nested.txt", 0777, 0},
      {"donn\xc3\xa9"
       "es_\xc3\xa9.txt",
       Kind::kFile, "accents\n", 0644, 0},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt", Kind::kFile, "nihongo\n", 0644, 0},
      {"mid", Kind::kDirectory, "", 0755, 1},
      {mid, Kind::kDirectory, "", 0755, 1},
      {mid + "/" + Repeat('n', 80) + ".txt", Kind::kFile, "middle length\n", 0644, 1},
      {"long", Kind::kDirectory, "", 0755, 2},
      {"long/" + Repeat('a', 90), Kind::kDirectory, "", 0755, 2},
      {deep, Kind::kDirectory, "", 0755, 2},
      {deep + "/" + Repeat('c', 120) + ".txt", Kind::kFile, "deep\n", 0644, 2},
      {"longlink", Kind::kSymlink, Repeat('t', 150), 0777, 2},
  };
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) e[4].content += static_cast<char>(rng());
  return e;
}

// Writes the entries under `root` with fixed modes and mtimes (nanoseconds included).
void BuildTree(const std::string& root, const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    const std::string p = root + "/" + e.path;
    switch (e.kind) {
      case Kind::kDirectory:
        stdfs::create_directory(p);
        break;
      case Kind::kFile:
        WriteFile(p, e.content);
        break;
      case Kind::kSymlink:
        stdfs::create_symlink(e.content, p);
        break;
      case Kind::kHardLink:
        stdfs::create_hard_link(root + "/" + e.content, p);
        break;
    }
    if (e.kind != Kind::kSymlink) {
      ASSERT_EQ(::chmod(p.c_str(), e.mode), 0) << p;
    }
  }
  // Children first, so that setting a directory's time is not undone by creating its children.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const timespec times[2] = {{1600000000, 0}, {1600000000, 123456789}};
    const std::string p = root + "/" + it->path;
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
  }
}

class RealTarTest : public ::testing::TestWithParam<Tool> {};

TEST_P(RealTarTest, MembersMatchSource) {
  const Tool& tool = GetParam();
  if (!HaveTool(tool.program)) GTEST_SKIP() << tool.program << " not installed";
  TempDir tmp;
  const std::string src = tmp.path() + "/src";
  stdfs::create_directory(src);
  std::vector<Entry> entries;
  for (Entry& e : SourceEntries()) {
    if (e.level <= tool.max_level) entries.push_back(std::move(e));
  }
  BuildTree(src, entries);
  const std::string archive = tmp.path() + "/a.tar";
  std::string cmd = std::string(tool.program) + " " + tool.args + " -C " + ShellQuote(src) +
                    " -cf " + ShellQuote(archive);
  cmd += std::string(tool.program) == "tar" ? " --no-recursion" : " -n";
  for (const Entry& e : entries) cmd += " " + ShellQuote(e.path);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const std::string bytes = Slurp(archive);
  const TarIndex index = IndexBytes(bytes, bytes.size(), archive);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  EXPECT_TRUE(index.warnings.empty()) << index.warnings.front();
  ASSERT_EQ(index.members.size(), entries.size()) << Paths(index);
  EXPECT_LE(index.end_offset, bytes.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const TarMember& m = index.members[i];
    SCOPED_TRACE(e.path);
    EXPECT_EQ(m.path, e.path);
    EXPECT_EQ(m.kind, e.kind);
    struct stat st {};
    ASSERT_EQ(::lstat((src + "/" + e.path).c_str(), &st), 0);
    EXPECT_EQ(m.mode, st.st_mode & 07777);
    EXPECT_EQ(m.uid, tool.uid);
    EXPECT_EQ(m.gid, tool.gid);
    EXPECT_EQ(m.mtime.tv_sec, 1600000000);
    EXPECT_EQ(m.mtime.tv_nsec, tool.nanos ? 123456789 : 0);
    EXPECT_LE(m.header_offset + 512, m.data_offset);
    if (i > 0) {
      EXPECT_GT(m.header_offset, index.members[i - 1].header_offset);
    }
    if (e.kind == Kind::kFile) {
      EXPECT_EQ(m.size, e.content.size());
      ASSERT_LE(m.data_offset + m.size, bytes.size());
      EXPECT_EQ(bytes.substr(m.data_offset, m.size), Slurp(src + "/" + e.path));
      EXPECT_TRUE(m.link_target.empty());
    } else {
      EXPECT_EQ(m.size, 0u);
      EXPECT_EQ(m.link_target, e.content);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, RealTarTest,
    ::testing::Values(Tool{"gnu_tar_gnu", "tar",
                           "--format=gnu --numeric-owner --owner=u:3000000 --group=g:4000000", 2,
                           false, 3000000, 4000000},
                      Tool{"gnu_tar_pax", "tar",
                           "--format=pax --numeric-owner --owner=u:3000000 --group=g:4000000", 2,
                           true, 3000000, 4000000},
                      Tool{"gnu_tar_ustar", "tar",
                           "--format=ustar --numeric-owner --owner=u:1234 --group=g:5678", 1, false,
                           1234, 5678},
                      Tool{"gnu_tar_v7", "tar",
                           "--format=v7 --numeric-owner --owner=u:1234 --group=g:5678", 0, false,
                           1234, 5678},
                      Tool{"bsdtar_ustar", "bsdtar", "--format=ustar --uid 1234 --gid 5678", 1,
                           false, 1234, 5678},
                      Tool{"bsdtar_pax", "bsdtar", "--format=pax --uid 3000000 --gid 4000000", 2,
                           true, 3000000, 4000000},
                      Tool{"bsdtar_gnutar", "bsdtar", "--format=gnutar --uid 3000000 --gid 4000000",
                           2, false, 3000000, 4000000}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(TarIndexRealTest, ArchiveOfDotSkipsRootSilently) {
  TempDir tmp;
  const std::string src = tmp.path() + "/src";
  stdfs::create_directories(src + "/d");
  WriteFile(src + "/d/f", "x");
  const std::string archive = tmp.path() + "/dot.tar";
  ASSERT_EQ(std::system(("tar --format=gnu -C " + src + " -cf " + archive + " .").c_str()), 0);
  const TarIndex index = IndexBytes(Slurp(archive));
  EXPECT_TRUE(index.damage.ok());
  EXPECT_TRUE(index.warnings.empty());
  ASSERT_EQ(index.members.size(), 2u) << Paths(index);
  EXPECT_EQ(index.members[0].path, "d");
  EXPECT_EQ(index.members[1].path, "d/f");
}

TEST(TarIndexRealTest, PaxXattrs) {
  if (!HaveTool("setfattr")) GTEST_SKIP() << "setfattr not installed";
  TempDir tmp;
  const std::string src = tmp.path() + "/src";
  stdfs::create_directory(src);
  WriteFile(src + "/f", "content");
  if (std::system(("setfattr -n user.test -v hello " + src + "/f").c_str()) != 0) {
    GTEST_SKIP() << "user xattrs not supported on /tmp";
  }
  for (const char* tool : {"tar --format=pax --xattrs", "bsdtar --format=pax"}) {
    SCOPED_TRACE(tool);
    if (std::string(tool).starts_with("bsdtar") && !HaveTool("bsdtar")) continue;
    const std::string archive = tmp.path() + "/x.tar";
    const std::string cmd = std::string(tool) + " -C " + src + " -cf " + archive + " f";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const std::string bytes = Slurp(archive);
    const TarIndex index = IndexBytes(bytes);
    ASSERT_EQ(index.members.size(), 1u);
    const TarMember& m = index.members[0];
    const std::pair<std::string, std::string> want("user.test", "hello");
    EXPECT_NE(std::find(m.xattrs.begin(), m.xattrs.end(), want), m.xattrs.end());
    EXPECT_EQ(bytes.substr(m.data_offset, m.size), "content");
  }
}

TEST(TarIndexRealTest, TenThousandMembers) {
  TempDir tmp;
  const std::string src = tmp.path() + "/src";
  stdfs::create_directory(src);
  constexpr int kCount = 10000;
  char name[32];
  for (int i = 0; i < kCount; ++i) {
    std::snprintf(name, sizeof(name), "f%05d", i);
    WriteFile(src + "/" + name, std::string(i % 700, 'a' + i % 26));
  }
  const std::string archive = tmp.path() + "/many.tar";
  ASSERT_EQ(
      std::system(("cd " + src + " && ls | tar --format=gnu -cf " + archive + " -T -").c_str()), 0);
  MemArchive mem(Slurp(archive));
  Result<TarIndex> r = IndexTar(mem.Reader(), mem.bytes.size(), "many.tar");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->damage.ok()) << r->damage.ToString();
  ASSERT_EQ(r->members.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    std::snprintf(name, sizeof(name), "f%05d", i);
    const TarMember& m = r->members[i];
    ASSERT_EQ(m.path, name);
    ASSERT_EQ(m.size, static_cast<uint64_t>(i % 700));
    ASSERT_EQ(mem.bytes.substr(m.data_offset, m.size), std::string(i % 700, 'a' + i % 26));
  }
  // Headers come through the window: about one read per 64 KiB, not one per member.
  EXPECT_LT(mem.reads, static_cast<int>(mem.bytes.size() / 65536 + 10));
}

// ---- hand-built archives: formats ----

TEST(TarIndexTest, EmptyArchive) {
  const TarIndex index = IndexBytes("");
  EXPECT_TRUE(index.members.empty());
  EXPECT_TRUE(index.damage.ok());
  EXPECT_EQ(index.end_offset, 0u);
}

TEST(TarIndexTest, AllZeroArchive) {
  const TarIndex index = IndexBytes(std::string(10240, '\0'));
  EXPECT_TRUE(index.members.empty());
  EXPECT_TRUE(index.damage.ok());
  EXPECT_TRUE(index.warnings.empty());
  EXPECT_EQ(index.end_offset, 1024u);
}

TEST(TarIndexTest, EndVariantsAreNotDamage) {
  const std::string member = File("a", "hello");
  for (const std::string& tail : {std::string(), std::string(512, '\0'), kEnd}) {
    const TarIndex index = IndexBytes(member + tail);
    EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
    ASSERT_EQ(index.members.size(), 1u);
    EXPECT_EQ(index.end_offset, member.size() + tail.size());
  }
}

TEST(TarIndexTest, LoneZeroBlockStopsWithWarning) {
  const TarIndex index =
      IndexBytes(File("a", "x") + std::string(512, '\0') + File("b", "y") + kEnd);
  EXPECT_TRUE(index.damage.ok());
  EXPECT_EQ(Paths(index), "a;");
  ASSERT_EQ(index.warnings.size(), 1u);
  EXPECT_NE(index.warnings[0].find("lone zero block at offset 1024"), std::string::npos);
}

TEST(TarIndexTest, UstarPrefixOnlyWithPosixMagic) {
  const std::string posix = Header(Hdr("name.txt").Prefix("pre/fix"));
  // GNU headers keep atime/ctime where ustar has the prefix: those bytes are not a path.
  const std::string gnu = Header(Hdr("gnu.txt").Prefix("junk").GnuMagic());
  const TarIndex index = IndexBytes(posix + gnu + kEnd);
  EXPECT_EQ(Paths(index), "pre/fix/name.txt;gnu.txt;");
}

TEST(TarIndexTest, HeaderFieldsAndKinds) {
  const std::string a =
      Header(Hdr("./x//y/./f.txt").Size(3).Mode(0107644).Uid(7).Gid(8).Mtime(0123)) + Pad("abc");
  const std::string d = Header(Hdr("dir/").Type('5').Size(1024).Mode(0755));
  const std::string v7dir = Header(Hdr("olddir/").Type('\0'));
  const std::string s = Header(Hdr("sym").Type('2').Link("../../anywhere"));
  const std::string h = Header(Hdr("hard").Type('1').Link("./x/y/f.txt"));
  const std::string c = Header(Hdr("contig").Type('7').Size(1)) + Pad("z");
  const TarIndex index = IndexBytes(a + d + v7dir + s + h + c + kEnd);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(Paths(index), "x/y/f.txt;dir;olddir;sym;hard;contig;");
  const TarMember& f = index.members[0];
  EXPECT_EQ(f.kind, Kind::kFile);
  EXPECT_EQ(f.mode, 07644u);
  EXPECT_EQ(f.uid, 7u);
  EXPECT_EQ(f.gid, 8u);
  EXPECT_EQ(f.mtime.tv_sec, 0123);
  EXPECT_EQ(f.header_offset, 0u);
  EXPECT_EQ(f.data_offset, 512u);
  EXPECT_EQ(f.size, 3u);
  // Directories never have data blocks, whatever the size field says.
  EXPECT_EQ(index.members[1].kind, Kind::kDirectory);
  EXPECT_EQ(index.members[1].size, 0u);
  EXPECT_EQ(index.members[2].kind, Kind::kDirectory);
  EXPECT_EQ(index.members[3].kind, Kind::kSymlink);
  EXPECT_EQ(index.members[3].link_target, "../../anywhere");  // symlinks are stored as written
  EXPECT_EQ(index.members[4].kind, Kind::kHardLink);
  EXPECT_EQ(index.members[4].link_target, "x/y/f.txt");
  EXPECT_EQ(index.members[5].kind, Kind::kFile);
  EXPECT_EQ(index.members[5].data_offset, 3584u);
}

TEST(TarIndexTest, SignedChecksumAccepted) {
  std::string b = Header(Hdr("caf\xe9\xff"));
  std::memset(&b[148], ' ', 8);
  int sum = 0;
  for (char c : b) sum += static_cast<signed char>(c);
  std::snprintf(&b[148], 8, "%06o", sum);
  const TarIndex index = IndexBytes(b + kEnd);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  EXPECT_EQ(index.members.size(), 1u);
}

TEST(TarIndexTest, GnuLongNameAndLinkSpanningBlocks) {
  const std::string name = Repeat('n', 700) + "/file";
  const std::string target = Repeat('t', 600);
  const std::string archive = Header(Hdr("././@LongLink").Type('L').Size(name.size() + 1)) +
                              Pad(name + '\0') + Header(Hdr("short-name").Size(2)) + Pad("ok") +
                              Header(Hdr("././@LongLink").Type('K').Size(target.size() + 3)) +
                              Pad(target + std::string(3, '\0')) +
                              Header(Hdr("sym").Type('2').Link("short")) + kEnd;
  const TarIndex index = IndexBytes(archive);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(index.members.size(), 2u);
  EXPECT_EQ(index.members[0].path, name);
  EXPECT_EQ(index.members[0].header_offset, 0u);
  EXPECT_EQ(index.members[0].data_offset, 512u * 4);  // L header, two name blocks, header
  EXPECT_EQ(archive.substr(index.members[0].data_offset, 2), "ok");
  EXPECT_EQ(index.members[1].link_target, target);
  EXPECT_EQ(index.members[1].header_offset, 512u * 5);
}

TEST(TarIndexTest, Base256Fields) {
  std::string b = Header(Hdr("big"));
  std::string size(12, '\0');
  size[0] = '\x80';
  size[11] = 5;
  b.replace(124, 12, size);
  const std::string uid = std::string("\x80\0\0\0\0\x2d\xc6\xc0", 8);  // 3000000
  b.replace(108, 8, uid);
  std::string mtime(12, '\xff');  // -1: before the epoch
  b.replace(136, 12, mtime);
  FixChecksum(&b);
  const TarIndex index = IndexBytes(b + Pad("hello") + File("next", "") + kEnd);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(index.members.size(), 2u);
  EXPECT_EQ(index.members[0].size, 5u);
  EXPECT_EQ(index.members[0].uid, 3000000u);
  EXPECT_EQ(index.members[0].mtime.tv_sec, -1);
  EXPECT_EQ(index.members[1].path, "next");
}

TEST(TarIndexTest, PaxOverridesHeaderAndLongName) {
  const std::string records = PaxRecord("path", "pax/path.txt") + PaxRecord("size", "5") +
                              PaxRecord("uid", "4000000000") + PaxRecord("gid", "3") +
                              PaxRecord("mtime", "-1.25") + PaxRecord("linkpath", "ignored") +
                              PaxRecord("SCHILY.xattr.user.bin", std::string("a\0\nb", 4)) +
                              PaxRecord("atime", "1") + PaxRecord("comment", "x y=z");
  const std::string archive = Header(Hdr("././@LongLink").Type('L').Size(9)) + Pad("longname") +
                              Extended(records) + Header(Hdr("header-name").Size(0)) +
                              Pad("12345") + kEnd;
  const TarIndex index = IndexBytes(archive);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(index.members.size(), 1u);
  const TarMember& m = index.members[0];
  EXPECT_EQ(m.path, "pax/path.txt");
  EXPECT_EQ(m.size, 5u);
  EXPECT_EQ(m.uid, 4000000000u);
  EXPECT_EQ(m.gid, 3u);
  EXPECT_EQ(m.mtime.tv_sec, -2);
  EXPECT_EQ(m.mtime.tv_nsec, 750000000);
  EXPECT_TRUE(m.link_target.empty());
  EXPECT_EQ(m.header_offset, 0u);
  EXPECT_EQ(archive.substr(m.data_offset, m.size), "12345");
  ASSERT_EQ(m.xattrs.size(), 1u);
  EXPECT_EQ(m.xattrs[0].first, "user.bin");
  EXPECT_EQ(m.xattrs[0].second, std::string("a\0\nb", 4));
}

TEST(TarIndexTest, PaxMtimeFractions) {
  const std::vector<std::pair<std::string, timespec>> cases = {
      {"12", {12, 0}}, {"12.5", {12, 500000000}},         {"12.0000000019", {12, 1}},
      {"-3", {-3, 0}}, {"-0.000000001", {-1, 999999999}}, {"7.", {7, 0}}};
  std::string archive;
  for (const auto& [text, want] : cases) {
    archive += Extended(PaxRecord("mtime", text)) + File("f", "");
  }
  const TarIndex index = IndexBytes(archive + kEnd);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(index.members.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(index.members[i].mtime.tv_sec, cases[i].second.tv_sec) << cases[i].first;
    EXPECT_EQ(index.members[i].mtime.tv_nsec, cases[i].second.tv_nsec) << cases[i].first;
  }
}

TEST(TarIndexTest, PaxGlobalAppliesUntilOverridden) {
  const std::string archive =
      Extended(PaxRecord("uid", "77") + PaxRecord("SCHILY.xattr.user.g", "global"), 'g') +
      File("a", "") + Extended(PaxRecord("uid", "88") + PaxRecord("SCHILY.xattr.user.g", "local")) +
      File("b", "") + File("c", "") + Extended(PaxRecord("uid", "")) + File("d", "") +
      Extended(PaxRecord("uid", ""), 'g') + File("e", "") + kEnd;
  const TarIndex index = IndexBytes(archive);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(Paths(index), "a;b;c;d;e;");
  EXPECT_EQ(index.members[0].uid, 77u);
  EXPECT_EQ(index.members[0].header_offset, 1024u);  // a global header is nobody's first header
  EXPECT_EQ(index.members[1].uid, 88u);
  ASSERT_EQ(index.members[1].xattrs.size(), 1u);
  EXPECT_EQ(index.members[1].xattrs[0].second, "local");
  EXPECT_EQ(index.members[2].uid, 77u);
  EXPECT_EQ(index.members[2].xattrs[0].second, "global");
  EXPECT_EQ(index.members[3].uid, 1000u);  // "uid=" reverts to the header for one member
  EXPECT_EQ(index.members[4].uid, 1000u);
}

TEST(TarIndexTest, UnsupportedTypesSkippedWithWarning) {
  // Old GNU sparse: one extension block of sparse map between header and data.
  std::string sparse = Header(Hdr("sparse.img").Type('S').Size(600));
  sparse[482] = 1;
  FixChecksum(&sparse);
  std::string ext(512, '\0');
  ext[504] = 0;
  const std::string archive =
      sparse + ext + Pad(std::string(600, 's')) + Header(Hdr("fifo").Type('6')) +
      Header(Hdr("chr").Type('3')) +
      Extended(PaxRecord("GNU.sparse.major", "1") + PaxRecord("GNU.sparse.name", "pax-sparse")) +
      File("GNUSparseFile.0/pax-sparse", "map") + File("after", "ok") + kEnd;
  const TarIndex index = IndexBytes(archive);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  ASSERT_EQ(Paths(index), "after;");
  EXPECT_EQ(archive.substr(index.members[0].data_offset, 2), "ok");
  ASSERT_EQ(index.warnings.size(), 4u);
  EXPECT_NE(index.warnings[0].find("'sparse.img' at offset 0"), std::string::npos)
      << index.warnings[0];
  EXPECT_NE(index.warnings[1].find("'fifo' at offset 2048"), std::string::npos);
  EXPECT_NE(index.warnings[2].find("chr"), std::string::npos);
  EXPECT_NE(index.warnings[3].find("pax-sparse"), std::string::npos);
}

// ---- hostile and damaged archives ----

TEST(TarIndexTest, HostileMembersSkipped) {
  const std::string archive =
      File("../evil", "e") + File("/etc/passwd", "p") + File("a/../../b", "b") +
      File("ok/./../x", "x") + Header(Hdr("hl").Type('1').Link("../../etc/shadow")) +
      Header(Hdr("hl2").Type('1').Link("/etc/shadow")) + File("fine", "f") + kEnd;
  const TarIndex index = IndexBytes(archive);
  EXPECT_TRUE(index.damage.ok());
  ASSERT_EQ(Paths(index), "fine;");
  ASSERT_EQ(index.warnings.size(), 6u);
  for (const std::string& w : index.warnings) {
    EXPECT_TRUE(w.find("hostile") != std::string::npos || w.find("escapes") != std::string::npos)
        << w;
    EXPECT_NE(w.find("offset"), std::string::npos) << w;
  }
  EXPECT_NE(index.warnings[0].find("'../evil' at offset 0"), std::string::npos);
  EXPECT_NE(index.warnings[1].find("'/etc/passwd' at offset 1024"), std::string::npos);
}

TEST(TarIndexTest, ControlCharactersInWarningsEscaped) {
  const TarIndex index = IndexBytes(File("/a\nb", "") + kEnd);
  ASSERT_EQ(index.warnings.size(), 1u);
  EXPECT_EQ(index.warnings[0].find('\n'), std::string::npos);
  EXPECT_NE(index.warnings[0].find("\\x0a"), std::string::npos);
}

TEST(TarIndexTest, BadChecksumKeepsEarlierMembers) {
  std::string bad = Header(Hdr("b").Size(1));
  bad[0] = 'c';  // checksum now wrong
  const TarIndex index =
      IndexBytes(File("a", "hello") + bad + Pad("x") + kEnd, std::nullopt, "archive.tar");
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  EXPECT_EQ(index.damage.message(), "archive.tar: bad header checksum at offset 1024");
  EXPECT_EQ(index.end_offset, 1024u);
}

TEST(TarIndexTest, TruncatedInHeader) {
  const std::string archive = File("a", "hello") + Header(Hdr("b")).substr(0, 100);
  const TarIndex index = IndexBytes(archive);
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  EXPECT_NE(index.damage.message().find("truncated"), std::string::npos);
  EXPECT_NE(index.damage.message().find("offset 1024"), std::string::npos);
}

TEST(TarIndexTest, TruncatedInData) {
  const std::string archive =
      File("a", "hello") + Header(Hdr("b").Size(10000)) + std::string(600, 'x');
  const TarIndex index = IndexBytes(archive);
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  EXPECT_NE(index.damage.message().find("truncated"), std::string::npos);
  EXPECT_NE(index.damage.message().find("'b'"), std::string::npos);
}

TEST(TarIndexTest, TruncatedInPaddingKeepsMember) {
  const std::string archive = Header(Hdr("a").Size(5)) + "hello";
  const TarIndex index = IndexBytes(archive);
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
}

TEST(TarIndexTest, TruncatedAfterExtendedHeader) {
  const TarIndex index = IndexBytes(File("a", "") + Extended(PaxRecord("path", "b")));
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  EXPECT_EQ(index.end_offset, 512u);  // the dangling extended header is not counted
}

TEST(TarIndexTest, MalformedPaxRecords) {
  const std::vector<std::string> payloads = {
      "0 path=x\n",
      "99999999999999999999999999 path=x\n",
      "abc path=x\n",
      "5 path=x\n",
      "10 pathxy\n",
      "9 path=x",
      "10 path=xy",
      "8 =value\n",
      "11path=abc\n",
      PaxRecord("path", "ok") + "garbage",
      PaxRecord("size", "12a"),
      PaxRecord("size", "99999999999999999999999"),
      PaxRecord("uid", "4294967296"),
      PaxRecord("mtime", "1.2.3"),
      PaxRecord("mtime", "--1"),
  };
  for (const std::string& payload : payloads) {
    SCOPED_TRACE(payload);
    const TarIndex index =
        IndexBytes(File("first", "1") + Extended(payload) + File("second", "2") + kEnd);
    EXPECT_EQ(Paths(index), "first;");
    EXPECT_EQ(index.damage.code(), Code::kCorrupt);
    EXPECT_NE(index.damage.message().find("pax"), std::string::npos) << index.damage.message();
    EXPECT_NE(index.damage.message().find("offset 1024"), std::string::npos);
  }
  // Also in a global header.
  const TarIndex global = IndexBytes(Extended("abc path=x\n", 'g') + File("a", "") + kEnd);
  EXPECT_EQ(global.damage.code(), Code::kCorrupt);
  EXPECT_TRUE(global.members.empty());
}

TEST(TarIndexTest, PaxTrailingNulPaddingTolerated) {
  const TarIndex index =
      IndexBytes(Extended(PaxRecord("path", "p") + std::string(20, '\0')) + File("x", "") + kEnd);
  EXPECT_TRUE(index.damage.ok()) << index.damage.ToString();
  EXPECT_EQ(Paths(index), "p;");
}

TEST(TarIndexTest, Base256OverflowAndNegativeSizes) {
  const std::vector<std::string> sizes = {
      std::string("\x80") + std::string(11, '\xff'),    // far beyond 64 bits
      std::string("\x80\0\0\0\x80\0\0\0\0\0\0\0", 12),  // 2^63: beyond int64
      std::string(12, '\xff'),                          // -1
      std::string("12345678901x"),                      // not octal
  };
  for (const std::string& size : sizes) {
    std::string b = Header(Hdr("b"));
    b.replace(124, 12, size);
    FixChecksum(&b);
    const TarIndex index = IndexBytes(File("a", "") + b + kEnd);
    EXPECT_EQ(Paths(index), "a;");
    EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  }
  // A representable but huge size must not overflow offsets.
  std::string b = Header(Hdr("b"));
  b.replace(124, 12, std::string("\x80\0\0\0\x7f\xff\xff\xff\xff\xff\xff\xff", 12));
  FixChecksum(&b);
  for (uint64_t size : {uint64_t{2048}, std::numeric_limits<uint64_t>::max() - 1}) {
    const TarIndex index = IndexBytes(b + kEnd, size);
    EXPECT_TRUE(index.members.empty());
    EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  }
}

TEST(TarIndexTest, UidOutOfRangeIsDamage) {
  std::string b = Header(Hdr("b"));
  b.replace(108, 8, std::string("\x80\0\0\x01\0\0\0\0", 8));  // 2^32
  FixChecksum(&b);
  const TarIndex index = IndexBytes(b + kEnd);
  EXPECT_TRUE(index.members.empty());
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
}

TEST(TarIndexTest, EnormousLongName) {
  const std::string l = Header(Hdr("././@LongLink").Type('L').Size(077777777777)) + Pad("name");
  // Past the end of a small archive; and within a (claimed) huge one, too big to buffer.
  for (uint64_t size : {uint64_t{0}, std::numeric_limits<uint64_t>::max()}) {
    const std::string bytes = File("a", "") + l + kEnd;
    const TarIndex index = IndexBytes(bytes, size == 0 ? bytes.size() : size);
    EXPECT_NE(index.damage.message().find(size == 0 ? "past the end" : "oversized"),
              std::string::npos)
        << index.damage.message();
    EXPECT_EQ(Paths(index), "a;");
    EXPECT_EQ(index.damage.code(), Code::kCorrupt);
    EXPECT_NE(index.damage.message().find("offset 512"), std::string::npos);
  }
}

TEST(TarIndexTest, SizeLargerThanFile) {
  // A caller that overstates the size: reads come back short, which is truncation, not a crash.
  const std::string good = File("a", "abc") + kEnd;
  EXPECT_TRUE(IndexBytes(good, std::numeric_limits<uint64_t>::max()).damage.ok());
  const TarIndex index = IndexBytes(File("a", "abc"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(Paths(index), "a;");
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
}

TEST(TarIndexTest, GarbageIsDamageNotCrash) {
  std::mt19937 rng(7);
  std::string garbage(5000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  const TarIndex index = IndexBytes(garbage);
  EXPECT_TRUE(index.members.empty());
  EXPECT_EQ(index.damage.code(), Code::kCorrupt);
  EXPECT_NE(index.damage.message().find("offset 0"), std::string::npos);
}

TEST(TarIndexTest, MutatedArchivesNeverCrash) {
  const std::string base = Extended(PaxRecord("path", "p") + PaxRecord("mtime", "1.5"), 'g') +
                           Header(Hdr("././@LongLink").Type('L').Size(6)) + Pad("long1") +
                           File("a", "hello") + Header(Hdr("l").Type('1').Link("a")) +
                           File("b", "") + kEnd;
  std::mt19937 rng(1);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = base;
    const int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    // Keep some mutations past the checksum so that the decoding paths are exercised too.
    for (size_t off = 0; off + 512 <= bytes.size(); off += 512) {
      if (rng() % 2) FixChecksum(&bytes, off);
    }
    bytes.resize(rng() % 3 == 0 ? rng() % bytes.size() : bytes.size());
    MemArchive mem(bytes);
    Result<TarIndex> r = IndexTar(mem.Reader(), bytes.size(), "m.tar");
    ASSERT_TRUE(r.ok());
  }
}

TEST(TarIndexTest, ReadErrors) {
  // The very first read failing is an error of the call...
  TarReadFn failing = [](uint64_t, std::span<uint8_t>) -> Result<size_t> {
    return IoError("disk on fire");
  };
  Result<TarIndex> r = IndexTar(failing, 4096, "x.tar");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIo);
  // ...a later one is damage, with what came before kept.
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += File("f" + std::to_string(i), std::string(1000, 'x'));
  MemArchive mem(bytes + kEnd);
  TarReadFn inner = mem.Reader();
  int calls = 0;
  TarReadFn second_fails = [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
    if (++calls == 2) return IoError("disk on fire");
    return inner(off, out);
  };
  r = IndexTar(second_fails, mem.bytes.size(), "x.tar");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->damage.code(), Code::kIo);
  EXPECT_NE(r->damage.message().find("x.tar"), std::string::npos);
  EXPECT_GT(r->members.size(), 10u);
  EXPECT_LT(r->members.size(), 100u);
}

// ---- NormalizeMemberPath ----

TEST(NormalizeMemberPathTest, Normalizes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a", "a"},
      {"./a", "a"},
      {"a/b/", "a/b"},
      {"a//b", "a/b"},
      {"./a/./b/.", "a/b"},
      {".../x", ".../x"},
      {"a/..b/c..", "a/..b/c.."},
      {"././a", "a"},
  };
  for (const auto& [raw, want] : cases) {
    std::string out;
    EXPECT_TRUE(NormalizeMemberPath(raw, &out)) << raw;
    EXPECT_EQ(out, want) << raw;
  }
}

TEST(NormalizeMemberPathTest, RejectsHostileAndEmpty) {
  for (const std::string& raw :
       {std::string(""), std::string("."), std::string("./"), std::string("//"),
        std::string("/etc/passwd"), std::string("/"), std::string(".."), std::string("../a"),
        std::string("a/../b"), std::string("a/.."), std::string("a/b/../../.."),
        std::string("a\0b", 3)}) {
    std::string out = "unchanged";
    EXPECT_FALSE(NormalizeMemberPath(raw, &out)) << raw;
    EXPECT_EQ(out, "unchanged");
  }
}

}  // namespace
}  // namespace daqfs
