#include "tools/daqfs_sim_source.h"

#include <dirent.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "backends/common/tiff_header.h"
#include "backends/hdf5/hdf5_backend.h"
#include "fs/backend_env.h"
#include "fs/invalidator.h"
#include "fs/metrics.h"

namespace daqfs {
namespace {

std::string Magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char b[8] = {0};
  in.read(b, sizeof b);
  return std::string(b, static_cast<size_t>(in.gcount()));
}

bool IsHdf5(const std::string& path) { return Magic(path).rfind("\x89HDF\r\n\x1a\n", 0) == 0; }

bool IsTiff(const std::string& path) {
  std::string m = Magic(path);
  return IsTiffSignature(std::span(reinterpret_cast<const uint8_t*>(m.data()), m.size()));
}

std::string Describe(const SimSource& s, const std::string& path) {
  return path + ": " + std::to_string(s.frames.size()) + " frames of " + std::to_string(s.width) +
         "x" + std::to_string(s.height) + " " + PixelTypeName(s.type);
}

// "{'descr': '<u2', 'fortran_order': False, 'shape': (N, H, W), }" -> type and shape.
Status ParseNpyHeader(const std::string& dict, PixelType* type, uint64_t* n, uint64_t* h,
                      uint64_t* w) {
  char descr[8] = {0};
  unsigned long long a = 0, b = 0, c = 0;
  if (std::sscanf(dict.c_str(),
                  "{'descr': '%7[^']', 'fortran_order': False, 'shape': (%llu, %llu, %llu)", descr,
                  &a, &b, &c) != 4) {
    return Invalid("not a stack of 2-D frames: " + dict);
  }
  std::string d = descr;
  if (d.size() < 3 || (d[0] != '<' && d[0] != '|')) return Invalid("unsupported dtype " + d);
  PixelKind kind = d[1] == 'u'   ? PixelKind::kUnsigned
                   : d[1] == 'i' ? PixelKind::kSigned
                   : d[1] == 'f' ? PixelKind::kFloat
                                 : PixelKind::kUnsigned;
  if (d[1] != 'u' && d[1] != 'i' && d[1] != 'f') return Invalid("unsupported dtype " + d);
  *type = PixelType{kind, static_cast<uint32_t>(std::atoi(d.c_str() + 2))};
  *n = a;
  *h = b;
  *w = c;
  return Status::Ok();
}

Result<SimSource> LoadHdf5(const std::string& path, uint64_t max_frames) {
  Hdf5SourceOptions ho;
  ho.stack_views = true;
  Result<std::unique_ptr<Hdf5Backend>> b = Hdf5Backend::Create("sim", path, ho);
  if (!b.ok()) return b.status();
  NullInvalidator invalidator;
  Metrics metrics;
  SystemClock clock;
  BackendEnv env;
  env.source_name = "sim";
  env.invalidator = &invalidator;
  env.metrics = &metrics;
  env.clock = &clock;
  Backend& backend = **b;
  if (Status s = backend.Start(env); !s.ok()) return s;
  // The first folder at the root with a data.npy (a master's folder).
  std::vector<DirEntry> dirs;
  (void)backend.ReadDir(kRootNode, 0, [&](const DirEntry& e, uint64_t) {
    if (e.attr.type == NodeType::kDirectory) dirs.push_back(e);
    return true;
  });
  Caller caller;
  caller.uid = geteuid();
  caller.gid = getegid();
  for (const DirEntry& d : dirs) {
    Result<NodeId> npy = backend.Lookup(d.node, "data.npy");
    if (!npy.ok()) continue;
    Result<std::shared_ptr<ByteSource>> src = backend.Open(*npy, caller);
    if (!src.ok()) return Status(src.status().code(), path + ": " + src.status().message());
    ByteSource& s = **src;
    std::vector<uint8_t> head(std::min<uint64_t>(s.Size(), 4096));
    Result<size_t> got = s.ReadAt(0, head);
    if (!got.ok()) return got.status();
    if (*got < 10) return Invalid(path + ": data.npy too short");
    const size_t header = 10 + head[8] + 256u * head[9];
    if (header > *got) return Invalid(path + ": data.npy header too long");
    SimSource out;
    uint64_t n = 0, h = 0, w = 0;
    if (Status st = ParseNpyHeader(std::string(head.begin() + 10, head.begin() + header), &out.type,
                                   &n, &h, &w);
        !st.ok()) {
      return Invalid(path + ": " + st.message());
    }
    if (w == 0 || h == 0 || w > 65536 || h > 65536) return Invalid(path + ": frames too large");
    out.width = static_cast<uint32_t>(w);
    out.height = static_cast<uint32_t>(h);
    const uint64_t frame_bytes = w * h * out.type.bytes;
    const uint64_t count = max_frames ? std::min(n, max_frames) : n;
    for (uint64_t i = 0; i < count; ++i) {
      std::vector<uint8_t> px(frame_bytes);
      Result<size_t> r = s.ReadAt(header + i * frame_bytes, px);
      if (!r.ok())
        return Status(r.status().code(),
                      path + ": frame " + std::to_string(i) + ": " + r.status().message());
      if (*r != frame_bytes) return Invalid(path + ": frame " + std::to_string(i) + " short");
      out.frames.push_back(std::move(px));
    }
    backend.Stop();
    if (out.frames.empty()) return Invalid(path + ": the image stack has no frames");
    out.what = Describe(out, path);
    return out;
  }
  backend.Stop();
  return Invalid(path + ": no image stack (a 3-D dataset of frames) in this HDF5 file");
}

// Appends the pages of one TIFF file.
Status LoadTiff(const std::string& path, uint64_t max_frames, SimSource* out) {
  TIFFSetWarningHandler(nullptr);
  TIFFSetErrorHandler(nullptr);
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  if (!tif) return Invalid(path + ": libtiff cannot read it");
  Status st = Status::Ok();
  do {
    if (max_frames && out->frames.size() >= max_frames) break;
    uint32_t w = 0, h = 0;
    uint16_t bps = 0, spp = 1, fmt = SAMPLEFORMAT_UINT;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    const std::string page = path + " page " + std::to_string(TIFFCurrentDirectory(tif));
    if (spp != 1) {
      st = Invalid(page + ": " + std::to_string(spp) + " samples per pixel (one expected)");
      break;
    }
    if (TIFFIsTiled(tif)) {
      st = Invalid(page + ": tiled TIFFs are not replayed");
      break;
    }
    if (bps != 8 && bps != 16 && bps != 32 && bps != 64) {
      st = Invalid(page + ": " + std::to_string(bps) + " bits per sample");
      break;
    }
    PixelType t{fmt == SAMPLEFORMAT_INT      ? PixelKind::kSigned
                : fmt == SAMPLEFORMAT_IEEEFP ? PixelKind::kFloat
                                             : PixelKind::kUnsigned,
                static_cast<uint32_t>(bps / 8)};
    if (out->frames.empty()) {
      out->width = w;
      out->height = h;
      out->type = t;
    } else if (w != out->width || h != out->height || t.kind != out->type.kind ||
               t.bytes != out->type.bytes) {
      st = Invalid(page + ": another shape or type than the first page");
      break;
    }
    std::vector<uint8_t> px(uint64_t{w} * h * t.bytes);
    size_t at = 0;
    for (tstrip_t s = 0; s < TIFFNumberOfStrips(tif) && at < px.size(); ++s) {
      tmsize_t n =
          TIFFReadEncodedStrip(tif, s, px.data() + at, static_cast<tmsize_t>(px.size() - at));
      if (n < 0) {
        st = Invalid(page + ": strip " + std::to_string(s) + " does not decode");
        break;
      }
      at += static_cast<size_t>(n);
    }
    if (!st.ok()) break;
    if (at != px.size()) {
      st = Invalid(page + ": pixels short");
      break;
    }
    out->frames.push_back(std::move(px));
    if (TIFFLastDirectory(tif)) break;
    if (!TIFFReadDirectory(tif)) {
      st = Invalid(path + ": the page after page " + std::to_string(TIFFCurrentDirectory(tif)) +
                   " cannot be read (a damaged or truncated file)");
      break;
    }
  } while (true);
  TIFFClose(tif);
  return st;
}

}  // namespace

Result<SimSource> LoadSimSource(const std::string& path, uint64_t max_frames) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status(Code::kNotFound, path + ": no such file");
  SimSource out;
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> names;
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        std::string lower = n;
        for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
        if ((lower.size() > 4 && lower.substr(lower.size() - 4) == ".tif") ||
            (lower.size() > 5 && lower.substr(lower.size() - 5) == ".tiff")) {
          names.push_back(n);
        }
      }
      closedir(d);
    }
    std::sort(names.begin(), names.end());
    if (names.empty()) return Invalid(path + ": no *.tif files in this folder");
    for (const std::string& n : names) {
      if (max_frames && out.frames.size() >= max_frames) break;
      if (Status s = LoadTiff(path + "/" + n, max_frames, &out); !s.ok()) return s;
    }
  } else if (IsHdf5(path)) {
    return LoadHdf5(path, max_frames);
  } else if (IsTiff(path)) {
    if (Status s = LoadTiff(path, max_frames, &out); !s.ok()) return s;
  } else {
    return Invalid(path + ": not an HDF5 file, a TIFF file or a folder of TIFF files");
  }
  if (out.frames.empty()) return Invalid(path + ": no frames");
  out.what = Describe(out, path);
  return out;
}

}  // namespace daqfs
