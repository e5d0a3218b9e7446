// zstd frame indexing, frame decoding and the seekable-format writer.
//
// Indexing tries the seek table first: its 9-byte footer at the end of the stream gives the entry
// count, which locates the table's skippable frame; the entries are read in order and checked as
// they arrive (a compressed size of zero, a decompressed size no frame of that many bytes could
// hold, a running sum that passes the table), and they must add up exactly to the table's offset.
// Anything wrong makes ReadSeekTable fail with kCorrupt and IndexZstd walk the frames instead,
// keeping the reason in `note`.
//
// The walk reads frame headers (libzstd's ZSTD_getFrameHeader) and 3-byte block headers only,
// through a 256 KiB window, so compressible data costs one read call per window rather than one
// per block. Data that does not compress (raw 128 KiB blocks) still reads about two headers per
// window: finding block boundaries needs those bytes, and fewer, larger reads suit the remote and
// cached sources behind a CompressedReadFn better than one small read per block. Every offset is
// checked against the stream size before it is used, streams over 2^62 bytes are refused so sums
// of offsets cannot overflow, and every step advances by at least 3 bytes: the walk always ends. A
// frame's declared content size is checked against what its blocks can hold (128 KiB each), so a
// hostile header cannot make a caller allocate terabytes for a frame of a few bytes.
//
// Frames indexed from a seek table report has_checksum = false: whether a frame carries its own
// checksum is in its header, and reading every frame header would cost one read per frame.
// libzstd still verifies the checksum when one is present (DecodeZstdFrame, StreamZstdFrame).
// A seek table whose sizes add up but are shuffled is accepted here; decoding the affected frame
// then fails, because DecodeZstdFrame requires the bytes to be exactly one frame.
#include "backends/common/zstd_frames.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader, ZSTD_frameHeader
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

namespace daqfs {
namespace {

constexpr uint32_t kZstdMagic = 0xFD2FB528;
constexpr uint32_t kSkippableMagicMask = 0xFFFFFFF0;
constexpr uint32_t kSkippableMagicBase = 0x184D2A50;
constexpr uint32_t kSeekTableMagic = 0x184D2A5E;  // the skippable-frame magic of a seek table
constexpr uint32_t kSeekableMagic = 0x8F92EAB1;   // the footer's last field
constexpr uint64_t kFooterSize = 9;
constexpr uint64_t kSkippableHeaderSize = 8;
constexpr uint8_t kChecksumFlagBit = 0x80;
constexpr uint8_t kReservedBits = 0x7C;  // bits 2..6
constexpr uint64_t kMaxBlockSize = 128 * 1024;
// The smallest block that regenerates a full 128 KiB is 4 bytes (an RLE block), so no frame can
// decompress to more than 32 KiB per compressed byte.
constexpr uint64_t kMaxExpansion = kMaxBlockSize / 4;
constexpr size_t kWindow = 256 * 1024;
constexpr uint64_t kMaxStreamSize = uint64_t{1} << 62;
constexpr size_t kStreamInChunk = 256 * 1024;
constexpr size_t kMaxFrameSize = size_t{1} << 30;
// The seek table's frame size field is a u32 that covers the entries plus the footer.
constexpr uint64_t kMaxWriterFrames = (0xFFFFFFFFull - kFooterSize) / 12;

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void PutLe32(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Serves small byte ranges of the stream out of a forward window, so that many nearby header
// reads cost one ReadFn call. Callers check ranges against the stream size first; a ReadFn that
// delivers less than the size promised is reported as a truncated stream.
class WindowReader {
 public:
  WindowReader(const CompressedReadFn& read, uint64_t size) : read_(read), size_(size) {}

  // Makes [off, off + len) available (len <= kWindow, off + len <= size) and returns a pointer
  // valid until the next call.
  Result<const uint8_t*> Get(uint64_t off, size_t len) {
    if (off >= start_ && off - start_ <= filled_ && len <= filled_ - (off - start_)) {
      return buf_.data() + (off - start_);
    }
    // Near the end the window is pulled back to end at the stream's end: the seek-table footer
    // and a small table then arrive in one read.
    const uint64_t start = size_ - off >= kWindow ? off : (size_ > kWindow ? size_ - kWindow : 0);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kWindow, size_ - start));
    if (buf_.size() < want) buf_.resize(want);
    start_ = start;
    filled_ = 0;
    while (filled_ < want) {
      Result<size_t> n =
          read_(start + filled_, std::span<uint8_t>(buf_.data() + filled_, want - filled_));
      if (!n.ok()) return n.status();
      if (*n > want - filled_) return IoError("read returned more bytes than asked for");
      if (*n == 0) break;
      filled_ += *n;
    }
    if (filled_ < off - start + len) {
      return Corrupt("stream ends at offset " + std::to_string(start + filled_) +
                     ", before its size " + std::to_string(size_));
    }
    return buf_.data() + (off - start);
  }

 private:
  const CompressedReadFn& read_;
  uint64_t size_;
  std::vector<uint8_t> buf_;
  uint64_t start_ = 0;
  size_t filled_ = 0;
};

// The footer's fields, read without judging them.
struct Footer {
  uint32_t count = 0;
  uint8_t descriptor = 0;
  uint32_t magic = 0;
  uint64_t entry_size() const { return (descriptor & kChecksumFlagBit) ? 12 : 8; }
  // Bytes of the whole table frame: skippable header, entries, footer.
  uint64_t table_bytes() const {
    return kSkippableHeaderSize + uint64_t{count} * entry_size() + kFooterSize;
  }
};

Result<Footer> ReadFooter(WindowReader& win, uint64_t size) {
  Result<const uint8_t*> p = win.Get(size - kFooterSize, kFooterSize);
  if (!p.ok()) return p.status();
  Footer f;
  f.count = Le32(*p);
  f.descriptor = (*p)[4];
  f.magic = Le32(*p + 5);
  return f;
}

// True when the table frame the footer describes fits and starts with the seek-table magic and
// the frame size field the footer implies: the footer is then believed to be a seek table's,
// whatever else is wrong with it. Errors are reading errors only.
Result<bool> TableFrameAt(WindowReader& win, uint64_t size, const Footer& f, uint64_t* start) {
  if (f.table_bytes() > size) return false;
  *start = size - f.table_bytes();
  Result<const uint8_t*> p = win.Get(*start, kSkippableHeaderSize);
  if (!p.ok()) return p.status();
  return Le32(*p) == kSeekTableMagic && Le32(*p + 4) == f.table_bytes() - kSkippableHeaderSize;
}

Result<ZstdIndex> ParseSeekTable(WindowReader& win, uint64_t size) {
  if (size < kSkippableHeaderSize + kFooterSize) return NotFound("no seek table");
  Result<Footer> footer = ReadFooter(win, size);
  if (!footer.ok()) return footer.status();
  const Footer& f = *footer;
  uint64_t start = 0;
  if (f.magic != kSeekableMagic) {
    // Without the magic there is normally no seek table at all; but if the stream ends in a
    // well-formed seek-table frame, it is one whose magic was damaged.
    Result<bool> framed = TableFrameAt(win, size, f, &start);
    if (!framed.ok()) return framed.status();
    if (*framed) return Corrupt("seek table: wrong seekable magic " + Hex32(f.magic));
    return NotFound("no seek table");
  }
  if (f.descriptor & kReservedBits) {
    return Corrupt("seek table: reserved descriptor bits set (descriptor " +
                   std::to_string(f.descriptor) + ")");
  }
  if (f.table_bytes() > size) {
    return Corrupt("seek table: " + std::to_string(f.count) + " frames do not fit in a stream of " +
                   std::to_string(size) + " bytes");
  }
  start = size - f.table_bytes();
  {
    Result<const uint8_t*> p = win.Get(start, kSkippableHeaderSize);
    if (!p.ok()) return p.status();
    if (Le32(*p) != kSeekTableMagic) {
      return Corrupt("seek table: no seek-table frame at offset " + std::to_string(start) +
                     " (magic " + Hex32(Le32(*p)) + ")");
    }
    const uint64_t field = Le32(*p + 4);
    if (field != f.table_bytes() - kSkippableHeaderSize) {
      return Corrupt("seek table: frame size field " + std::to_string(field) + " at offset " +
                     std::to_string(start) + " does not match " + std::to_string(f.count) +
                     " entries (" + std::to_string(f.table_bytes() - kSkippableHeaderSize) + ")");
    }
  }
  ZstdIndex index;
  index.from_seek_table = true;
  const bool checksums = (f.descriptor & kChecksumFlagBit) != 0;
  const uint64_t esize = f.entry_size();
  // Entries are checked as they arrive, so a hostile count costs no more than the bytes it reads.
  index.frames.reserve(std::min<uint64_t>(f.count, 4096));
  uint64_t coff = 0, doff = 0;
  uint64_t entry_off = start + kSkippableHeaderSize;
  for (uint32_t i = 0; i < f.count; ++i, entry_off += esize) {
    Result<const uint8_t*> p = win.Get(entry_off, static_cast<size_t>(esize));
    if (!p.ok()) return p.status();
    ZstdFrame fr;
    fr.compressed_offset = coff;
    fr.compressed_size = Le32(*p);
    fr.decompressed_offset = doff;
    fr.decompressed_size = Le32(*p + 4);
    fr.content_size_known = true;
    fr.seek_table_has_checksum = checksums;
    fr.seek_table_checksum = checksums ? Le32(*p + 8) : 0;
    if (fr.compressed_size == 0) {
      return Corrupt("seek table: frame " + std::to_string(i) + " has compressed size 0");
    }
    if (fr.compressed_size > start - coff) {
      return Corrupt("seek table: compressed sizes pass the table at offset " +
                     std::to_string(start) + " (frame " + std::to_string(i) + ")");
    }
    if (fr.decompressed_size > fr.compressed_size * kMaxExpansion) {
      return Corrupt("seek table: frame " + std::to_string(i) + " cannot decompress " +
                     std::to_string(fr.compressed_size) + " bytes to " +
                     std::to_string(fr.decompressed_size));
    }
    coff += fr.compressed_size;
    doff += fr.decompressed_size;  // at most 2^32 entries of < 2^32: no overflow
    index.frames.push_back(fr);
  }
  if (coff != start) {
    return Corrupt("seek table: compressed sizes add up to " + std::to_string(coff) +
                   ", but the table starts at offset " + std::to_string(start));
  }
  index.decompressed_size = doff;
  index.all_sizes_known = true;
  return index;
}

// Walks frames and block headers from offset 0. `table_start`, when not UINT64_MAX, is where a
// footer places a (rejected) seek table: arriving exactly there at a seek-table frame ends the
// walk, so a table whose own frame size field is damaged does not hide intact data frames.
Result<ZstdIndex> WalkFrames(WindowReader& win, uint64_t size, const std::string& name,
                             uint64_t table_start) {
  auto bad = [&](const std::string& what, uint64_t off) {
    return Corrupt(name + ": " + what + " at offset " + std::to_string(off));
  };
  // A reading error keeps its code; a window that comes up short is named like any truncation.
  auto get = [&](uint64_t off, size_t len) -> Result<const uint8_t*> {
    Result<const uint8_t*> p = win.Get(off, len);
    if (!p.ok() && p.status().code() == Code::kCorrupt) {
      return Corrupt(name + ": " + p.status().message());
    }
    return p;
  };
  if (size == 0) return Corrupt(name + ": empty, not a zstd stream");
  ZstdIndex index;
  uint64_t off = 0;
  while (off < size) {
    if (size - off < 4) return bad("truncated frame magic", off);
    Result<const uint8_t*> p = get(off, 4);
    if (!p.ok()) return p.status();
    const uint32_t magic = Le32(*p);
    if ((magic & kSkippableMagicMask) == kSkippableMagicBase) {
      if (size - off < kSkippableHeaderSize) return bad("truncated skippable frame header", off);
      p = get(off, kSkippableHeaderSize);
      if (!p.ok()) return p.status();
      const uint64_t len = Le32(*p + 4);
      // The rejected seek table, with a size field that does not take it to the end: its extent
      // comes from the footer instead.
      if (off == table_start && magic == kSeekTableMagic &&
          len != size - off - kSkippableHeaderSize) {
        break;
      }
      if (len > size - off - kSkippableHeaderSize) return bad("truncated skippable frame", off);
      off += kSkippableHeaderSize + len;
      continue;
    }
    if (magic != kZstdMagic) {
      if (off == 0) return bad("not a zstd stream (magic " + Hex32(magic) + ")", off);
      return bad("not a zstd frame (magic " + Hex32(magic) + ")", off);
    }
    const size_t hlen =
        static_cast<size_t>(std::min<uint64_t>(ZSTD_FRAMEHEADERSIZE_MAX, size - off));
    p = get(off, hlen);
    if (!p.ok()) return p.status();
    ZSTD_frameHeader fh;
    const size_t hr = ZSTD_getFrameHeader(&fh, *p, hlen);
    if (ZSTD_isError(hr)) {
      return bad(std::string("bad frame header (") + ZSTD_getErrorName(hr) + ")", off);
    }
    if (hr != 0) return bad("truncated frame header", off);
    ZstdFrame fr;
    fr.compressed_offset = off;
    fr.content_size_known = fh.frameContentSize != ZSTD_CONTENTSIZE_UNKNOWN;
    fr.decompressed_size = fr.content_size_known ? fh.frameContentSize : 0;
    fr.has_checksum = fh.checksumFlag != 0;
    uint64_t pos = off + fh.headerSize;  // headerSize <= hlen <= size - off
    uint64_t blocks = 0;
    for (;;) {
      if (size - pos < 3) return bad("truncated block header", pos);
      p = get(pos, 3);
      if (!p.ok()) return p.status();
      const uint32_t bh = uint32_t{(*p)[0]} | uint32_t{(*p)[1]} << 8 | uint32_t{(*p)[2]} << 16;
      const bool last = bh & 1;
      const uint32_t type = (bh >> 1) & 3;
      const uint64_t bsize = bh >> 3;
      if (type == 3) return bad("reserved block type", pos);
      if (bsize > kMaxBlockSize) return bad("block of " + std::to_string(bsize) + " bytes", pos);
      const uint64_t on_disk = type == 1 ? 1 : bsize;
      pos += 3;
      if (on_disk > size - pos) return bad("truncated block", pos - 3);
      pos += on_disk;
      ++blocks;
      if (last) break;
    }
    if (fh.checksumFlag) {
      if (size - pos < 4) return bad("truncated frame checksum", pos);
      pos += 4;
    }
    if (fr.content_size_known && fr.decompressed_size > blocks * kMaxBlockSize) {
      return bad("frame content size " + std::to_string(fr.decompressed_size) +
                     " larger than its " + std::to_string(blocks) + " blocks can hold",
                 off);
    }
    fr.compressed_size = pos - off;
    fr.decompressed_offset = index.decompressed_size;
    // Header sizes are bounded only by their blocks' capacity; a sum of many can overflow.
    if (__builtin_add_overflow(index.decompressed_size, fr.decompressed_size,
                               &index.decompressed_size)) {
      return bad("decompressed sizes overflow", off);
    }
    if (!fr.content_size_known) index.all_sizes_known = false;
    index.frames.push_back(fr);
    off = pos;
  }
  return index;
}

// Why a seekable writer cannot take more calls, if it cannot. cctx is null after Finish (or when
// it could not be created).
Status WriterUsable(size_t frame_size, const ZSTD_CCtx* cctx) {
  if (frame_size == 0 || frame_size > kMaxFrameSize) {
    return Invalid("seekable writer: frame size " + std::to_string(frame_size) +
                   " not in 1..1 GiB");
  }
  if (cctx == nullptr) return Invalid("seekable writer: finished, or no zstd context");
  return Status::Ok();
}

}  // namespace

Result<ZstdIndex> ReadSeekTable(const CompressedReadFn& read, uint64_t size) {
  if (size > kMaxStreamSize) {
    return Corrupt("stream of " + std::to_string(size) + " bytes is too large");
  }
  WindowReader win(read, size);
  return ParseSeekTable(win, size);
}

Result<ZstdIndex> IndexZstd(const CompressedReadFn& read, uint64_t size, const std::string& name) {
  if (size > kMaxStreamSize) {
    return Corrupt(name + ": stream of " + std::to_string(size) + " bytes is too large");
  }
  WindowReader win(read, size);
  Result<ZstdIndex> table = ParseSeekTable(win, size);
  if (table.ok()) return table;
  if (table.status().code() != Code::kNotFound && table.status().code() != Code::kCorrupt) {
    return table.status();  // the reader failed
  }
  uint64_t table_start = std::numeric_limits<uint64_t>::max();
  if (table.status().code() == Code::kCorrupt && size >= kSkippableHeaderSize + kFooterSize) {
    Result<Footer> f = ReadFooter(win, size);
    if (!f.ok()) return f.status();
    if (f->table_bytes() <= size) table_start = size - f->table_bytes();
  }
  Result<ZstdIndex> walked = WalkFrames(win, size, name, table_start);
  if (!walked.ok()) return walked.status();
  if (table.status().code() == Code::kCorrupt) {
    walked->note = table.status().message() + "; frames walked instead";
  }
  return walked;
}

Status DecodeZstdFrame(std::span<const uint8_t> compressed, std::span<uint8_t> out,
                       const uint32_t* expected_xxh64_low32, const std::string& what) {
  thread_local ZstdDCtxPtr dctx = MakeZstdDCtx();
  if (!dctx) return Status(Code::kNoMemory, what + ": cannot create a zstd context");
  if (compressed.size() < 4 || Le32(compressed.data()) != kZstdMagic) {
    return Corrupt(what + ": not a zstd frame");
  }
  const size_t frame_len = ZSTD_findFrameCompressedSize(compressed.data(), compressed.size());
  if (ZSTD_isError(frame_len)) {
    return Corrupt(what + ": " + ZSTD_getErrorName(frame_len));
  }
  if (frame_len != compressed.size()) {
    return Corrupt(what + ": frame is " + std::to_string(frame_len) + " bytes, expected " +
                   std::to_string(compressed.size()));
  }
  uint8_t dummy = 0;
  uint8_t* dst = out.empty() ? &dummy : out.data();
  const size_t r =
      ZSTD_decompressDCtx(dctx.get(), dst, out.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
      return Corrupt(what + ": decompresses to more than the expected " +
                     std::to_string(out.size()) + " bytes");
    }
    return Corrupt(what + ": " + ZSTD_getErrorName(r));
  }
  if (r != out.size()) {
    return Corrupt(what + ": decompressed to " + std::to_string(r) + " bytes, expected " +
                   std::to_string(out.size()));
  }
  if (expected_xxh64_low32 != nullptr) {
    const uint32_t got = static_cast<uint32_t>(XXH64(out.data(), out.size(), 0) & 0xFFFFFFFF);
    if (got != *expected_xxh64_low32) {
      return Corrupt(what + ": checksum mismatch (seek table " + Hex32(*expected_xxh64_low32) +
                     ", data " + Hex32(got) + ")");
    }
  }
  return Status::Ok();
}

Status StreamZstdFrame(const CompressedReadFn& read, uint64_t offset, uint64_t size, size_t piece,
                       const std::function<bool(std::span<const uint8_t>)>& emit,
                       const std::string& what) {
  if (piece == 0) return Invalid(what + ": piece size 0");
  // A context of its own, not the thread-local one: `emit` may decode other frames.
  ZstdDCtxPtr dctx = MakeZstdDCtx();
  if (!dctx) return Status(Code::kNoMemory, what + ": cannot create a zstd context");
  std::vector<uint8_t> in_buf(static_cast<size_t>(std::min<uint64_t>(kStreamInChunk, size)));
  std::vector<uint8_t> out_buf(piece);
  ZSTD_inBuffer in{in_buf.data(), 0, 0};
  ZSTD_outBuffer out{out_buf.data(), out_buf.size(), 0};
  uint64_t consumed = 0;  // compressed bytes read so far
  for (;;) {
    if (in.pos == in.size && consumed < size) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(in_buf.size(), size - consumed));
      Result<size_t> n = read(offset + consumed, std::span<uint8_t>(in_buf.data(), want));
      if (!n.ok()) return n.status();
      if (*n > want) return IoError(what + ": read returned more bytes than asked for");
      if (*n == 0) {
        return Corrupt(what + ": stream ends at offset " + std::to_string(offset + consumed) +
                       " inside the frame");
      }
      consumed += *n;
      in = ZSTD_inBuffer{in_buf.data(), *n, 0};
    }
    const size_t in_before = in.pos, out_before = out.pos;
    const size_t r = ZSTD_decompressStream(dctx.get(), &out, &in);
    if (ZSTD_isError(r)) return Corrupt(what + ": " + ZSTD_getErrorName(r));
    if (r == 0) {  // the frame is complete and flushed
      if (out.pos > 0) emit(std::span<const uint8_t>(out_buf.data(), out.pos));
      return Status::Ok();
    }
    if (out.pos == out.size) {
      if (!emit(std::span<const uint8_t>(out_buf.data(), out.pos))) return Status::Ok();
      out.pos = 0;
      continue;
    }
    // Output room is left, so the decoder has flushed all it can: it needs more input.
    if (in.pos == in.size && consumed == size) {
      return Corrupt(what + ": frame truncated at offset " + std::to_string(offset + size));
    }
    if (in.pos == in_before && out.pos == out_before && in.pos < in.size) {
      return Corrupt(what + ": decoder made no progress");  // not expected from libzstd
    }
  }
}

ZstdSeekableWriter::ZstdSeekableWriter(WriteFn write, size_t frame_size, int level)
    : write_(std::move(write)), frame_size_(frame_size), level_(level), cctx_(MakeZstdCCtx()) {
  if (cctx_ != nullptr) {
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level_);  // clamped by libzstd
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_contentSizeFlag, 1);
  }
}

ZstdSeekableWriter::~ZstdSeekableWriter() = default;

Status ZstdSeekableWriter::Write(std::span<const uint8_t> data) {
  Status usable = WriterUsable(frame_size_, cctx_.get());
  if (!usable.ok()) return usable;
  while (!data.empty()) {
    const size_t take = std::min(frame_size_ - pending_.size(), data.size());
    pending_.insert(pending_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (pending_.size() == frame_size_) {
      Status s = FlushFrame();
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status ZstdSeekableWriter::FlushFrame() {
  if (entries_.size() >= kMaxWriterFrames) {
    return Invalid("seekable writer: more than " + std::to_string(kMaxWriterFrames) + " frames");
  }
  out_.resize(ZSTD_compressBound(pending_.size()));
  const size_t n =
      ZSTD_compress2(cctx_.get(), out_.data(), out_.size(), pending_.data(), pending_.size());
  if (ZSTD_isError(n)) {
    return Status(Code::kNoMemory, std::string("seekable writer: ") + ZSTD_getErrorName(n));
  }
  // frame_size_ <= 1 GiB, so both sizes fit the table's u32 fields.
  Entry e{static_cast<uint32_t>(n), static_cast<uint32_t>(pending_.size()),
          static_cast<uint32_t>(XXH64(pending_.data(), pending_.size(), 0) & 0xFFFFFFFF)};
  Status s = write_(std::span<const uint8_t>(out_.data(), n));
  if (!s.ok()) return s;
  entries_.push_back(e);
  compressed_bytes_ += n;
  pending_.clear();
  return Status::Ok();
}

Status ZstdSeekableWriter::Finish() {
  Status usable = WriterUsable(frame_size_, cctx_.get());
  if (!usable.ok()) return usable;
  if (!pending_.empty()) {
    Status s = FlushFrame();
    if (!s.ok()) return s;
  }
  std::vector<uint8_t> table;
  table.reserve(kSkippableHeaderSize + entries_.size() * 12 + kFooterSize);
  PutLe32(&table, kSeekTableMagic);
  PutLe32(&table, static_cast<uint32_t>(entries_.size() * 12 + kFooterSize));
  for (const Entry& e : entries_) {
    PutLe32(&table, e.compressed);
    PutLe32(&table, e.decompressed);
    PutLe32(&table, e.checksum);
  }
  PutLe32(&table, static_cast<uint32_t>(entries_.size()));
  table.push_back(kChecksumFlagBit);
  PutLe32(&table, kSeekableMagic);
  Status s = write_(table);
  if (!s.ok()) return s;
  compressed_bytes_ += table.size();
  // Releasing the context both frees its memory early and marks the writer finished (the header
  // has no separate flag): later calls fail instead of appending frames after the table.
  cctx_.reset();
  pending_ = {};
  out_ = {};
  return Status::Ok();
}

std::vector<uint8_t> CompressSeekable(std::span<const uint8_t> data, size_t frame_size, int level) {
  frame_size = std::clamp<size_t>(frame_size, 1, kMaxFrameSize);
  std::vector<uint8_t> out;
  out.reserve(ZSTD_compressBound(data.size()) + 64);
  ZstdSeekableWriter writer(
      [&out](std::span<const uint8_t> bytes) {
        out.insert(out.end(), bytes.begin(), bytes.end());
        return Status::Ok();
      },
      frame_size, level);
  Status s = writer.Write(data);
  if (s.ok()) s = writer.Finish();
  if (!s.ok()) {
    // In memory, with a valid frame size, only an allocation failure inside libzstd gets here.
    std::fprintf(stderr, "CompressSeekable: %s\n", s.ToString().c_str());
    std::abort();
  }
  return out;
}

}  // namespace daqfs
