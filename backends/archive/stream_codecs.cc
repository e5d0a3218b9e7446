// DecodeStream (see stream_codecs.h): one loop over the input, three codec steps.
#include "backends/archive/stream_codecs.h"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "fs/log.h"

namespace daqfs {
namespace {

constexpr size_t kInputChunk = 1 << 20;
constexpr size_t kOutputChunk = 1 << 20;
constexpr uint64_t kProgressBytes = uint64_t{1} << 30;

std::string Str(uint64_t v) { return std::to_string(v); }

bool StartsWith(std::span<const uint8_t> h, std::initializer_list<uint8_t> magic) {
  return h.size() >= magic.size() && std::equal(magic.begin(), magic.end(), h.begin());
}

// One codec's state. Step() decodes from `in` into `out`, advancing both; returns whether the
// current stream ended (then Next() starts another when more input follows).
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual Status Step(std::span<const uint8_t>* in, std::span<uint8_t>* out, bool* ended) = 0;
  virtual Status Next() = 0;
  // Whether `head` starts another stream of this codec.
  virtual bool StartsStream(std::span<const uint8_t> head) const = 0;
};

class XzDecoder final : public Decoder {
 public:
  // One stream at a time (not LZMA_CONCATENATED): the loop below sees each stream's end, so
  // the streams before a damaged one stay verified and trailing bytes are only logged.
  XzDecoder() { ok_ = lzma_stream_decoder(&s_, UINT64_MAX, 0) == LZMA_OK; }
  ~XzDecoder() override { lzma_end(&s_); }
  Status Step(std::span<const uint8_t>* in, std::span<uint8_t>* out, bool* ended) override {
    if (!ok_) return Status(Code::kNoMemory, "liblzma: cannot start decoding");
    s_.next_in = in->data();
    s_.avail_in = in->size();
    s_.next_out = out->data();
    s_.avail_out = out->size();
    const lzma_ret r = lzma_code(&s_, in->empty() ? LZMA_FINISH : LZMA_RUN);
    *in = in->subspan(in->size() - s_.avail_in);
    *out = out->subspan(out->size() - s_.avail_out);
    *ended = r == LZMA_STREAM_END;
    if (r == LZMA_OK || r == LZMA_STREAM_END) return Status::Ok();
    if (r == LZMA_BUF_ERROR) return Corrupt("the data ends inside an xz stream");
    return Corrupt(r == LZMA_FORMAT_ERROR    ? "not xz data"
                   : r == LZMA_DATA_ERROR    ? "damaged xz data"
                   : r == LZMA_OPTIONS_ERROR ? "unsupported xz options"
                   : r == LZMA_MEM_ERROR     ? "out of memory"
                                             : "liblzma error " + std::to_string(r));
  }
  Status Next() override {
    lzma_end(&s_);
    s_ = LZMA_STREAM_INIT;
    ok_ = lzma_stream_decoder(&s_, UINT64_MAX, 0) == LZMA_OK;
    return ok_ ? Status::Ok() : Status(Code::kNoMemory, "liblzma: cannot start decoding");
  }
  bool StartsStream(std::span<const uint8_t> h) const override {
    return StartsWith(h, {0xFD, '7', 'z', 'X', 'Z', 0});
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
  bool ok_ = false;
};

class Bzip2Decoder final : public Decoder {
 public:
  Bzip2Decoder() { ok_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK; }
  ~Bzip2Decoder() override {
    if (ok_) BZ2_bzDecompressEnd(&s_);
  }
  Status Step(std::span<const uint8_t>* in, std::span<uint8_t>* out, bool* ended) override {
    if (!ok_) return Status(Code::kNoMemory, "libbz2: cannot start decoding");
    if (in->empty()) return Corrupt("the data ends inside a bzip2 stream");
    s_.next_in = const_cast<char*>(reinterpret_cast<const char*>(in->data()));
    s_.avail_in = static_cast<unsigned>(std::min<size_t>(in->size(), 1u << 30));
    s_.next_out = reinterpret_cast<char*>(out->data());
    s_.avail_out = static_cast<unsigned>(std::min<size_t>(out->size(), 1u << 30));
    const unsigned in_before = s_.avail_in, out_before = s_.avail_out;
    const int r = BZ2_bzDecompress(&s_);
    *in = in->subspan(in_before - s_.avail_in);
    *out = out->subspan(out_before - s_.avail_out);
    *ended = r == BZ_STREAM_END;
    if (r == BZ_OK || r == BZ_STREAM_END) return Status::Ok();
    return Corrupt(r == BZ_DATA_ERROR_MAGIC ? "not bzip2 data"
                   : r == BZ_DATA_ERROR     ? "damaged bzip2 data (a block's CRC or structure)"
                   : r == BZ_MEM_ERROR      ? "out of memory"
                                            : "libbz2 error " + std::to_string(r));
  }
  Status Next() override {
    BZ2_bzDecompressEnd(&s_);
    ok_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK;
    return ok_ ? Status::Ok() : Status(Code::kNoMemory, "libbz2: cannot start decoding");
  }
  bool StartsStream(std::span<const uint8_t> h) const override {
    return StartsWith(h, {'B', 'Z', 'h'});
  }

 private:
  bz_stream s_{};
  bool ok_ = false;
};

class Lz4Decoder final : public Decoder {
 public:
  Lz4Decoder() { ok_ = !LZ4F_isError(LZ4F_createDecompressionContext(&ctx_, LZ4F_VERSION)); }
  ~Lz4Decoder() override {
    if (ok_) LZ4F_freeDecompressionContext(ctx_);
  }
  Status Step(std::span<const uint8_t>* in, std::span<uint8_t>* out, bool* ended) override {
    if (!ok_) return Status(Code::kNoMemory, "liblz4: cannot start decoding");
    if (in->empty()) return Corrupt("the data ends inside an lz4 frame");
    size_t in_n = in->size(), out_n = out->size();
    const size_t r = LZ4F_decompress(ctx_, out->data(), &out_n, in->data(), &in_n, nullptr);
    *in = in->subspan(in_n);
    *out = out->subspan(out_n);
    if (LZ4F_isError(r)) return Corrupt(std::string("lz4: ") + LZ4F_getErrorName(r));
    *ended = r == 0;  // the frame (or a skippable frame) is complete
    return Status::Ok();
  }
  Status Next() override { return Status::Ok(); }  // the context starts the next frame itself
  bool StartsStream(std::span<const uint8_t> h) const override {
    return StartsWith(h, {0x04, 0x22, 0x4D, 0x18}) ||
           (h.size() >= 4 && (h[0] & 0xF0) == 0x50 && h[1] == 0x2A && h[2] == 0x4D && h[3] == 0x18);
  }

 private:
  LZ4F_dctx* ctx_ = nullptr;
  bool ok_ = false;
};

}  // namespace

std::optional<StreamCodec> SniffStreamCodec(std::span<const uint8_t> head) {
  if (StartsWith(head, {0xFD, '7', 'z', 'X', 'Z', 0})) return StreamCodec::kXz;
  if (StartsWith(head, {'B', 'Z', 'h'}) && head.size() >= 4 && head[3] >= '1' && head[3] <= '9') {
    return StreamCodec::kBzip2;
  }
  if (StartsWith(head, {0x04, 0x22, 0x4D, 0x18})) return StreamCodec::kLz4;
  return std::nullopt;
}

const char* StreamCodecName(StreamCodec codec) {
  switch (codec) {
    case StreamCodec::kXz:
      return "xz";
    case StreamCodec::kBzip2:
      return "bzip2";
    case StreamCodec::kLz4:
      return "lz4";
  }
  return "?";
}

Status DecodeStream(StreamCodec codec, const CompressedReadFn& read, uint64_t size,
                    const std::string& name, const StreamSink& sink, uint64_t* verified) {
  uint64_t out_total = 0;  // output bytes so far
  uint64_t good = 0;       // output bytes of the streams decoded to their end
  struct Report {
    uint64_t* to;
    const uint64_t& good;
    ~Report() {
      if (to) *to = good;
    }
  } report{verified, good};
  std::unique_ptr<Decoder> d;
  switch (codec) {
    case StreamCodec::kXz:
      d = std::make_unique<XzDecoder>();
      break;
    case StreamCodec::kBzip2:
      d = std::make_unique<Bzip2Decoder>();
      break;
    case StreamCodec::kLz4:
      d = std::make_unique<Lz4Decoder>();
      break;
  }
  std::vector<uint8_t> in(kInputChunk), out(kOutputChunk);
  uint64_t pos = 0;  // compressed bytes read
  std::span<const uint8_t> pending;
  uint64_t next_progress = kProgressBytes;
  bool in_stream = true;
  auto where = [&] { return pos - pending.size(); };
  auto refill = [&]() -> Status {
    if (!pending.empty()) std::memmove(in.data(), pending.data(), pending.size());
    const size_t keep = pending.size();
    Result<size_t> n = pos < size ? read(pos, std::span(in.data() + keep, in.size() - keep))
                                  : Result<size_t>(size_t{0});
    if (!n.ok()) return n.status();
    pos += *n;
    pending = std::span<const uint8_t>(in.data(), keep + *n);
    if (pos >= next_progress) {
      LogInfo(name + ": decompressing (" + StreamCodecName(codec) +
              ") to spill it: " + Str(pos >> 20) + " of " + Str(size >> 20) + " MiB");
      next_progress += kProgressBytes;
    }
    return Status::Ok();
  };
  for (;;) {
    if (pending.empty() && pos < size) {
      if (Status s = refill(); !s.ok()) return s;
    }
    if (!in_stream) {
      // Between streams: another one, zero padding, or the end.
      if (pending.size() < 4 && pos < size) {
        if (Status s = refill(); !s.ok()) return s;
      }
      if (pending.empty()) return Status::Ok();
      if (d->StartsStream(pending)) {
        if (Status s = d->Next(); !s.ok()) return s;
        in_stream = true;
        continue;
      }
      for (;;) {
        if (!std::all_of(pending.begin(), pending.end(), [](uint8_t b) { return b == 0; })) {
          LogWarn(name + ": " + Str(size - where()) + " bytes after the last " +
                  StreamCodecName(codec) + " stream (offset " + Str(where()) + ") are not " +
                  StreamCodecName(codec) + " data; ignored");
          return Status::Ok();
        }
        pending = {};
        if (pos >= size) return Status::Ok();
        if (Status s = refill(); !s.ok()) return s;
      }
    }
    if (pending.empty()) {
      return Corrupt(name + ": " + StreamCodecName(codec) + " data at compressed offset " +
                     Str(where()) + ": the data ends inside a stream (truncated file)");
    }
    std::span<uint8_t> room(out);
    bool ended = false;
    const uint64_t at = where();
    Status s = d->Step(&pending, &room, &ended);
    const size_t produced = out.size() - room.size();
    if (produced != 0) {
      if (Status k = sink(std::span<const uint8_t>(out.data(), produced)); !k.ok()) return k;
      out_total += produced;
    }
    if (!s.ok()) {
      return Status(s.code(), name + ": " + StreamCodecName(codec) + " data at compressed offset " +
                                  Str(at) + ": " + s.message());
    }
    if (ended) {
      good = out_total;
      in_stream = false;
    }
  }
}

}  // namespace daqfs
