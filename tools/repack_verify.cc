// Verification for daqfs-repack (VerifyOutput in tools/repack.h): an output is read back the
// way daqfs reads it (tar index, zstd seek table, every frame decoded with its checksums) and
// each member's XXH64 and size compared with what ExecuteRepack recorded from its input.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "fs/unique_fd.h"
#include "tools/repack.h"
#include "tools/repack_member_data.h"

namespace daqfs {

using repack::kMaxFrameSize;
using repack::kPiece;
using repack::MemberReader;
using repack::NewXxh;
using repack::Quote;
using repack::XxhState;

std::vector<std::string> VerifyOutput(const WrittenOutput& output) {
  std::vector<std::string> problems;
  const std::string& path = output.path;
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return {fd.status().ToString()};
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return {ErrnoStatus(errno, "stat " + path).ToString()};
  const int raw = fd->get();
  Result<TarIndex> index = IndexTar(
      [raw, path](uint64_t off, std::span<uint8_t> out) { return PreadFull(raw, off, out, path); },
      static_cast<uint64_t>(st.st_size), path);
  if (!index.ok()) return {index.status().ToString()};
  if (!index->damage.ok()) problems.push_back(path + ": " + index->damage.message());
  for (const std::string& w : index->warnings) problems.push_back(path + ": " + w);

  std::map<std::string, const TarMember*> found;
  for (const TarMember& m : index->members) found[m.path] = &m;
  std::set<std::string> expected_paths;
  std::vector<uint8_t> comp, plain;
  for (const ExpectedMember& e : output.members) {
    expected_paths.insert(e.path);
    const std::string what = path + ": member " + Quote(e.path);
    auto it = found.find(e.path);
    if (it == found.end()) {
      problems.push_back(what + " is missing");
      continue;
    }
    const TarMember& m = *it->second;
    const bool kind_ok =
        (e.kind == TarEntry::Kind::kFile && m.kind == TarMember::Kind::kFile) ||
        (e.kind == TarEntry::Kind::kDirectory && m.kind == TarMember::Kind::kDirectory) ||
        (e.kind == TarEntry::Kind::kSymlink && m.kind == TarMember::Kind::kSymlink);
    if (!kind_ok) {
      problems.push_back(what + " has the wrong type");
      continue;
    }
    if (e.kind == TarEntry::Kind::kSymlink && m.link_target != e.link_target) {
      problems.push_back(what + " points to " + Quote(m.link_target) + ", expected " +
                         Quote(e.link_target));
    }
    if (e.kind != TarEntry::Kind::kFile) continue;
    CompressedReadFn read = MemberReader(raw, m, what);
    Result<ZstdIndex> zi = IndexZstd(read, m.size, what);
    if (!zi.ok()) {
      problems.push_back(zi.status().message());
      continue;
    }
    if (!zi->from_seek_table) {
      problems.push_back(what + " has no usable seek table" +
                         (zi->note.empty() ? "" : " (" + zi->note + ")"));
    }
    XxhState xxh = NewXxh();
    uint64_t size = 0;
    Status s;
    for (const ZstdFrame& f : zi->frames) {
      if (f.content_size_known && f.decompressed_size <= kMaxFrameSize &&
          f.compressed_size <= f.decompressed_size + kPiece) {
        comp.resize(static_cast<size_t>(f.compressed_size));
        plain.resize(static_cast<size_t>(f.decompressed_size));
        Result<size_t> r = read(f.compressed_offset, comp);
        s = r.ok() ? Status::Ok() : r.status();
        const uint32_t* sum = f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr;
        if (s.ok()) s = DecodeZstdFrame(comp, plain, sum, what);
        if (s.ok()) XXH64_update(xxh.get(), plain.data(), plain.size());
        size += plain.size();
      } else {
        s = StreamZstdFrame(
            read, f.compressed_offset, f.compressed_size, kPiece,
            [&](std::span<const uint8_t> p) {
              XXH64_update(xxh.get(), p.data(), p.size());
              size += p.size();
              return true;
            },
            what);
      }
      if (!s.ok()) break;
    }
    if (!s.ok()) {
      problems.push_back(s.message());
    } else if (size != e.content_size || XXH64_digest(xxh.get()) != e.xxh64) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " (%llu bytes, xxh64 %016llx; expected %llu bytes, %016llx)",
                    static_cast<unsigned long long>(size),
                    static_cast<unsigned long long>(XXH64_digest(xxh.get())),
                    static_cast<unsigned long long>(e.content_size),
                    static_cast<unsigned long long>(e.xxh64));
      problems.push_back(what + " differs from its input" + buf);
    }
  }
  for (const auto& [p, m] : found) {
    if (!expected_paths.contains(p)) problems.push_back(path + ": unexpected member " + Quote(p));
  }
  return problems;
}

std::vector<std::string> VerifyOutputs(const std::vector<WrittenOutput>& outputs,
                                       unsigned threads) {
  std::vector<std::vector<std::string>> problems(outputs.size());
  std::atomic<size_t> next{0};
  unsigned n = threads ? threads : std::thread::hardware_concurrency();
  n = std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(outputs.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < outputs.size();)
        problems[i] = VerifyOutput(outputs[i]);
    });
  }
  for (std::thread& t : pool) t.join();
  std::vector<std::string> all;
  for (auto& p : problems) all.insert(all.end(), p.begin(), p.end());
  return all;
}

}  // namespace daqfs
