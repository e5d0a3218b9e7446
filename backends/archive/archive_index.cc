#include "backends/archive/archive_index.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "backends/archive/stream_codecs.h"
#include "backends/common/zstd_owners.h"
#include "fs/log.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

constexpr char kIndexMagic[8] = {'D', 'Q', 'F', 'S', 'I', 'D', 'X', '1'};
// Blocks up to this size make a .tar.xz random access (xz -T at -9 writes 192 MiB blocks:
// those are spilled instead); a saved index with a larger one is refused.
constexpr uint64_t kRandomAccessXzBlock = 64 << 20;
// 2: .tar.gz checkpoints; 3: .tar.xz blocks; 4: CRC-32 of each .tar.gz checkpoint interval;
// 5: .tar.bz2 blocks (spilled before).
constexpr uint32_t kIndexVersion = 5;
// Frames up to this size are decoded whole for random access; larger ones stream.
constexpr uint64_t kRandomAccessFrame = 16 << 20;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return !suffix.empty() && s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Decompressed bytes of a zstd stream, read forward through one ZSTD_DStream (a read behind the
// current position restarts from the beginning). Records each frame's decompressed size.
class ZstdStreamReader {
 public:
  ZstdStreamReader(int fd, uint64_t size, std::string what)
      : fd_(fd), size_(size), what_(std::move(what)), ds_(MakeZstdDCtx()) {
    in_.resize(1 << 20);
  }

  // Fills `out` from decompressed offset `off`; short only at the end of the stream.
  Result<size_t> Read(uint64_t off, std::span<uint8_t> out) {
    if (off < buffered_start_) Restart();  // only a read behind what is buffered rewinds
    size_t done = 0;
    while (done < out.size()) {
      if (buffered_start_ <= off + done && off + done < buffered_start_ + buf_.size()) {
        size_t at = off + done - buffered_start_;
        size_t n = std::min(out.size() - done, buf_.size() - at);
        std::memcpy(out.data() + done, buf_.data() + at, n);
        done += n;
        continue;
      }
      Result<bool> more = Next();
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
    return done;
  }

  // Decodes to the end (learning every frame's size); `sink` gets all bytes if set.
  Status Drain(const std::function<Status(std::span<const uint8_t>)>& sink) {
    for (;;) {
      if (sink && !buf_.empty() && buffered_start_ + buf_.size() > drained_) {
        size_t at = drained_ > buffered_start_ ? drained_ - buffered_start_ : 0;
        Status s = sink(std::span<const uint8_t>(buf_).subspan(at));
        if (!s.ok()) return s;
        drained_ = buffered_start_ + buf_.size();
      }
      Result<bool> more = Next();
      if (!more.ok()) return more.status();
      if (!*more) return Status::Ok();
    }
  }

  // Decompressed size of the frame ending at each compressed offset seen.
  const std::map<uint64_t, uint64_t>& frame_ends() const { return frame_ends_; }
  uint64_t total() const { return pos_; }
  bool finished() const { return eof_; }

 private:
  void Restart() {
    if (ds_) ZSTD_DCtx_reset(ds_.get(), ZSTD_reset_session_only);
    in_off_ = 0;
    in_pos_ = in_len_ = 0;
    pos_ = 0;
    buffered_start_ = 0;
    buf_.clear();
    frame_ends_.clear();
    frame_out_ = 0;
    eof_ = false;
    drained_ = 0;
  }

  // Decodes the next chunk into buf_; false at the end of the stream.
  Result<bool> Next() {
    if (eof_) return false;
    if (!ds_) return Status(Code::kNoMemory, what_ + ": cannot create a zstd context");
    buffered_start_ = pos_;
    buf_.resize(1 << 20);
    size_t produced = 0;
    while (produced == 0) {
      if (in_pos_ == in_len_) {
        if (in_off_ >= size_) {
          if (frame_out_ > 0 || in_frame_) {
            return Corrupt(what_ + ": zstd stream ends inside a frame at offset " +
                           std::to_string(in_off_));
          }
          eof_ = true;
          buf_.clear();
          return false;
        }
        size_t want = static_cast<size_t>(std::min<uint64_t>(in_.size(), size_ - in_off_));
        Result<size_t> n = PreadFull(fd_, in_off_, std::span(in_.data(), want), what_);
        if (!n.ok()) return n.status();
        if (*n == 0) return Corrupt(what_ + ": short read at offset " + std::to_string(in_off_));
        in_pos_ = 0;
        in_len_ = *n;
        in_off_ += *n;
      }
      ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
      ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
      size_t r = ZSTD_decompressStream(ds_.get(), &out, &in);
      if (ZSTD_isError(r)) {
        return Corrupt(what_ + ": zstd decode failed near compressed offset " +
                       std::to_string(in_off_ - in_len_ + in_pos_) + ": " + ZSTD_getErrorName(r));
      }
      in_frame_ = r != 0;
      in_pos_ = in.pos;
      produced = out.pos;
      frame_out_ += out.pos;
      if (r == 0) {  // a frame (data or skippable) ended at this compressed offset
        frame_ends_[in_off_ - in_len_ + in_pos_] = frame_out_;
        frame_out_ = 0;
      }
      if (produced == 0 && in_pos_ == in_len_ && in_off_ >= size_ && r == 0) {
        eof_ = true;
        buf_.clear();
        return false;
      }
    }
    buf_.resize(produced);
    pos_ += produced;
    return true;
  }

  int fd_;
  uint64_t size_;
  std::string what_;
  ZstdDCtxPtr ds_;  // a ZSTD_DStream
  std::vector<uint8_t> in_;
  uint64_t in_off_ = 0;
  size_t in_pos_ = 0, in_len_ = 0;
  bool in_frame_ = false;
  uint64_t pos_ = 0;             // decompressed bytes produced so far
  uint64_t buffered_start_ = 0;  // decompressed offset of buf_[0]
  std::vector<uint8_t> buf_;
  std::map<uint64_t, uint64_t> frame_ends_;
  uint64_t frame_out_ = 0;
  bool eof_ = false;
  uint64_t drained_ = 0;
};

// Random access to a stream cut into entries of known decoded ranges (zstd frames of known size,
// xz blocks): decodes the entry a read falls in, remembering the last one, as the tar parser
// reads headers in order. `range(entry)` gives its decoded {offset, size}; `decode` fills it.
template <typename Entry>
class EntryReader {
 public:
  using RangeFn = std::pair<uint64_t, uint64_t> (*)(const Entry&);
  using DecodeFn = std::function<Status(const Entry&, std::span<uint8_t>)>;
  EntryReader(const std::vector<Entry>& entries, RangeFn range, DecodeFn decode)
      : entries_(entries), range_(range), decode_(std::move(decode)) {}
  Result<size_t> Read(uint64_t off, std::span<uint8_t> out) {
    size_t done = 0;
    while (done < out.size()) {
      const uint64_t at = off + done;
      auto it =
          std::upper_bound(entries_.begin(), entries_.end(), at,
                           [this](uint64_t v, const Entry& e) { return v < range_(e).first; });
      if (it == entries_.begin()) break;
      const size_t k = static_cast<size_t>(it - entries_.begin()) - 1;
      const auto [begin, length] = range_(entries_[k]);
      if (at >= begin + length) break;  // past the end
      if (memo_entry_ != k) {
        memo_entry_ = SIZE_MAX;  // a failed decode leaves nothing remembered
        memo_.resize(length);
        if (Status s = decode_(entries_[k], memo_); !s.ok()) return s;
        memo_entry_ = k;
      }
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(out.size() - done, length - (at - begin)));
      std::memcpy(out.data() + done, memo_.data() + (at - begin), n);
      done += n;
    }
    return done;
  }

 private:
  const std::vector<Entry>& entries_;
  RangeFn range_;
  DecodeFn decode_;
  size_t memo_entry_ = SIZE_MAX;
  std::vector<uint8_t> memo_;
};

// Fills in the sizes of frames that did not record them, by decoding those frames once.
Status LearnFrameSizes(int fd, uint64_t base, std::vector<ZstdFrame>* frames,
                       const std::string& what) {
  CompressedReadFn read = PreadReader(fd, what);
  uint64_t dpos = 0;
  for (ZstdFrame& f : *frames) {
    if (!f.content_size_known) {
      uint64_t n = 0;
      Status s = StreamZstdFrame(
          read, base + f.compressed_offset, f.compressed_size, 1 << 20,
          [&](std::span<const uint8_t> piece) {
            n += piece.size();
            return true;
          },
          what);
      if (!s.ok()) return s;
      f.decompressed_size = n;
      f.content_size_known = true;
    }
    f.decompressed_offset = dpos;
    dpos += f.decompressed_size;
  }
  return Status::Ok();
}

// Turns tar members into archive members; indexes zstd members (their bytes live in `fd` at
// data_offset, i.e. the container is a plain or spilled tar).
void AddMembers(const TarIndex& tar, int fd, bool can_index_zstd, const std::string& what,
                const ArchiveIndexOptions& options, ArchiveIndex* out) {
  std::unordered_map<std::string, std::string> shown_of;  // stored path -> shown path
  for (const TarMember& t : tar.members) {
    ArchiveMember m;
    m.kind = t.kind;
    m.path = m.stored_path = t.path;
    m.data_offset = t.data_offset;
    m.stored_size = m.size = t.size;
    m.mode = t.mode;
    m.uid = t.uid;
    m.gid = t.gid;
    m.mtime = t.mtime;
    m.link_target = t.link_target;
    m.xattrs = t.xattrs;
    if (t.kind == TarMember::Kind::kHardLink) {
      auto it = shown_of.find(t.link_target);
      if (it != shown_of.end()) m.link_target = it->second;
    }
    if (t.kind == TarMember::Kind::kFile && can_index_zstd &&
        EndsWith(t.path, options.strip_suffix) && t.size >= 4) {
      uint64_t base = t.data_offset, size = t.size;
      std::string mwhat = what + ": " + t.path;
      CompressedReadFn read = [fd, base, size, mwhat](uint64_t off, std::span<uint8_t> buf) {
        if (off >= size) return Result<size_t>(size_t{0});
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
        return PreadFull(fd, base + off, buf.first(n), mwhat);
      };
      Result<ZstdIndex> z = IndexZstd(read, size, mwhat);
      Status learned = z.ok() && !z->all_sizes_known ? LearnFrameSizes(fd, base, &z->frames, mwhat)
                                                     : Status::Ok();
      if (z.ok() && learned.ok()) {
        if (!z->note.empty()) out->warnings.push_back(t.path + ": " + z->note);
        m.zstd = true;
        m.seek_table = z->from_seek_table;
        m.frames = std::move(z->frames);
        m.size = 0;
        for (const ZstdFrame& f : m.frames) m.size += f.decompressed_size;
        m.path = t.path.substr(0, t.path.size() - options.strip_suffix.size());
      } else {
        // Not zstd after all, or damaged: shown as stored, under its own name, and logged.
        out->warnings.push_back(
            t.path + ": not served decompressed: " + (z.ok() ? learned : z.status()).ToString());
      }
    }
    shown_of[m.stored_path] = m.path;
    out->members.push_back(std::move(m));
  }
  for (const std::string& w : tar.warnings) out->warnings.push_back(w);
  if (!tar.damage.ok()) out->damage = tar.damage.message();
}

// --- serialization: little-endian, length-prefixed, bounds-checked on read ---

class Writer {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Str(const std::string& v) {
    U64(v.size());
    s_ += v;
  }
  void Frame(const ZstdFrame& f) {
    U64(f.compressed_offset);
    U64(f.compressed_size);
    U64(f.decompressed_offset);
    U64(f.decompressed_size);
    U8(static_cast<uint8_t>(f.content_size_known | (f.has_checksum << 1) |
                            (f.seek_table_has_checksum << 2)));
    U32(f.seek_table_checksum);
  }
  // A checkpoint; its window zstd-compressed (windows of text or counts shrink 3-10x).
  void Block(const XzBlock& b) {
    U64(b.compressed_offset);
    U64(b.total_size);
    U64(b.unpadded_size);
    U64(b.uncompressed_offset);
    U64(b.uncompressed_size);
    U32(b.check);
  }
  void Bz2(const Bz2Block& b) {
    U64(b.bit_offset);
    U64(b.bit_end);
    U32(b.crc);
    U8(b.level);
    U64(b.uncompressed_offset);
    U64(b.uncompressed_size);
  }
  void Point(const GzipCheckpoint& p) {
    U64(p.in_offset);
    U8(p.bits);
    U8((p.member_start ? 1 : 0) | (p.damaged ? 2 : 0) | (p.has_crc ? 4 : 0));
    U32(p.crc);
    U64(p.out_offset);
    U64(p.window.size());
    std::string z(ZSTD_compressBound(p.window.size()), '\0');
    const size_t n = ZSTD_compress(z.data(), z.size(), p.window.data(), p.window.size(), 1);
    z.resize(ZSTD_isError(n) ? 0 : n);
    Str(z);
  }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  uint8_t U8() {
    if (pos_ + 1 > s_.size()) return Fail();
    return static_cast<uint8_t>(s_[pos_++]);
  }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(U8()) << (8 * i);
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(U8()) << (8 * i);
    return v;
  }
  std::string Str() {
    uint64_t n = U64();
    if (!ok_ || n > s_.size() - pos_) {
      Fail();
      return "";
    }
    std::string v(s_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  // A count of items each at least `min_bytes` long: rejects counts the data cannot hold.
  uint64_t Count(size_t min_bytes) {
    uint64_t n = U64();
    if (!ok_ || (min_bytes && n > (s_.size() - pos_) / min_bytes)) {
      Fail();
      return 0;
    }
    return n;
  }
  ZstdFrame Frame() {
    ZstdFrame f;
    f.compressed_offset = U64();
    f.compressed_size = U64();
    f.decompressed_offset = U64();
    f.decompressed_size = U64();
    uint8_t flags = U8();
    f.content_size_known = flags & 1;
    f.has_checksum = flags & 2;
    f.seek_table_has_checksum = flags & 4;
    f.seek_table_checksum = U32();
    return f;
  }
  XzBlock Block() {
    XzBlock b;
    b.compressed_offset = U64();
    b.total_size = U64();
    b.unpadded_size = U64();
    b.uncompressed_offset = U64();
    b.uncompressed_size = U64();
    b.check = U32();
    return b;
  }
  Bz2Block Bz2() {
    Bz2Block b;
    b.bit_offset = U64();
    b.bit_end = U64();
    b.crc = U32();
    b.level = U8();
    b.uncompressed_offset = U64();
    b.uncompressed_size = U64();
    return b;
  }
  GzipCheckpoint Point() {
    GzipCheckpoint p;
    p.in_offset = U64();
    p.bits = U8();
    const uint8_t flags = U8();
    p.member_start = flags & 1;
    p.damaged = flags & 2;
    p.has_crc = flags & 4;
    p.crc = U32();
    p.out_offset = U64();
    const uint64_t raw = U64();
    const std::string z = Str();
    if (!ok_ || p.bits > 7 || raw > kGzipWindowBytes || (p.member_start && raw != 0)) {
      Fail();
      return p;
    }
    p.window.resize(raw);
    const size_t n = ZSTD_decompress(p.window.data(), raw, z.data(), z.size());
    if (raw != 0 && (ZSTD_isError(n) || n != raw)) Fail();
    return p;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  uint8_t Fail() {
    ok_ = false;
    pos_ = s_.size();
    return 0;
  }
  std::string_view s_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::string BlobNameOf(const std::string& identity, const char* suffix) {
  char name[40];
  std::snprintf(name, sizeof name, "%016llx%s",
                static_cast<unsigned long long>(XXH64(identity.data(), identity.size(), 0)),
                suffix);
  return name;
}

}  // namespace

std::string IndexBlobName(const std::string& identity) { return BlobNameOf(identity, ".idx"); }
std::string SpillBlobName(const std::string& identity) { return BlobNameOf(identity, ".tar"); }

namespace {

// The tar parser of a compressed stream was told a huge size: members reaching past `end`, the
// real end of the decoded stream, are damage (a stream cut short), the rest is kept. With
// `keep_cut`, the member `end` falls in is kept too (its reads past `end` fail then).
void KeepMembersBefore(uint64_t end, const TarIndex& tar, const std::string& path, bool keep_cut,
                       ArchiveIndex* index) {
  size_t kept = 0;
  for (ArchiveMember& m : index->members) {
    if (m.data_offset > end) break;  // its header came from past the end: never trusted
    if (m.kind == TarMember::Kind::kFile && m.data_offset + m.stored_size > end) {
      if (index->damage.empty()) {
        index->damage = path + ": archive ends inside member " + m.stored_path +
                        " (decompressed offset " + std::to_string(m.data_offset) + ")";
      }
      if (keep_cut && m.data_offset < end) ++kept;
      break;
    }
    ++kept;
  }
  index->members.resize(kept);
  if (index->damage.empty() && !tar.damage.ok() && tar.end_offset >= end) {
    index->damage = path + ": the archive has no end-of-archive blocks";
  }
}

// Decodes the whole archive once into a spill blob (`decode` hands the output to its sink) and
// indexes it as a plain tar: index->container becomes kSpilled. Damage in the data keeps the
// decoded part (the members before it, recorded in index->damage).
Status SpillArchive(const std::string& path, const ArchiveIndexOptions& options,
                    ArchiveIndex* index,
                    const std::function<Status(const StreamSink&, uint64_t* verified)>& decode) {
  std::string name = SpillBlobName(index->identity);
  Result<std::unique_ptr<BlobWriter>> out = options.spill->Create(name, 0);
  if (!out.ok()) return out.status();
  uint64_t written = 0;
  uint64_t verified = UINT64_MAX;  // what a damaged decode still vouches for
  Status s = decode(
      [&](std::span<const uint8_t> bytes) {
        Status a = (*out)->Append(bytes);
        if (a.ok()) written += bytes.size();
        return a;
      },
      &verified);
  std::string salvage;
  if (!s.ok() && s.code() == Code::kCorrupt) {
    salvage = s.message();  // keep the decoded part: the members before the damage
    LogWarn(salvage + "; serving what decoded before it");
    s = Status::Ok();
  }
  Result<std::shared_ptr<Blob>> blob = s.ok() ? (*out)->Commit() : Result<std::shared_ptr<Blob>>(s);
  out->reset();
  if (!blob.ok()) {
    options.spill->Erase(name);
    return blob.status();
  }
  // After damage only the verified part is indexed: members reaching past it are not served.
  const uint64_t trusted = salvage.empty() ? written : std::min(written, verified);
  Result<TarIndex> tar =
      IndexTar(PreadReader((*blob)->fd()->get(), (*blob)->path()), trusted, path);
  if (!tar.ok()) return tar.status();
  index->container = ArchiveIndex::Container::kSpilled;
  index->spill_path = name;
  index->spill_blob = *blob;
  index->decompressed_size = written;
  AddMembers(*tar, (*blob)->fd()->get(), !options.strip_suffix.empty(), path, options, index);
  if (!salvage.empty()) index->damage = salvage;
  return Status::Ok();
}

Result<ArchiveIndex> BuildSpilledIndex(const std::string& path, int fd, uint64_t size,
                                       StreamCodec codec, const ArchiveIndexOptions& options,
                                       ArchiveIndex index);

// A .tar.xz: by blocks when it has several of a reasonable size, else spilled.
Result<ArchiveIndex> BuildXzIndex(const std::string& path, int fd, uint64_t size,
                                  const ArchiveIndexOptions& options, ArchiveIndex index) {
  Result<std::vector<XzBlock>> blocks = ReadXzBlocks(PreadReader(fd, path), size, path);
  uint64_t largest = 0;
  if (blocks.ok()) {
    for (const XzBlock& b : *blocks) largest = std::max(largest, b.uncompressed_size);
  } else {
    LogWarn(blocks.status().message() + "; decompressing the whole archive instead");
  }
  if (!blocks.ok() || blocks->size() < 2 || largest > kRandomAccessXzBlock) {
    return BuildSpilledIndex(path, fd, size, StreamCodec::kXz, options, std::move(index));
  }
  index.container = ArchiveIndex::Container::kTarXz;
  index.xz_blocks = std::move(*blocks);
  index.decompressed_size =
      index.xz_blocks.back().uncompressed_offset + index.xz_blocks.back().uncompressed_size;
  // Only the blocks holding tar headers are decoded.
  EntryReader<XzBlock> reader(
      index.xz_blocks,
      [](const XzBlock& b) { return std::pair(b.uncompressed_offset, b.uncompressed_size); },
      [read = PreadReader(fd, path), &path](const XzBlock& b, std::span<uint8_t> out) {
        return DecodeXzBlock(read, b, out, path);
      });
  TarReadFn read = [&reader](uint64_t off, std::span<uint8_t> out) {
    return reader.Read(off, out);
  };
  Result<TarIndex> tar = IndexTar(read, index.decompressed_size, path);
  if (!tar.ok()) return tar.status();
  AddMembers(*tar, fd, false, path, options, &index);
  return index;
}

// A .tar.bz2: one pass decodes every block once (the tar headers are read from its output) and
// records each block's bits; afterwards a block decodes alone. Damage ends what is trusted at
// the damaged block: the members wholly before it stay.
Result<ArchiveIndex> BuildBz2Index(const std::string& path, int fd, uint64_t size,
                                   const ArchiveIndexOptions& options, ArchiveIndex index) {
  Bz2StreamIndexer stream(PreadReader(fd, path), size, path);
  TarReadFn read = [&stream](uint64_t off, std::span<uint8_t> out) {
    return stream.Read(off, out);
  };
  Result<TarIndex> tar = IndexTar(read, UINT64_MAX / 4, path);
  if (!tar.ok()) return tar.status();
  Status drained = stream.Drain();
  if (!drained.ok() && drained.code() != Code::kCorrupt) return drained;
  if (!drained.ok()) {
    index.damage = drained.message();
    LogWarn(drained.message() + "; serving what decodes before it");
  }
  if (stream.blocks().empty()) {
    return drained.ok() ? Corrupt(path + ": a bzip2 stream without data") : drained;
  }
  if (!stream.trailing().empty()) index.warnings.push_back(path + ": " + stream.trailing());
  const uint64_t end = stream.verified();
  index.container = ArchiveIndex::Container::kTarBz2;
  index.bz2_blocks = stream.Take();
  index.decompressed_size = end;
  AddMembers(*tar, fd, false, path, options, &index);
  KeepMembersBefore(end, *tar, path, false, &index);
  return index;
}

// A .tar.xz or .tar.lz4: decoded once into the spill (stream_codecs.h).
Result<ArchiveIndex> BuildSpilledIndex(const std::string& path, int fd, uint64_t size,
                                       StreamCodec codec, const ArchiveIndexOptions& options,
                                       ArchiveIndex index) {
  if (!options.spill) {
    return Status(Code::kUnavailable,
                  path + ": a " + StreamCodecName(codec) +
                      "-compressed tar is decompressed once into the cache folder, and this "
                      "mount has none (set [cache] dir and a disk budget)");
  }
  Status s = SpillArchive(path, options, &index, [&](const StreamSink& sink, uint64_t* verified) {
    return DecodeStream(codec, PreadReader(fd, path), size, path, sink, verified);
  });
  if (!s.ok()) return s;
  return index;
}

// A .tar.gz: the tar headers read through one forward inflate that records the checkpoints.
Result<ArchiveIndex> BuildGzipIndex(const std::string& path, int fd, uint64_t size,
                                    const ArchiveIndexOptions& options, ArchiveIndex index) {
  GzipStreamIndexer stream(PreadReader(fd, path), size, path, options.gzip_interval);
  TarReadFn read = [&stream](uint64_t off, std::span<uint8_t> out) {
    return stream.Read(off, out);
  };
  Result<TarIndex> tar = IndexTar(read, UINT64_MAX / 4, path);
  if (!tar.ok()) return tar.status();
  Status drained = stream.Drain();
  if (!drained.ok() && drained.code() != Code::kCorrupt) return drained;
  // Damaged data ends what can be trusted: the gzip members before the damaged one. The tar
  // members before that stay, and the one it falls in (its reads past it fail).
  const uint64_t end = stream.verified();
  GzipIndex gz = stream.Take();
  uint64_t cut_at = UINT64_MAX;  // where the first dropped point was
  while (!gz.points.empty() && gz.points.back().out_offset >= end && gz.points.size() > 1) {
    cut_at = gz.points.back().out_offset;
    gz.points.pop_back();  // their windows come from untrusted output
  }
  // The last interval's CRC is known only if it ran exactly to `end`.
  if (!drained.ok() && cut_at != end) gz.points.back().has_crc = false;
  if (!drained.ok()) {
    index.damage = drained.message();
    LogWarn(drained.message() + "; serving what decodes before it");
  }
  if (!gz.trailing.empty()) index.warnings.push_back(path + ": " + gz.trailing);
  index.container = ArchiveIndex::Container::kTarGz;
  index.gzip_points = std::move(gz.points);
  index.decompressed_size = end;
  AddMembers(*tar, fd, false, path, options, &index);
  KeepMembersBefore(end, *tar, path, true, &index);
  // The members kept may reach past the decoded end (the damaged one): the stream's size is
  // theirs, and reads past `end` fail when they try to inflate there.
  for (const ArchiveMember& m : index.members) {
    index.decompressed_size = std::max(index.decompressed_size, m.data_offset + m.stored_size);
  }
  if (index.decompressed_size > end) {
    GzipCheckpoint cut;
    cut.out_offset = end;
    cut.damaged = true;
    if (index.gzip_points.back().out_offset == end) index.gzip_points.pop_back();  // 0 only
    index.gzip_points.push_back(std::move(cut));
  }
  return index;
}

}  // namespace

Result<ArchiveIndex> BuildArchiveIndex(const std::string& path, int fd, const struct stat& st,
                                       const ArchiveIndexOptions& options) {
  ArchiveIndex index;
  index.identity = FileIdentity(st);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint8_t magic[4] = {0, 0, 0, 0};
  Result<size_t> mn = PreadFull(fd, 0, magic, path);
  if (!mn.ok()) return mn.status();
  // A zstd frame (28 b5 2f fd) or a skippable frame (5? 2a 4d 18, as pzstd starts) first.
  bool zstd_container =
      *mn == 4 &&
      ((magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD) ||
       ((magic[0] & 0xF0) == 0x50 && magic[1] == 0x2A && magic[2] == 0x4D && magic[3] == 0x18));
  if (*mn >= 2 && magic[0] == 0x1F && magic[1] == 0x8B) {
    return BuildGzipIndex(path, fd, size, options, std::move(index));
  }
  uint8_t head[6] = {0, 0, 0, 0, 0, 0};
  Result<size_t> hn = PreadFull(fd, 0, head, path);
  if (!hn.ok()) return hn.status();
  if (std::optional<StreamCodec> codec = SniffStreamCodec(std::span(head, *hn))) {
    if (*codec == StreamCodec::kXz) return BuildXzIndex(path, fd, size, options, std::move(index));
    if (*codec == StreamCodec::kBzip2) {
      return BuildBz2Index(path, fd, size, options, std::move(index));
    }
    return BuildSpilledIndex(path, fd, size, *codec, options, std::move(index));
  }
  if (!zstd_container) {
    Result<TarIndex> tar = IndexTar(PreadReader(fd, path), size, path);
    if (!tar.ok()) return tar.status();
    AddMembers(*tar, fd, !options.strip_suffix.empty(), path, options, &index);
    return index;
  }

  // A compressed tar: index its frames, then read the tar headers in decompressed space.
  CompressedReadFn cread = PreadReader(fd, path);
  Result<ZstdIndex> z = IndexZstd(cread, size, path);
  if (!z.ok() && !options.spill) return z.status();
  if (!z.ok()) {
    // Damaged stream: decode what can be decoded into the spill folder and keep the members
    // before the damage.
    LogWarn(path + ": " + z.status().message() + "; salvaging what decodes");
    z = ZstdIndex{};
    z->all_sizes_known = false;
  }
  // Frames that did not record their size (`zstd -c` from a pipe, t2sz-like splitting) but are
  // small are worth one decode to learn their sizes: then members are read by frame, decoded in
  // parallel on demand, instead of decompressing the whole archive to disk first. A frame whose
  // compressed bytes already pass the limit cannot qualify, so nothing is decoded for nothing.
  if (z.ok() && !z->all_sizes_known && z->frames.size() > 1) {
    bool small = true;
    for (const ZstdFrame& f : z->frames) small = small && f.compressed_size <= kRandomAccessFrame;
    if (small && LearnFrameSizes(fd, 0, &z->frames, path).ok()) {
      z->all_sizes_known = true;
      z->decompressed_size = 0;
      for (const ZstdFrame& f : z->frames) z->decompressed_size += f.decompressed_size;
    }
  }
  uint64_t largest = 0;
  for (const ZstdFrame& f : z->frames) largest = std::max(largest, f.decompressed_size);
  bool random_access = z->all_sizes_known && largest <= kRandomAccessFrame;

  if (random_access) {
    index.container = ArchiveIndex::Container::kTarZst;
    index.archive_frames = z->frames;
    index.decompressed_size = z->decompressed_size;
    auto reader = std::make_shared<EntryReader<ZstdFrame>>(
        z->frames,
        [](const ZstdFrame& f) { return std::pair(f.decompressed_offset, f.decompressed_size); },
        [fd, &path](const ZstdFrame& f, std::span<uint8_t> out) -> Status {
          std::vector<uint8_t> comp(f.compressed_size);
          Result<size_t> n = PreadFull(fd, f.compressed_offset, comp, path);
          if (!n.ok()) return n.status();
          if (*n != comp.size()) return Corrupt(path + ": truncated frame");
          return DecodeZstdFrame(comp, out, nullptr,
                                 path + " frame at offset " + std::to_string(f.compressed_offset));
        });
    TarReadFn read = [reader](uint64_t off, std::span<uint8_t> out) {
      return reader->Read(off, out);
    };
    Result<TarIndex> tar = IndexTar(read, z->decompressed_size, path);
    if (!tar.ok()) return tar.status();
    AddMembers(*tar, fd, false, path, options, &index);
    return index;
  }

  if (options.spill) {
    ZstdStreamReader stream(fd, size, path);
    // zstd frames' checksums are checked as each frame ends; what decoded is kept.
    Status s = SpillArchive(path, options, &index,
                            [&](const StreamSink& sink, uint64_t*) { return stream.Drain(sink); });
    if (s.ok()) return index;
    LogWarn(path + ": cannot spill the decompressed archive: " + s.ToString() +
            "; members will be decoded from the stream");
  }

  // No spill: read the headers through one forward streaming decode, learn the frame sizes,
  // and serve members as windows of the decompressed stream.
  ZstdStreamReader stream(fd, size, path);
  TarReadFn read = [&stream](uint64_t off, std::span<uint8_t> out) {
    return stream.Read(off, out);
  };
  // The decompressed size is not known before the end: let the tar parser read until the
  // stream ends (it stops at the end-of-archive blocks).
  Result<TarIndex> tar = IndexTar(read, UINT64_MAX / 4, path);
  if (!tar.ok()) return tar.status();
  Status drained = stream.Drain(nullptr);
  if (!drained.ok()) return drained;
  uint64_t dpos = 0;
  for (ZstdFrame& f : z->frames) {
    auto it = stream.frame_ends().find(f.compressed_offset + f.compressed_size);
    if (it == stream.frame_ends().end()) {
      return Corrupt(path + ": frame at offset " + std::to_string(f.compressed_offset) +
                     " did not decode as indexed");
    }
    f.decompressed_size = it->second;
    f.decompressed_offset = dpos;
    f.content_size_known = true;
    dpos += it->second;
  }
  index.container = ArchiveIndex::Container::kTarZst;
  index.archive_frames = z->frames;
  index.decompressed_size = dpos;
  AddMembers(*tar, fd, false, path, options, &index);
  KeepMembersBefore(dpos, *tar, path, false, &index);
  return index;
}

std::string SerializeArchiveIndex(const ArchiveIndex& x) {
  Writer w;
  w.Str(x.identity);
  w.U8(static_cast<uint8_t>(x.container));
  w.U64(x.archive_frames.size());
  for (const ZstdFrame& f : x.archive_frames) w.Frame(f);
  w.U64(x.decompressed_size);
  w.U64(x.gzip_points.size());
  for (const GzipCheckpoint& p : x.gzip_points) w.Point(p);
  w.U64(x.xz_blocks.size());
  for (const XzBlock& b : x.xz_blocks) w.Block(b);
  w.U64(x.bz2_blocks.size());
  for (const Bz2Block& b : x.bz2_blocks) w.Bz2(b);
  w.Str(x.spill_path);
  w.U64(x.members.size());
  for (const ArchiveMember& m : x.members) {
    w.U8(static_cast<uint8_t>(m.kind));
    w.Str(m.path);
    w.Str(m.stored_path);
    w.U64(m.data_offset);
    w.U64(m.stored_size);
    w.U64(m.size);
    w.U32(m.mode);
    w.U32(m.uid);
    w.U32(m.gid);
    w.U64(static_cast<uint64_t>(m.mtime.tv_sec));
    w.U32(static_cast<uint32_t>(m.mtime.tv_nsec));
    w.Str(m.link_target);
    w.U64(m.xattrs.size());
    for (const auto& [k, v] : m.xattrs) {
      w.Str(k);
      w.Str(v);
    }
    w.U8(static_cast<uint8_t>(m.zstd | (m.seek_table << 1)));
    w.U64(m.frames.size());
    for (const ZstdFrame& f : m.frames) w.Frame(f);
  }
  w.U64(x.warnings.size());
  for (const std::string& s : x.warnings) w.Str(s);
  w.Str(x.damage);

  std::string payload = std::move(w.str());
  Writer h;
  for (char c : kIndexMagic) h.U8(static_cast<uint8_t>(c));
  h.U32(kIndexVersion);
  h.U64(payload.size());
  h.U64(XXH64(payload.data(), payload.size(), 0));
  return h.str() + payload;
}

Result<ArchiveIndex> ParseArchiveIndex(std::string_view bytes) {
  if (bytes.size() < 28 || std::memcmp(bytes.data(), kIndexMagic, 8) != 0) {
    return Corrupt("not a daqfs index file");
  }
  Reader h(bytes.substr(8, 20));
  uint32_t version = h.U32();
  uint64_t len = h.U64();
  uint64_t sum = h.U64();
  if (version != kIndexVersion) return Corrupt("index format version " + std::to_string(version));
  std::string_view payload = bytes.substr(28);
  if (len != payload.size()) return Corrupt("index file length mismatch");
  if (XXH64(payload.data(), payload.size(), 0) != sum) return Corrupt("index checksum mismatch");
  Reader r(payload);
  ArchiveIndex x;
  x.identity = r.Str();
  uint8_t container = r.U8();
  if (container > 5) return Corrupt("bad container kind");
  x.container = static_cast<ArchiveIndex::Container>(container);
  uint64_t nf = r.Count(37);
  for (uint64_t i = 0; i < nf && r.ok(); ++i) x.archive_frames.push_back(r.Frame());
  x.decompressed_size = r.U64();
  uint64_t np = r.Count(38);
  for (uint64_t i = 0; i < np && r.ok(); ++i) {
    GzipCheckpoint p = r.Point();
    if (!x.gzip_points.empty() && p.out_offset <= x.gzip_points.back().out_offset) {
      return Corrupt("gzip checkpoints out of order");
    }
    x.gzip_points.push_back(std::move(p));
  }
  if (container == 3 && (x.gzip_points.empty() || x.gzip_points[0].out_offset != 0)) {
    return Corrupt("a .tar.gz index without its first checkpoint");
  }
  uint64_t nb = r.Count(44);
  uint64_t next = 0;
  for (uint64_t i = 0; i < nb && r.ok(); ++i) {
    XzBlock b = r.Block();
    if (b.uncompressed_offset != next) return Corrupt("xz blocks out of order");
    if (b.uncompressed_size > kRandomAccessXzBlock) return Corrupt("an xz block too large");
    next += b.uncompressed_size;
    x.xz_blocks.push_back(b);
  }
  if (container == 4 && x.xz_blocks.empty()) return Corrupt("a .tar.xz index without blocks");
  uint64_t n2 = r.Count(37);  // bytes of a serialised block
  uint64_t next2 = 0;
  for (uint64_t i = 0; i < n2 && r.ok(); ++i) {
    Bz2Block b = r.Bz2();
    if (b.uncompressed_offset != next2) return Corrupt("bzip2 blocks out of order");
    if (b.uncompressed_size == 0 || b.uncompressed_size > kMaxBz2BlockOutput || b.level < 1 ||
        b.level > 9 || b.bit_end <= b.bit_offset || b.bit_end - b.bit_offset <= 80 ||
        b.bit_end - b.bit_offset > kMaxBz2BlockBits || b.bit_end > UINT64_MAX - 8 ||
        (!x.bz2_blocks.empty() && b.bit_offset < x.bz2_blocks.back().bit_end)) {
      return Corrupt("a bzip2 block that cannot be");
    }
    next2 += b.uncompressed_size;
    x.bz2_blocks.push_back(b);
  }
  if (container == 5 && x.bz2_blocks.empty()) return Corrupt("a .tar.bz2 index without blocks");
  x.spill_path = r.Str();
  uint64_t nm = r.Count(60);
  x.members.reserve(nm);
  for (uint64_t i = 0; i < nm && r.ok(); ++i) {
    ArchiveMember m;
    uint8_t kind = r.U8();
    if (kind > 3) return Corrupt("bad member kind");
    m.kind = static_cast<TarMember::Kind>(kind);
    m.path = r.Str();
    m.stored_path = r.Str();
    m.data_offset = r.U64();
    m.stored_size = r.U64();
    m.size = r.U64();
    m.mode = r.U32();
    m.uid = r.U32();
    m.gid = r.U32();
    m.mtime.tv_sec = static_cast<time_t>(r.U64());
    m.mtime.tv_nsec = r.U32();
    m.link_target = r.Str();
    uint64_t nx = r.Count(16);
    for (uint64_t k = 0; k < nx && r.ok(); ++k) {
      std::string key = r.Str();
      m.xattrs.emplace_back(key, r.Str());
    }
    uint8_t flags = r.U8();
    m.zstd = flags & 1;
    m.seek_table = flags & 2;
    uint64_t mf = r.Count(37);
    for (uint64_t k = 0; k < mf && r.ok(); ++k) m.frames.push_back(r.Frame());
    x.members.push_back(std::move(m));
  }
  uint64_t nw = r.Count(8);
  for (uint64_t i = 0; i < nw && r.ok(); ++i) x.warnings.push_back(r.Str());
  x.damage = r.Str();
  if (!r.ok() || !r.AtEnd()) return Corrupt("index file truncated or malformed");
  // What the readers rely on (the checksum stops accidents, not a crafted file): the stream's
  // size covers its checkpoints, blocks and members.
  if (container == 3 && x.decompressed_size < x.gzip_points.back().out_offset) {
    return Corrupt("gzip checkpoints past the end of the data");
  }
  if (container == 4 && x.decompressed_size != next) {
    return Corrupt("xz blocks do not add up to the data's size");
  }
  if (container == 5 && x.decompressed_size != next2) {
    return Corrupt("bzip2 blocks do not add up to the data's size");
  }
  if (x.container != ArchiveIndex::Container::kTar) {
    for (const ArchiveMember& m : x.members) {
      if (m.data_offset > x.decompressed_size ||
          m.stored_size > x.decompressed_size - m.data_offset) {
        return Corrupt("member " + m.stored_path + " lies past the end of the data");
      }
    }
  }
  return x;
}

Status SaveArchiveIndex(BlobStore& blobs, const ArchiveIndex& index) {
  std::string data = SerializeArchiveIndex(index);
  return blobs.Put(IndexBlobName(index.identity),
                   std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

Result<ArchiveIndex> LoadArchiveIndex(BlobStore& blobs, const std::string& identity) {
  std::string name = IndexBlobName(identity);
  Result<Bytes> data = blobs.Get(name);
  if (!data.ok()) return data.status();
  Result<ArchiveIndex> x = ParseArchiveIndex(
      std::string_view(reinterpret_cast<const char*>(data->data()), data->size()));
  if (!x.ok()) return Corrupt(name + ": " + x.status().message());
  if (x->identity != identity) return Corrupt(name + ": belongs to another archive version");
  if (x->container == ArchiveIndex::Container::kSpilled) {
    Result<std::shared_ptr<Blob>> spill = blobs.Open(x->spill_path);
    if (!spill.ok() || (*spill)->size() != x->decompressed_size) {
      return Corrupt(name + ": its spilled archive " + x->spill_path + " is gone or changed");
    }
    x->spill_blob = std::move(*spill);
  }
  return x;
}

}  // namespace daqfs
