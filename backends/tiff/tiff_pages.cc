// DescribeTiff and TiffPageUnits (see tiff_pages.h), on libtiff 4.5's per-handle error handlers.
#include "backends/tiff/tiff_pages.h"

#include <sys/stat.h>
#include <tiffio.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "fs/unique_fd.h"

namespace daqfs {
namespace {

// libtiff's errors for one handle, kept instead of printed.
struct Messages {
  std::string first;
  static int Handle(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
    auto* m = static_cast<Messages*>(user);
    if (m->first.empty()) {
      char buf[512];
      std::vsnprintf(buf, sizeof buf, fmt, ap);
      m->first = (module ? std::string(module) + ": " : std::string()) + buf;
    }
    return 1;
  }
  static int Ignore(TIFF*, void*, const char*, const char*, va_list) { return 1; }
};

// An open TIFF (no memory map: a file truncated under us must not raise SIGBUS) with its
// messages.
struct Handle {
  Messages messages;
  TIFF* tif = nullptr;
  explicit Handle(int fd, const std::string& path) {
    TIFFOpenOptions* o = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(o, &Messages::Handle, &messages);
    TIFFOpenOptionsSetWarningHandlerExtR(o, &Messages::Ignore, nullptr);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, tmsize_t{1} << 30);
    tif = TIFFFdOpenExt(fd, path.c_str(), "rm", o);
    TIFFOpenOptionsFree(o);
  }
  ~Handle() {
    if (tif) TIFFCleanup(tif);  // the fd stays ours
  }
  std::string Why(const char* otherwise) const {
    return messages.first.empty() ? otherwise : messages.first;
  }
};

// The layout of the current directory; kInvalid/kCorrupt with the reason.
Result<TiffLayout> PageLayout(const Handle& h, const std::string& path, uint64_t page) {
  uint32_t w = 0, hgt = 0;
  uint16_t spp = 1, bps = 0, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  const std::string where = path + ": page " + std::to_string(page) + ": ";
  if (!TIFFGetField(h.tif, TIFFTAG_IMAGEWIDTH, &w) ||
      !TIFFGetField(h.tif, TIFFTAG_IMAGELENGTH, &hgt)) {
    return Corrupt(where + "no image size");
  }
  TIFFGetFieldDefaulted(h.tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(h.tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(h.tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(h.tif, TIFFTAG_PLANARCONFIG, &planar);
  if (w == 0 || hgt == 0 || spp == 0) return Corrupt(where + "empty image");
  uint16_t photometric = PHOTOMETRIC_MINISBLACK, compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(h.tif, TIFFTAG_COMPRESSION, &compression);
  TIFFGetField(h.tif, TIFFTAG_PHOTOMETRIC, &photometric);
  if (photometric == PHOTOMETRIC_YCBCR) {
    // JPEG's usual colour space: libtiff converts it to RGB when asked (per directory).
    if (compression != COMPRESSION_JPEG) {
      return Invalid(where + "YCbCr samples outside JPEG are not served");
    }
    TIFFSetField(h.tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  if (planar != PLANARCONFIG_CONTIG && spp > 1) {
    return Invalid(where + "separate planes per sample are not served");
  }
  TiffLayout l;
  l.width = w;
  l.height = hgt;
  l.channels = spp;
  if (bps % 8 != 0 || bps == 0 || bps > 64) {
    return Invalid(where + std::to_string(bps) + "-bit samples are not served");
  }
  l.pixel.bytes = bps / 8;
  l.pixel.kind = fmt == SAMPLEFORMAT_INT      ? PixelKind::kSigned
                 : fmt == SAMPLEFORMAT_IEEEFP ? PixelKind::kFloat
                                              : PixelKind::kUnsigned;
  if (fmt != SAMPLEFORMAT_UINT && fmt != SAMPLEFORMAT_INT && fmt != SAMPLEFORMAT_IEEEFP) {
    return Invalid(where + "sample format " + std::to_string(fmt) + " is not served");
  }
  if (!IsSupportedPixelType(l.pixel)) {
    return Invalid(where + std::to_string(bps) + "-bit " +
                   (fmt == SAMPLEFORMAT_IEEEFP ? "floats" : "integers") + " are not served");
  }
  return l;
}

}  // namespace

Result<TiffLayout> DescribeTiff(const std::string& path) {
  Result<UniqueFd> fd = OpenReadOnly(path);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, path);
  Handle h(fd->get(), path);
  if (!h.tif) return Corrupt(path + ": not a TIFF libtiff reads: " + h.Why("cannot open"));
  TiffLayout first;
  uint64_t page = 0;
  do {
    Result<TiffLayout> l = PageLayout(h, path, page);
    if (!l.ok()) return l.status();
    if (page == 0) {
      first = *l;
    } else if (!first.SameFrames(*l)) {
      return Invalid(path + ": page " + std::to_string(page) + " is " + std::to_string(l->width) +
                     "x" + std::to_string(l->height) + ", page 0 " + std::to_string(first.width) +
                     "x" + std::to_string(first.height) + " (or their sample types differ)");
    }
    first.page_offsets.push_back(TIFFCurrentDirOffset(h.tif));
    ++page;
  } while (TIFFReadDirectory(h.tif));
  if (!h.messages.first.empty()) {
    return Corrupt(path + ": after page " + std::to_string(page - 1) + ": " + h.messages.first);
  }
  first.identity = FileIdentity(st);
  return first;
}

TiffPageUnits::TiffPageUnits(std::string path, TiffLayout layout)
    : path_(std::move(path)), layout_(std::move(layout)) {}

BlockRange TiffPageUnits::BlockRangeOf(uint64_t index) const {
  if (index >= BlockCount()) return {Size(), 0};
  return {index * layout_.FrameBytes(), layout_.FrameBytes()};
}

uint64_t TiffPageUnits::BlockOf(uint64_t offset) const {
  return offset >= Size() ? BlockCount() : offset / layout_.FrameBytes();
}

Status TiffPageUnits::ReadBlock(uint64_t index, std::span<uint8_t> out) {
  if (index >= BlockCount() || out.size() != layout_.FrameBytes()) {
    return Invalid(path_ + ": page " + std::to_string(index) + ": bad page or buffer size");
  }
  const std::string where = path_ + ": page " + std::to_string(index) + ": ";
  Result<UniqueFd> fd = OpenReadOnly(path_);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, path_);
  if (FileIdentity(st) != layout_.identity) {
    return Status(Code::kUnavailable, path_ + ": changed since it was listed");
  }
  Handle h(fd->get(), path_);
  if (!h.tif) return Corrupt(where + h.Why("cannot open"));
  if (!TIFFSetSubDirectory(h.tif, layout_.page_offsets[index])) {
    return Corrupt(where + h.Why("its directory does not read"));
  }
  Result<TiffLayout> l = PageLayout(h, path_, index);
  if (!l.ok()) return l.status();
  if (!l->SameFrames(layout_)) return Corrupt(where + "its layout changed");
  const uint64_t row_bytes = uint64_t{layout_.width} * layout_.channels * layout_.pixel.bytes;
  if (TIFFIsTiled(h.tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(h.tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(h.tif, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_bytes = TIFFTileSize(h.tif);
    if (tw == 0 || th == 0 || tile_bytes <= 0) return Corrupt(where + "bad tiles");
    std::vector<uint8_t> tile(static_cast<size_t>(tile_bytes));
    const uint64_t px = uint64_t{layout_.channels} * layout_.pixel.bytes;
    for (uint32_t y = 0; y < layout_.height; y += th) {
      for (uint32_t x = 0; x < layout_.width; x += tw) {
        const ttile_t t = TIFFComputeTile(h.tif, x, y, 0, 0);
        if (TIFFReadEncodedTile(h.tif, t, tile.data(), tile_bytes) < 0) {
          return Corrupt(where + "tile " + std::to_string(t) + ": " + h.Why("does not decode"));
        }
        const uint32_t rows = std::min(th, layout_.height - y);
        const uint64_t cols = std::min(tw, layout_.width - x);
        for (uint32_t r = 0; r < rows; ++r) {
          std::memcpy(out.data() + (y + r) * row_bytes + x * px,
                      tile.data() + uint64_t{r} * tw * px, cols * px);
        }
      }
    }
  } else {
    const tstrip_t strips = TIFFNumberOfStrips(h.tif);
    uint32_t rows_per_strip = layout_.height;
    TIFFGetFieldDefaulted(h.tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    rows_per_strip = std::min(rows_per_strip, layout_.height);
    if (rows_per_strip == 0) return Corrupt(where + "zero rows per strip");
    for (tstrip_t s = 0; s < strips; ++s) {
      const uint64_t first_row = uint64_t{s} * rows_per_strip;
      if (first_row >= layout_.height) break;
      const uint64_t rows = std::min<uint64_t>(rows_per_strip, layout_.height - first_row);
      const tmsize_t want = static_cast<tmsize_t>(rows * row_bytes);
      const tmsize_t got = TIFFReadEncodedStrip(h.tif, s, out.data() + first_row * row_bytes, want);
      if (got != want) {
        return Corrupt(where + "strip " + std::to_string(s) + ": " +
                       h.Why(got < 0 ? "does not decode" : "decodes short"));
      }
    }
  }
  if (!h.messages.first.empty()) return Corrupt(where + h.messages.first);
  return Status::Ok();
}

}  // namespace daqfs
