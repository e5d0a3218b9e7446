#include "backends/hdf5/hdf5_dataset_units.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "backends/hdf5/hdf5_links.h"
#include "fs/unique_fd.h"

namespace daqfs {
namespace {

// Decodes a unit once and hands out its sub-blocks (cache = none readers of huge units).
class UnitCursor final : public GroupCursor {
 public:
  explicit UnitCursor(Hdf5DatasetUnits* units) : units_(units) {}
  Status Read(uint64_t index, std::span<uint8_t> out) override {
    uint64_t unit = units_->UnitOfBlock(index);
    if (!have_ || unit != unit_) {
      have_ = false;
      buf_.resize(units_->UnitBytes(unit));
      ++starts_;
      Status s = units_->ReadUnit(unit, buf_);
      if (!s.ok()) return s;
      have_ = true;
      unit_ = unit;
    }
    BlockRange r = units_->BlockRangeOf(index);
    uint64_t unit_start = units_->UnitFirstRow(unit) * units_->ref().info.row_bytes();
    if (out.size() != r.length) return Invalid("block buffer size mismatch");
    std::memcpy(out.data(), buf_.data() + (r.offset - unit_start), r.length);
    return Status::Ok();
  }
  uint64_t buffered_bytes() const override { return buf_.size(); }
  uint64_t starts() const override { return starts_; }

 private:
  Hdf5DatasetUnits* units_;
  Bytes buf_;
  bool have_ = false;
  uint64_t unit_ = 0;
  uint64_t starts_ = 0;
};

}  // namespace

Hdf5DatasetUnits::Hdf5DatasetUnits(std::shared_ptr<Hdf5FilePool> pool,
                                   std::shared_ptr<const Hdf5DatasetRef> ref,
                                   std::shared_ptr<Hdf5ReadCounters> counters, Layout layout)
    : pool_(std::move(pool)), ref_(std::move(ref)), counters_(std::move(counters)) {
  const H5DatasetInfo& info = ref_->info;
  const uint64_t rows = info.rows();
  const uint64_t row_bytes = info.row_bytes();
  if (info.data_bytes > 0 && rows > 0 && row_bytes > 0) {
    bool frames =
        layout == Layout::kFrames || (info.dims.size() >= 3 && row_bytes >= kMinFrameBytes);
    if (!frames && !info.dims.empty()) {
      uint64_t align =
          info.layout == H5D_CHUNKED && info.chunk.size() == info.dims.size() && info.chunk[0] > 0
              ? info.chunk[0]
              : 1;
      uint64_t want = std::max<uint64_t>(1, kTargetUnitBytes / row_bytes);
      rows_per_unit_ = std::max(align, want / align * align);
      rows_per_unit_ = std::min(rows_per_unit_, rows);
    }
    units_ = (rows + rows_per_unit_ - 1) / rows_per_unit_;
    unit_bytes_ = rows_per_unit_ * row_bytes;
    blocks_per_unit_ = unit_bytes_ > kMaxBlock ? (unit_bytes_ + kSubBlock - 1) / kSubBlock : 1;
  }
  char addr[32];
  std::snprintf(addr, sizeof addr, "%llx", static_cast<unsigned long long>(info.addr));
  identity_ = ref_->file_identity + ":h5@" + addr + ":" + std::to_string(rows_per_unit_) + "r";
  if (!info.vds.empty()) {
    // A virtual dataset's data is its sources': their files' identities are part of the name,
    // so a rewritten source is never served from a cache (the SSD tier outlives the mount).
    std::string sources;
    for (const VdsMapping& m : info.vds) {
      if (m.file == "." || m.printf_names) continue;
      for (const std::string& c : ExternalFileCandidates(ref_->file_path, m.file)) {
        struct stat st;
        if (stat(c.c_str(), &st) == 0) {
          sources += FileIdentity(st) + ";";
          break;
        }
      }
    }
    char hash[32];
    std::snprintf(hash, sizeof hash, ":vds%016llx",
                  static_cast<unsigned long long>(XXH64(sources.data(), sources.size(), 0)));
    identity_ += hash;
  }
  if (!info.vds.empty()) {
    vds_found_ = std::make_unique<std::atomic<bool>[]>(info.vds.size());
    for (size_t i = 0; i < info.vds.size(); ++i) vds_found_[i] = false;
  }
}

Hdf5DatasetUnits::~Hdf5DatasetUnits() = default;

uint64_t Hdf5DatasetUnits::UnitRows(uint64_t unit) const {
  if (unit >= units_) return 0;
  uint64_t first = unit * rows_per_unit_;
  return std::min(rows_per_unit_, ref_->info.rows() - first);
}

uint64_t Hdf5DatasetUnits::BlocksOfUnit(uint64_t unit) const {
  if (blocks_per_unit_ == 1) return 1;
  uint64_t bytes = UnitBytes(unit);
  return bytes > kMaxBlock ? (bytes + kSubBlock - 1) / kSubBlock : 1;
}

uint64_t Hdf5DatasetUnits::BlockCount() const {
  if (units_ == 0) return 0;
  return (units_ - 1) * blocks_per_unit_ + BlocksOfUnit(units_ - 1);
}

uint64_t Hdf5DatasetUnits::UnitOfBlock(uint64_t index) const {
  return std::min(index / blocks_per_unit_, units_ == 0 ? 0 : units_ - 1);
}

BlockRange Hdf5DatasetUnits::BlockRangeOf(uint64_t index) const {
  if (index >= BlockCount()) return {Size(), 0};
  uint64_t unit = UnitOfBlock(index);
  uint64_t start = unit * unit_bytes_;
  uint64_t bytes = UnitBytes(unit);
  if (BlocksOfUnit(unit) == 1) return {start, bytes};
  uint64_t k = index - FirstBlockOfUnit(unit);
  return {start + k * kSubBlock, std::min(kSubBlock, bytes - k * kSubBlock)};
}

uint64_t Hdf5DatasetUnits::BlockOf(uint64_t offset) const {
  if (units_ == 0 || unit_bytes_ == 0) return 0;
  uint64_t unit = std::min(offset / unit_bytes_, units_ - 1);
  uint64_t first = FirstBlockOfUnit(unit);
  uint64_t n = BlocksOfUnit(unit);
  if (n == 1) return first;
  uint64_t k = std::min((offset - unit * unit_bytes_) / kSubBlock, n - 1);
  return first + k;
}

ByteSource::Group Hdf5DatasetUnits::GroupOf(uint64_t index) const {
  if (index >= BlockCount()) return Group{index, 1};
  uint64_t unit = UnitOfBlock(index);
  return Group{FirstBlockOfUnit(unit), BlocksOfUnit(unit)};
}

Status Hdf5DatasetUnits::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  BlockRange r = BlockRangeOf(index);
  if (index >= BlockCount() || out.size() != r.length) {
    return Invalid("block buffer size mismatch");
  }
  uint64_t unit = UnitOfBlock(index);
  if (BlocksOfUnit(unit) == 1) return ReadUnit(unit, out);
  // A sub-block alone: the unit is read whole (libhdf5 decodes whole chunks anyway).
  Bytes buf(UnitBytes(unit));
  Status s = ReadUnit(unit, buf);
  if (!s.ok()) return s;
  std::memcpy(out.data(), buf.data() + (r.offset - unit * unit_bytes_), r.length);
  return Status::Ok();
}

Status Hdf5DatasetUnits::ReadGroup(uint64_t index, const BlockEmit& emit) {
  if (index >= BlockCount()) return Invalid("block " + std::to_string(index) + " out of range");
  uint64_t unit = UnitOfBlock(index);
  uint64_t first = FirstBlockOfUnit(unit), n = BlocksOfUnit(unit);
  if (n == 1) {
    Bytes buf(UnitBytes(unit));
    Status s = ReadUnit(unit, buf);
    if (s.ok()) emit(first, std::move(buf));
    return s;
  }
  Bytes buf(UnitBytes(unit));
  Status s = ReadUnit(unit, buf);
  if (!s.ok()) return s;
  for (uint64_t k = 0; k < n; ++k) {
    BlockRange r = BlockRangeOf(first + k);
    const uint8_t* p = buf.data() + (r.offset - unit * unit_bytes_);
    emit(first + k, Bytes(p, p + r.length));
  }
  return Status::Ok();
}

std::unique_ptr<GroupCursor> Hdf5DatasetUnits::OpenGroupCursor(uint64_t index) {
  if (GroupOf(index).count <= 1) return nullptr;
  return std::make_unique<UnitCursor>(this);
}

Status Hdf5DatasetUnits::ReadUnit(uint64_t unit, std::span<uint8_t> out) {
  return ReadUnitByLibrary(unit, out);
}

Status Hdf5DatasetUnits::Failed(uint64_t unit, Status s) {
  counters_->errors->Add();
  error_log_.Log(LogLevel::kError, ref_->shown_as + ": unit " + std::to_string(unit) + " (rows " +
                                       std::to_string(UnitFirstRow(unit)) + ".." +
                                       std::to_string(UnitFirstRow(unit) + UnitRows(unit)) +
                                       "): " + s.ToString());
  return s;
}

Status Hdf5DatasetUnits::CheckVirtualSources(uint64_t first, uint64_t end) {
  const H5DatasetInfo& info = ref_->info;
  for (size_t i = 0; i < info.vds.size(); ++i) {
    const VdsMapping& m = info.vds[i];
    if (m.printf_names || m.row_end <= first || m.row_begin >= end) continue;
    if (vds_found_[i].load(std::memory_order_acquire)) continue;
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> vfile = pool_->Open(ref_->file_path);
    if (!vfile.ok()) return vfile.status();
    Result<std::shared_ptr<const Hdf5File>> src =
        m.file == "." ? vfile : OpenExternalFile(*pool_, ref_->file_path, m.file);
    Status missing;
    if (!src.ok()) {
      missing = src.status();
    } else {
      std::string dset = m.dataset.empty() || m.dataset[0] != '/' ? "/" + m.dataset : m.dataset;
      Result<H5Location> loc = ResolvePath(*pool_, *src, dset);
      if (!loc.ok()) {
        missing = loc.status();
      } else if (loc->type != H5O_TYPE_DATASET) {
        missing = NotFound((*src)->path + ": " + dset + " is not a dataset");
      }
    }
    if (!missing.ok()) {
      return Status(Code::kUnavailable, ref_->file_path + ": " + info.path +
                                            ": virtual dataset source " + m.file + ":" + m.dataset +
                                            " is missing: " + missing.message());
    }
    vds_found_[i].store(true, std::memory_order_release);
  }
  return Status::Ok();
}

Status Hdf5DatasetUnits::ReadUnitByLibrary(uint64_t unit, std::span<uint8_t> out) {
  if (unit >= units_ || out.size() != UnitBytes(unit)) {
    return Invalid("unit " + std::to_string(unit) + ": bad unit or buffer size");
  }
  uint64_t first = UnitFirstRow(unit), rows = UnitRows(unit);
  if (!ref_->info.vds.empty()) {
    Status s = CheckVirtualSources(first, first + rows);
    if (!s.ok()) return Failed(unit, s);
  }
  Status s;
  {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool_->Open(ref_->file_path);
    if (!file.ok()) {
      s = file.status();
    } else if ((*file)->identity != ref_->file_identity) {
      s = Status(Code::kUnavailable, ref_->file_path + ": changed since it was listed");
    } else {
      s = ReadRows(**file, ref_->info, ref_->info.dims.empty() ? 0 : first,
                   ref_->info.dims.empty() ? 1 : rows, out);
    }
  }
  if (!s.ok()) return Failed(unit, s);
  counters_->fallback_units->Add();
  return Status::Ok();
}

}  // namespace daqfs
