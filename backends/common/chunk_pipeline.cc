// ChunkPipeline (see chunk_pipeline.h): the stages and the buffers between them.
#include "backends/common/chunk_pipeline.h"

#include <libdeflate.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace daqfs {
namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

// Per-thread buffers between stages: a thread settles after its first chunks; one grown by an
// odd large chunk is given back (the raw chunk buffer keeps 16 MiB the same way).
constexpr size_t kKeptStageBytes = size_t{64} << 20;

std::vector<uint8_t>& StageBuffer(int which) {
  thread_local std::vector<uint8_t> buffers[2];
  return buffers[which];
}

void ShrinkStageBuffers() {
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t>& b = StageBuffer(i);
    if (b.capacity() > kKeptStageBytes) std::vector<uint8_t>().swap(b);
  }
}

libdeflate_decompressor* Inflater() {
  thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
      libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  return d.get();
}

ZSTD_DCtx* ZstdContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(),
                                                                    &ZSTD_freeDCtx);
  return d.get();
}

template <size_t kElem>
void UnshuffleScalar(const uint8_t* in, uint8_t* out, size_t n, size_t from) {
  for (size_t j = from; j < n; ++j) {
    for (size_t b = 0; b < kElem; ++b) out[j * kElem + b] = in[b * n + j];
  }
}

#ifdef __SSE2__
inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline void Store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// 16 elements per step: the byte streams interleaved by unpacking, bytes, then 16-bit pairs,
// then 32-bit quads.
void Unshuffle2(const uint8_t* in, uint8_t* out, size_t n) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m128i a = Load(in + j), b = Load(in + n + j);
    Store(out + 2 * j, _mm_unpacklo_epi8(a, b));
    Store(out + 2 * j + 16, _mm_unpackhi_epi8(a, b));
  }
  UnshuffleScalar<2>(in, out, n, j);
}

void Unshuffle4(const uint8_t* in, uint8_t* out, size_t n) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m128i s0 = Load(in + j), s1 = Load(in + n + j), s2 = Load(in + 2 * n + j),
                  s3 = Load(in + 3 * n + j);
    const __m128i l01 = _mm_unpacklo_epi8(s0, s1), h01 = _mm_unpackhi_epi8(s0, s1);
    const __m128i l23 = _mm_unpacklo_epi8(s2, s3), h23 = _mm_unpackhi_epi8(s2, s3);
    uint8_t* o = out + 4 * j;
    Store(o, _mm_unpacklo_epi16(l01, l23));
    Store(o + 16, _mm_unpackhi_epi16(l01, l23));
    Store(o + 32, _mm_unpacklo_epi16(h01, h23));
    Store(o + 48, _mm_unpackhi_epi16(h01, h23));
  }
  UnshuffleScalar<4>(in, out, n, j);
}

void Unshuffle8(const uint8_t* in, uint8_t* out, size_t n) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m128i s[8];
    for (int b = 0; b < 8; ++b) s[b] = Load(in + b * n + j);
    __m128i p[4][2];  // byte pairs (2b, 2b+1): elements 0-7, 8-15
    for (int k = 0; k < 4; ++k) {
      p[k][0] = _mm_unpacklo_epi8(s[2 * k], s[2 * k + 1]);
      p[k][1] = _mm_unpackhi_epi8(s[2 * k], s[2 * k + 1]);
    }
    __m128i q[2][4];  // bytes 0-3 and 4-7: elements 0-3, 4-7, 8-11, 12-15
    for (int half = 0; half < 2; ++half) {
      const __m128i* lo = p[2 * half];
      const __m128i* hi = p[2 * half + 1];
      q[half][0] = _mm_unpacklo_epi16(lo[0], hi[0]);
      q[half][1] = _mm_unpackhi_epi16(lo[0], hi[0]);
      q[half][2] = _mm_unpacklo_epi16(lo[1], hi[1]);
      q[half][3] = _mm_unpackhi_epi16(lo[1], hi[1]);
    }
    uint8_t* o = out + 8 * j;
    for (int k = 0; k < 4; ++k) {
      Store(o + 32 * k, _mm_unpacklo_epi32(q[0][k], q[1][k]));
      Store(o + 32 * k + 16, _mm_unpackhi_epi32(q[0][k], q[1][k]));
    }
  }
  UnshuffleScalar<8>(in, out, n, j);
}
#else
void Unshuffle2(const uint8_t* in, uint8_t* out, size_t n) { UnshuffleScalar<2>(in, out, n, 0); }
void Unshuffle4(const uint8_t* in, uint8_t* out, size_t n) { UnshuffleScalar<4>(in, out, n, 0); }
void Unshuffle8(const uint8_t* in, uint8_t* out, size_t n) { UnshuffleScalar<8>(in, out, n, 0); }
#endif

}  // namespace

uint32_t Hdf5Fletcher32(std::span<const uint8_t> data) {
  // As H5_checksum_fletcher32: sums over 16-bit big-endian words, folded every 360 words
  // (before they can overflow), an odd last byte as a word's high byte.
  const uint8_t* p = data.data();
  size_t words = data.size() / 2;
  uint32_t sum1 = 0, sum2 = 0;
  while (words != 0) {
    size_t batch = words > 360 ? 360 : words;
    words -= batch;
    do {
      sum1 += (uint32_t{p[0]} << 8) | p[1];
      p += 2;
      sum2 += sum1;
    } while (--batch != 0);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (data.size() % 2 != 0) {
    sum1 += uint32_t{*p} << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return sum2 << 16 | sum1;
}

void ByteUnshuffle(std::span<const uint8_t> in, uint32_t elem_size, std::span<uint8_t> out) {
  const size_t n = elem_size == 0 ? 0 : in.size() / elem_size;
  if (elem_size <= 1 || n <= 1) {
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
    return;
  }
  switch (elem_size) {
    case 2:
      Unshuffle2(in.data(), out.data(), n);
      break;
    case 4:
      Unshuffle4(in.data(), out.data(), n);
      break;
    case 8:
      Unshuffle8(in.data(), out.data(), n);
      break;
    default:
      for (size_t b = 0; b < elem_size; ++b) {
        const uint8_t* src = in.data() + b * n;
        uint8_t* dst = out.data() + b;
        for (size_t j = 0; j < n; ++j) dst[j * elem_size] = src[j];
      }
  }
  const size_t whole = n * elem_size;
  std::memcpy(out.data() + whole, in.data() + whole, in.size() - whole);
}

std::optional<ChunkPipeline> ChunkPipeline::From(std::span<const Hdf5Filter> filters,
                                                 uint32_t type_size, std::string* why) {
  ChunkPipeline p;
  auto refuse = [&](const Hdf5Filter& f,
                    const std::string& reason) -> std::optional<ChunkPipeline> {
    if (why) *why = "filter " + std::to_string(f.id) + ": " + reason;
    return std::nullopt;
  };
  if (filters.size() > 32) {
    if (why) *why = std::to_string(filters.size()) + " filters (a chunk's mask has 32 bits)";
    return std::nullopt;
  }
  for (const Hdf5Filter& f : filters) {
    const std::span<const unsigned> cd = f.cd_values;
    Stage s{};
    switch (f.id) {
      case kHdf5FilterDeflate:
        s.kind = Kind::kDeflate;
        break;
      case kHdf5FilterShuffle:
        s.kind = Kind::kShuffle;
        // set_local stores the element size; a pipeline read before it ran has none.
        s.elem_size = cd.empty() ? type_size : cd[0];
        if (s.elem_size == 0) return refuse(f, "element size 0");
        break;
      case kHdf5FilterFletcher32:
        s.kind = Kind::kFletcher32;
        break;
      case kHdf5FilterLz4:
        s.kind = Kind::kLz4;
        break;
      case kHdf5FilterZstd:
        s.kind = Kind::kZstd;
        break;
      case kHdf5FilterBitshuffle: {
        // cd_values: filter version, bitshuffle version, element size, block size (elements),
        // compression.
        if (cd.size() < 3 || cd[2] == 0) return refuse(f, "no element size in its parameters");
        s.kind = Kind::kBitshuffle;
        s.elem_size = cd[2];
        s.block_elems = cd.size() > 3 ? cd[3] : 0;
        const unsigned c = cd.size() > 4 ? cd[4] : 0;
        if (c != 0 && c != 2 && c != 3) return refuse(f, "unknown compression " + Str(c));
        s.compression = static_cast<BitshuffleCompression>(c);
        break;
      }
      default:
        return refuse(f, "not decoded by daqfs");
    }
    p.stages_.push_back(s);
  }
  // After a compressing filter only size-keeping ones (shuffle, plain bitshuffle) and
  // fletcher32 (4 bytes) can be undone: a second compressor's decoded size is not known.
  int compressors = 0;
  for (const Stage& s : p.stages_) compressors += Compresses(s) ? 1 : 0;
  if (compressors > 1) {
    if (why) *why = "two compressing filters (" + p.Name() + ")";
    return std::nullopt;
  }
  return p;
}

bool ChunkPipeline::Unfiltered(uint32_t filter_mask) const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if ((filter_mask >> i & 1) == 0) return false;
  }
  return true;
}

const char* ChunkPipeline::StageName(const Stage& s) {
  switch (s.kind) {
    case Kind::kDeflate:
      return "deflate";
    case Kind::kShuffle:
      return "shuffle";
    case Kind::kFletcher32:
      return "fletcher32";
    case Kind::kLz4:
      return "lz4";
    case Kind::kZstd:
      return "zstd";
    case Kind::kBitshuffle:
      return s.compression == BitshuffleCompression::kLz4    ? "bitshuffle/lz4"
             : s.compression == BitshuffleCompression::kZstd ? "bitshuffle/zstd"
                                                             : "bitshuffle";
  }
  return "?";
}

std::string ChunkPipeline::Name() const {
  if (stages_.empty()) return "none";
  std::string out;
  for (const Stage& s : stages_) out += (out.empty() ? "" : "+") + std::string(StageName(s));
  return out;
}

Status ChunkPipeline::DecodeStage(const Stage& s, std::span<const uint8_t> in,
                                  std::span<uint8_t> out) const {
  switch (s.kind) {
    case Kind::kDeflate: {
      size_t got = 0;
      const libdeflate_result r = libdeflate_zlib_decompress(Inflater(), in.data(), in.size(),
                                                             out.data(), out.size(), &got);
      if (r == LIBDEFLATE_SUCCESS && got == out.size()) return Status::Ok();
      return Corrupt(r == LIBDEFLATE_SUCCESS
                         ? "decodes to " + Str(got) + " bytes, expected " + Str(out.size())
                     : r == LIBDEFLATE_INSUFFICIENT_SPACE
                         ? "decodes to more than the expected " + Str(out.size()) + " bytes"
                         : std::string("not a valid zlib stream (bad data or checksum)"));
    }
    case Kind::kZstd: {
      const size_t got =
          ZSTD_decompressDCtx(ZstdContext(), out.data(), out.size(), in.data(), in.size());
      if (!ZSTD_isError(got) && got == out.size()) return Status::Ok();
      return Corrupt(ZSTD_isError(got)
                         ? std::string(ZSTD_getErrorName(got))
                         : "decodes to " + Str(got) + " bytes, expected " + Str(out.size()));
    }
    case Kind::kShuffle:
      if (in.size() != out.size()) {
        return Corrupt(Str(in.size()) + " bytes, expected " + Str(out.size()));
      }
      ByteUnshuffle(in, s.elem_size, out);
      return Status::Ok();
    case Kind::kLz4:
      return DecodeHdf5Lz4Chunk(in, 0, out);
    case Kind::kBitshuffle:
      if (s.compression == BitshuffleCompression::kNone && in.size() != out.size()) {
        return Corrupt(Str(in.size()) + " bytes, expected " + Str(out.size()));
      }
      return DecodeBitshuffleChunk(in, s.elem_size, s.compression, s.block_elems, out);
    case Kind::kFletcher32:
      break;  // checked in place by Decode
  }
  return Invalid("bad stage");
}

bool ChunkPipeline::Compresses(const Stage& s) {
  switch (s.kind) {
    case Kind::kDeflate:
    case Kind::kZstd:
    case Kind::kLz4:
      return true;
    case Kind::kBitshuffle:
      return s.compression != BitshuffleCompression::kNone;
    case Kind::kShuffle:
    case Kind::kFletcher32:
      return false;
  }
  return false;
}

Status ChunkPipeline::Decode(std::span<const uint8_t> chunk, uint32_t filter_mask,
                             std::span<uint8_t> out) const {
  const size_t n = stages_.size();
  auto active = [&](size_t i) { return (filter_mask >> i & 1) == 0; };
  // size_in[i]: the bytes stage i was given when writing, known up to the compressing stage
  // (the chunk, plus 4 per fletcher32 before it); after it, each stage's size follows from
  // its input when decoding (fletcher32: 4 bytes less; the others keep the size).
  size_t compressor = n;
  for (size_t i = 0; i < n && compressor == n; ++i) {
    if (active(i) && Compresses(stages_[i])) compressor = i;
  }
  uint64_t size_in[33];
  size_in[0] = out.size();
  for (size_t i = 0; i < n && i < compressor; ++i) {
    size_in[i + 1] = size_in[i] + (active(i) && stages_[i].kind == Kind::kFletcher32 ? 4 : 0);
  }
  std::span<const uint8_t> cur = chunk;
  int next_buffer = 0;
  for (size_t k = n; k-- > 0;) {
    if (!active(k)) continue;
    const Stage& s = stages_[k];
    const bool known = k <= compressor;
    auto fail = [&](const Status& st) {
      return Status(st.code(), std::string(StageName(s)) + " (filter " + Str(k + 1) + " of " +
                                   Str(n) + "): " + st.message());
    };
    if (s.kind == Kind::kFletcher32) {
      if (known ? cur.size() != size_in[k] + 4 : cur.size() < 4) {
        return fail(Corrupt(Str(cur.size()) + " bytes, expected " +
                            (known ? Str(size_in[k] + 4) : std::string("at least 4"))));
      }
      const size_t data_bytes = cur.size() - 4;
      const uint8_t* t = cur.data() + data_bytes;
      const uint32_t stored =
          uint32_t{t[0]} | uint32_t{t[1]} << 8 | uint32_t{t[2]} << 16 | uint32_t{t[3]} << 24;
      const uint32_t sum = Hdf5Fletcher32(cur.first(data_bytes));
      // Before 1.6.3 the checksum's bytes were stored pair-swapped on little-endian machines.
      const uint32_t swapped = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
      if (stored != sum && stored != swapped) {
        return fail(
            Corrupt("checksum mismatch (stored " + Str(stored) + ", computed " + Str(sum) + ")"));
      }
      cur = cur.first(data_bytes);
      continue;
    }
    const uint64_t produce = known ? size_in[k] : cur.size();
    // Straight into `out` when no later stage (in decoding order) writes again.
    bool last_writer = produce == out.size();
    for (size_t j = k; j-- > 0 && last_writer;) {
      if (active(j) && stages_[j].kind != Kind::kFletcher32) last_writer = false;
    }
    std::span<uint8_t> dst;
    if (last_writer) {
      dst = out;
    } else {
      if (!cur.empty() && cur.data() == StageBuffer(next_buffer).data()) next_buffer ^= 1;
      std::vector<uint8_t>& use = StageBuffer(next_buffer);
      if (use.size() < produce) use.resize(produce);
      dst = std::span<uint8_t>(use.data(), produce);
      next_buffer ^= 1;
    }
    Status st = DecodeStage(s, cur, dst);
    if (!st.ok()) {
      ShrinkStageBuffers();
      return fail(st);
    }
    cur = dst;
  }
  if (cur.data() != out.data()) {
    if (cur.size() != out.size()) {
      return Corrupt("unfiltered chunk of " + Str(cur.size()) + " bytes, expected " +
                     Str(out.size()));
    }
    if (!out.empty()) std::memcpy(out.data(), cur.data(), out.size());
  }
  ShrinkStageBuffers();
  return Status::Ok();
}

}  // namespace daqfs
