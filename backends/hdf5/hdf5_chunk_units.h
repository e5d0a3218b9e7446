// Hdf5ChunkUnits: the chunk fast path. A dataset's units read as raw chunks and decoded by our
// own code (backends/common/lz4_chunks.h) on the caller's thread, in parallel, instead of
// H5Dread under the library's one lock.
//
// Which units: the unit must be exactly one chunk (a chunk of whole rows, as EIGER writes one
// chunk per frame: chunk dims (rows_per_unit, dims[1], ...)), the stored element a plain
// little-endian integer or IEEE float (or one byte) that needs no conversion, and every filter
// of the pipeline one our decoders handle (backends/common/chunk_pipeline.h: deflate, shuffle,
// fletcher32, bitshuffle with LZ4, zstd or none, HDF5 LZ4, zstd; in any order, each chunk's
// filter mask honoured). Everything else (other filters, contiguous or compact layouts, virtual
// datasets, a partial last chunk, big-endian data, a chunk never written) takes the library path
// (ReadUnitByLibrary, counted as fallback).
//
// Finding a chunk: Debian's libhdf5 1.10.8 has no chunk iterator, and H5Dget_chunk_info_by_coord
// walks the chunk index from its start on every call (measured: 16-31 ms per call at 10^5
// chunks, so minutes for a whole dataset; tools/bench/hdf5_chunk_index_bench). Its index lookup
// is fast, though, behind H5Dget_chunk_storage_size and H5Dread_chunk (1.5-3 us per chunk at
// 10^5 chunks). So:
//   - up to kByCoordChunks chunks: the chunk's address and size come from
//     H5Dget_chunk_info_by_coord under the lock, once per unit (kept), and the bytes are read
//     with pread outside it: reads of many threads overlap (what a parallel filesystem needs).
//     The pread uses libhdf5's own descriptor of the file (H5Fget_vfd_handle, while the pool's
//     file is held): one open file per data file, so the kernel's read-ahead sees a sequential
//     reader (a descriptor per chunk reset it: cold reads of 20 data files ran at half speed);
//   - beyond: H5Dread_chunk reads the raw chunk under the lock (the lookup is O(log n); the read
//     itself is then serialised with other HDF5 calls).
// Either way the decode runs outside the lock, on the reading thread (the cache layer's pool).
//
// A file with a user block (h5py's userblock_size) uses H5Dread_chunk whatever its size: 1.10.8's
// H5Dget_chunk_info_by_coord reports addresses without the user block (HDF5 issue 3003, fixed in
// 1.14.4). A chunk whose stored size cannot be right (an unfiltered chunk not exactly a unit, a
// filtered one over twice a unit) is kCorrupt before anything is allocated for it.
//
// Errors: a chunk that does not decode gives kCorrupt naming the file, the dataset, the rows,
// the chunk's file offset and size and the reason (EIO for that unit only); counted and logged
// as every unit error. A file changed since listing gives kUnavailable.
//
// Thread safety: as Hdf5DatasetUnits (every method may be called concurrently).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "backends/common/chunk_pipeline.h"
#include "backends/hdf5/hdf5_dataset_units.h"

namespace daqfs {

class Hdf5ChunkUnits final : public Hdf5DatasetUnits {
 public:
  // Datasets of at most this many chunks find chunks with H5Dget_chunk_info_by_coord (see the
  // file comment); larger ones read them with H5Dread_chunk.
  static constexpr uint64_t kByCoordChunks = 1024;

  using Hdf5DatasetUnits::Hdf5DatasetUnits;

  Status ReadUnit(uint64_t unit, std::span<uint8_t> out) override;

  // For tests and stats: whether the fast path applies (decided at the first read), and how
  // chunks are found.
  enum class Mode { kUnknown, kLibrary, kByCoord, kReadChunk };
  Mode mode() const { return mode_.load(std::memory_order_acquire); }

 private:
  // Decides the mode (under H5Lock): the dataset's layout, type and filters. Kept once the file
  // was opened and matched its identity; a failure to open it decides for this read only.
  Mode Decide();
  Mode DecideLocked();
  // The raw bytes of unit `unit`'s chunk as *chunk: read into *raw, or, cold on a local disk,
  // into the thread's direct-read buffer (fs/direct_read.h); when the chunk is unfiltered and
  // read by address, straight into *direct instead (then *read_direct). Also its filter mask;
  // `*absent` when the chunk was never written or cannot be read this way now (the library
  // path reads it then).
  Status RawChunk(uint64_t unit, std::vector<uint8_t>* raw, std::span<const uint8_t>* chunk,
                  uint32_t* filter_mask, bool* absent, uint64_t* file_offset,
                  std::optional<std::span<uint8_t>> direct, bool* read_direct);
  // kCorrupt when a chunk's stored size cannot be right (see the file comment).
  Status CheckStoredSize(uint64_t size, uint32_t filter_mask, uint64_t file_offset) const;

  std::mutex decide_mu_;  // held while deciding (then H5Lock inside it)
  std::atomic<Mode> mode_{Mode::kUnknown};
  ChunkPipeline pipeline_;  // empty: no filter (the chunk is the data)
  uint64_t chunk_bytes_ = 0;
  // kByCoord: each unit's chunk address and size once known (size 0: not yet).
  struct ChunkPlace {
    std::atomic<uint64_t> addr{0};
    std::atomic<uint64_t> size{0};
    std::atomic<uint32_t> mask{0};
  };
  std::unique_ptr<ChunkPlace[]> places_;
};

}  // namespace daqfs
