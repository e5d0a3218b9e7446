// Hdf5DatasetUnits: the data of one HDF5 dataset, in C order, as decode units (fs/byte_source.h).
//
// What the cache holds for an HDF5 dataset is a unit named by what it is (the file's identity,
// the dataset's object address and the unit layout), so a chunk shown by `NAME.npy`, by a hard
// link to the same dataset and by an image stack's `frames/N.tif` or `data.npy` is read once and
// cached once. Files over it are ComposedSources (backends/common/composed_source.h): the `.npy`
// file is the NumPy header plus the whole units stream.
//
// Units are rows (indexes along the first dimension, hdf5_datasets.h):
//   - an image stack (rank >= 3, a frame of at least kMinFrameBytes): one frame per unit, which
//     for EIGER data (chunks of 1 x H x W) is one chunk per unit: what the image-stack views and
//     a chunk fast path want;
//   - otherwise runs of rows of about kTargetUnitBytes, a multiple of the chunk's first dimension
//     when chunked (so that no chunk is read by two units);
//   - a scalar: one unit.
// A unit larger than kMaxBlock is exposed as kSubBlock sub-blocks of one group (GroupOf,
// ReadGroup, OpenGroupCursor): one read fills them all, so a 40 MB pixel mask in one chunk is
// read once, not once per MiB.
//
// Reading: ReadUnit (virtual) reads a whole unit. The default reads it with H5Dread under
// H5Lock (the fallback path, counted in Hdf5ReadCounters::fallback_units); a chunk fast path
// (chunk addresses from H5Dget_chunk_info, pread and our own decoders outside the lock) is a
// subclass that overrides ReadUnit and falls back to ReadUnitByLibrary for what it does not
// handle. The file is opened through the backend's Hdf5FilePool (bounded), never kept open
// by a source.
//
// Bad input: a file that is missing or changed since the dataset was described gives
// kUnavailable; a chunk that does not decode gives kCorrupt for the units that need it only. A
// virtual dataset's mapped sources are checked before reading (libhdf5 would return fill values
// for a missing one): a unit that needs a missing source file or dataset gives kUnavailable
// naming the virtual dataset's file and the missing source, never zeros. Errors are logged once
// per few seconds per source and counted in Hdf5ReadCounters::errors.
//
// Thread safety: every method may be called concurrently (the ByteSource contract); reads
// serialise on H5Lock only while inside libhdf5.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backends/hdf5/hdf5_datasets.h"
#include "backends/hdf5/hdf5_file_pool.h"
#include "fs/byte_source.h"
#include "fs/log.h"
#include "fs/metrics.h"

namespace daqfs {

// Where the counts of HDF5 reads go (the backend's metrics once started). Shared by the backend
// and every source it opens; the counters must outlive them (the metrics registry does).
struct Hdf5ReadCounters {
  Counter* fallback_units = &own_fallback_units;  // units read with H5Dread
  Counter* fast_units = &own_fast_units;          // units read as raw chunks, decoded by our code
  Counter* errors = &own_errors;                  // units that failed (decode, missing source)
  Counter* direct_reads = &own_direct_reads;      // fast-path chunks read with direct I/O
  Counter own_fallback_units, own_fast_units, own_errors, own_direct_reads;
};

// A dataset as a units source reads it.
struct Hdf5DatasetRef {
  std::string file_path;      // canonical path of the file that holds the dataset
  std::string file_identity;  // FileIdentity of that file when the dataset was described
  H5DatasetInfo info;
  std::string shown_as;  // for messages: where the dataset is shown ("master.h5: /entry/...")
};

class Hdf5DatasetUnits : public ByteSource {
 public:
  static constexpr uint64_t kTargetUnitBytes = 2 << 20;
  static constexpr uint64_t kMinFrameBytes = 4 << 10;
  static constexpr uint64_t kMaxBlock = 8 << 20;
  static constexpr uint64_t kSubBlock = 1 << 20;
  enum class Layout {
    kAuto,    // as the file comment says
    kFrames,  // one row per unit, whatever its size (an image stack of small frames)
  };

  Hdf5DatasetUnits(std::shared_ptr<Hdf5FilePool> pool, std::shared_ptr<const Hdf5DatasetRef> ref,
                   std::shared_ptr<Hdf5ReadCounters> counters, Layout layout = Layout::kAuto);
  ~Hdf5DatasetUnits() override;

  uint64_t Size() const override { return ref_->info.data_bytes; }
  // "<file identity>:h5@<object address>:<rows per unit>r", for a virtual dataset followed by
  // ":vds<hash of its source files' identities>" (sources reached through an external link of
  // the virtual dataset's own file are not in it).
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override;
  BlockRange BlockRangeOf(uint64_t index) const override;
  uint64_t BlockOf(uint64_t offset) const override;
  Group GroupOf(uint64_t index) const override;
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t index, const BlockEmit& emit) override;
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t index) override;

  const Hdf5DatasetRef& ref() const { return *ref_; }
  uint64_t rows_per_unit() const { return rows_per_unit_; }
  uint64_t unit_count() const { return units_; }
  // The unit holding block `index`, and the first block of unit `unit`.
  uint64_t UnitOfBlock(uint64_t index) const;
  uint64_t FirstBlockOfUnit(uint64_t unit) const { return unit * blocks_per_unit_; }
  // Rows [first, first + count) of unit `unit`, and its bytes.
  uint64_t UnitFirstRow(uint64_t unit) const { return unit * rows_per_unit_; }
  uint64_t UnitRows(uint64_t unit) const;
  uint64_t UnitBytes(uint64_t unit) const { return UnitRows(unit) * ref_->info.row_bytes(); }

  // Reads unit `unit` whole into `out` (exactly UnitBytes(unit) bytes). The default is
  // ReadUnitByLibrary; a fast path overrides it.
  virtual Status ReadUnit(uint64_t unit, std::span<uint8_t> out);

 protected:
  // The fallback: virtual-dataset sources checked, then H5Dread of the unit's rows under
  // H5Lock. Counted; errors counted and logged (rate-limited).
  Status ReadUnitByLibrary(uint64_t unit, std::span<uint8_t> out);
  // Checks that every source of a virtual dataset mapped to rows [first, end) exists.
  Status CheckVirtualSources(uint64_t first, uint64_t end);
  // Counts and logs a failed unit read, then returns `s`.
  Status Failed(uint64_t unit, Status s);

  std::shared_ptr<Hdf5FilePool> pool_;
  std::shared_ptr<const Hdf5DatasetRef> ref_;
  std::shared_ptr<Hdf5ReadCounters> counters_;

 private:
  uint64_t BlocksOfUnit(uint64_t unit) const;

  std::string identity_;
  uint64_t rows_per_unit_ = 1;
  uint64_t units_ = 0;
  uint64_t unit_bytes_ = 0;       // bytes of a full unit
  uint64_t blocks_per_unit_ = 1;  // blocks of a full unit (1, or its sub-blocks)
  // Virtual datasets: mappings whose source was found (found once, never looked for again).
  std::unique_ptr<std::atomic<bool>[]> vds_found_;
  RateLimitedLog error_log_;
};

}  // namespace daqfs
