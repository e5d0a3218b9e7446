// Tests of the repack engine (PlanRepack, ExecuteRepack, VerifyOutput) and of TarWriter.
// Inputs are made with the real GNU tar, zstd and pzstd in a temp folder; outputs are checked
// with the real tools (`tar -x`, `zstd -d`) and with daqfs's own IndexTar and IndexZstd.
#include "tools/repack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "backends/archive/tar_index.h"
#include "backends/common/zstd_frames.h"
#include "fs/unique_fd.h"
#include "tests/testing/files.h"
#include "tools/tar_writer.h"

namespace daqfs {
namespace {

namespace fsys = std::filesystem;
using testing::HaveTool;
using testing::Shell;
using testing::ShellQuote;
using testing::Slurp;
using testing::WriteFile;

// Compressible data, like detector or visibility dumps: repeated words with random noise.
std::string Data(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  static const char* kWords[] = {"alpha ",           "beta ", "gamma ", "delta ",
                                 "\x01\x02\x03\x04", "chan ", "0000 ",  "ffff "};
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    const uint64_t r = rng();
    if (r % 7 == 0) {
      s.push_back(static_cast<char>(r >> 8));
    } else {
      s += kWords[(r >> 16) % 8];
    }
  }
  s.resize(n);
  return s;
}

Result<TarIndex> Index(const std::string& path, int* fd_out = nullptr) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st;
  ::fstat(fd->get(), &st);
  const int raw = fd->Release();
  if (fd_out) *fd_out = raw;
  Result<TarIndex> idx = IndexTar(
      [raw, path](uint64_t off, std::span<uint8_t> out) { return PreadFull(raw, off, out, path); },
      static_cast<uint64_t>(st.st_size), path);
  if (!fd_out) ::close(raw);
  return idx;
}

class RepackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    ASSERT_TRUE(HaveTool("tar") && HaveTool("zstd")) << "GNU tar and zstd are needed";
  }

  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }

  // Tars the folder `src` (relative to dir_) into `tar` with GNU tar.
  void Tar(const std::string& src, const std::string& tar, const std::string& flags = "") {
    ASSERT_EQ(
        Shell("tar " + flags + " -C " + ShellQuote(P(src)) + " -cf " + ShellQuote(P(tar)) + " ."),
        0);
  }

  // Extracts `out` into `into`, then `zstd -d --rm` on every .zst file there.
  void ExtractAndDecompress(const std::string& out, const std::string& into) {
    fsys::create_directories(P(into));
    ASSERT_EQ(Shell("tar -C " + ShellQuote(P(into)) + " -xf " + ShellQuote(out)), 0) << out;
    ASSERT_EQ(Shell("find " + ShellQuote(P(into)) +
                    " -type f -name '*.zst' -exec zstd -d -q --rm {} + 2>&1"),
              0);
  }

  // Byte-equal trees, symlinks compared as links.
  void ExpectSameTree(const std::string& a, const std::string& b) {
    EXPECT_EQ(Shell("diff -r --no-dereference " + ShellQuote(P(a)) + " " + ShellQuote(P(b))), 0);
  }

  RepackOptions Options(const std::string& out = "out") {
    RepackOptions o;
    o.output_dir = P(out);
    o.threads = 3;
    return o;
  }

  // Plans and executes; returns the result (asserting the plan succeeded).
  RepackResult Repack(const RepackOptions& o, const std::vector<std::string>& inputs) {
    std::vector<std::string> paths;
    for (const std::string& i : inputs) paths.push_back(P(i));
    Result<RepackPlan> plan = PlanRepack(o, paths);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok()) return {RepackFailure::kUsage, plan.status(), {}};
    return ExecuteRepack(*plan, o);
  }

  testing::TempDir temp_{"repack"};
  std::string dir_;
};

// --- TarWriter --------------------------------------------------------------------------------

TEST(TarWriterTest, PaxRecordLengthCountsItself) {
  EXPECT_EQ(PaxRecord("path", "a"), "9 path=a\n");
  // 100 bytes of body: the length needs three digits, which makes it 103, not 102.
  const std::string r = PaxRecord("path", std::string(93, 'x'));
  EXPECT_EQ(r.size(), static_cast<size_t>(std::stoi(r.substr(0, r.find(' ')))));
  EXPECT_EQ(r.size(), 103u);
}

TEST(TarWriterTest, RoundTripsThroughIndexTar) {
  std::vector<uint8_t> archive;
  TarWriter w([&](std::span<const uint8_t> b) {
    archive.insert(archive.end(), b.begin(), b.end());
    return Status::Ok();
  });
  const std::string long_dir(120, 'd');
  const std::string very_long = long_dir + "/" + std::string(200, 'f') + ".dat";  // pax path
  const std::string split = long_dir + "/" + std::string(90, 'g');                // ustar prefix
  struct Case {
    TarEntry e;
    std::string data;
  };
  std::vector<Case> cases;
  TarEntry e;
  e.path = "short.txt";
  e.mode = 0640;
  e.uid = 1000;
  e.gid = 100;
  e.mtime = {1700000000, 0};
  cases.push_back({e, "hello"});
  e.path = very_long;
  e.mtime = {1700000001, 123456789};  // a fraction: pax mtime
  e.uid = 9000000;                    // beyond 7 octal digits: pax uid
  e.xattrs = {{"user.beam", "7.1keV"}};
  cases.push_back({e, std::string(1000, 'x')});
  e = TarEntry{};
  e.path = split;
  cases.push_back({e, ""});
  e = TarEntry{};
  e.kind = TarEntry::Kind::kDirectory;
  e.path = long_dir;
  e.mode = 0755;
  cases.push_back({e, ""});
  e = TarEntry{};
  e.kind = TarEntry::Kind::kSymlink;
  e.path = "link";
  e.link_target = std::string(150, 't');  // pax linkpath
  cases.push_back({e, ""});
  for (Case& c : cases) {
    c.e.size = c.data.size();
    ASSERT_TRUE(w.WriteHeader(c.e).ok());
    ASSERT_TRUE(
        w.WriteData(std::span(reinterpret_cast<const uint8_t*>(c.data.data()), c.data.size()))
            .ok());
    ASSERT_TRUE(w.EndMember().ok());
  }
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(archive.size() % 512, 0u);
  EXPECT_EQ(w.bytes_written(), archive.size());

  Result<TarIndex> idx = IndexTar(
      [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
        const size_t n =
            off >= archive.size() ? 0 : std::min<size_t>(out.size(), archive.size() - off);
        std::copy_n(archive.begin() + static_cast<ptrdiff_t>(off), n, out.begin());
        return n;
      },
      archive.size(), "mem");
  ASSERT_TRUE(idx.ok());
  ASSERT_TRUE(idx->damage.ok()) << idx->damage.ToString();
  ASSERT_EQ(idx->members.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const TarMember& m = idx->members[i];
    const TarEntry& c = cases[i].e;
    EXPECT_EQ(m.path, c.path);
    EXPECT_EQ(m.size, cases[i].data.size());
    EXPECT_EQ(m.mode, c.mode);
    EXPECT_EQ(m.uid, c.uid);
    EXPECT_EQ(m.mtime.tv_sec, c.mtime.tv_sec);
    EXPECT_EQ(m.mtime.tv_nsec, c.mtime.tv_nsec);
    EXPECT_EQ(m.link_target, c.link_target);
    EXPECT_EQ(m.xattrs, c.xattrs);
    EXPECT_EQ(std::string(archive.begin() + static_cast<ptrdiff_t>(m.data_offset),
                          archive.begin() + static_cast<ptrdiff_t>(m.data_offset + m.size)),
              cases[i].data);
  }
}

TEST(TarWriterTest, RejectsMisuse) {
  TarWriter w([](std::span<const uint8_t>) { return Status::Ok(); });
  TarEntry e;
  EXPECT_FALSE(w.WriteHeader(e).ok());  // empty path
  e.path = "a";
  e.size = 3;
  ASSERT_TRUE(w.WriteHeader(e).ok());
  const uint8_t four[4] = {};
  EXPECT_FALSE(w.WriteData(four).ok());
  EXPECT_FALSE(w.EndMember().ok());  // short
}

TEST(TarWriterTest, NegativeAndFractionalTimesUsePax) {
  TarEntry e;
  e.path = "old";
  e.mtime = {-2, 500000000};  // -1.5 s
  Result<std::vector<uint8_t>> h = EncodeTarHeader(e);
  ASSERT_TRUE(h.ok());
  const std::string s(h->begin(), h->end());
  EXPECT_NE(s.find("mtime=-1.5\n"), std::string::npos);
}

// --- Option values ----------------------------------------------------------------------------

TEST(RepackOptionsTest, ParsesWindows) {
  Result<WindowSpec> w = ParseWindowSpec("sec=30");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->group, "sec");
  EXPECT_EQ(w->width, 30u);
  EXPECT_FALSE(ParseWindowSpec("sec").ok());
  EXPECT_FALSE(ParseWindowSpec("sec=0").ok());
  EXPECT_FALSE(ParseWindowSpec("=3").ok());
  EXPECT_FALSE(ParseWindowSpec("sec=3x").ok());
}

// --- Planning errors --------------------------------------------------------------------------

TEST_F(RepackTest, BadRegexNamesPcre2MessageAndOffset) {
  WriteFile(P("src/a.dat"), "x");
  Tar("src", "in.tar");
  RepackOptions o = Options();
  o.group_regex = "(?<obsid>\\d+_(?<sec>\\d{4})";  // missing ')'
  Result<RepackPlan> plan = PlanRepack(o, {P("in.tar")});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kInvalid);
  EXPECT_NE(plan.status().message().find("missing closing parenthesis"), std::string::npos)
      << plan.status().message();
  EXPECT_NE(plan.status().message().find("at offset 26"), std::string::npos)
      << plan.status().message();
  EXPECT_FALSE(fsys::exists(P("out")));
}

TEST_F(RepackTest, UsageErrorsInWindowsAndTemplates) {
  WriteFile(P("src/a.dat"), "x");
  Tar("src", "in.tar");
  RepackOptions o = Options();
  o.group_regex = "(?<chan>\\d+)";
  o.windows = {{"sec", 30}};
  EXPECT_EQ(PlanRepack(o, {P("in.tar")}).status().code(), Code::kInvalid);
  o.windows = {};
  o.name_template = "{chan}_{sec}.tar";
  Result<RepackPlan> p = PlanRepack(o, {P("in.tar")});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("unknown placeholder {sec}"), std::string::npos);
  o.name_template = "{chan_end}.tar";  // only windowed groups have _end
  EXPECT_EQ(PlanRepack(o, {P("in.tar")}).status().code(), Code::kInvalid);
  o.name_template = "../{chan}.tar";  // escapes the output folder (checked per member)
  WriteFile(P("src/7.dat"), "x");
  Tar("src", "in2.tar");
  EXPECT_EQ(PlanRepack(o, {P("in2.tar")}).status().code(), Code::kInvalid);
  o = Options();
  o.group_regex = "\\d+";  // no named groups
  EXPECT_EQ(PlanRepack(o, {P("in.tar")}).status().code(), Code::kInvalid);
  o = Options();
  o.frame_size = 10;
  EXPECT_EQ(PlanRepack(o, {P("in.tar")}).status().code(), Code::kInvalid);
}

TEST_F(RepackTest, UnreadableOrCorruptInputFailsBeforeWriting) {
  WriteFile(P("src/a.dat"), Data(1, 5000));
  Tar("src", "good.tar");
  RepackOptions o = Options();
  Result<RepackPlan> plan = PlanRepack(o, {P("good.tar"), P("missing.tar")});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().code(), Code::kInvalid);
  EXPECT_NE(plan.status().message().find("missing.tar"), std::string::npos);

  // A truncated archive and a member named .zst that is not zstd are corrupt inputs.
  std::string bytes = Slurp(P("good.tar"));
  WriteFile(P("cut.tar"), bytes.substr(0, 1024));
  plan = PlanRepack(o, {P("good.tar"), P("cut.tar")});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kCorrupt);
  EXPECT_NE(plan.status().message().find("cut.tar"), std::string::npos);

  WriteFile(P("src2/fake.zst"), "not zstd at all");
  Tar("src2", "fake.tar");
  plan = PlanRepack(o, {P("fake.tar")});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kCorrupt);
  EXPECT_NE(plan.status().message().find("fake.zst"), std::string::npos);

  ASSERT_EQ(Shell("zstd -q " + ShellQuote(P("good.tar")) + " -o " + ShellQuote(P("whole.tar.zst"))),
            0);
  plan = PlanRepack(o, {P("whole.tar.zst")});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("decompress it first"), std::string::npos);
  EXPECT_FALSE(fsys::exists(P("out")));
}

// --- Round trips ------------------------------------------------------------------------------

TEST_F(RepackTest, PlainInputRoundTripsThroughTarAndZstd) {
  WriteFile(P("src/run1/a.dat"), Data(1, 300000));
  WriteFile(P("src/run1/b.dat"), Data(2, 1));
  WriteFile(P("src/run1/empty.dat"), "");
  WriteFile(P("src/run1/sub/c.bin"), Data(3, 2500000));  // several 1 MiB frames
  WriteFile(P("src/notes.txt"), "beam on\n");
  ::symlink("run1/a.dat", P("src/latest").c_str());
  ::link(P("src/notes.txt").c_str(), P("src/notes-copy.txt").c_str());
  ::chmod(P("src/run1/b.dat").c_str(), 0600);
  Tar("src", "run.tar");

  RepackOptions o = Options();
  RepackResult r = Repack(o, {"run.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  ASSERT_EQ(r.summary.outputs.size(), 1u);
  EXPECT_EQ(r.summary.outputs[0].path, P("out/run.tar"));
  EXPECT_EQ(r.summary.output_bytes, fsys::file_size(P("out/run.tar")));
  EXPECT_EQ(r.summary.content_bytes, 300000u + 1 + 2500000 + 8 + 8);

  // Sorted members, .zst names, the seek table found for each, modes and mtimes kept.
  int fd = -1;
  Result<TarIndex> out = Index(P("out/run.tar"), &fd);
  ASSERT_TRUE(out.ok() && out->damage.ok());
  Result<TarIndex> in = Index(P("run.tar"));
  ASSERT_TRUE(in.ok());
  std::map<std::string, const TarMember*> in_by_path;
  for (const TarMember& m : in->members) in_by_path[m.path] = &m;
  std::vector<std::string> paths;
  for (const TarMember& m : out->members) {
    paths.push_back(m.path);
    std::string src_path = m.path;
    if (m.kind == TarMember::Kind::kFile) {
      ASSERT_TRUE(src_path.ends_with(".zst"));
      src_path.resize(src_path.size() - 4);
      Result<ZstdIndex> zi = IndexZstd(
          [&](uint64_t off, std::span<uint8_t> buf) -> Result<size_t> {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), m.size - off));
            return PreadFull(fd, m.data_offset + off, buf.first(n), "out");
          },
          m.size, m.path);
      ASSERT_TRUE(zi.ok()) << zi.status().ToString();
      EXPECT_TRUE(zi->from_seek_table) << m.path << " " << zi->note;
      if (m.path == "run1/sub/c.bin.zst") {
        EXPECT_EQ(zi->frames.size(), 3u);  // 1 MiB frames
      }
      EXPECT_EQ(zi->decompressed_size, in_by_path[src_path]->kind == TarMember::Kind::kHardLink
                                           ? 8u
                                           : in_by_path[src_path]->size);
    }
    ASSERT_TRUE(in_by_path.count(src_path)) << src_path;
    EXPECT_EQ(m.mode, in_by_path[src_path]->mode) << m.path;
    EXPECT_EQ(m.mtime.tv_sec, in_by_path[src_path]->mtime.tv_sec) << m.path;
  }
  ::close(fd);
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "latest", "notes-copy.txt.zst", "notes.txt.zst", "run1", "run1/a.dat.zst",
                       "run1/b.dat.zst", "run1/empty.dat.zst", "run1/sub", "run1/sub/c.bin.zst"}));
  ExtractAndDecompress(P("out/run.tar"), "x");
  ExpectSameTree("src", "x");
  EXPECT_FALSE(fsys::is_symlink(P("x/notes-copy.txt")));
  EXPECT_TRUE(VerifyOutput(r.summary.outputs[0]).empty());
}

TEST_F(RepackTest, ZstdMembersAreRecompressedSeekable) {
  WriteFile(P("src/one.dat"), Data(10, 700000));
  WriteFile(P("src/many.dat"), Data(11, 3000000));
  WriteFile(P("src/piped.dat"), Data(12, 400000));
  WriteFile(P("src/pz.dat"), Data(13, 900000));
  WriteFile(P("src/hidden.dat"), Data(14, 50000));
  WriteFile(P("src/plain.txt"), "plain\n");
  ASSERT_EQ(Shell("cd " + ShellQuote(P("src")) +
                  " && zstd -q --rm one.dat"            // one frame, content size
                  " && zstd -q --rm -B262144 many.dat"  // independent blocks in a frame
                  " && cat piped.dat | zstd -q -c > piped.dat.zst && rm piped.dat"  // no size
                  " && zstd -q -c hidden.dat > hidden.raw && rm hidden.dat"),       // no suffix
            0);
  if (HaveTool("pzstd")) {
    ASSERT_EQ(Shell("cd " + ShellQuote(P("src")) + " && pzstd -q -p 2 --rm pz.dat 2>/dev/null"), 0);
  }
  Tar("src", "z.tar");
  RepackOptions o = Options();
  o.frame_size = 256 * 1024;
  o.in_memory_limit = 600000;  // many.dat and the size-less piped.dat take the streaming path
  RepackResult r = Repack(o, {"z.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();

  // The expected tree: the inputs decompressed (hidden.raw is zstd without the suffix).
  ASSERT_EQ(Shell("cp -a " + ShellQuote(P("src")) + " " + ShellQuote(P("want")) + " && cd " +
                  ShellQuote(P("want")) + " && zstd -d -q --rm *.zst && zstd -d -q hidden.raw -o " +
                  "hidden.raw.out && mv hidden.raw.out hidden.raw"),
            0);
  ExtractAndDecompress(P("out/z.tar"), "got");
  ExpectSameTree("want", "got");

  Result<TarIndex> out = Index(P("out/z.tar"));
  ASSERT_TRUE(out.ok());
  std::set<std::string> names;
  for (const TarMember& m : out->members) names.insert(m.path);
  EXPECT_TRUE(names.count("one.dat.zst"));
  EXPECT_TRUE(names.count("hidden.raw.zst"));
  EXPECT_FALSE(names.count("one.dat.zst.zst"));
  EXPECT_TRUE(VerifyOutputs(r.summary.outputs, 2).empty());
}

TEST_F(RepackTest, GroupsByRegexIntoWindows) {
  // 60 seconds x 2 channels of one observation, plus strays.
  for (int sec = 0; sec < 60; ++sec) {
    for (int chan : {109, 110}) {
      char name[64];
      std::snprintf(name, sizeof name, "1266932744_%04d_ch%d.dat", sec, chan);
      WriteFile(P(std::string("a/") + name), Data(sec * 1000 + chan, 2000 + sec * 10));
    }
  }
  WriteFile(P("a/1266932744_metafits.fits"), Data(5, 3000));
  WriteFile(P("a/README"), "mwa\n");
  // Split the inputs across two archives: grouping merges them.
  ASSERT_EQ(Shell("cd " + ShellQuote(P("a")) + " && tar -cf ../in1.tar *_00[0-2]?_* README && " +
                  "tar -cf ../in2.tar *_00[3-5]?_* *metafits*"),
            0);

  RepackOptions o = Options();
  o.group_regex = "(?<obsid>\\d+)_(?<sec>\\d{4})_ch(?<chan>\\d+)\\.dat";
  o.windows = {{"sec", 30}};
  o.name_template = "{obsid}_{sec}-{sec_end}_ch{chan}.tar";
  Result<RepackPlan> plan = PlanRepack(o, {P("in1.tar"), P("in2.tar")});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->unmatched, 2u);
  std::vector<std::string> names;
  for (const PlannedOutput& po : plan->outputs) names.push_back(po.name);
  EXPECT_EQ(names, (std::vector<std::string>{"1266932744_0000-0029_ch109.tar",
                                             "1266932744_0000-0029_ch110.tar",
                                             "1266932744_0030-0059_ch109.tar",
                                             "1266932744_0030-0059_ch110.tar", "unmatched.tar"}));
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(plan->outputs[i].members.size(), 30u);
  RepackResult r = ExecuteRepack(*plan, o);
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  EXPECT_EQ(r.summary.members, 122u);
  EXPECT_TRUE(VerifyOutputs(r.summary.outputs, 0).empty());

  // Every output unpacks to its share of the originals.
  for (const std::string& n : names) ExtractAndDecompress(P("out/" + n), "x");
  ExpectSameTree("a", "x");
  Result<TarIndex> un = Index(P("out/unmatched.tar"));
  ASSERT_TRUE(un.ok());
  ASSERT_EQ(un->members.size(), 2u);
  EXPECT_EQ(un->members[0].path, "1266932744_metafits.fits.zst");
  EXPECT_EQ(un->members[1].path, "README.zst");
  Result<TarIndex> w = Index(P("out/1266932744_0030-0059_ch110.tar"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->members.front().path, "1266932744_0030_ch110.dat.zst");
  EXPECT_EQ(w->members.back().path, "1266932744_0059_ch110.dat.zst");

  // The default name: the values joined by '_'.
  o = Options("out2");
  o.group_regex = "(?<obsid>\\d+)_(?<sec>\\d{4})_ch(?<chan>\\d+)\\.dat";
  o.windows = {{"sec", 30}};
  plan = PlanRepack(o, {P("in1.tar")});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->outputs[0].name, "1266932744_0000_109.tar");
}

TEST_F(RepackTest, FoldersFollowTheirContents) {
  WriteFile(P("src/obs/ch1/x_1.dat"), "1");
  WriteFile(P("src/obs/ch2/x_2.dat"), "2");
  fsys::create_directories(P("src/obs/empty"));
  ::chmod(P("src/obs/ch1").c_str(), 0750);
  Tar("src", "in.tar");
  RepackOptions o = Options();
  o.group_regex = "_(?<n>\\d)\\.dat$";
  Result<RepackPlan> plan = PlanRepack(o, {P("in.tar")});
  ASSERT_TRUE(plan.ok());
  std::map<std::string, std::vector<std::string>> got;
  for (const PlannedOutput& po : plan->outputs) {
    for (const PlannedMember& m : po.members) got[po.name].push_back(m.out_path);
  }
  EXPECT_EQ(got["1.tar"], (std::vector<std::string>{"obs", "obs/ch1", "obs/ch1/x_1.dat.zst"}));
  EXPECT_EQ(got["2.tar"], (std::vector<std::string>{"obs", "obs/ch2", "obs/ch2/x_2.dat.zst"}));
  EXPECT_EQ(got["unmatched.tar"], (std::vector<std::string>{"obs/empty"}));
  RepackResult r = ExecuteRepack(*plan, o);
  ASSERT_EQ(r.failure, RepackFailure::kNone);
  fsys::create_directories(P("x"));
  ASSERT_EQ(Shell("tar -C " + ShellQuote(P("x")) + " -xf " + ShellQuote(P("out/1.tar"))), 0);
  EXPECT_EQ(fsys::status(P("x/obs/ch1")).permissions() & fsys::perms::all, fsys::perms(0750));
}

TEST_F(RepackTest, LongMemberNames) {
  const std::string deep = "detector/" + std::string(80, 'd') + "/" + std::string(60, 'e');
  const std::string longest = deep + "/" + std::string(180, 'f') + ".h5";  // > 255 bytes
  WriteFile(P("src/" + deep + "/short.dat"), Data(20, 1000));
  WriteFile(P("src/" + longest), Data(21, 2000));
  ::symlink(("../" + std::string(120, 'l')).c_str(), P("src/" + deep + "/lnk").c_str());
  Tar("src", "long.tar");
  RepackResult r = Repack(Options(), {"long.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  Result<TarIndex> out = Index(P("out/long.tar"));
  ASSERT_TRUE(out.ok() && out->damage.ok());
  std::set<std::string> names;
  for (const TarMember& m : out->members) names.insert(m.path);
  EXPECT_TRUE(names.count(longest + ".zst"));
  EXPECT_TRUE(names.count(deep + "/short.dat.zst"));
  ExtractAndDecompress(P("out/long.tar"), "x");
  ExpectSameTree("src", "x");
  EXPECT_EQ(fsys::read_symlink(P("x/" + deep + "/lnk")).string(), "../" + std::string(120, 'l'));
}

// --- Verify -----------------------------------------------------------------------------------

TEST_F(RepackTest, VerifyDetectsACorruptedOutput) {
  WriteFile(P("src/a.dat"), Data(30, 200000));
  WriteFile(P("src/b.dat"), Data(31, 200000));
  Tar("src", "in.tar");
  RepackResult r = Repack(Options(), {"in.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone);
  ASSERT_TRUE(VerifyOutput(r.summary.outputs[0]).empty());

  Result<TarIndex> out = Index(P("out/in.tar"));
  ASSERT_TRUE(out.ok());
  const TarMember& b = out->members[1];
  std::string bytes = Slurp(P("out/in.tar"));
  bytes[b.data_offset + b.size / 3] ^= 0x40;  // inside the compressed frames of b.dat.zst
  WriteFile(P("out/in.tar"), bytes);
  std::vector<std::string> problems = VerifyOutput(r.summary.outputs[0]);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("b.dat.zst"), std::string::npos) << problems[0];

  // A member whose content differs from the record is named too.
  WrittenOutput changed = r.summary.outputs[0];
  changed.members[0].xxh64 ^= 1;
  changed.members.push_back({"ghost.zst", TarEntry::Kind::kFile, 0, 0, ""});
  problems = VerifyOutput(changed);
  EXPECT_GE(problems.size(), 3u);
}

// --- Outputs ----------------------------------------------------------------------------------

TEST_F(RepackTest, RefusesExistingOutputUnlessForced) {
  WriteFile(P("src/a.dat"), Data(40, 1000));
  Tar("src", "in.tar");
  WriteFile(P("out/in.tar"), "precious");
  RepackOptions o = Options();
  RepackResult r = Repack(o, {"in.tar"});
  EXPECT_EQ(r.failure, RepackFailure::kOutputExists);
  EXPECT_NE(r.status.message().find("in.tar"), std::string::npos);
  EXPECT_EQ(Slurp(P("out/in.tar")), "precious");
  o.force = true;
  r = Repack(o, {"in.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  EXPECT_TRUE(VerifyOutput(r.summary.outputs[0]).empty());
  // No temporary files are left behind.
  size_t entries = 0;
  for (const auto& e : fsys::directory_iterator(P("out"))) entries += e.exists();
  EXPECT_EQ(entries, 1u);
}

TEST_F(RepackTest, NameTemplateWithoutGroupAndDuplicatesWarn) {
  WriteFile(P("s1/x.dat"), "first");
  WriteFile(P("s2/x.dat"), "second");
  Tar("s1", "a.tar");
  Tar("s2", "b.tar");
  RepackOptions o = Options();
  o.name_template = "packed/{input}.zst.tar";
  Result<RepackPlan> plan = PlanRepack(o, {P("a.tar"), P("b.tar")});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->outputs.size(), 2u);
  EXPECT_EQ(plan->outputs[0].name, "packed/a.zst.tar");
  RepackResult r = ExecuteRepack(*plan, o);
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  EXPECT_TRUE(fsys::exists(P("out/packed/b.zst.tar")));

  // One output for both inputs: b's x.dat replaces a's, with a warning.
  o = Options("merged");
  o.name_template = "all.tar";
  plan = PlanRepack(o, {P("a.tar"), P("b.tar")});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->outputs.size(), 1u);
  ASSERT_EQ(plan->outputs[0].members.size(), 1u);
  EXPECT_EQ(plan->outputs[0].members[0].input, 1u);
  EXPECT_EQ(plan->warnings.size(), 1u);
}

TEST_F(RepackTest, ManyMembersAndSmallWindowsStayOrdered) {
  // More members than threads, mixing tiny, in-memory and streamed ones.
  for (int i = 0; i < 50; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%03d.dat", i);
    WriteFile(P(std::string("src/") + name), Data(100 + i, i % 10 == 0 ? 300000 : 100 * i));
  }
  Tar("src", "in.tar");
  RepackOptions o = Options();
  o.threads = 4;
  o.in_memory_limit = 200000;
  o.frame_size = 64 * 1024;
  uint64_t last_done = 0, calls = 0;
  o.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    EXPECT_GE(done, last_done);
    last_done = done;
    ++calls;
  };
  RepackResult r = Repack(o, {"in.tar"});
  ASSERT_EQ(r.failure, RepackFailure::kNone) << r.status.ToString();
  EXPECT_GE(calls, 1u);
  EXPECT_EQ(last_done, r.summary.stored_bytes);
  EXPECT_TRUE(VerifyOutput(r.summary.outputs[0]).empty());
  ExtractAndDecompress(P("out/in.tar"), "x");
  ExpectSameTree("src", "x");
}

TEST_F(RepackTest, CorruptZstdPayloadFailsAsBadInputAndLeavesNothing) {
  WriteFile(P("src/a.dat"), Data(60, 500000));
  WriteFile(P("src/b.dat"), Data(61, 500000));
  ASSERT_EQ(Shell("cd " + ShellQuote(P("src")) + " && zstd -q --rm b.dat"), 0);
  std::string z = Slurp(P("src/b.dat.zst"));
  z[z.size() / 2] ^= 0x5a;  // headers stay valid: only decoding finds it
  WriteFile(P("src/b.dat.zst"), z);
  Tar("src", "in.tar");
  for (uint64_t limit : {uint64_t{1} << 26, uint64_t{1000}}) {  // in memory, then streamed
    RepackOptions o = Options();
    o.in_memory_limit = limit;
    RepackResult r = Repack(o, {"in.tar"});
    EXPECT_EQ(r.failure, RepackFailure::kBadInput) << r.status.ToString();
    EXPECT_NE(r.status.message().find("b.dat.zst"), std::string::npos) << r.status.message();
    EXPECT_TRUE(fsys::is_empty(P("out")));
  }
}

TEST_F(RepackTest, CancelLeavesNoTemporaryFiles) {
  WriteFile(P("src/a.dat"), Data(50, 2000000));
  Tar("src", "in.tar");
  std::atomic<bool> cancel{true};
  RepackOptions o = Options();
  o.cancel = &cancel;
  RepackResult r = Repack(o, {"in.tar"});
  EXPECT_EQ(r.failure, RepackFailure::kCancelled);
  EXPECT_TRUE(fsys::is_empty(P("out")));
}

}  // namespace
}  // namespace daqfs
