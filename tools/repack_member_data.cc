// Reading member data for daqfs-repack: a member's bytes through pread, zstd recognised by its
// magic (or pzstd's leading skippable frame) and decoded frame by frame, small frames whole and
// large ones streamed, so memory stays at a few MiB whatever the member's size.
#include "tools/repack_member_data.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "fs/unique_fd.h"

namespace daqfs::repack {
namespace {

bool IsSkippableMagic(uint32_t m) { return (m & 0xFFFFFFF0) == 0x184D2A50; }

}  // namespace

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

XxhState NewXxh() {
  XxhState s(XXH64_createState());
  if (!s) std::abort();  // a malloc of a few hundred bytes
  XXH64_reset(s.get(), 0);
  return s;
}

// A reader of one member's data bytes, for IndexZstd and StreamZstdFrame.
CompressedReadFn MemberReader(int fd, const TarMember& m, const std::string& what) {
  const uint64_t base = m.data_offset, size = m.size;
  return [fd, base, size, what](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
    Result<size_t> r = PreadFull(fd, base + offset, out.first(n), what);
    if (r.ok() && *r < n) {
      return Corrupt(what + ": input ends inside the member (truncated archive?)");
    }
    return r;
  };
}

bool IsZstdMagic(uint32_t m) { return m == 0xFD2FB528; }

// Decides whether a member's data is zstd: a zstd frame magic, or a skippable frame (pzstd)
// followed by something IndexZstd accepts. A name ending in ".zst" must be zstd data.
Result<ZstdProbe> ProbeZstd(int fd, const std::string& tar_name, const TarMember& data,
                            const std::string& name_for_suffix) {
  const std::string what = tar_name + ": member " + Quote(data.path);
  const bool named_zst = name_for_suffix.ends_with(".zst");
  ZstdProbe probe;
  probe.content_bytes = data.size;
  uint8_t head[4] = {};
  if (data.size >= 4) {
    Result<size_t> n = PreadFull(fd, data.data_offset, head, what);
    if (!n.ok()) return n.status();
    if (*n < 4) return Corrupt(what + ": input ends inside the member");
  }
  const uint32_t magic = uint32_t{head[0]} | uint32_t{head[1]} << 8 | uint32_t{head[2]} << 16 |
                         uint32_t{head[3]} << 24;
  const bool maybe = data.size >= 4 && (IsZstdMagic(magic) || IsSkippableMagic(magic));
  if (!maybe) {
    if (named_zst) return Corrupt(what + ": named .zst but does not hold zstd data");
    return probe;
  }
  Result<ZstdIndex> index = IndexZstd(MemberReader(fd, data, what), data.size, what);
  if (!index.ok()) {
    // Data that merely starts like a skippable frame is plain data, unless the name says zstd.
    if (IsZstdMagic(magic) || named_zst) return index.status();
    return probe;
  }
  probe.zstd = true;
  probe.content_size_known = index->all_sizes_known;
  probe.content_bytes = index->all_sizes_known ? index->decompressed_size : 0;
  return probe;
}

// Hands a member's content (decompressed when `zstd`) to `emit` in pieces. `stored_done` grows
// by the stored bytes consumed, as they are consumed. Stops at the first failing emit and
// returns its status.
Status ReadContent(int fd, const std::string& tar_name, const TarMember& m, bool zstd,
                   const std::function<Status(std::span<const uint8_t>)>& emit,
                   std::atomic<uint64_t>* stored_done) {
  const std::string what = tar_name + ": member " + Quote(m.path);
  uint64_t counted = 0;
  auto count = [&](uint64_t n) {
    counted += n;
    stored_done->fetch_add(n, std::memory_order_relaxed);
  };
  if (!zstd) {
    std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kPiece, m.size)));
    CompressedReadFn read = MemberReader(fd, m, what);
    for (uint64_t off = 0; off < m.size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), m.size - off));
      Result<size_t> r = read(off, std::span(buf.data(), n));
      if (!r.ok()) return r.status();
      if (Status s = emit(std::span<const uint8_t>(buf.data(), n)); !s.ok()) return s;
      off += n;
      count(n);
    }
    return Status::Ok();
  }
  CompressedReadFn read = MemberReader(fd, m, what);
  Result<ZstdIndex> index = IndexZstd(read, m.size, what);
  if (!index.ok()) return index.status();
  std::vector<uint8_t> comp, plain;
  for (const ZstdFrame& f : index->frames) {
    const bool direct = f.content_size_known && f.decompressed_size <= kDirectFrameLimit &&
                        f.compressed_size <= f.decompressed_size + kPiece;
    if (direct) {
      comp.resize(static_cast<size_t>(f.compressed_size));
      plain.resize(static_cast<size_t>(f.decompressed_size));
      Result<size_t> r = read(f.compressed_offset, comp);
      if (!r.ok()) return r.status();
      const uint32_t* sum = f.seek_table_has_checksum ? &f.seek_table_checksum : nullptr;
      if (Status s = DecodeZstdFrame(comp, plain, sum, what); !s.ok()) return s;
      if (Status s = emit(plain); !s.ok()) return s;
    } else {
      Status emitted;
      Status s = StreamZstdFrame(
          read, f.compressed_offset, f.compressed_size, kPiece,
          [&](std::span<const uint8_t> piece) {
            if (emitted.ok()) emitted = emit(piece);
            return emitted.ok();
          },
          what);
      if (!emitted.ok()) return emitted;
      if (!s.ok()) return s;
    }
    count(f.compressed_size);
  }
  count(m.size - std::min(m.size, counted));  // skippable frames and seek tables
  return Status::Ok();
}

}  // namespace daqfs::repack
