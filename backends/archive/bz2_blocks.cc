// Bzip2 blocks found and decoded one by one (see bz2_blocks.h).
#include "backends/archive/bz2_blocks.h"

#include <bzlib.h>

#include <algorithm>
#include <cstring>

#include "fs/log.h"

namespace daqfs {
namespace {

constexpr uint64_t kBlockMagic = 0x314159265359;
constexpr uint64_t kEndMagic = 0x177245385090;
constexpr uint64_t kMagicMask = (uint64_t{1} << 48) - 1;
constexpr size_t kScanChunk = size_t{4} << 20;

std::string Str(uint64_t v) { return std::to_string(v); }

// Appends bits MSB first.
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>* out) : out_(out) {}
  void Put(uint64_t value, int bits) {  // bits <= 32
    acc_ = (acc_ << bits) | (value & ((uint64_t{1} << bits) - 1));
    n_ += bits;
    while (n_ >= 8) {
      out_->push_back(static_cast<uint8_t>(acc_ >> (n_ - 8)));
      n_ -= 8;
    }
    acc_ &= (uint64_t{1} << n_) - 1;
  }
  void Flush() {
    if (n_ > 0) Put(0, 8 - n_);
  }

 private:
  std::vector<uint8_t>* out_;
  uint64_t acc_ = 0;
  int n_ = 0;
};

struct Bz2Stream {
  bz_stream s{};
  bool ok = false;
  Bz2Stream() { ok = BZ2_bzDecompressInit(&s, 0, 0) == BZ_OK; }
  ~Bz2Stream() {
    if (ok) BZ2_bzDecompressEnd(&s);
  }
  Bz2Stream(const Bz2Stream&) = delete;
  Bz2Stream& operator=(const Bz2Stream&) = delete;
};

const char* Bz2Error(int r) {
  switch (r) {
    case BZ_DATA_ERROR:
      return "data error (damaged data or CRC mismatch)";
    case BZ_DATA_ERROR_MAGIC:
      return "not bzip2 data";
    case BZ_MEM_ERROR:
      return "out of memory";
    default:
      return "libbz2 error";
  }
}

}  // namespace

Status DecodeBz2Bits(const CompressedReadFn& read, uint64_t bit_offset, uint64_t bit_end,
                     uint8_t level, std::vector<uint8_t>* out, uint32_t* crc,
                     const std::string& name) {
  const std::string where = name + ": bzip2 block at bit " + Str(bit_offset) + ": ";
  if (level < 1 || level > 9) return Status(Code::kCorrupt, where + "bad block size");
  if (bit_end <= bit_offset || bit_end - bit_offset <= 80 || bit_end > UINT64_MAX - 8) {
    return Status(Code::kCorrupt, where + "shorter than its header");
  }
  if (bit_end - bit_offset > kMaxBz2BlockBits) {
    return Status(Code::kCorrupt, where + "longer than any bzip2 block");
  }
  // The block's bytes, one more for the shift (zero past the file's end).
  const uint64_t first = bit_offset / 8;
  const uint64_t bytes = (bit_end + 7) / 8 - first;
  std::vector<uint8_t> src(bytes + 1, 0);
  size_t done = 0;
  while (done < bytes) {
    Result<size_t> n = read(first + done, std::span(src.data() + done, bytes - done));
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(Code::kCorrupt, where + "the file ends inside it");
    done += *n;
  }
  const unsigned sh = bit_offset % 8;
  auto byte_at = [&](uint64_t k) {  // bits [bit_offset + 8k, +8)
    return static_cast<uint8_t>(sh == 0 ? src[k] : (src[k] << sh) | (src[k + 1] >> (8 - sh)));
  };
  const uint32_t stored = uint32_t{byte_at(6)} << 24 | uint32_t{byte_at(7)} << 16 |
                          uint32_t{byte_at(8)} << 8 | byte_at(9);
  if (crc) *crc = stored;
  // A one-block stream: header, the block's bits, end-of-stream marker, combined CRC = the
  // block's CRC, padding.
  const uint64_t bits = bit_end - bit_offset;
  std::vector<uint8_t> stream;
  stream.reserve(bits / 8 + 16);
  stream.insert(stream.end(), {'B', 'Z', 'h', static_cast<uint8_t>('0' + level)});
  for (uint64_t k = 0; k < bits / 8; ++k) stream.push_back(byte_at(k));
  BitWriter w(&stream);
  if (const int rem = static_cast<int>(bits % 8); rem > 0)
    w.Put(byte_at(bits / 8) >> (8 - rem), rem);
  w.Put(kEndMagic >> 24, 24);
  w.Put(kEndMagic & 0xffffff, 24);
  w.Put(stored, 32);
  w.Flush();

  Bz2Stream z;
  if (!z.ok) return Status(Code::kNoMemory, where + "cannot start libbz2");
  out->resize(std::min<uint64_t>(uint64_t{level} * 100000 + 4096, kMaxBz2BlockOutput));
  z.s.next_in = reinterpret_cast<char*>(stream.data());
  z.s.avail_in = static_cast<unsigned>(stream.size());
  size_t have = 0;
  for (;;) {
    z.s.next_out = reinterpret_cast<char*>(out->data() + have);
    z.s.avail_out = static_cast<unsigned>(out->size() - have);
    const int r = BZ2_bzDecompress(&z.s);
    have = out->size() - z.s.avail_out;
    if (r == BZ_STREAM_END) break;
    if (r != BZ_OK) return Status(Code::kCorrupt, where + Bz2Error(r));
    if (z.s.avail_out == 0) {
      if (out->size() >= kMaxBz2BlockOutput) {
        return Status(Code::kCorrupt, where + "decodes to more than any bzip2 block can");
      }
      out->resize(std::min<uint64_t>(out->size() * 2, kMaxBz2BlockOutput));
    } else if (z.s.avail_in == 0) {
      return Status(Code::kCorrupt, where + "ends early");
    }
  }
  out->resize(have);
  if (have == 0) return Status(Code::kCorrupt, where + "holds no data");
  return Status::Ok();
}

Status DecodeBz2Block(const CompressedReadFn& read, const Bz2Block& b, std::span<uint8_t> out,
                      const std::string& name) {
  if (out.size() != b.uncompressed_size) return Invalid(name + ": bzip2 block buffer size");
  std::vector<uint8_t> data;
  uint32_t crc = 0;
  if (Status s = DecodeBz2Bits(read, b.bit_offset, b.bit_end, b.level, &data, &crc, name);
      !s.ok()) {
    return s;
  }
  if (crc != b.crc || data.size() != b.uncompressed_size) {
    return Status(Code::kCorrupt, name + ": bzip2 block at bit " + Str(b.bit_offset) +
                                      ": not the block indexed (changed since?)");
  }
  std::memcpy(out.data(), data.data(), data.size());
  return Status::Ok();
}

Bz2StreamIndexer::Bz2StreamIndexer(CompressedReadFn read, uint64_t size, std::string name)
    : read_(std::move(read)), size_(size), name_(std::move(name)) {}

Status Bz2StreamIndexer::Corrupted(const std::string& why) const {
  return Status(Code::kCorrupt, name_ + ": " + why);
}

bool Bz2StreamIndexer::StreamHeaderAt(uint64_t offset) {
  uint8_t h[4];
  if (offset + 4 > size_) return false;
  Result<size_t> n = read_(offset, std::span(h, 4));
  if (!n.ok() || *n != 4) return false;
  if (h[0] != 'B' || h[1] != 'Z' || h[2] != 'h' || h[3] < '1' || h[3] > '9') return false;
  level_ = static_cast<uint8_t>(h[3] - '0');
  return true;
}

Result<std::optional<Bz2StreamIndexer::Marker>> Bz2StreamIndexer::NextMarker(uint64_t from,
                                                                             uint64_t limit) {
  // A magic starting at bit p ends in byte (p + 47) / 8; the 7 bytes ending there hold it.
  uint64_t w = 0;
  uint64_t j = (from + 47) / 8;
  const uint64_t prime = j >= 6 ? j - 6 : 0;
  for (uint64_t i = prime; i < size_; ++i) {
    if (8 * i > limit + 48 + 8) break;  // every magic from here starts past `limit`
    if (i < buf_at_ || i >= buf_at_ + buf_.size()) {
      buf_at_ = i;
      buf_.resize(static_cast<size_t>(std::min<uint64_t>(kScanChunk, size_ - i)));
      size_t done = 0;
      while (done < buf_.size()) {
        Result<size_t> n = read_(buf_at_ + done, std::span(buf_.data() + done, buf_.size() - done));
        if (!n.ok()) return n.status();
        if (*n == 0) {
          buf_.resize(done);
          break;
        }
        done += *n;
      }
      if (buf_.empty()) break;
    }
    w = (w << 8) | buf_[i - buf_at_];
    if (i < j) continue;
    for (int s = 7; s >= 0; --s) {
      const uint64_t c = (w >> s) & kMagicMask;
      if (c != kBlockMagic && c != kEndMagic) continue;
      if (8 * i + 8 < 48 + static_cast<uint64_t>(s)) continue;  // would start before the file
      const uint64_t p = 8 * i - 40 - static_cast<uint64_t>(s);
      if (p < from) continue;
      if (p > limit) return std::optional<Marker>();
      return std::optional<Marker>(Marker{p, c == kBlockMagic});
    }
  }
  return std::optional<Marker>();
}

Status Bz2StreamIndexer::Produce() {
  if (level_ == 0) {
    if (!StreamHeaderAt(0)) return Corrupted("not a bzip2 stream");
    bit_ = 32;
  }
  for (;;) {
    if (bit_ / 8 >= next_progress_) {
      LogInfo(name_ + ": " + Str(bit_ >> 33) + " GiB of bzip2 data indexed");
      next_progress_ += uint64_t{1} << 30;
    }
    Result<std::optional<Marker>> m = NextMarker(bit_, bit_);
    if (!m.ok()) return m.status();
    if (!*m || (*m)->bit != bit_) {
      return Corrupted("no bzip2 block or end of stream where one is due (bit " + Str(bit_) +
                       (*m ? ")" : "): the file is cut short"));
    }
    if (!(*m)->block) {  // the end of a stream: another may follow, byte-aligned
      const uint64_t next = (bit_ + 80 + 7) / 8;
      if (StreamHeaderAt(next)) {
        bit_ = (next + 4) * 8;
        continue;
      }
      ended_ = true;
      if (next < size_) {
        std::vector<uint8_t> rest(static_cast<size_t>(std::min<uint64_t>(size_ - next, 4096)));
        Result<size_t> n = read_(next, rest);
        const bool zeros = n.ok() && std::all_of(rest.begin(), rest.begin() + static_cast<long>(*n),
                                                 [](uint8_t b) { return b == 0; });
        if (!zeros || size_ - next > rest.size()) {
          trailing_ = Str(size_ - next) + " bytes after the last bzip2 stream are ignored";
        }
      }
      return Status::Ok();
    }
    // A block: it ends at the next magic; a magic inside its data by chance is skipped by
    // decoding up to the one after it.
    Status first_error;
    uint64_t from = bit_ + 48;
    for (int attempt = 0; attempt < 5; ++attempt) {
      Result<std::optional<Marker>> end = NextMarker(from, bit_ + kMaxBz2BlockBits);
      if (!end.ok()) return end.status();
      if (!*end) {
        return first_error.ok()
                   ? Corrupted("bzip2 block at bit " + Str(bit_) + ": the file ends inside it")
                   : first_error;
      }
      if ((*end)->bit - bit_ > kMaxBz2BlockBits) break;
      Bz2Block b;
      b.bit_offset = bit_;
      b.bit_end = (*end)->bit;
      b.level = level_;
      b.uncompressed_offset = out_total_;
      std::vector<uint8_t> decoded;
      Status s = DecodeBz2Bits(read_, b.bit_offset, b.bit_end, b.level, &decoded, &b.crc, name_);
      if (s.ok()) {
        cur_.swap(decoded);
        b.uncompressed_size = cur_.size();
        out_total_ += cur_.size();
        blocks_.push_back(b);
        bit_ = b.bit_end;
        return Status::Ok();
      }
      if (s.code() != Code::kCorrupt) return s;
      if (first_error.ok()) first_error = s;
      from = (*end)->bit + 1;  // a real magic may overlap a chance one
    }
    return first_error.ok() ? Corrupted("bzip2 block at bit " + Str(bit_) + ": no end found")
                            : first_error;
  }
}

Result<size_t> Bz2StreamIndexer::Read(uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    // After a failure: what was read before it first (a short read), the error next.
    if (!failed_.ok()) return done > 0 ? Result<size_t>(done) : Result<size_t>(failed_);
    const uint64_t want = offset + done;
    const uint64_t start = out_total_ - cur_.size();
    if (want < start) {
      // An earlier block (the tar reader goes back for long metadata): decoded again alone.
      auto it = std::upper_bound(
          blocks_.begin(), blocks_.end(), want,
          [](uint64_t off, const Bz2Block& b) { return off < b.uncompressed_offset; });
      if (it == blocks_.begin()) return Invalid(name_ + ": bzip2 read before the data");
      const Bz2Block& b = *(it - 1);
      const size_t index = static_cast<size_t>(it - 1 - blocks_.begin());
      if (back_index_ != index || back_.size() != b.uncompressed_size) {
        back_.resize(b.uncompressed_size);
        back_index_ = SIZE_MAX;
        if (Status s = DecodeBz2Block(read_, b, back_, name_); !s.ok()) return s;
        back_index_ = index;
      }
      const uint64_t in = want - b.uncompressed_offset;
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(b.uncompressed_size - in, out.size() - done));
      std::memcpy(out.data() + done, back_.data() + in, n);
      done += n;
      continue;
    }
    if (want < out_total_) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(out_total_ - want, out.size() - done));
      std::memcpy(out.data() + done, cur_.data() + (want - start), n);
      done += n;
      continue;
    }
    if (ended_) break;
    failed_ = Produce();
  }
  return done;
}

Status Bz2StreamIndexer::Drain() {
  while (!ended_) {
    if (!failed_.ok()) return failed_;
    failed_ = Produce();
  }
  return failed_;
}

}  // namespace daqfs
