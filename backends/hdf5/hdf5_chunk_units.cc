#include "backends/hdf5/hdf5_chunk_units.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <string>

#include "backends/hdf5/hdf5_library.h"
#include "fs/unique_fd.h"

namespace daqfs {

namespace {

// A stored element our decoders' output matches byte for byte without conversion: an integer
// or IEEE float of 1, 2, 4 or 8 bytes, little endian (or one byte), all bits used.
bool PlainLittleEndian(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (size != 1 && size != 2 && size != 4 && size != 8) return false;
  if (cls == H5T_INTEGER) {
    return (size == 1 || H5Tget_order(type) == H5T_ORDER_LE) &&
           H5Tget_precision(type) == 8 * size && H5Tget_offset(type) == 0;
  }
  if (cls == H5T_FLOAT) {
    return (size == 4 && H5Tequal(type, H5T_IEEE_F32LE) > 0) ||
           (size == 8 && H5Tequal(type, H5T_IEEE_F64LE) > 0);
  }
  return false;
}

// One raw chunk buffer per thread: chunks are read and decoded on the pool's threads, so this
// allocates once per thread, not once per chunk.
std::vector<uint8_t>& RawBuffer() {
  thread_local std::vector<uint8_t> raw;
  return raw;
}

}  // namespace

Hdf5ChunkUnits::Mode Hdf5ChunkUnits::Decide() {
  std::call_once(decided_, [&] {
    const H5DatasetInfo& info = ref_->info;
    Mode m = Mode::kLibrary;
    bool plain_element =
        info.stored.kind == H5Element::Kind::kSigned ||
        (info.stored.kind == H5Element::Kind::kUnsigned && !info.stored.bitfield) ||
        info.stored.kind == H5Element::Kind::kFloat;
    if (info.layout == H5D_CHUNKED && info.vds.empty() && !info.dims.empty() && plain_element &&
        info.chunk.size() == info.dims.size() && unit_count() > 0) {
      bool whole_rows = info.chunk[0] == rows_per_unit();
      for (size_t i = 1; i < info.dims.size(); ++i) whole_rows &= info.chunk[i] == info.dims[i];
      if (whole_rows) {
        H5Lock lock;
        Result<std::shared_ptr<const Hdf5File>> file = pool_->Open(ref_->file_path);
        if (file.ok() && (*file)->identity == ref_->file_identity) {
          H5Id d(H5Dopen2((*file)->id.get(), info.path.c_str(), H5P_DEFAULT));
          H5Id type(d.valid() ? H5Dget_type(d.get()) : H5I_INVALID_HID);
          H5Id dcpl(d.valid() ? H5Dget_create_plist(d.get()) : H5I_INVALID_HID);
          if (type.valid() && dcpl.valid() && PlainLittleEndian(type.get())) {
            int n = H5Pget_nfilters(dcpl.get());
            bool fast = n == 0;
            if (n == 1) {
              unsigned flags = 0, cd[32];
              size_t ncd = 32;
              char name[64];
              int id = H5Pget_filter2(dcpl.get(), 0, &flags, &ncd, cd, sizeof name, name, nullptr);
              std::optional<ChunkCodec> codec =
                  FastChunkCodec(id, std::span<const unsigned>(cd, std::min<size_t>(ncd, 32)),
                                 static_cast<uint32_t>(H5Tget_size(type.get())));
              if (codec) {
                codec_ = *codec;
                fast = true;
              }
            }
            if (fast) {
              chunk_bytes_ = UnitBytes(0);
              if (unit_count() <= kByCoordChunks) {
                places_ = std::make_unique<ChunkPlace[]>(unit_count());
                m = Mode::kByCoord;
              } else {
                m = Mode::kReadChunk;
              }
            }
          }
          H5ErrorText();  // clears the stack of whatever failed above
        }
      }
    }
    mode_.store(m, std::memory_order_release);
  });
  return mode_.load(std::memory_order_acquire);
}

Status Hdf5ChunkUnits::RawChunk(uint64_t unit, std::vector<uint8_t>* raw, uint32_t* filter_mask,
                                bool* absent, uint64_t* file_offset) {
  const H5DatasetInfo& info = ref_->info;
  std::vector<hsize_t> off(info.dims.size(), 0);
  off[0] = UnitFirstRow(unit);
  *absent = false;
  *file_offset = 0;
  bool by_coord = mode() == Mode::kByCoord;
  ChunkPlace* place = by_coord ? &places_[unit] : nullptr;
  if (!by_coord || place->size.load(std::memory_order_acquire) == 0) {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool_->Open(ref_->file_path);
    if (!file.ok()) return file.status();
    if ((*file)->identity != ref_->file_identity) {
      return Status(Code::kUnavailable, ref_->file_path + ": changed since it was listed");
    }
    H5Id d(H5Dopen2((*file)->id.get(), info.path.c_str(), H5P_DEFAULT));
    if (!d.valid()) return H5Failure(Code::kCorrupt, ref_->file_path + ": " + info.path);
    if (by_coord) {
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      hsize_t size = 0;
      if (H5Dget_chunk_info_by_coord(d.get(), off.data(), &mask, &addr, &size) < 0) {
        return H5Failure(Code::kCorrupt, ref_->file_path + ": " + info.path + ": chunk index");
      }
      if (addr == HADDR_UNDEF || size == 0) {
        *absent = true;
        return Status::Ok();
      }
      place->addr.store(addr, std::memory_order_relaxed);
      place->mask.store(mask, std::memory_order_relaxed);
      place->size.store(size, std::memory_order_release);
    } else {
      hsize_t size = 0;
      if (H5Dget_chunk_storage_size(d.get(), off.data(), &size) < 0 || size == 0) {
        H5ErrorText();
        *absent = true;  // never written (or not found): the library decides what it holds
        return Status::Ok();
      }
      raw->resize(size);
      uint32_t mask = 0;
      if (H5Dread_chunk(d.get(), H5P_DEFAULT, off.data(), &mask, raw->data()) < 0) {
        return H5Failure(Code::kCorrupt, ref_->file_path + ": " + info.path + ": raw chunk");
      }
      *filter_mask = mask;
      return Status::Ok();
    }
  }
  // By address, outside the library's lock: reads of many threads overlap.
  uint64_t size = place->size.load(std::memory_order_acquire);
  *file_offset = place->addr.load(std::memory_order_relaxed);
  *filter_mask = place->mask.load(std::memory_order_relaxed);
  UniqueFd fd(open(ref_->file_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, ref_->file_path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, ref_->file_path);
  if (FileIdentity(st) != ref_->file_identity) {
    return Status(Code::kUnavailable, ref_->file_path + ": changed since it was listed");
  }
  raw->resize(size);
  Result<size_t> n = PreadFull(fd.get(), *file_offset, *raw, ref_->file_path);
  if (!n.ok()) return n.status();
  if (*n != size) {
    return Corrupt(ref_->file_path + ": " + info.path + ": chunk at offset " +
                   std::to_string(*file_offset) + " (" + std::to_string(size) +
                   " bytes) runs past the end of the file");
  }
  return Status::Ok();
}

Status Hdf5ChunkUnits::ReadUnit(uint64_t unit, std::span<uint8_t> out) {
  if (Decide() == Mode::kLibrary || unit >= unit_count() || UnitBytes(unit) != chunk_bytes_) {
    return ReadUnitByLibrary(unit, out);  // also a partial last chunk, and bad arguments
  }
  if (out.size() != chunk_bytes_) {
    return Invalid("unit " + std::to_string(unit) + ": bad buffer size");
  }
  std::vector<uint8_t>& raw = RawBuffer();
  uint32_t mask = 0;
  bool absent = false;
  uint64_t offset = 0;
  Status s = RawChunk(unit, &raw, &mask, &absent, &offset);
  if (!s.ok()) return Failed(unit, s);
  if (absent) return ReadUnitByLibrary(unit, out);
  if (codec_.decode == nullptr || (mask & 1) != 0) {
    // No filter, or the filter was skipped for this chunk: the chunk is the data.
    if (raw.size() != out.size()) {
      s = Corrupt("unfiltered chunk of " + std::to_string(raw.size()) + " bytes, expected " +
                  std::to_string(out.size()));
    } else {
      std::memcpy(out.data(), raw.data(), out.size());
    }
  } else {
    s = codec_.decode(raw, codec_.elem_size, out);
  }
  if (!s.ok()) {
    std::string where = offset ? "chunk at offset " + std::to_string(offset) : "chunk";
    return Failed(unit, Corrupt(ref_->file_path + ": " + ref_->info.path + ": " + where + " (" +
                                std::to_string(raw.size()) + " bytes): " + s.message()));
  }
  counters_->fast_units->Add();
  return Status::Ok();
}

}  // namespace daqfs
