// ReadXzBlocks and DecodeXzBlock (see xz_blocks.h), on liblzma's file info and block decoders.
#include "backends/archive/xz_blocks.h"

#include <lzma.h>

#include <cstdlib>
#include <memory>

namespace daqfs {
namespace {

constexpr size_t kInputChunk = 256 << 10;
constexpr uint64_t kIndexMemLimit = 64 << 20;

std::string Str(uint64_t v) { return std::to_string(v); }

std::string LzmaWhy(lzma_ret r) {
  switch (r) {
    case LZMA_FORMAT_ERROR:
      return "not xz data";
    case LZMA_DATA_ERROR:
      return "damaged xz data";
    case LZMA_OPTIONS_ERROR:
      return "unsupported xz options";
    case LZMA_BUF_ERROR:
      return "the data ends early";
    case LZMA_MEM_ERROR:
      return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
      return "over the memory limit";
    default:
      return "liblzma error " + std::to_string(r);
  }
}

struct LzmaStream {
  lzma_stream s = LZMA_STREAM_INIT;
  ~LzmaStream() { lzma_end(&s); }
};

}  // namespace

Result<std::vector<XzBlock>> ReadXzBlocks(const CompressedReadFn& read, uint64_t size,
                                          const std::string& name) {
  LzmaStream z;
  lzma_index* index = nullptr;
  struct IndexOwner {
    lzma_index** i;
    ~IndexOwner() {
      if (*i) lzma_index_end(*i, nullptr);
    }
  } owner{&index};
  // The indexes of a file take memory in proportion to their records: a file claiming millions
  // of blocks is refused (its archive is decompressed whole instead).
  lzma_ret r = lzma_file_info_decoder(&z.s, &index, kIndexMemLimit, size);
  if (r != LZMA_OK) return Corrupt(name + ": xz index: " + LzmaWhy(r));
  std::vector<uint8_t> in(kInputChunk);
  uint64_t pos = 0;
  for (;;) {
    if (z.s.avail_in == 0) {
      Result<size_t> n = pos < size ? read(pos, in) : Result<size_t>(size_t{0});
      if (!n.ok()) return n.status();
      z.s.next_in = in.data();
      z.s.avail_in = *n;
      pos += *n;
    }
    r = lzma_code(&z.s, pos >= size ? LZMA_FINISH : LZMA_RUN);
    if (r == LZMA_SEEK_NEEDED) {
      pos = z.s.seek_pos;
      z.s.avail_in = 0;
      continue;
    }
    if (r == LZMA_STREAM_END) break;
    if (r != LZMA_OK) return Corrupt(name + ": xz index: " + LzmaWhy(r));
  }
  std::vector<XzBlock> blocks;
  lzma_index_iter it;
  lzma_index_iter_init(&it, index);
  uint64_t next = 0;
  while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_BLOCK)) {
    XzBlock b;
    b.compressed_offset = it.block.compressed_file_offset;
    b.total_size = it.block.total_size;
    b.unpadded_size = it.block.unpadded_size;
    b.uncompressed_offset = it.block.uncompressed_file_offset;
    b.uncompressed_size = it.block.uncompressed_size;
    b.check = it.stream.flags ? static_cast<uint32_t>(it.stream.flags->check) : 0;
    if (b.uncompressed_offset != next || b.compressed_offset + b.total_size > size) {
      return Corrupt(name + ": xz index: block at offset " + Str(b.compressed_offset) +
                     " does not fit the file");
    }
    next += b.uncompressed_size;
    blocks.push_back(b);
  }
  return blocks;
}

Status DecodeXzBlock(const CompressedReadFn& read, const XzBlock& b, std::span<uint8_t> out,
                     const std::string& name) {
  auto corrupt = [&](const std::string& why) {
    return Corrupt(name + ": xz block at compressed offset " + Str(b.compressed_offset) + ": " +
                   why);
  };
  if (out.size() != b.uncompressed_size) return Invalid(name + ": xz block: bad buffer size");
  uint8_t header[LZMA_BLOCK_HEADER_SIZE_MAX];
  Result<size_t> n = read(b.compressed_offset, std::span(header, 1));
  if (!n.ok()) return n.status();
  if (*n != 1 || header[0] == 0) return corrupt("no block header");
  const uint32_t header_size = lzma_block_header_size_decode(header[0]);
  if (header_size > b.total_size) return corrupt("block header larger than the block");
  n = read(b.compressed_offset, std::span(header, header_size));
  if (!n.ok()) return n.status();
  if (*n != header_size) return corrupt("the file ends inside the block header");
  lzma_filter filters[LZMA_FILTERS_MAX + 1];
  lzma_block block{};
  block.version = 1;
  block.check = static_cast<lzma_check>(b.check);
  block.filters = filters;
  block.header_size = header_size;
  lzma_ret r = lzma_block_header_decode(&block, nullptr, header);
  if (r != LZMA_OK) return corrupt("block header: " + LzmaWhy(r));
  struct FilterOptions {
    lzma_filter* f;
    ~FilterOptions() {
      for (size_t i = 0; f[i].id != LZMA_VLI_UNKNOWN; ++i) free(f[i].options);
    }
  } free_options{filters};
  if (block.uncompressed_size == LZMA_VLI_UNKNOWN) {
    block.uncompressed_size = b.uncompressed_size;
  } else if (block.uncompressed_size != b.uncompressed_size) {
    return corrupt("block header and index disagree on its size");
  }
  r = lzma_block_compressed_size(&block, b.unpadded_size);
  if (r != LZMA_OK) return corrupt("block sizes: " + LzmaWhy(r));
  LzmaStream z;
  r = lzma_block_decoder(&z.s, &block);
  if (r != LZMA_OK) return corrupt(LzmaWhy(r));
  std::vector<uint8_t> in(kInputChunk);
  uint64_t pos = b.compressed_offset + header_size;
  const uint64_t end = b.compressed_offset + b.total_size;
  z.s.next_out = out.data();
  z.s.avail_out = out.size();
  for (;;) {
    if (z.s.avail_in == 0 && pos < end) {
      Result<size_t> got =
          read(pos, std::span(in.data(), std::min<uint64_t>(in.size(), end - pos)));
      if (!got.ok()) return got.status();
      if (*got == 0) return corrupt("the file ends inside the block");
      z.s.next_in = in.data();
      z.s.avail_in = *got;
      pos += *got;
    }
    r = lzma_code(&z.s, LZMA_RUN);
    if (r == LZMA_STREAM_END) break;
    if (r != LZMA_OK) return corrupt(LzmaWhy(r));
    if (z.s.avail_in == 0 && pos >= end) return corrupt("the block ends before its data");
  }
  if (z.s.avail_out != 0) return corrupt("decodes to fewer bytes than the index says");
  return Status::Ok();
}

}  // namespace daqfs
