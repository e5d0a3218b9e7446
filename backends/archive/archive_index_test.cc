// Archive indexes of zstd members and compressed tars, their persistence, and reads through
// TarBackend of every kind, compared with GNU tar + zstd -d.
#include "backends/archive/archive_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "backends/archive/member_sources.h"
#include "backends/archive/tar_backend.h"
#include "fs/unique_fd.h"
#include "fs/vfs.h"
#include "tests/testing/files.h"
#include "tests/testing/folder_blob_store.h"

namespace daqfs {
namespace {

using testing::Shell;
using testing::Slurp;

class ArchiveIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    // Beamline-like data: 12-bit samples in 16-bit words (compresses to ~0.7).
    std::mt19937 rng(42);
    std::string samples(3 * 1024 * 1024 + 123, '\0');
    for (size_t i = 0; i + 1 < samples.size(); i += 2) {
      uint16_t v = static_cast<uint16_t>(2048 + (static_cast<int>(rng() % 400) - 200)) & 0x0fff;
      samples[i] = static_cast<char>(v & 0xff);
      samples[i + 1] = static_cast<char>(v >> 8);
    }
    ASSERT_EQ(Shell("mkdir -p " + dir_ + "/src/sub " + dir_ + "/state"), 0);
    std::ofstream(dir_ + "/src/big.dat", std::ios::binary) << samples;
    std::ofstream(dir_ + "/src/sub/small.dat", std::ios::binary) << samples.substr(0, 5000);
    std::ofstream(dir_ + "/src/sub/empty.dat", std::ios::binary) << "";
  }

  Result<ArchiveIndex> Index(const std::string& path, const std::string& spill = "") {
    Result<UniqueFd> fd = OpenReadOnly(path);
    EXPECT_TRUE(fd.ok());
    struct stat st;
    fstat(fd->get(), &st);
    ArchiveIndexOptions o;
    std::unique_ptr<FolderBlobStore> blobs;
    if (!spill.empty()) blobs = std::make_unique<FolderBlobStore>(spill, spill);
    o.spill = blobs.get();
    return BuildArchiveIndex(path, fd->get(), st, o);
  }

  // Mounts `path` without FUSE and compares every regular file under `prefix` in the mount with
  // the file of the same relative path under src/.
  void ExpectMatchesSource(const std::string& path, const std::string& spill,
                           const std::vector<std::string>& files) {
    auto b = TarBackend::Create("t", path);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::vector<Vfs::Source> s;
    s.push_back({"t", std::move(*b)});
    VfsOptions vo;
    vo.single_source = true;
    Vfs vfs(std::move(s), vo);
    // Saved indexes and spills in one folder; no folder = no blob store.
    FolderBlobStore blobs(spill.empty() ? dir_ + "/state" : spill,
                          spill.empty() ? dir_ + "/state" : spill);
    VfsEnv env;
    if (!spill.empty()) env.blobs = [&blobs](const std::string&) { return &blobs; };
    ASSERT_TRUE(vfs.Start(std::move(env)).ok());
    std::string archive = path.substr(path.find_last_of('/') + 1);
    for (const std::string& f : files) {
      uint64_t ino = vfs.Lookup(1, archive)->ino;
      std::stringstream parts(f);
      std::string part;
      while (std::getline(parts, part, '/')) {
        Result<Vfs::Entry> e = vfs.Lookup(ino, part);
        ASSERT_TRUE(e.ok()) << f << ": " << e.status().ToString();
        ino = e->ino;
      }
      std::string want = Slurp(dir_ + "/src/" + f);
      auto of = vfs.Open(ino, O_RDONLY, {});
      ASSERT_TRUE(of.ok());
      ASSERT_EQ((*of)->source->Size(), want.size()) << f;
      std::string got(want.size(), '\0');
      // Read in odd pieces to cross frame and block edges.
      size_t pos = 0, step = 777777;
      while (pos < got.size()) {
        Result<size_t> n = vfs.Read(
            **of, pos,
            std::span(reinterpret_cast<uint8_t*>(&got[pos]), std::min(step, got.size() - pos)));
        ASSERT_TRUE(n.ok()) << f << " at " << pos << ": " << n.status().ToString();
        ASSERT_GT(*n, 0u);
        pos += *n;
      }
      EXPECT_TRUE(got == want) << f;
    }
  }

  // The archive at `path` as a started Vfs without FUSE (no blob store), or null.
  static std::unique_ptr<Vfs> Mount(const std::string& path) {
    auto b = TarBackend::Create("t", path);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return nullptr;
    std::vector<Vfs::Source> s;
    s.push_back({"t", std::move(*b)});
    VfsOptions vo;
    vo.single_source = true;
    auto vfs = std::make_unique<Vfs>(std::move(s), vo);
    Status started = vfs->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    return started.ok() ? std::move(vfs) : nullptr;
  }

  testing::TempDir temp_{"archidx"};
  std::string dir_;
};

TEST_F(ArchiveIndexTest, ZstdMembersOfEveryKindShowDecompressed) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; mkdir z z/sub; "
                  "zstd -q -19 src/big.dat -o z/big.dat.zst; "  // one frame, size known
                  "cat src/sub/small.dat | zstd -q > z/sub/small.dat.zst; "  // size unknown
                  "pzstd -q -p 2 -B 1 src/sub/empty.dat -o z/sub/empty.dat.zst 2>/dev/null || "
                  "zstd -q src/sub/empty.dat -o z/sub/empty.dat.zst; "
                  "tar -cf z.tar -C z ."),
            0);
  Result<ArchiveIndex> x = Index(dir_ + "/z.tar");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  int zstd_members = 0;
  for (const ArchiveMember& m : x->members) {
    if (m.zstd) {
      ++zstd_members;
      EXPECT_EQ(m.path + ".zst", m.stored_path);
    }
  }
  EXPECT_EQ(zstd_members, 3);
  ExpectMatchesSource(dir_ + "/z.tar", "", {"big.dat", "sub/small.dat", "sub/empty.dat"});
}

TEST_F(ArchiveIndexTest, HugeSingleFrameMemberIsServedInSubBlocks) {
  // 20 MiB in one frame: exposed as 1 MiB sub-blocks filled by one streaming decode.
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; for i in 1 2 3 4 5 6 7; do cat src/big.dat; done "
                  "> src/huge.dat; mkdir h; zstd -q src/huge.dat -o h/huge.dat.zst; "
                  "tar -cf h.tar -C h ."),
            0);
  Result<ArchiveIndex> x = Index(dir_ + "/h.tar");
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(x->members.size(), 1u);
  ASSERT_EQ(x->members[0].frames.size(), 1u);
  Result<UniqueFd> fd = OpenReadOnly(dir_ + "/h.tar");
  ASSERT_TRUE(fd.ok());
  const ArchiveMember& m = x->members[0];
  ZstdSliceSource src(std::make_shared<UniqueFd>(std::move(*fd)), "h.tar", m.data_offset,
                      std::make_shared<const std::vector<ZstdFrame>>(m.frames), "id");
  EXPECT_EQ(src.BlockCount(), (m.size + (1 << 20) - 1) >> 20);
  ByteSource::Group g = src.GroupOf(5);
  EXPECT_EQ(g.first, 0u);
  EXPECT_EQ(g.count, src.BlockCount());
  std::string want = Slurp(dir_ + "/src/huge.dat");
  uint64_t emitted = 0;
  ASSERT_TRUE(src.ReadGroup(3,
                            [&](uint64_t i, Bytes&& b) {
                              BlockRange r = src.BlockRangeOf(i);
                              EXPECT_EQ(b.size(), r.length);
                              EXPECT_EQ(0, memcmp(b.data(), want.data() + r.offset, b.size())) << i;
                              ++emitted;
                            })
                  .ok());
  EXPECT_EQ(emitted, src.BlockCount());
  ExpectMatchesSource(dir_ + "/h.tar", "", {"huge.dat"});
}

TEST_F(ArchiveIndexTest, PzstdMultiFrameMember) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; mkdir p; pzstd -q -p 2 src/big.dat -o p/big.dat.zst; "
                  "tar -cf p.tar -C p ."),
            0);
  Result<ArchiveIndex> x = Index(dir_ + "/p.tar");
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(x->members.size(), 1u);
  EXPECT_TRUE(x->members[0].zstd);
  ExpectMatchesSource(dir_ + "/p.tar", "", {"big.dat"});
}

TEST_F(ArchiveIndexTest, SeekableMemberUsesItsSeekTable) {
  std::string data = Slurp(dir_ + "/src/big.dat");
  std::vector<uint8_t> z = CompressSeekable(
      std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()), 256 * 1024, 3);
  ASSERT_EQ(Shell("mkdir -p " + dir_ + "/s"), 0);
  std::ofstream(dir_ + "/s/big.dat.zst", std::ios::binary)
      .write(reinterpret_cast<const char*>(z.data()), static_cast<std::streamsize>(z.size()));
  ASSERT_EQ(Shell("tar -cf " + dir_ + "/s.tar -C " + dir_ + "/s ."), 0);
  Result<ArchiveIndex> x = Index(dir_ + "/s.tar");
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(x->members.size(), 1u);
  EXPECT_TRUE(x->members[0].seek_table);
  EXPECT_EQ(x->members[0].frames.size(), (data.size() + 256 * 1024 - 1) / (256 * 1024));
  EXPECT_EQ(x->members[0].size, data.size());
  ExpectMatchesSource(dir_ + "/s.tar", "", {"big.dat"});
}

TEST_F(ArchiveIndexTest, WholeTarZstSingleFrameWithAndWithoutSpill) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ + "; tar --zstd -cf one.tar.zst -C src ."), 0);
  Result<ArchiveIndex> streamed = Index(dir_ + "/one.tar.zst");
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(streamed->container, ArchiveIndex::Container::kTarZst);
  ExpectMatchesSource(dir_ + "/one.tar.zst", "", {"big.dat", "sub/small.dat", "sub/empty.dat"});
  Shell("mkdir -p " + dir_ + "/spill");
  Result<ArchiveIndex> spilled = Index(dir_ + "/one.tar.zst", dir_ + "/spill");
  ASSERT_TRUE(spilled.ok()) << spilled.status().ToString();
  EXPECT_EQ(spilled->container, ArchiveIndex::Container::kSpilled);
  Shell("rm -f " + dir_ + "/state/*");
  ExpectMatchesSource(dir_ + "/one.tar.zst", dir_ + "/spill",
                      {"big.dat", "sub/small.dat", "sub/empty.dat"});
}

TEST_F(ArchiveIndexTest, WholeTarZstMultiFrameIsRandomAccess) {
  // A seekable-format .tar.zst (frames of 256 KiB) and a pzstd one.
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -cf plain.tar -C src .; "
                  "pzstd -q -p 2 -1 plain.tar -o multi.tar.zst"),
            0);
  std::string tar = Slurp(dir_ + "/plain.tar");
  std::vector<uint8_t> z = CompressSeekable(
      std::span(reinterpret_cast<const uint8_t*>(tar.data()), tar.size()), 256 * 1024, 3);
  std::ofstream(dir_ + "/seekable.tar.zst", std::ios::binary)
      .write(reinterpret_cast<const char*>(z.data()), static_cast<std::streamsize>(z.size()));
  Result<ArchiveIndex> x = Index(dir_ + "/seekable.tar.zst");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_EQ(x->container, ArchiveIndex::Container::kTarZst);
  EXPECT_GT(x->archive_frames.size(), 10u);
  ExpectMatchesSource(dir_ + "/seekable.tar.zst", "", {"big.dat", "sub/small.dat"});
  Result<ArchiveIndex> p = Index(dir_ + "/multi.tar.zst");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->container, ArchiveIndex::Container::kTarZst);
  ExpectMatchesSource(dir_ + "/multi.tar.zst", "", {"big.dat", "sub/small.dat"});
}

// t2sz-like splitting through `zstd -c` from a pipe: small frames that record no size. Their
// sizes are learned with one decode, and members are read by frame even with a spill store at
// hand (no decompressed copy of the archive on disk).
TEST_F(ArchiveIndexTest, WholeTarZstOfUnsizedSmallFramesIsReadByFrameNotSpilled) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -cf plain.tar -C src .; "
                  "split -b 256K --filter='zstd -q -c' plain.tar > unsized.tar.zst"),
            0);
  Shell("mkdir -p " + dir_ + "/spill");
  Result<ArchiveIndex> x = Index(dir_ + "/unsized.tar.zst", dir_ + "/spill");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_EQ(x->container, ArchiveIndex::Container::kTarZst);
  ASSERT_GT(x->archive_frames.size(), 10u);
  for (const ZstdFrame& f : x->archive_frames) {
    EXPECT_TRUE(f.content_size_known);
    EXPECT_LE(f.decompressed_size, 256u * 1024);
  }
  EXPECT_EQ(x->decompressed_size, std::filesystem::file_size(dir_ + "/plain.tar"));
  ExpectMatchesSource(dir_ + "/unsized.tar.zst", dir_ + "/spill",
                      {"big.dat", "sub/small.dat", "sub/empty.dat"});
}

// .tar.gz as GNU tar + gzip, pigz-like concatenated members, and gzip -9 write them: the
// headers read through one inflate, checkpoints about every interval, members read from them.
TEST_F(ArchiveIndexTest, TarGzIsRandomAccessThroughCheckpoints) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -czf one.tar.gz -C src .; tar -cf plain.tar -C src .; "
                  "split -b 1M --filter='gzip -1 -c' plain.tar > members.tgz; "
                  "gzip -9 -c plain.tar > best.tar.gz"),
            0);
  const uint64_t tar_size = std::filesystem::file_size(dir_ + "/plain.tar");
  for (const char* name : {"one.tar.gz", "members.tgz", "best.tar.gz"}) {
    SCOPED_TRACE(name);
    Result<UniqueFd> fd = OpenReadOnly(dir_ + "/" + name);
    ASSERT_TRUE(fd.ok());
    struct stat st;
    fstat(fd->get(), &st);
    ArchiveIndexOptions o;
    o.gzip_interval = 512 << 10;
    Result<ArchiveIndex> x = BuildArchiveIndex(dir_ + "/" + name, fd->get(), st, o);
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_EQ(x->container, ArchiveIndex::Container::kTarGz);
    EXPECT_EQ(x->decompressed_size, tar_size);
    EXPECT_GE(x->gzip_points.size(), 6u);  // 3 MiB in 512 KiB intervals
    EXPECT_TRUE(x->damage.empty()) << x->damage;
    EXPECT_EQ(x->members.size(), 4u);  // big.dat, sub, sub/small.dat, sub/empty.dat
    // The checkpoints survive a save and a load (windows compressed in the index file).
    const std::string bytes = SerializeArchiveIndex(*x);
    Result<ArchiveIndex> y = ParseArchiveIndex(bytes);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->gzip_points, x->gzip_points);
    EXPECT_EQ(SerializeArchiveIndex(*y), bytes);
    ExpectMatchesSource(dir_ + "/" + name, "", {"big.dat", "sub/small.dat", "sub/empty.dat"});
  }
}

// The units of a .tar.gz read through GzipSliceSource: an interval over 16 MiB (a long
// stretch without a checkpoint) is served in 4 MiB pieces, each inflated from its checkpoint;
// bytes damaged after indexing give kCorrupt (deflate's structure or the interval's CRC-32),
// never wrong bytes.
TEST_F(ArchiveIndexTest, GzipUnitsArePiecesOfLongIntervalsAndCheckedByCrc) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; head -c 41943040 /dev/zero > src/zeros.dat; tar -cf plain.tar -C src .; "
                  "gzip -1 -c plain.tar > z.tar.gz"),
            0);
  const std::string tar = Slurp(dir_ + "/plain.tar");
  Result<UniqueFd> fd = OpenReadOnly(dir_ + "/z.tar.gz");
  ASSERT_TRUE(fd.ok());
  struct stat st;
  fstat(fd->get(), &st);
  auto read_all = [&](ByteSource& src, int* failed) {
    std::string out;
    for (uint64_t b = 0; b < src.BlockCount(); ++b) {
      std::string block(src.BlockRangeOf(b).length, '\0');
      Status s =
          src.ReadBlock(b, std::span(reinterpret_cast<uint8_t*>(block.data()), block.size()));
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
        ++*failed;
        block.assign(block.size(), '?');
      } else {
        EXPECT_EQ(0, tar.compare(src.BlockRangeOf(b).offset, block.size(), block)) << "block " << b;
      }
      out += block;
    }
    return out;
  };
  {
    ArchiveIndexOptions o;
    o.gzip_interval = 64 << 20;  // one checkpoint: a single 48 MiB interval
    Result<ArchiveIndex> x = BuildArchiveIndex(dir_ + "/z.tar.gz", fd->get(), st, o);
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    ASSERT_EQ(x->gzip_points.size(), 1u);
    auto shared = std::make_shared<ArchiveIndex>(std::move(*x));
    GzipSliceSource src(
        std::make_shared<UniqueFd>(OpenReadOnly(dir_ + "/z.tar.gz").value()), "z",
        std::shared_ptr<const std::vector<GzipCheckpoint>>(shared, &shared->gzip_points),
        shared->decompressed_size, "z");
    EXPECT_EQ(src.BlockCount(), (tar.size() + (4 << 20) - 1) / (4 << 20));
    int failed = 0;
    EXPECT_TRUE(read_all(src, &failed) == tar);
    EXPECT_EQ(failed, 0);
  }
  // Indexed with 1 MiB intervals, then damaged in the middle: reads fail, never lie.
  ArchiveIndexOptions o;
  o.gzip_interval = 1 << 20;
  Result<ArchiveIndex> x = BuildArchiveIndex(dir_ + "/z.tar.gz", fd->get(), st, o);
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(Shell("size=$(stat -c %s " + dir_ + "/z.tar.gz); printf '\\000\\001\\002' | dd of=" +
                  dir_ + "/z.tar.gz bs=1 seek=$((size / 2)) conv=notrunc status=none"),
            0);
  auto shared = std::make_shared<ArchiveIndex>(std::move(*x));
  GzipSliceSource src(
      std::make_shared<UniqueFd>(OpenReadOnly(dir_ + "/z.tar.gz").value()), "z",
      std::shared_ptr<const std::vector<GzipCheckpoint>>(shared, &shared->gzip_points),
      shared->decompressed_size, "z");
  int failed = 0;
  read_all(src, &failed);
  EXPECT_GE(failed, 1);
}

// .tar.xz of one block (single-threaded xz) and .tar.lz4: decompressed once into the spill,
// served as a plain tar from there; without a spill store they are refused with a reason.
TEST_F(ArchiveIndexTest, OneBlockXzAndLz4TarsAreSpilledOnceAndServed) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -cf plain.tar -C src .; xz -1 -T1 -c plain.tar > one.tar.xz; "
                  "lz4 -q -c plain.tar > a.tar.lz4; mkdir -p spill"),
            0);
  for (const char* name : {"one.tar.xz", "a.tar.lz4"}) {
    SCOPED_TRACE(name);
    Result<ArchiveIndex> x = Index(dir_ + "/" + name, dir_ + "/spill");
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_EQ(x->container, ArchiveIndex::Container::kSpilled);
    EXPECT_EQ(x->decompressed_size, std::filesystem::file_size(dir_ + "/plain.tar"));
    EXPECT_TRUE(x->damage.empty()) << x->damage;
    Result<ArchiveIndex> none = Index(dir_ + "/" + name);
    EXPECT_EQ(none.status().code(), Code::kUnavailable);
    EXPECT_NE(none.status().message().find("decompressed once into the cache folder"),
              std::string::npos)
        << none.status().message();
    Shell("rm -rf " + dir_ + "/spill/* " + dir_ + "/state/*");
    ExpectMatchesSource(dir_ + "/" + name, dir_ + "/spill",
                        {"big.dat", "sub/small.dat", "sub/empty.dat"});
  }
}

// .tar.bz2 (one stream of bzip2 -1, and a stream per 900 kB as pbzip2 writes): random access by
// bzip2 block, no spill needed, the index saved and read back; a damaged block fails only the
// reads that need it once indexed, and damage found while indexing keeps the members before it.
TEST_F(ArchiveIndexTest, TarBz2IsRandomAccessByBlock) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -cf plain.tar -C src .; bzip2 -1 -c plain.tar > one.tar.bz2; "
                  "split -b 900K --filter='bzip2 -c' plain.tar > cat.tar.bz2"),
            0);
  for (const char* name : {"one.tar.bz2", "cat.tar.bz2"}) {
    SCOPED_TRACE(name);
    Result<ArchiveIndex> x = Index(dir_ + "/" + name);  // no spill store
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_EQ(x->container, ArchiveIndex::Container::kTarBz2);
    EXPECT_GE(x->bz2_blocks.size(), 6u);
    EXPECT_EQ(x->decompressed_size, std::filesystem::file_size(dir_ + "/plain.tar"));
    EXPECT_TRUE(x->damage.empty()) << x->damage;
    const std::string bytes = SerializeArchiveIndex(*x);
    Result<ArchiveIndex> y = ParseArchiveIndex(bytes);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->bz2_blocks, x->bz2_blocks);
    ExpectMatchesSource(dir_ + "/" + name, "", {"big.dat", "sub/small.dat", "sub/empty.dat"});
  }
  // A block in the middle of big.dat damaged after indexing: its reads fail, the others do not.
  Result<ArchiveIndex> x = Index(dir_ + "/one.tar.bz2");
  ASSERT_TRUE(x.ok());
  const Bz2Block victim = x->bz2_blocks[x->bz2_blocks.size() / 2];
  auto shared = std::make_shared<ArchiveIndex>(std::move(*x));
  ASSERT_EQ(Shell("printf 'XXXXXXXX' | dd of=" + dir_ + "/one.tar.bz2 bs=1 seek=" +
                  std::to_string((victim.bit_offset + victim.bit_end) / 16) +
                  " conv=notrunc status=none"),
            0);
  Result<UniqueFd> fd = OpenReadOnly(dir_ + "/one.tar.bz2");
  ASSERT_TRUE(fd.ok());
  Bz2SliceSource src(std::make_shared<UniqueFd>(std::move(*fd)), "one.tar.bz2",
                     std::shared_ptr<const std::vector<Bz2Block>>(shared, &shared->bz2_blocks),
                     "t");
  const std::string plain = Slurp(dir_ + "/plain.tar");
  for (uint64_t i = 0; i < src.BlockCount(); ++i) {
    BlockRange r = src.BlockRangeOf(i);
    std::vector<uint8_t> out(r.length);
    Status s = src.ReadBlock(i, out);
    if (r.offset == victim.uncompressed_offset) {
      EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
      EXPECT_NE(
          s.message().find("one.tar.bz2: bzip2 block at bit " + std::to_string(victim.bit_offset)),
          std::string::npos)
          << s.message();
    } else {
      ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
      EXPECT_TRUE(std::string(out.begin(), out.end()) == plain.substr(r.offset, r.length)) << i;
    }
  }
  // Indexed again with the damage: the members wholly before the damaged block stay.
  Result<ArchiveIndex> damaged = Index(dir_ + "/one.tar.bz2");
  ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
  EXPECT_NE(damaged->damage.find("bzip2 block at bit"), std::string::npos) << damaged->damage;
  EXPECT_EQ(damaged->decompressed_size, victim.uncompressed_offset);
  for (const ArchiveMember& m : damaged->members) {
    EXPECT_LE(m.data_offset + m.stored_size, victim.uncompressed_offset) << m.stored_path;
  }
}

// A saved .tar.bz2 index of many blocks and one member (a few large detector files make such
// tables) reads back; a block table that cannot be (bit ranges that wrap, overlap or exceed a
// block) is refused.
TEST(ArchiveIndexBz2Test, ManyBlocksOneMemberRoundTripAndBadTablesAreRefused) {
  ArchiveIndex x;
  x.identity = "dev:ino:size:mtime:ctime";
  x.container = ArchiveIndex::Container::kTarBz2;
  for (uint64_t i = 0; i < 1000; ++i) {
    Bz2Block b;
    b.bit_offset = 32 + i * 7000000;
    b.bit_end = b.bit_offset + 7000000;
    b.crc = static_cast<uint32_t>(i * 2654435761u);
    b.level = 9;
    b.uncompressed_offset = i * 900000;
    b.uncompressed_size = 900000;
    x.bz2_blocks.push_back(b);
  }
  x.decompressed_size = 1000 * 900000ull;
  ArchiveMember m;
  m.kind = TarMember::Kind::kFile;
  m.path = m.stored_path = "frames.raw";
  m.data_offset = 512;
  m.stored_size = m.size = x.decompressed_size - 2048;
  x.members.push_back(m);
  Result<ArchiveIndex> y = ParseArchiveIndex(SerializeArchiveIndex(x));
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->bz2_blocks, x.bz2_blocks);
  ASSERT_EQ(y->members.size(), 1u);
  auto refused = [&](const std::function<void(Bz2Block&)>& change) {
    ArchiveIndex bad = x;
    change(bad.bz2_blocks[5]);
    return ParseArchiveIndex(SerializeArchiveIndex(bad)).status().code() == Code::kCorrupt;
  };
  EXPECT_TRUE(refused([](Bz2Block& b) {
    b.bit_offset = UINT64_MAX - 15;
    b.bit_end = 100;
  }));
  EXPECT_TRUE(refused([](Bz2Block& b) { b.bit_end = UINT64_MAX - 2; }));
  EXPECT_TRUE(refused([](Bz2Block& b) { b.bit_offset -= 10; }));  // overlaps the block before
  EXPECT_TRUE(refused([](Bz2Block& b) { b.bit_end = b.bit_offset + kMaxBz2BlockBits + 1; }));
  EXPECT_TRUE(refused([](Bz2Block& b) { b.level = 0; }));
  EXPECT_TRUE(refused([](Bz2Block& b) { b.uncompressed_size = 0; }));
}

// .tar.xz of many blocks (xz -T, and two such files concatenated): random access by block from
// the xz index, no spill needed; a damaged block fails only the reads that need it.
TEST_F(ArchiveIndexTest, MultiBlockTarXzIsRandomAccessByBlock) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; tar -cf plain.tar -C src .; xz -1 -T2 --block-size=512KiB -c plain.tar > "
                  "blocks.tar.xz; head -c 2000000 plain.tar | xz -1 -T2 --block-size=300KiB > "
                  "cat.tar.xz; tail -c +2000001 plain.tar | xz -1 -T2 --block-size=700KiB >> "
                  "cat.tar.xz"),
            0);
  for (const char* name : {"blocks.tar.xz", "cat.tar.xz"}) {
    SCOPED_TRACE(name);
    Result<ArchiveIndex> x = Index(dir_ + "/" + name);  // no spill store
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_EQ(x->container, ArchiveIndex::Container::kTarXz);
    EXPECT_GE(x->xz_blocks.size(), 6u);
    EXPECT_EQ(x->decompressed_size, std::filesystem::file_size(dir_ + "/plain.tar"));
    const std::string bytes = SerializeArchiveIndex(*x);
    Result<ArchiveIndex> y = ParseArchiveIndex(bytes);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->xz_blocks, x->xz_blocks);
    ExpectMatchesSource(dir_ + "/" + name, "", {"big.dat", "sub/small.dat", "sub/empty.dat"});
  }
  // A block in the middle of big.dat damaged: its reads fail, the others do not.
  Result<ArchiveIndex> x = Index(dir_ + "/blocks.tar.xz");
  ASSERT_TRUE(x.ok());
  const XzBlock& victim = x->xz_blocks[x->xz_blocks.size() / 2];
  ASSERT_EQ(Shell("printf 'XXXXXXXX' | dd of=" + dir_ + "/blocks.tar.xz bs=1 seek=" +
                  std::to_string(victim.compressed_offset + victim.total_size / 2) +
                  " conv=notrunc status=none"),
            0);
  std::unique_ptr<Vfs> mount = Mount(dir_ + "/blocks.tar.xz");
  ASSERT_TRUE(mount);
  Vfs& vfs = *mount;
  auto big =
      vfs.Open(vfs.Lookup(vfs.Lookup(1, "blocks.tar.xz")->ino, "big.dat")->ino, O_RDONLY, {});
  ASSERT_TRUE(big.ok());
  const std::string data = Slurp(dir_ + "/src/big.dat");
  std::vector<uint8_t> buf(128 * 1024);
  int bad = 0, good = 0;
  for (uint64_t off = 0; off < data.size(); off += buf.size()) {
    Result<size_t> r = vfs.Read(**big, off, buf);
    if (!r.ok()) {
      EXPECT_EQ(r.status().ToErrno(), EIO);
      EXPECT_NE(r.status().message().find("xz block at compressed offset"), std::string::npos)
          << r.status().message();
      ++bad;
    } else {
      EXPECT_EQ(0, memcmp(buf.data(), data.data() + off, *r)) << off;
      ++good;
    }
  }
  EXPECT_GE(bad, 1);
  EXPECT_LE(bad, 6);  // one 512 KiB block: 4-5 reads of 128 KiB
  EXPECT_GT(good, 15);
}

// gzip data damaged in the middle of big.dat, in an archive of gzip members of 512 KiB of tar
// each (pigz -i, bgzip and `split | gzip` write such): the index keeps the members before the
// damaged gzip member and big.dat itself; reads of what the good gzip members hold work, reads
// that need the damaged one fail with EIO, and no read returns wrong bytes.
TEST_F(ArchiveIndexTest, DamagedTarGzFailsOnlyTheReadsThatNeedIt) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; printf 'first file\\n' > src/0first.txt; "
                  "tar -cf plain.tar -C src 0first.txt big.dat sub; "
                  "split -b 512K --filter='gzip -6 -c' plain.tar > d.tar.gz; "
                  "size=$(stat -c %s d.tar.gz); "
                  "printf '\\377\\377\\377\\377' | "
                  "dd of=d.tar.gz bs=1 seek=$((size * 2 / 3)) conv=notrunc status=none"),
            0);
  Result<ArchiveIndex> x = Index(dir_ + "/d.tar.gz");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_NE(x->damage.find("d.tar.gz: gzip data at compressed offset"), std::string::npos)
      << x->damage;
  ASSERT_GE(x->members.size(), 2u);
  EXPECT_EQ(x->members.back().path, "big.dat");
  EXPECT_TRUE(x->gzip_points.back().damaged);
  std::unique_ptr<Vfs> mount = Mount(dir_ + "/d.tar.gz");
  ASSERT_TRUE(mount);
  Vfs& vfs = *mount;
  const uint64_t root = vfs.Lookup(1, "d.tar.gz")->ino;
  EXPECT_FALSE(vfs.Lookup(root, "sub").ok());  // after the damage: never indexed
  auto first = vfs.Open(vfs.Lookup(root, "0first.txt")->ino, O_RDONLY, {});
  ASSERT_TRUE(first.ok());
  std::vector<uint8_t> buf(128 * 1024);
  Result<size_t> n = vfs.Read(**first, 0, buf);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + *n), "first file\n");
  const std::string data = Slurp(dir_ + "/src/big.dat");
  auto big = vfs.Open(vfs.Lookup(root, "big.dat")->ino, O_RDONLY, {});
  ASSERT_TRUE(big.ok());
  int bad = 0, good = 0;
  bool failed_before = false;
  for (uint64_t off = 0; off < data.size(); off += buf.size()) {
    Result<size_t> r = vfs.Read(**big, off, buf);
    if (!r.ok()) {
      EXPECT_EQ(r.status().ToErrno(), EIO);
      EXPECT_NE(r.status().message().find("d.tar.gz"), std::string::npos) << r.status().message();
      failed_before = true;
      ++bad;
    } else {
      EXPECT_FALSE(failed_before) << "a read after the damage worked at " << off;
      EXPECT_EQ(0, memcmp(buf.data(), data.data() + off, *r)) << off;
      ++good;
    }
  }
  EXPECT_GT(bad, 0);
  EXPECT_GE(good, 8);  // the first 1.5 MiB at least
}

// The archive_index fuzz target's seeds are index files of the current format, one of every
// container kind (regenerated by make_archive_index_seeds when the format changes).
TEST(ArchiveIndexSeedsTest, FuzzSeedsAreCurrentIndexFilesOfEveryKind) {
  std::set<int> kinds;
  for (const auto& e : std::filesystem::directory_iterator(std::string(DAQFS_SOURCE_DIR) +
                                                           "/tests/fuzz/corpus/archive_index")) {
    if (e.path().extension() != ".idx") continue;
    Result<ArchiveIndex> x = ParseArchiveIndex(Slurp(e.path()));
    ASSERT_TRUE(x.ok()) << e.path() << ": " << x.status().ToString();
    EXPECT_FALSE(x->members.empty()) << e.path();
    kinds.insert(static_cast<int>(x->container));
  }
  EXPECT_EQ(kinds, (std::set<int>{0, 1, 2, 3, 4, 5}));
}

TEST_F(ArchiveIndexTest, SerializationRoundTripAndDamageDetected) {
  ASSERT_EQ(Shell("set -e; cd " + dir_ +
                  "; mkdir z; zstd -q src/big.dat -o z/big.dat.zst; "
                  "cp src/sub/small.dat z/; tar --format=pax -cf z.tar -C z ."),
            0);
  Result<ArchiveIndex> x = Index(dir_ + "/z.tar");
  ASSERT_TRUE(x.ok());
  std::string bytes = SerializeArchiveIndex(*x);
  Result<ArchiveIndex> y = ParseArchiveIndex(bytes);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(SerializeArchiveIndex(*y), bytes);
  // Every truncation and every single flipped byte is rejected, never crashes.
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    EXPECT_FALSE(ParseArchiveIndex(std::string_view(bytes).substr(0, cut)).ok());
  }
  for (size_t i = 0; i < bytes.size(); i += 3) {
    std::string bad = bytes;
    bad[i] ^= 0x5a;
    EXPECT_FALSE(ParseArchiveIndex(bad).ok()) << i;
  }
  // Saved and loaded by identity; another identity or a damaged file is refused.
  FolderBlobStore blobs(dir_ + "/state", dir_ + "/state");
  ASSERT_TRUE(SaveArchiveIndex(blobs, *x).ok());
  EXPECT_TRUE(LoadArchiveIndex(blobs, x->identity).ok());
  EXPECT_EQ(LoadArchiveIndex(blobs, "other").status().code(), Code::kNotFound);
  ASSERT_EQ(Shell("for f in " + dir_ +
                  "/state/*.idx; do printf x | dd of=$f bs=1 seek=40 "
                  "conv=notrunc status=none; done"),
            0);
  EXPECT_EQ(LoadArchiveIndex(blobs, x->identity).status().code(), Code::kCorrupt);
}

TEST_F(ArchiveIndexTest, CorruptFrameFailsOnlyItsReads) {
  std::string data = Slurp(dir_ + "/src/big.dat");
  std::vector<uint8_t> z = CompressSeekable(
      std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()), 256 * 1024, 3);
  z[z.size() / 2] ^= 0xff;  // inside some middle frame
  ASSERT_EQ(Shell("mkdir -p " + dir_ + "/c"), 0);
  std::ofstream(dir_ + "/c/big.dat.zst", std::ios::binary)
      .write(reinterpret_cast<const char*>(z.data()), static_cast<std::streamsize>(z.size()));
  ASSERT_EQ(Shell("tar -cf " + dir_ + "/c.tar -C " + dir_ + "/c ."), 0);
  std::unique_ptr<Vfs> mount = Mount(dir_ + "/c.tar");
  ASSERT_TRUE(mount);
  Vfs& vfs = *mount;
  uint64_t ino = vfs.Lookup(vfs.Lookup(1, "c.tar")->ino, "big.dat")->ino;
  auto of = vfs.Open(ino, O_RDONLY, {});
  ASSERT_TRUE(of.ok());
  std::vector<uint8_t> buf(256 * 1024);
  int bad = 0, good = 0;
  for (uint64_t off = 0; off < data.size(); off += buf.size()) {
    Result<size_t> n = vfs.Read(**of, off, buf);
    if (!n.ok()) {
      EXPECT_EQ(n.status().ToErrno(), EIO);
      EXPECT_NE(n.status().message().find("c.tar"), std::string::npos) << n.status().message();
      ++bad;
    } else {
      EXPECT_EQ(0, memcmp(buf.data(), data.data() + off, *n));
      ++good;
    }
  }
  EXPECT_EQ(bad, 1);
  EXPECT_GT(good, 5);
}

}  // namespace
}  // namespace daqfs
