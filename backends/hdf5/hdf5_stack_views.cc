#include "backends/hdf5/hdf5_stack_views.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include "backends/common/stack_views.h"
#include "backends/hdf5/hdf5_datasets.h"
#include "backends/hdf5/hdf5_links.h"
#include "fs/log.h"

namespace daqfs {
namespace {

constexpr char kMasterDataGroup[] = "/entry/data";
constexpr char kNimages[] = "/entry/instrument/detector/detectorSpecific/nimages";
constexpr char kNtrigger[] = "/entry/instrument/detector/detectorSpecific/ntrigger";

// "data_NNNNNN" (six digits or more): a master's part. Its number, or nullopt.
std::optional<uint64_t> PartNumber(std::string_view name) {
  constexpr std::string_view kPrefix = "data_";
  if (name.size() < kPrefix.size() + 6 || name.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  uint64_t n = 0;
  for (char c : name.substr(kPrefix.size())) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// The pixel type of a dataset's .npy element, when an image stack can show it.
std::optional<PixelType> PixelOf(const H5DatasetInfo& info) {
  PixelType p;
  switch (info.element.kind) {
    case H5Element::Kind::kUnsigned:
      p.kind = PixelKind::kUnsigned;
      break;
    case H5Element::Kind::kSigned:
      p.kind = PixelKind::kSigned;
      break;
    case H5Element::Kind::kFloat:
      p.kind = PixelKind::kFloat;
      break;
    default:
      return std::nullopt;
  }
  p.bytes = static_cast<uint32_t>(info.element.size);
  if (!IsSupportedPixelType(p)) return std::nullopt;
  return p;
}

// A (frames, height, width) dataset of a pixel type the views support: its pixel type.
std::optional<PixelType> StackPixel(const H5DatasetInfo& info) {
  if (info.dims.size() != 3 || info.shape != info.dims || info.dims[1] == 0 || info.dims[2] == 0 ||
      info.text || !info.hidden_because.empty() || info.descr.empty()) {
    return std::nullopt;
  }
  std::optional<PixelType> p = PixelOf(info);
  if (!p || NumpyDescr(*p) != info.descr) return std::nullopt;
  return p;
}

// A whole number written as text ("5\n"), or nullopt.
std::optional<int64_t> ParseInteger(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(begin, &end, 10);
  if (end == begin || errno != 0) return std::nullopt;
  while (*end == '\n' || *end == ' ') ++end;
  if (*end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

// The units of a dataset with one frame per unit: the maker's kAuto units when they are (shared
// with the dataset's .npy), else its kFrames units.
std::shared_ptr<Hdf5DatasetUnits> FrameUnitsOf(const Hdf5FolderContext& folder,
                                               std::shared_ptr<const Hdf5DatasetRef> ref) {
  std::shared_ptr<Hdf5DatasetUnits> units = folder.units(ref, Hdf5DatasetUnits::Layout::kAuto);
  if (units && units->rows_per_unit() == 1) return units;
  return folder.units(std::move(ref), Hdf5DatasetUnits::Layout::kFrames);
}

// The frames of a part whose data file or dataset is missing: listed with their true size, read
// as kUnavailable (EIO), never as zeros. One block per frame (never decoded, never cached).
class MissingFrames final : public ByteSource {
 public:
  MissingFrames(uint64_t frames, uint64_t frame_bytes, std::string identity, std::string why,
                std::shared_ptr<RateLimitedLog> log)
      : frames_(frames),
        frame_bytes_(frame_bytes),
        identity_(std::move(identity)),
        why_(std::move(why)),
        log_(std::move(log)) {}
  uint64_t Size() const override { return frames_ * frame_bytes_; }
  std::string Identity() const override { return identity_; }
  bool IsDecoded() const override { return true; }
  uint64_t BlockCount() const override { return frames_; }
  BlockRange BlockRangeOf(uint64_t index) const override {
    if (index >= frames_) return {Size(), 0};
    return {index * frame_bytes_, frame_bytes_};
  }
  uint64_t BlockOf(uint64_t offset) const override {
    return frames_ == 0 ? 0 : std::min(offset / frame_bytes_, frames_ - 1);
  }
  Status ReadBlock(uint64_t index, std::span<uint8_t> out) override {
    (void)out;
    std::string m = why_ + " (frame " + std::to_string(index + 1) + " of the part's " +
                    std::to_string(frames_) + ")";
    log_->Log(LogLevel::kError, m);
    return Status(Code::kUnavailable, m);
  }

 private:
  uint64_t frames_;
  uint64_t frame_bytes_;
  std::string identity_;
  std::string why_;
  std::shared_ptr<RateLimitedLog> log_;
};

Attr FileAttr(const Attr& folder, uint64_t size) {
  Attr a = folder;
  a.type = NodeType::kFile;
  a.size = size;
  a.mode = folder.mode & 0666;  // the folder's search bits are not the file's
  a.nlink = 1;
  a.cache_seconds = kCacheForever;
  a.dynamic = false;
  return a;
}

Attr DirAttr(const Attr& folder) {
  Attr a = folder;
  a.type = NodeType::kDirectory;
  a.size = 0;
  a.nlink = 1;
  a.cache_seconds = kCacheForever;
  return a;
}

// frames/: NNNNNN.tif (and NNNNNN.raw) of every frame, in frame order.
class FramesDir final : public Hdf5ExtraDir {
 public:
  FramesDir(std::shared_ptr<const ImageStack> stack, std::vector<std::string> part_files, bool raw,
            const Attr& folder)
      : stack_(std::move(stack)),
        part_files_(std::move(part_files)),
        per_frame_(raw ? 2 : 1),
        tif_(FileAttr(folder, TiffFrameSize(*stack_))),
        raw_(FileAttr(folder, RawFrameSize(*stack_))) {}

  uint64_t Count() const override { return stack_->frames() * per_frame_; }

  Hdf5ExtraEntry At(uint64_t index) const override {
    const uint64_t frame = index / per_frame_;
    const bool raw = index % per_frame_ == 1;
    Hdf5ExtraEntry e;
    e.name = FrameFileName(stack_->NumberOfIndex(frame), raw ? "raw" : "tif");
    e.attr = raw ? raw_ : tif_;
    std::shared_ptr<const ImageStack> stack = stack_;
    e.open = [stack, frame, raw]() -> Result<std::shared_ptr<ByteSource>> {
      std::shared_ptr<ByteSource> s =
          raw ? MakeRawFrame(*stack, frame) : MakeTiffFrame(*stack, frame);
      if (!s) return NotFound("frame " + std::to_string(frame));
      return s;
    };
    const std::string& file = part_files_[stack_->Locate(frame).part];
    if (!file.empty()) e.files.push_back(file);
    return e;
  }

  std::optional<uint64_t> Find(std::string_view name) const override {
    for (uint64_t k = 0; k < per_frame_; ++k) {
      std::optional<int64_t> number = ParseFrameFileName(name, k == 1 ? "raw" : "tif");
      if (!number) continue;
      std::optional<uint64_t> index = stack_->IndexOfNumber(*number);
      if (!index) return std::nullopt;
      return *index * per_frame_ + k;
    }
    return std::nullopt;
  }

 private:
  std::shared_ptr<const ImageStack> stack_;
  std::vector<std::string> part_files_;  // by part: the data file ("" when missing)
  uint64_t per_frame_;
  Attr tif_, raw_;
};

// The two entries of a stack: data.npy and frames/.
std::vector<Hdf5ExtraEntry> StackEntries(std::shared_ptr<const ImageStack> stack,
                                         std::vector<std::string> part_files, bool raw,
                                         const Attr& folder) {
  std::vector<Hdf5ExtraEntry> out(2);
  Hdf5ExtraEntry& npy = out[0];
  npy.name = "data.npy";
  npy.attr = FileAttr(folder, NpySize(*stack));
  npy.open = [stack]() -> Result<std::shared_ptr<ByteSource>> { return MakeNpy(*stack); };
  for (const std::string& f : part_files) {
    if (!f.empty() && std::find(npy.files.begin(), npy.files.end(), f) == npy.files.end()) {
      npy.files.push_back(f);
    }
  }
  Hdf5ExtraEntry& frames = out[1];
  frames.name = "frames";
  frames.attr = DirAttr(folder);
  frames.dir = std::make_shared<FramesDir>(std::move(stack), std::move(part_files), raw, folder);
  return out;
}

// NAME.stack/: a fixed listing of data.npy and frames/.
class StackDir final : public Hdf5ExtraDir {
 public:
  explicit StackDir(std::vector<Hdf5ExtraEntry> entries) : entries_(std::move(entries)) {}
  uint64_t Count() const override { return entries_.size(); }
  Hdf5ExtraEntry At(uint64_t index) const override { return entries_[index]; }
  std::optional<uint64_t> Find(std::string_view name) const override {
    for (uint64_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].name == name) return i;
    }
    return std::nullopt;
  }

 private:
  std::vector<Hdf5ExtraEntry> entries_;
};

// One part of a master, as found.
struct FoundPart {
  H5LinkEntry link;                     // data_NNNNNN in the master's /entry/data
  uint64_t order = 0;                   // its number
  Status status;                        // not ok: missing (why)
  std::string target;                   // external links: the file name as stored
  std::shared_ptr<Hdf5DatasetRef> ref;  // present parts
  std::optional<int64_t> low, high;     // image_nr_low / image_nr_high
  // Assigned: the first frame number and the frame count (0: not in the stack).
  int64_t first = 0;
  uint64_t frames = 0;
};

// The master's series length (nimages x ntrigger), when it says.
std::optional<int64_t> SeriesLength(Hdf5FilePool& pool, const std::string& master) {
  H5Lock lock;
  Result<std::shared_ptr<const Hdf5File>> file = pool.Open(master);
  if (!file.ok()) return std::nullopt;
  auto value = [&](const char* path) -> std::optional<int64_t> {
    Result<H5Location> loc = ResolvePath(pool, *file, path);
    if (!loc.ok() || loc->type != H5O_TYPE_DATASET) return std::nullopt;
    Result<H5DatasetInfo> info = DescribeDataset(*loc->file, loc->path, 64);
    if (!info.ok() || !info->text) return std::nullopt;
    return ParseInteger(*info->text);
  };
  std::optional<int64_t> n = value(kNimages);
  std::optional<int64_t> t = value(kNtrigger);
  H5ErrorText();  // a missing ntrigger is no error
  if (!n || *n <= 0) return std::nullopt;
  int64_t total = *n;
  if (t && *t > 0 && __builtin_mul_overflow(total, *t, &total)) return std::nullopt;
  return total;
}

}  // namespace

Hdf5StackViews::MasterStack Hdf5StackViews::MakeMasterStack(const Hdf5FolderContext& folder) {
  MasterStack out;
  const std::string& master = folder.source_file;
  Hdf5FilePool& pool = *folder.pool;
  // The parts: links data_NNNNNN of /entry/data (metadata of the master only).
  std::string group_file, group_path, master_identity;
  std::vector<FoundPart> parts;
  {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool.Open(master);
    if (!file.ok()) return out;
    master_identity = (*file)->identity;
    Result<H5Location> group = ResolvePath(pool, *file, kMasterDataGroup);
    if (!group.ok() || group->type != H5O_TYPE_GROUP) {
      H5ErrorText();
      return out;
    }
    group_file = group->file->path;
    group_path = group->path;
    Result<std::vector<H5LinkEntry>> links = ListLinks(*group->file, group->path);
    if (!links.ok()) return out;
    for (const H5LinkEntry& l : *links) {
      std::optional<uint64_t> n = PartNumber(l.name);
      if (!n) continue;
      FoundPart p;
      p.link = l;
      p.order = *n;
      p.target = l.type == H5L_TYPE_EXTERNAL ? l.file : "";
      parts.push_back(std::move(p));
    }
  }
  if (parts.empty()) return out;  // not a master
  std::sort(parts.begin(), parts.end(), [](const FoundPart& a, const FoundPart& b) {
    return a.order != b.order ? a.order < b.order : a.link.name < b.link.name;
  });
  const std::string where = folder.source + ": " + master + ": " + kMasterDataGroup;
  auto fail = [&](const std::string& why) {
    LogWarn(where + ": " + why + "; no data.npy or frames/ shown");
    return MasterStack{};
  };

  // Each part's dataset: one short critical section per data file.
  for (FoundPart& p : parts) {
    H5Lock lock;
    Result<std::shared_ptr<const Hdf5File>> file = pool.Open(group_file);
    if (!file.ok()) {
      p.status = file.status();
      continue;
    }
    Result<H5Location> loc = FollowLink(pool, *file, group_path, p.link);
    if (!loc.ok()) {
      p.status = loc.status();
      H5ErrorText();
      continue;
    }
    if (loc->type != H5O_TYPE_DATASET) {
      p.status = Invalid(p.link.name + " is not a dataset");
      continue;
    }
    Result<H5DatasetInfo> info = DescribeDataset(*loc->file, loc->path, 0);
    if (!info.ok()) {
      p.status = info.status();
      continue;
    }
    std::vector<std::string> skipped;
    Result<std::vector<H5AttrText>> attrs = ReadAttributeTexts(*loc->file, loc->path, &skipped);
    if (attrs.ok()) {
      for (const H5AttrText& a : *attrs) {
        if (a.name == "image_nr_low") p.low = ParseInteger(a.text);
        if (a.name == "image_nr_high") p.high = ParseInteger(a.text);
      }
    }
    H5ErrorText();
    auto ref = std::make_shared<Hdf5DatasetRef>();
    ref->file_path = loc->file->path;
    ref->file_identity = loc->file->identity;
    ref->info = std::move(*info);
    ref->shown_as = master + ": " + kMasterDataGroup + "/" + p.link.name;
    p.ref = std::move(ref);
  }

  // Every part that could be read must agree on the frame's shape and pixel type.
  std::optional<PixelType> pixel;
  uint64_t height = 0, width = 0;
  const FoundPart* shape_from = nullptr;
  for (const FoundPart& p : parts) {
    if (!p.ref) continue;
    const H5DatasetInfo& info = p.ref->info;
    std::optional<PixelType> px = StackPixel(info);
    if (!px) {
      return fail(p.link.name + " (" + p.ref->file_path + ":" + info.path +
                  ") is no (frames, height, width) stack of integers or float32/64");
    }
    if (!shape_from) {
      pixel = px;
      height = info.dims[1];
      width = info.dims[2];
      shape_from = &p;
    } else if (*px != *pixel || info.dims[1] != height || info.dims[2] != width) {
      return fail(p.link.name + " holds " + std::to_string(info.dims[1]) + " x " +
                  std::to_string(info.dims[2]) + " " + PixelTypeName(*px) + " frames, " +
                  shape_from->link.name + " " + std::to_string(height) + " x " +
                  std::to_string(width) + " " + PixelTypeName(*pixel));
    }
  }
  if (!shape_from) {
    return fail("no data file could be read (" + parts.front().link.name + ": " +
                parts.front().status.message() + ")");
  }

  // Numbers: image_nr_low, else consecutive after the previous part. A missing part's length
  // is known when it lies alone in a gap that ends at a known number (the next part's
  // image_nr_low, or the series' length for the last part).
  std::optional<int64_t> series;
  bool series_read = false;
  int64_t next = 1;
  for (size_t i = 0; i < parts.size(); ++i) {
    FoundPart& p = parts[i];
    if (p.ref) {
      const uint64_t rows = p.ref->info.dims[0];
      p.first = p.low && *p.low >= 0 ? *p.low : next;
      p.frames = rows;
      if (p.high && rows > 0 && *p.high != p.first + static_cast<int64_t>(rows) - 1) {
        LogWarn(where + "/" + p.link.name + ": image_nr_high " + std::to_string(*p.high) + " but " +
                std::to_string(rows) + " frames from " + std::to_string(p.first) +
                "; the data file's frames are shown");
      }
      if (rows > static_cast<uint64_t>(INT64_MAX) ||
          __builtin_add_overflow(p.first, static_cast<int64_t>(rows), &next)) {
        return fail(p.link.name + ": image numbers from " + std::to_string(p.first) + " for " +
                    std::to_string(rows) + " frames overflow");
      }
      continue;
    }
    // Missing: the gap up to the next known number.
    std::optional<int64_t> bound;
    size_t j = i + 1;
    while (j < parts.size() && !parts[j].ref) ++j;
    if (j == i + 1 && j < parts.size() && parts[j].low) bound = parts[j].low;
    if (j == parts.size() && i + 1 == parts.size()) {
      if (!series_read) {
        series = SeriesLength(pool, master);
        series_read = true;
      }
      if (series && *series < INT64_MAX) bound = *series + 1;
    }
    const std::string missing = where + "/" + p.link.name +
                                (p.target.empty() ? "" : " -> " + p.target) + ": " +
                                p.status.message();
    if (!bound) {
      LogWarn(missing + "; its frames are not shown (how many is unknown)");
      continue;
    }
    if (*bound <= next) {
      LogWarn(missing + "; no frames are left for it (the others hold frames up to " +
              std::to_string(next - 1) + ")");
      continue;
    }
    p.first = next;
    p.frames = static_cast<uint64_t>(*bound - next);
    LogWarn(missing + "; its frames " + std::to_string(p.first) + ".." +
            std::to_string(*bound - 1) + " are shown and read as errors");
    next = *bound;
  }

  std::vector<FoundPart*> order;
  for (FoundPart& p : parts) {
    if (p.frames > 0) order.push_back(&p);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const FoundPart* a, const FoundPart* b) { return a->first < b->first; });
  ImageStackSpec spec;
  spec.pixel = *pixel;
  spec.height = height;
  spec.width = width;
  spec.identity = master_identity + ":" + kMasterDataGroup + "#stack";
  uint64_t frame_bytes = height * width * pixel->bytes;
  auto log = std::make_shared<RateLimitedLog>();
  for (FoundPart* p : order) {
    ImageStackPart part;
    part.frames = p->frames;
    part.first_number = p->first;
    if (p->ref) {
      part.units = FrameUnitsOf(folder, p->ref);
      out.part_files.push_back(p->ref->file_path);
    } else {
      part.units = std::make_shared<MissingFrames>(
          p->frames, frame_bytes, spec.identity + ":missing:" + p->link.name,
          master + ": " + kMasterDataGroup + "/" + p->link.name +
              (p->target.empty() ? "" : " -> " + p->target) + ": " + p->status.message(),
          log);
      out.part_files.push_back("");
    }
    if (!part.units) return fail(p->link.name + ": no units source");
    spec.parts.push_back(std::move(part));
  }
  Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
  if (!stack.ok()) return fail(stack.status().message());
  out.stack = std::move(*stack);
  return out;
}

std::vector<Hdf5ExtraEntry> Hdf5StackViews::ForFolder(const Hdf5FolderContext& folder) {
  std::vector<Hdf5ExtraEntry> out;
  if (folder.file_root) {
    MasterStack m = MakeMasterStack(folder);
    if (m.stack) {
      out = StackEntries(std::move(m.stack), std::move(m.part_files), options_.raw,
                         folder.folder_attr);
    }
  }
  const bool master_parts = folder.group_path == kMasterDataGroup;
  for (const auto& [name, ref] : folder.datasets) {
    if (!ref || ref->info.layout != H5D_CHUNKED) continue;
    if (master_parts && PartNumber(name)) continue;  // shown by the master's own views
    std::optional<PixelType> pixel = StackPixel(ref->info);
    if (!pixel) continue;
    const H5DatasetInfo& info = ref->info;
    ImageStackSpec spec;
    spec.pixel = *pixel;
    spec.height = info.dims[1];
    spec.width = info.dims[2];
    char addr[32];
    std::snprintf(addr, sizeof addr, "%llx", static_cast<unsigned long long>(info.addr));
    spec.identity = ref->file_identity + ":h5@" + addr + "#stack";
    if (info.dims[0] > 0) {
      std::shared_ptr<Hdf5DatasetUnits> units = FrameUnitsOf(folder, ref);
      if (!units) continue;
      spec.parts.push_back(ImageStackPart{units, 0, info.dims[0], 0});
    }
    Result<std::shared_ptr<const ImageStack>> stack = ImageStack::Make(std::move(spec));
    if (!stack.ok()) {
      LogWarn(folder.source + ": " + ref->shown_as + ": no " + name +
              ".stack/: " + stack.status().message());
      continue;
    }
    Hdf5ExtraEntry e;
    e.name = name + ".stack";
    e.attr = DirAttr(folder.folder_attr);
    e.dir = std::make_shared<StackDir>(
        StackEntries(std::move(*stack), {ref->file_path}, options_.raw, folder.folder_attr));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace daqfs
