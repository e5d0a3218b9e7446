// GzipStreamIndexer and InflateFromCheckpoint (see gzip_index.h), on zlib: inflate with Z_BLOCK
// stops at deflate block boundaries (data_type bit 7; bit 6: the member's last block; bits 0-2:
// the bits of the last byte not yet used), inflatePrime and inflateSetDictionary resume there.
#include "backends/archive/gzip_index.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "fs/log.h"

namespace daqfs {
namespace {

constexpr size_t kInputChunk = 256 << 10;
constexpr size_t kOutputChunk = 256 << 10;
constexpr uint64_t kProgressBytes = uint64_t{1} << 30;

std::string Str(uint64_t v) { return std::to_string(v); }

std::string ZlibWhy(const z_stream& s, int ret) {
  if (s.msg) return s.msg;
  switch (ret) {
    case Z_NEED_DICT:
      return "needs a preset dictionary (not gzip data)";
    case Z_MEM_ERROR:
      return "out of memory";
    default:
      return "zlib error " + std::to_string(ret);
  }
}

bool IsGzipMagic(const uint8_t* p) { return p[0] == 0x1F && p[1] == 0x8B; }

}  // namespace

struct GzipStreamIndexer::Zlib {
  z_stream s{};
  bool init = false;
  ~Zlib() {
    if (init) inflateEnd(&s);
  }
};

GzipStreamIndexer::GzipStreamIndexer(CompressedReadFn read, uint64_t size, std::string name,
                                     uint64_t interval)
    : read_(std::move(read)),
      size_(size),
      name_(std::move(name)),
      interval_(std::max<uint64_t>(interval, 1)),
      z_(std::make_unique<Zlib>()),
      in_(kInputChunk),
      buf_(kGzipWindowBytes + kOutputChunk) {
  if (inflateInit2(&z_->s, 31) != Z_OK) {
    failed_ = Status(Code::kNoMemory, name_ + ": zlib: cannot start inflating");
    return;
  }
  z_->init = true;
  in_member_ = true;
  index_.members = 1;
  GzipCheckpoint first;
  first.member_start = true;
  index_.points.push_back(first);
}

GzipStreamIndexer::~GzipStreamIndexer() = default;

Status GzipStreamIndexer::Corrupted(const std::string& why) const {
  return Corrupt(name_ + ": gzip data at compressed offset " + Str(in_pos_ - z_->s.avail_in) +
                 ": " + why);
}

Status GzipStreamIndexer::Produce() {
  z_stream& s = z_->s;
  // Input: refill when used up (the unused tail stays where it is until then).
  if (s.avail_in == 0 && in_pos_ < size_) {
    Result<size_t> n =
        read_(in_pos_, std::span(in_.data(), std::min<uint64_t>(in_.size(), size_ - in_pos_)));
    if (!n.ok()) return n.status();
    in_pos_ += *n;
    s.next_in = in_.data();
    s.avail_in = static_cast<uInt>(*n);
    if (*n == 0) size_ = in_pos_;  // the file is shorter than it said
    // Progress of a big archive's one inflate, in the log: every GiB of gzip data.
    if (in_pos_ >= next_progress_) {
      LogInfo(name_ + ": inflating to index it: " + Str(in_pos_ >> 20) + " of " + Str(size_ >> 20) +
              " MiB, " + Str(index_.points.size()) + " checkpoints");
      next_progress_ += kProgressBytes;
    }
  }
  if (s.avail_in == 0) {
    return Corrupted("the data ends inside gzip member " + Str(index_.members) +
                     " (truncated file)");
  }
  // Output: keep the last 32 KiB (the window) when making room.
  if (buf_.size() - have_ < kGzipWindowBytes) {
    std::memmove(buf_.data(), buf_.data() + have_ - kGzipWindowBytes, kGzipWindowBytes);
    have_ = kGzipWindowBytes;
  }
  s.next_out = buf_.data() + have_;
  s.avail_out = static_cast<uInt>(buf_.size() - have_);
  const uInt before = s.avail_out;
  const int ret = inflate(&s, Z_BLOCK);
  const size_t produced = before - s.avail_out;
  crc_ = static_cast<uint32_t>(crc32(crc_, buf_.data() + have_, static_cast<uInt>(produced)));
  have_ += produced;
  out_total_ += produced;
  if (ret == Z_STREAM_END) {
    // The member's trailer (CRC-32, size) was checked by zlib. Another member, zero padding,
    // or the end.
    in_member_ = false;
    index_.compressed_size = in_pos_ - s.avail_in;
    index_.decompressed_size = out_total_;
    // Look at what follows: read on until two bytes are at hand or the file ends.
    if (s.avail_in < 2 && in_pos_ < size_) {
      std::memmove(in_.data(), s.next_in, s.avail_in);
      Result<size_t> n =
          read_(in_pos_, std::span(in_.data() + s.avail_in,
                                   std::min<uint64_t>(in_.size() - s.avail_in, size_ - in_pos_)));
      if (!n.ok()) return n.status();
      in_pos_ += *n;
      s.next_in = in_.data();
      s.avail_in += static_cast<uInt>(*n);
    }
    if (s.avail_in >= 2 && IsGzipMagic(s.next_in)) {
      if (inflateReset(&s) != Z_OK) return Corrupted("zlib cannot start the next member");
      in_member_ = true;
      ++index_.members;
      member_out_ = out_total_;
      if (out_total_ - last_point_ >= interval_) {
        GzipCheckpoint p;
        p.in_offset = in_pos_ - s.avail_in;
        p.member_start = true;
        p.out_offset = out_total_;
        AddPoint(std::move(p));
      }
      return Status::Ok();
    }
    // Not gzip: all zeros (padding) is the normal end; anything else is reported.
    uint64_t at = in_pos_ - s.avail_in;
    bool zeros = true;
    for (;;) {
      for (uInt i = 0; i < s.avail_in && zeros; ++i) zeros = s.next_in[i] == 0;
      if (!zeros || in_pos_ >= size_) break;
      Result<size_t> n =
          read_(in_pos_, std::span(in_.data(), std::min<uint64_t>(in_.size(), size_ - in_pos_)));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      in_pos_ += *n;
      s.next_in = in_.data();
      s.avail_in = static_cast<uInt>(*n);
    }
    if (!zeros) {
      index_.trailing = Str(size_ - at) + " bytes after the last gzip member (offset " + Str(at) +
                        ") are not gzip data; ignored";
    }
    ended_ = true;
    index_.points.back().crc = crc_;  // the last interval runs to the end
    index_.points.back().has_crc = true;
    return Status::Ok();
  }
  if (ret != Z_OK && ret != Z_BUF_ERROR) return Corrupted(ZlibWhy(s, ret));
  if (ret == Z_BUF_ERROR && s.avail_in != 0 && produced == 0) {
    return Corrupted("inflate makes no progress");
  }
  // At a block boundary inside the member (not after its last block): a checkpoint when due.
  if ((s.data_type & 128) && !(s.data_type & 64) && out_total_ > member_out_ &&
      out_total_ - last_point_ >= interval_) {
    GzipCheckpoint p;
    p.in_offset = in_pos_ - s.avail_in;
    p.bits = static_cast<uint8_t>(s.data_type & 7);
    p.out_offset = out_total_;
    const size_t w =
        static_cast<size_t>(std::min<uint64_t>(kGzipWindowBytes, out_total_ - member_out_));
    p.window.assign(reinterpret_cast<const char*>(buf_.data() + have_ - w), w);
    AddPoint(std::move(p));
  }
  return Status::Ok();
}

void GzipStreamIndexer::AddPoint(GzipCheckpoint p) {
  index_.points.back().crc = crc_;
  index_.points.back().has_crc = true;
  crc_ = 0;
  last_point_ = out_total_;
  index_.points.push_back(std::move(p));
}

Result<size_t> GzipStreamIndexer::Read(uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (!failed_.ok()) return failed_;
    const uint64_t want = offset + done;
    const uint64_t start = out_total_ - have_;
    if (want < start) {
      return Invalid(name_ + ": gzip stream read backwards (offset " + Str(want) + ", at " +
                     Str(start) + ")");
    }
    if (want < out_total_) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(out_total_ - want, out.size() - done));
      std::memcpy(out.data() + done, buf_.data() + (want - start), n);
      done += n;
      continue;
    }
    if (ended_) break;
    failed_ = Produce();
  }
  return done;
}

Status GzipStreamIndexer::Drain() {
  while (!ended_) {
    if (!failed_.ok()) return failed_;
    failed_ = Produce();
  }
  return failed_;
}

Status InflateFromCheckpoint(const CompressedReadFn& read, const GzipCheckpoint& from,
                             uint64_t skip, std::span<uint8_t> out, const std::string& name) {
  struct Stream {
    z_stream s{};
    bool init = false;
    ~Stream() {
      if (init) inflateEnd(&s);
    }
  } z;
  uint64_t pos = from.in_offset;
  bool raw = !from.member_start;
  auto corrupt = [&](const std::string& why) {
    return Corrupt(name + ": gzip data at compressed offset " + Str(pos - z.s.avail_in) +
                   " (decoding from the checkpoint at output offset " + Str(from.out_offset) +
                   "): " + why);
  };
  if (from.damaged) {
    return Corrupt(name + ": the gzip data is damaged at output offset " + Str(from.out_offset) +
                   " (found when the archive was indexed)");
  }
  if (inflateInit2(&z.s, raw ? -15 : 31) != Z_OK) {
    return Status(Code::kNoMemory, name + ": zlib: cannot start inflating");
  }
  z.init = true;
  std::vector<uint8_t> in(kInputChunk);
  if (raw) {
    if (from.bits > 7 || (from.bits != 0 && from.in_offset == 0)) return corrupt("bad checkpoint");
    if (from.bits != 0) {
      uint8_t b = 0;
      Result<size_t> n = read(from.in_offset - 1, std::span(&b, 1));
      if (!n.ok()) return n.status();
      if (*n != 1) return corrupt("the data ends before the checkpoint");
      if (inflatePrime(&z.s, from.bits, b >> (8 - from.bits)) != Z_OK) {
        return corrupt("zlib cannot take the checkpoint's bits");
      }
    }
    if (!from.window.empty() &&
        inflateSetDictionary(&z.s, reinterpret_cast<const Bytef*>(from.window.data()),
                             static_cast<uInt>(from.window.size())) != Z_OK) {
      return corrupt("zlib cannot take the checkpoint's window");
    }
  }
  // The bytes before `skip` are decoded into a scratch and dropped.
  std::vector<uint8_t> scratch(skip != 0 ? std::min<uint64_t>(skip, kOutputChunk) : 0);
  uint64_t skipped = 0;
  size_t done = 0;
  auto refill = [&]() -> Status {
    if (z.s.avail_in != 0) std::memmove(in.data(), z.s.next_in, z.s.avail_in);
    Result<size_t> n = read(pos, std::span(in.data() + z.s.avail_in, in.size() - z.s.avail_in));
    if (!n.ok()) return n.status();
    pos += *n;
    z.s.next_in = in.data();
    z.s.avail_in += static_cast<uInt>(*n);
    return Status::Ok();
  };
  while (done < out.size()) {
    if (z.s.avail_in == 0) {
      if (Status s = refill(); !s.ok()) return s;
      if (z.s.avail_in == 0) return corrupt("the data ends before the expected output");
    }
    if (skipped < skip) {
      z.s.next_out = scratch.data();
      z.s.avail_out = static_cast<uInt>(std::min<uint64_t>(scratch.size(), skip - skipped));
    } else {
      z.s.next_out = out.data() + done;
      z.s.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - done, 1u << 30));
    }
    const uInt before = z.s.avail_out;
    const int ret = inflate(&z.s, Z_NO_FLUSH);
    const uInt produced = before - z.s.avail_out;
    if (skipped < skip) {
      skipped += produced;
    } else {
      done += produced;
    }
    // Everything asked for is out: what inflate found after it (it decodes the next code
    // before it sees the output is full) is none of this read's business.
    if (done >= out.size()) break;
    if (ret == Z_STREAM_END) {
      // The member ended: its trailer (unread after a raw resume: 8 bytes), then the next one.
      if (raw) {
        while (z.s.avail_in < 8) {
          const uInt had = z.s.avail_in;
          if (Status s = refill(); !s.ok()) return s;
          if (z.s.avail_in == had) return corrupt("the data ends inside a member's trailer");
        }
        z.s.next_in += 8;
        z.s.avail_in -= 8;
      }
      while (z.s.avail_in < 2) {
        const uInt had = z.s.avail_in;
        if (Status s = refill(); !s.ok()) return s;
        if (z.s.avail_in == had) return corrupt("the data ends before the expected output");
      }
      if (!IsGzipMagic(z.s.next_in)) return corrupt("no gzip member where one was indexed");
      if (inflateReset2(&z.s, 31) != Z_OK) return corrupt("zlib cannot start the next member");
      raw = false;
      continue;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) return corrupt(ZlibWhy(z.s, ret));
    if (ret == Z_BUF_ERROR && produced == 0 && z.s.avail_in != 0) {
      return corrupt("inflate makes no progress");
    }
  }
  return Status::Ok();
}

}  // namespace daqfs
