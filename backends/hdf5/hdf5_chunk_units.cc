#include "backends/hdf5/hdf5_chunk_units.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
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

// A thread keeps a raw chunk buffer up to this size between reads.
constexpr size_t kKeptRawBytes = 16u << 20;

// One raw chunk buffer per thread: chunks are read and decoded on the pool's threads, so this
// allocates once per thread, not once per chunk.
std::vector<uint8_t>& RawBuffer() {
  thread_local std::vector<uint8_t> raw;
  return raw;
}

}  // namespace

Hdf5ChunkUnits::Mode Hdf5ChunkUnits::Decide() {
  Mode m = mode_.load(std::memory_order_acquire);
  if (m != Mode::kUnknown) return m;
  std::lock_guard<std::mutex> lock(decide_mu_);
  m = mode_.load(std::memory_order_acquire);
  if (m != Mode::kUnknown) return m;
  try {
    return DecideLocked();
  } catch (const std::exception&) {
    return Mode::kLibrary;  // for this read; decided again next time
  }
}

Hdf5ChunkUnits::Mode Hdf5ChunkUnits::DecideLocked() {
  const H5DatasetInfo& info = ref_->info;
  auto decided = [&](Mode m) {
    mode_.store(m, std::memory_order_release);
    return m;
  };
  bool plain_element = info.stored.kind == H5Element::Kind::kSigned ||
                       (info.stored.kind == H5Element::Kind::kUnsigned && !info.stored.bitfield) ||
                       info.stored.kind == H5Element::Kind::kFloat;
  if (info.layout != H5D_CHUNKED || !info.vds.empty() || info.dims.empty() || !plain_element ||
      info.chunk.size() != info.dims.size() || unit_count() == 0 ||
      info.chunk[0] != rows_per_unit()) {
    return decided(Mode::kLibrary);
  }
  for (size_t i = 1; i < info.dims.size(); ++i) {
    if (info.chunk[i] != info.dims[i]) return decided(Mode::kLibrary);
  }
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> file = pool_->Open(ref_->file_path);
  if (!file.ok() || (*file)->identity != ref_->file_identity) {
    H5ErrorText();
    return Mode::kLibrary;  // this read only: the library path reports what is wrong
  }
  H5Id d(H5Dopen2((*file)->id.get(), info.path.c_str(), H5P_DEFAULT));
  H5Id type(d.valid() ? H5Dget_type(d.get()) : H5I_INVALID_HID);
  H5Id dcpl(d.valid() ? H5Dget_create_plist(d.get()) : H5I_INVALID_HID);
  H5Id fcpl(H5Fget_create_plist((*file)->id.get()));
  Mode m = Mode::kLibrary;
  unsigned chunk_opts = 0;
  hsize_t userblock = 0;
  if (type.valid() && dcpl.valid() && fcpl.valid() && PlainLittleEndian(type.get()) &&
      H5Pget_chunk_opts(dcpl.get(), &chunk_opts) >= 0 &&
      (chunk_opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) == 0 &&
      H5Pget_userblock(fcpl.get(), &userblock) >= 0) {
    const int n = H5Pget_nfilters(dcpl.get());
    std::vector<Hdf5Filter> filters;
    for (int i = 0; i < n; ++i) {
      unsigned flags = 0, cd[32];
      size_t ncd = 32;
      const int id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &ncd, cd, 0,
                                    nullptr, nullptr);
      if (id < 0) break;
      filters.push_back(Hdf5Filter{id, std::vector<unsigned>(cd, cd + std::min<size_t>(ncd, 32))});
    }
    std::optional<ChunkPipeline> pipeline;
    if (n >= 0 && filters.size() == static_cast<size_t>(n)) {
      pipeline = ChunkPipeline::From(filters, static_cast<uint32_t>(H5Tget_size(type.get())));
    }
    if (pipeline) {
      pipeline_ = std::move(*pipeline);
      chunk_bytes_ = UnitBytes(0);
      // 1.10.8's by_coord addresses leave out a user block (HDF5 issue 3003): such files read
      // their chunks with H5Dread_chunk.
      if (unit_count() <= kByCoordChunks && userblock == 0) {
        places_ = std::make_unique<ChunkPlace[]>(unit_count());
        m = Mode::kByCoord;
      } else {
        m = Mode::kReadChunk;
      }
    }
  }
  H5ErrorText();  // clears the stack of whatever failed above
  return decided(m);
}

Status Hdf5ChunkUnits::CheckStoredSize(uint64_t size, uint32_t filter_mask,
                                       uint64_t file_offset) const {
  bool filtered = !pipeline_.Unfiltered(filter_mask);
  // LZ4, zstd and deflate never grow data by more than a small fraction plus a few bytes per
  // block, the headers and checksums are a few bytes: twice a unit is far beyond any honest
  // chunk.
  bool ok = filtered ? size <= 2 * chunk_bytes_ + 4096 : size == chunk_bytes_;
  if (ok) return Status::Ok();
  return Corrupt(ref_->file_path + ": " + ref_->info.path + ": chunk" +
                 (file_offset ? " at offset " + std::to_string(file_offset) : "") + " claims " +
                 std::to_string(size) + " stored bytes for a " + std::to_string(chunk_bytes_) +
                 "-byte " + (filtered ? "filtered" : "unfiltered") + " chunk");
}

Status Hdf5ChunkUnits::RawChunk(uint64_t unit, std::vector<uint8_t>* raw,
                                std::span<const uint8_t>* chunk, uint32_t* filter_mask,
                                bool* absent, uint64_t* file_offset,
                                std::optional<std::span<uint8_t>> direct, bool* read_direct) {
  const H5DatasetInfo& info = ref_->info;
  std::vector<hsize_t> off(info.dims.size(), 0);
  off[0] = UnitFirstRow(unit);
  *absent = false;
  *file_offset = 0;
  *read_direct = false;
  bool by_coord = mode() == Mode::kByCoord;
  ChunkPlace* place = by_coord ? &places_[unit] : nullptr;
  // The file as libhdf5 holds it, and its descriptor (the sec2 driver's): reads by address use
  // it, so that every chunk of a file goes through one open file and the kernel's read-ahead
  // sees one sequential reader, not a new file per chunk. Held until the read is done.
  std::shared_ptr<const Hdf5File> held;
  int fd = -1;
  int direct_fd = -1;  // held's, for direct reads
  {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool_->Open(ref_->file_path);
    if (!file.ok()) return file.status();
    if ((*file)->identity != ref_->file_identity) {
      return Status(Code::kUnavailable, ref_->file_path + ": changed since it was listed");
    }
    if (!by_coord || place->size.load(std::memory_order_acquire) == 0) {
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
        if (Status s = CheckStoredSize(size, mask, addr); !s.ok()) return s;
        place->addr.store(addr, std::memory_order_relaxed);
        place->mask.store(mask, std::memory_order_relaxed);
        place->size.store(size, std::memory_order_release);
      } else {
        hsize_t size = 0;
        if (H5Dget_chunk_storage_size(d.get(), off.data(), &size) < 0) {
          return H5Failure(Code::kCorrupt, ref_->file_path + ": " + info.path + ": chunk of rows " +
                                               std::to_string(off[0]) + ": chunk index");
        }
        if (size == 0) {
          *absent = true;  // never written: the library serves the fill value
          return Status::Ok();
        }
        // The filter mask is known only after the read: bound by the filtered limit here.
        if (Status s = CheckStoredSize(size, 0, 0); !s.ok()) return s;
        raw->resize(size);
        uint32_t mask = 0;
        if (H5Dread_chunk(d.get(), H5P_DEFAULT, off.data(), &mask, raw->data()) < 0) {
          return H5Failure(Code::kCorrupt, ref_->file_path + ": " + info.path + ": raw chunk");
        }
        *filter_mask = mask;
        *chunk = *raw;
        return Status::Ok();
      }
    }
    void* handle = nullptr;
    if (H5Fget_vfd_handle((*file)->id.get(), H5P_DEFAULT, &handle) >= 0 && handle != nullptr) {
      fd = *static_cast<int*>(handle);
      if (place->size.load(std::memory_order_relaxed) >= kMinDirectRead) {
        direct_fd = pool_->DirectFd(**file);
      }
    } else {
      H5ErrorText();
    }
    held = *file;
  }
  // By address, outside the library's lock: reads of many threads overlap.
  uint64_t size = place->size.load(std::memory_order_acquire);
  *file_offset = place->addr.load(std::memory_order_relaxed);
  *filter_mask = place->mask.load(std::memory_order_relaxed);
  UniqueFd own;
  if (fd < 0) {  // a driver without a descriptor: a descriptor of our own
    own = UniqueFd(open(ref_->file_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!own.valid()) {
      int err = errno;
      if (err == EMFILE || err == ENFILE) *absent = true;  // out of descriptors: the library
      if (err == ENOENT) return Status(Code::kUnavailable, ref_->file_path + ": missing");
      if (*absent) return Status::Ok();
      return ErrnoStatus(err, ref_->file_path);
    }
    struct stat st {};
    if (fstat(own.get(), &st) != 0) return ErrnoStatus(errno, ref_->file_path);
    if (FileIdentity(st) != ref_->file_identity) {
      return Status(Code::kUnavailable, ref_->file_path + ": changed since it was listed");
    }
    fd = own.get();
  }
  auto past_end = [&] {
    return Corrupt(ref_->file_path + ": " + info.path + ": chunk at offset " +
                   std::to_string(*file_offset) + " (" + std::to_string(size) +
                   " bytes) runs past the end of the file");
  };
  std::span<uint8_t> into;
  if (direct && pipeline_.Unfiltered(*filter_mask)) {
    into = *direct;  // unfiltered: the chunk is the data, read straight into place
    *read_direct = true;
  } else {
    // Cold, on a local disk: read around the page cache (no fresh cache pages, no copy).
    if (direct_fd >= 0 && WantDirectRead(fd, *file_offset, size, pool_->direct_reads())) {
      Result<std::span<const uint8_t>> d =
          DirectRead(direct_fd, *file_offset, size, ref_->file_path);
      if (d.ok()) {
        if (d->size() != size) return past_end();
        counters_->direct_reads->Add();
        *chunk = *d;
        return Status::Ok();
      }
      if (d.status().code() != Code::kNotSupported) return d.status();
      H5Lock lock;
      pool_->NoDirect(*held);
    }
    raw->resize(size);
    into = *raw;
  }
  Result<size_t> n = PreadFull(fd, *file_offset, into, ref_->file_path);
  if (!n.ok()) return n.status();
  if (*n != size) return past_end();
  if (!*read_direct) *chunk = *raw;
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
  std::span<const uint8_t> chunk;
  uint32_t mask = 0;
  bool absent = false, read_direct = false;
  uint64_t offset = 0;
  Status s = RawChunk(unit, &raw, &chunk, &mask, &absent, &offset, out, &read_direct);
  if (!s.ok()) return Failed(unit, s);
  if (absent) return ReadUnitByLibrary(unit, out);
  if (read_direct) {
    // Read straight into `out` (no filter, or the filter was skipped for this chunk).
  } else if (pipeline_.Unfiltered(mask)) {
    // No filter, or every filter was skipped for this chunk: the chunk is the data.
    if (chunk.size() != out.size()) {
      s = Corrupt("unfiltered chunk of " + std::to_string(chunk.size()) + " bytes, expected " +
                  std::to_string(out.size()));
    } else {
      std::memcpy(out.data(), chunk.data(), out.size());
    }
  } else {
    s = pipeline_.Decode(chunk, mask, out);
  }
  // A thread keeps its buffer for the next chunk, unless an odd large one grew it.
  if (raw.capacity() > kKeptRawBytes) std::vector<uint8_t>().swap(raw);
  if (!s.ok()) {
    std::string where = offset ? "chunk at offset " + std::to_string(offset)
                               : "chunk of rows " + std::to_string(UnitFirstRow(unit));
    return Failed(unit, Corrupt(ref_->file_path + ": " + ref_->info.path + ": " + where + ": " +
                                s.message()));
  }
  counters_->fast_units->Add();
  return Status::Ok();
}

}  // namespace daqfs
