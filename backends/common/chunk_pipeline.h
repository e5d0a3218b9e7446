// ChunkPipeline: an HDF5 dataset's filter pipeline, decoded by our own code (the chunk fast
// path of backends/hdf5/hdf5_chunk_units.h), byte-identical to libhdf5 with the filter.
//
// Filters, by the ids HDF5 and the plugins register:
//   1      deflate: a zlib stream (libdeflate, faster than zlib; the Adler-32 is checked);
//   2      shuffle: the bytes of cd_values[0]-byte elements grouped by byte position; bytes
//          past the last whole element stay at the end as they are (nothing is shuffled for
//          1-byte elements or fewer than two elements, as libhdf5);
//   3      fletcher32: the last 4 bytes hold HDF5's Fletcher-32 of the rest, little endian (or
//          the pair-swapped value of files written before HDF5 1.6.3, which libhdf5 accepts
//          too); checked: a mismatch is kCorrupt (EIO), as libhdf5 fails the read;
//   32004  HDF5 LZ4, 32008 bitshuffle (with LZ4, zstd or no compression): lz4_chunks.h;
//   32015  zstd (the HDF Group's plugin): one zstd frame (several are decoded in turn).
// In any order and number, as H5Pget_filter2 lists them (the order they were applied in when
// writing; decoding runs them backwards). A chunk's filter mask (H5Dread_chunk's, bit i for
// filter i) names the filters skipped when it was written; those are not undone.
//
// At most one filter compresses (deflate, zstd, LZ4, bitshuffle with compression); after it
// (in writing order) only size-keeping filters and fletcher32 may follow, as any real pipeline
// has it: the compressor decodes to the exact size it was given when writing (the chunk's size
// plus 4 bytes per earlier fletcher32) and fails with kCorrupt otherwise, so no input makes a
// decoder read or write outside its buffers. A single decompressing stage decodes straight
// into the caller's buffer; a pipeline with more stages uses two per-thread buffers.
//
// Thread safety: Decode is const and may run on many threads at once (per-thread state only).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/common/lz4_chunks.h"
#include "fs/status.h"

namespace daqfs {

inline constexpr int kHdf5FilterDeflate = 1;
inline constexpr int kHdf5FilterShuffle = 2;
inline constexpr int kHdf5FilterFletcher32 = 3;
inline constexpr int kHdf5FilterZstd = 32015;

// One filter of a dataset's pipeline, as H5Pget_filter2 reports it.
struct Hdf5Filter {
  int id = 0;
  std::vector<unsigned> cd_values;
};

class ChunkPipeline {
 public:
  // The pipeline for `filters` (in H5Pget_filter2's order) over elements of `type_size` bytes,
  // or nullopt when a filter is not one of the above (or its parameters are not ones its plugin
  // writes), or a second compressing filter: such datasets take the library path. `why`
  // (optional) says which then.
  static std::optional<ChunkPipeline> From(std::span<const Hdf5Filter> filters, uint32_t type_size,
                                           std::string* why = nullptr);

  // No filters: every chunk is stored as its data.
  bool empty() const { return stages_.empty(); }
  // Whether a chunk with this filter mask is stored as its data (every filter skipped).
  bool Unfiltered(uint32_t filter_mask) const;
  // "deflate", "shuffle+deflate", "bitshuffle/LZ4" ...: what the pipeline undoes, for logs
  // and stats (writing order).
  std::string Name() const;

  // Decodes one chunk stored with `filter_mask` into `out`, which must be exactly the chunk's
  // decoded size. kCorrupt naming the stage and the reason when the chunk is malformed or its
  // checksum does not match; `out` then holds unspecified bytes.
  Status Decode(std::span<const uint8_t> chunk, uint32_t filter_mask, std::span<uint8_t> out) const;

 private:
  enum class Kind : uint8_t { kDeflate, kShuffle, kFletcher32, kLz4, kBitshuffle, kZstd };
  struct Stage {
    Kind kind;
    uint32_t elem_size = 0;  // shuffle, bitshuffle
    BitshuffleCompression compression = BitshuffleCompression::kNone;
    uint32_t block_elems = 0;  // plain bitshuffle
  };
  Status DecodeStage(const Stage& stage, std::span<const uint8_t> in, std::span<uint8_t> out) const;
  static const char* StageName(const Stage& stage);
  static bool Compresses(const Stage& stage);

  std::vector<Stage> stages_;
};

// HDF5's Fletcher-32 (H5_checksum_fletcher32: 16-bit big-endian words, an odd last byte as the
// high byte of a word), for the filter and its tests.
uint32_t Hdf5Fletcher32(std::span<const uint8_t> data);

// Reverses HDF5's byte shuffle of `elem_size`-byte elements: `in` and `out` have the same size
// and do not overlap.
void ByteUnshuffle(std::span<const uint8_t> in, uint32_t elem_size, std::span<uint8_t> out);

}  // namespace daqfs
