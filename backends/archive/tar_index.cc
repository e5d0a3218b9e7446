// Tar header parser.
//
// The archive is walked header by header: each 512-byte header block is verified (checksum),
// decoded, and the member's data is skipped by arithmetic, never read. GNU 'L'/'K' blocks and pax
// 'x' records are buffered in `pending_` until the member header they describe arrives; pax 'g'
// records update `global_`, which seeds every later member. Header reads go through a 64 KiB
// window so that an archive of many small members costs one read call per window, not per header.
//
// Every size taken from the archive is checked against the bytes left before it is added to an
// offset, and the archive size itself is clamped to 2^62, so no offset computation can overflow
// and every iteration advances by at least one block: the walk always terminates.
#include "backends/archive/tar_index.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

namespace daqfs {
namespace {

constexpr uint64_t kBlock = 512;
constexpr size_t kWindow = 64 * 1024;
// L/K/x/g payloads are buffered whole; a real one is a path or a few xattrs, so anything larger
// is damage, and refusing it keeps a hostile size field from allocating gigabytes.
constexpr uint64_t kMaxMetaSize = 16 << 20;
// No real archive comes near this; clamping keeps `offset + size + padding` far from overflow.
constexpr uint64_t kMaxArchiveSize = uint64_t{1} << 62;

// Header field offsets (ustar layout; GNU and v7 agree on everything they share).
constexpr size_t kNameOff = 0, kModeOff = 100, kUidOff = 108, kGidOff = 116, kSizeOff = 124,
                 kMtimeOff = 136, kChksumOff = 148, kTypeOff = 156, kLinkOff = 157, kMagicOff = 257,
                 kPrefixOff = 345, kGnuExtendedOff = 482, kSparseExtOff = 504;

using Block = std::array<uint8_t, kBlock>;
using PaxRecords = std::vector<std::pair<std::string, std::string>>;

uint64_t RoundUp(uint64_t v) { return (v + kBlock - 1) / kBlock * kBlock; }

bool IsZero(const uint8_t* p) {
  return std::all_of(p, p + kBlock, [](uint8_t b) { return b == 0; });
}

std::string_view Field(const Block& h, size_t off, size_t len) {
  const char* p = reinterpret_cast<const char*>(h.data() + off);
  return std::string_view(p, strnlen(p, len));
}

// Archive paths go into one-line messages: escape control bytes so a name cannot forge lines.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (unsigned char c : s) {
    char escaped[8];
    std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
    out += (c < 0x20 || c == 0x7f) ? escaped : std::string(1, static_cast<char>(c));
  }
  return out + "'";
}

// A numeric header field: octal digits (leading spaces, trailing spaces/NULs) or GNU base-256
// (first byte 0x80 positive, 0xff negative, big-endian two's complement). Returns false when the
// field is malformed or the value lies outside [lo, hi].
bool ParseNumber(const uint8_t* p, size_t n, int64_t lo, int64_t hi, int64_t* out) {
  uint64_t m = p[0] & 0x3f;
  const bool negative = (p[0] & 0xc0) == 0xc0;
  if (p[0] & 0x80) {
    // Negative values accumulate the complement (the magnitude minus one).
    m = negative ? (~p[0] & 0x3f) : m;
    for (size_t i = 1; i < n; ++i) {
      if (m > (std::numeric_limits<uint64_t>::max() >> 8)) return false;
      m = (m << 8) | static_cast<uint8_t>(negative ? ~p[i] : p[i]);
    }
    if (m > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    const int64_t v = negative ? -static_cast<int64_t>(m) - 1 : static_cast<int64_t>(m);
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
  }
  size_t i = 0;
  while (i < n && p[i] == ' ') ++i;
  m = 0;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) m = m * 8 + (p[i] - '0');  // <= 36 bits
  for (; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return false;
  }
  if (m > static_cast<uint64_t>(hi) || static_cast<int64_t>(m) < lo) return false;
  *out = static_cast<int64_t>(m);
  return true;
}

// Old tars summed signed chars, so both sums are accepted.
bool ChecksumOk(const Block& h) {
  int64_t stored = 0;
  if (!ParseNumber(h.data() + kChksumOff, 8, 0, std::numeric_limits<int64_t>::max(), &stored)) {
    return false;
  }
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const uint8_t b = (i >= kChksumOff && i < kChksumOff + 8) ? ' ' : h[i];
    unsigned_sum += b;
    signed_sum += static_cast<int8_t>(b);
  }
  return stored == unsigned_sum || stored == signed_sum;
}

bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (max - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// "[-]SECONDS[.FRACTION]"; a negative time keeps tv_nsec in [0, 1e9) as timespec requires.
bool ParsePaxTime(std::string_view s, timespec* out) {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  const size_t dot = s.find('.');
  uint64_t sec = 0;
  if (!ParseDecimal(s.substr(0, dot), std::numeric_limits<int64_t>::max(), &sec)) return false;
  long nsec = 0;
  const std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  for (size_t i = 0; i < 9 || i < frac.size(); ++i) {
    if (i < frac.size() && (frac[i] < '0' || frac[i] > '9')) return false;
    if (i < 9) nsec = nsec * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  }
  int64_t v = static_cast<int64_t>(sec);
  if (negative) {
    v = -v;
    if (nsec != 0) {
      v -= 1;
      nsec = 1000000000 - nsec;
    }
  }
  out->tv_sec = static_cast<time_t>(v);
  out->tv_nsec = nsec;
  return true;
}

// Splits "LEN key=value\n" records. Trailing NUL padding is tolerated; any other framing error
// (LEN not a number, too small, past the end, no newline, no '=') makes the whole header damage.
bool SplitPaxRecords(std::string_view d, PaxRecords* out) {
  size_t p = 0;
  while (p < d.size()) {
    if (d[p] == '\0') return d.find_first_not_of('\0', p) == std::string_view::npos;
    size_t q = p;
    uint64_t len = 0;
    for (; q < d.size() && d[q] >= '0' && d[q] <= '9'; ++q) {
      len = len * 10 + (d[q] - '0');
      if (len > d.size() - p) return false;  // also bounds len, so the next step cannot overflow
    }
    if (q == p || q == d.size() || d[q] != ' ' || len < q - p + 2) return false;
    const std::string_view rec = d.substr(p, len);
    if (rec.back() != '\n') return false;
    const std::string_view kv = rec.substr(q - p + 1, len - (q - p + 1) - 1);
    const size_t eq = kv.find('=');
    if (eq == 0 || eq == std::string_view::npos) return false;
    out->emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    p += len;
  }
  return true;
}

struct PaxFields {
  std::optional<std::string> path, linkpath, sparse_name;
  std::optional<uint64_t> size, uid, gid;
  std::optional<timespec> mtime;
  std::vector<std::pair<std::string, std::string>> xattrs;
  bool sparse = false;
};

// An empty value removes the key, reverting to the header's (or the global) value, as POSIX says.
// Returns false for a value that does not parse.
bool ApplyPaxRecord(const std::string& key, const std::string& value, PaxFields* f) {
  static constexpr std::string_view kXattr = "SCHILY.xattr.";
  const bool set = !value.empty();
  uint64_t n = 0;
  timespec t{};
  if (key == "path" || key == "linkpath") {
    (key == "path" ? f->path : f->linkpath) = set ? std::optional(value) : std::nullopt;
  } else if (key == "size") {
    if (set && !ParseDecimal(value, std::numeric_limits<uint64_t>::max(), &n)) return false;
    f->size = set ? std::optional(n) : std::nullopt;
  } else if (key == "uid" || key == "gid") {
    if (set && !ParseDecimal(value, std::numeric_limits<uint32_t>::max(), &n)) return false;
    (key == "uid" ? f->uid : f->gid) = set ? std::optional(n) : std::nullopt;
  } else if (key == "mtime") {
    if (set && !ParsePaxTime(value, &t)) return false;
    f->mtime = set ? std::optional(t) : std::nullopt;
  } else if (key.size() > kXattr.size() && key.starts_with(kXattr)) {
    const std::string name = key.substr(kXattr.size());
    auto it = std::find_if(f->xattrs.begin(), f->xattrs.end(),
                           [&](const auto& x) { return x.first == name; });
    if (it == f->xattrs.end()) {
      f->xattrs.emplace_back(name, value);
    } else {
      it->second = value;
    }
  } else if (key.starts_with("GNU.sparse.")) {
    // A pax-format sparse file: its data is a sparse map plus fragments, not the file contents.
    f->sparse = true;
    if (key == "GNU.sparse.name") f->sparse_name = value;
  }
  return true;
}

std::string UnsupportedType(char type) {
  static constexpr std::pair<char, const char*> kNames[] = {
      {'3', "character device"},  {'4', "block device"}, {'6', "fifo"},
      {'S', "GNU sparse file"},   {'V', "volume label"}, {'M', "multi-volume continuation"},
      {'D', "GNU dump directory"}};
  for (const auto& [t, name] : kNames) {
    if (t == type) return std::string("unsupported ") + name;
  }
  return "unsupported type " + Quote(std::string_view(&type, 1));
}

enum class PathCheck { kOk, kEmpty, kHostile };

PathCheck Normalize(std::string_view raw, std::string* out) {
  out->clear();
  if (raw.find('\0') != std::string_view::npos) return PathCheck::kHostile;
  if (!raw.empty() && raw[0] == '/') return PathCheck::kHostile;
  for (size_t i = 0; i <= raw.size();) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    const std::string_view c = raw.substr(i, j - i);
    if (c == "..") return PathCheck::kHostile;
    if (!c.empty() && c != ".") {
      if (!out->empty()) out->push_back('/');
      out->append(c);
    }
    i = j + 1;
  }
  return out->empty() ? PathCheck::kEmpty : PathCheck::kOk;
}

class Indexer {
 public:
  Indexer(const TarReadFn& read, uint64_t size, const std::string& name)
      : read_(read), size_(std::min(size, kMaxArchiveSize)), name_(name) {}

  Result<TarIndex> Run();

 private:
  // What L/K/x headers said about the member header that follows them.
  struct Pending {
    bool active = false;
    uint64_t first_header = 0;
    std::optional<std::string> long_name, long_link;
    PaxRecords pax;
  };

  Status Get(uint64_t off, size_t len, const char* what, const uint8_t** out);
  Status ReadMeta(uint64_t off, uint64_t len, std::string* out);
  Status HandleHeader(uint64_t pos, const Block& h, uint64_t* next);
  Status HandleMember(uint64_t pos, const Block& h, uint64_t header_size, uint64_t* next);
  void EndOfArchive(uint64_t pos);
  Status ReadError(uint64_t off, const Status& s) const {
    return Status(s.code(),
                  name_ + ": read failed at offset " + std::to_string(off) + ": " + s.message());
  }
  Status Damage(const std::string& what, uint64_t off) const {
    return Corrupt(name_ + ": " + what + " at offset " + std::to_string(off));
  }
  void Warn(uint64_t off, std::string_view path, const std::string& reason) {
    index_.warnings.push_back(name_ + ": skipping member " + Quote(path) + " at offset " +
                              std::to_string(off) + ": " + reason);
  }

  const TarReadFn& read_;
  const uint64_t size_;
  const std::string& name_;
  std::vector<uint8_t> window_;
  uint64_t window_off_ = 0;
  size_t window_len_ = 0;
  bool read_ok_ = false;  // some read succeeded; later I/O errors become damage
  TarIndex index_;
  PaxFields global_;
  Pending pending_;
};

Status Indexer::Get(uint64_t off, size_t len, const char* what, const uint8_t** out) {
  if (off >= window_off_ && off - window_off_ <= window_len_ &&
      len <= window_len_ - (off - window_off_)) {
    *out = window_.data() + (off - window_off_);
    return Status::Ok();
  }
  if (off > size_ || len > size_ - off)
    return Damage(std::string("archive truncated in ") + what, off);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(kWindow, size_ - off));
  window_.resize(kWindow);
  window_len_ = 0;
  Result<size_t> got = read_(off, std::span<uint8_t>(window_.data(), want));
  if (!got.ok()) return ReadError(off, got.status());
  read_ok_ = true;
  window_off_ = off;
  window_len_ = std::min(*got, want);
  if (window_len_ < len) return Damage(std::string("archive truncated in ") + what, off);
  *out = window_.data();
  return Status::Ok();
}

Status Indexer::ReadMeta(uint64_t off, uint64_t len, std::string* out) {
  out->resize(len);
  if (len == 0) return Status::Ok();
  if (len <= kWindow) {
    const uint8_t* p = nullptr;
    Status s = Get(off, len, "extended header", &p);
    if (s.ok()) std::memcpy(out->data(), p, len);
    return s;
  }
  // Too big for the window (huge pax xattrs): read straight into the buffer.
  Result<size_t> got = read_(off, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out->data()), len));
  if (!got.ok()) return ReadError(off, got.status());
  return *got < len ? Damage("archive truncated in extended header", off) : Status::Ok();
}

Result<TarIndex> Indexer::Run() {
  uint64_t pos = 0;
  Status s;
  while (s.ok() && pos < size_) {
    const uint8_t* p = nullptr;
    s = Get(pos, kBlock, "header", &p);
    if (!s.ok()) break;
    Block h;
    std::memcpy(h.data(), p, kBlock);
    if (IsZero(h.data())) {
      EndOfArchive(pos);
      return std::move(index_);
    }
    s = HandleHeader(pos, h, &pos);
    // end_offset marks complete members only, so L/K/x headers count with their member.
    if (s.ok() && !pending_.active) index_.end_offset = std::min(pos, size_);
  }
  if (s.ok() && pos > size_) s = Damage("archive truncated in member padding", size_);
  if (s.ok() && pending_.active) {
    s = Damage("archive ends after the extended header", pending_.first_header);
  }
  if (!s.ok() && !read_ok_ && s.code() != Code::kCorrupt) return s;
  index_.damage = std::move(s);
  return std::move(index_);
}

// One zero block ends the archive; the second normally follows, but a lone one before EOF is
// accepted. A lone one followed by more headers is what GNU tar warns about and stops at too.
void Indexer::EndOfArchive(uint64_t pos) {
  index_.end_offset = pos + kBlock;
  const uint8_t* p = nullptr;
  if (size_ - index_.end_offset < kBlock || !Get(index_.end_offset, kBlock, "header", &p).ok()) {
    return;
  }
  if (IsZero(p)) {
    index_.end_offset += kBlock;
  } else {
    index_.warnings.push_back(name_ + ": lone zero block at offset " + std::to_string(pos) +
                              ", ignoring the rest of the archive");
  }
}

Status Indexer::HandleHeader(uint64_t pos, const Block& h, uint64_t* next) {
  if (!ChecksumOk(h)) return Damage("bad header checksum", pos);
  int64_t header_size = 0;
  if (!ParseNumber(h.data() + kSizeOff, 12, 0, std::numeric_limits<int64_t>::max(), &header_size)) {
    return Damage("bad size field", pos);
  }
  const char type = static_cast<char>(h[kTypeOff]);
  if (type != 'L' && type != 'K' && type != 'x' && type != 'X' && type != 'g') {
    return HandleMember(pos, h, static_cast<uint64_t>(header_size), next);
  }
  const uint64_t data_off = pos + kBlock;  // <= size_: the header block was read
  const uint64_t len = static_cast<uint64_t>(header_size);
  if (len > size_ - data_off)
    return Damage("extended header runs past the end of the archive", pos);
  if (len > kMaxMetaSize) return Damage("oversized extended header", pos);
  std::string data;
  Status s = ReadMeta(data_off, len, &data);
  if (!s.ok()) return s;
  *next = data_off + RoundUp(len);
  if (type == 'g') {
    PaxRecords records;
    if (!SplitPaxRecords(data, &records)) return Damage("malformed pax global header", pos);
    for (const auto& [key, value] : records) {
      if (!ApplyPaxRecord(key, value, &global_)) {
        return Damage("bad pax value for " + Quote(key) + " in global header", pos);
      }
    }
    return Status::Ok();
  }
  if (!pending_.active) {
    pending_.active = true;
    pending_.first_header = pos;
  }
  if (type == 'L' || type == 'K') {
    data.erase(data.find_last_not_of('\0') + 1);  // npos + 1 == 0 clears an all-NUL name
    (type == 'L' ? pending_.long_name : pending_.long_link) = std::move(data);
  } else if (!SplitPaxRecords(data, &pending_.pax)) {
    return Damage("malformed pax extended header", pos);
  }
  return Status::Ok();
}

Status Indexer::HandleMember(uint64_t pos, const Block& h, uint64_t header_size, uint64_t* next) {
  Pending pending = std::move(pending_);
  pending_ = Pending();
  const uint64_t first_header = pending.active ? pending.first_header : pos;
  PaxFields pax = global_;
  for (const auto& [key, value] : pending.pax) {
    if (!ApplyPaxRecord(key, value, &pax)) {
      return Damage("bad pax value for " + Quote(key), first_header);
    }
  }
  std::string raw_path;
  if (pax.sparse && pax.sparse_name) {
    raw_path = *pax.sparse_name;
  } else if (pax.path) {
    raw_path = *pax.path;
  } else if (pending.long_name) {
    raw_path = *pending.long_name;
  } else {
    // Only POSIX ustar has a prefix field; GNU keeps atime/ctime in those bytes.
    const std::string_view prefix = Field(h, kPrefixOff, 155);
    if (std::memcmp(h.data() + kMagicOff, "ustar\0", 6) == 0 && !prefix.empty()) {
      raw_path.assign(prefix).append("/");
    }
    raw_path.append(Field(h, kNameOff, 100));
  }
  const std::string raw_link = pax.linkpath        ? *pax.linkpath
                               : pending.long_link ? *pending.long_link
                                                   : std::string(Field(h, kLinkOff, 100));

  const char type = static_cast<char>(h[kTypeOff]);
  uint64_t data_off = pos + kBlock;
  if (type == 'S' && h[kGnuExtendedOff] != 0) {
    // Old GNU sparse: more sparse-map blocks sit between the header and the data.
    for (bool more = true; more; data_off += kBlock) {
      const uint8_t* p = nullptr;
      Status s = Get(data_off, kBlock, "sparse header", &p);
      if (!s.ok()) return s;
      more = p[kSparseExtOff] != 0;
    }
  }
  // POSIX: symlinks and directories never have data blocks, whatever the size field says.
  const uint64_t data_size = pax.size.value_or(header_size);
  const uint64_t skip = (type == '2' || type == '5') ? 0 : data_size;
  if (skip > size_ - data_off) {
    return Damage("data of " + Quote(raw_path) + " runs past the end of the archive (truncated)",
                  first_header);
  }
  *next = data_off + RoundUp(skip);

  using Kind = TarMember::Kind;
  TarMember m;
  if (type == '0' || type == '\0' || type == '7') {
    // v7 archives mark directories only by a trailing slash.
    m.kind = raw_path.ends_with('/') ? Kind::kDirectory : Kind::kFile;
  } else if (type == '1' || type == '2' || type == '5') {
    m.kind = type == '1' ? Kind::kHardLink : type == '2' ? Kind::kSymlink : Kind::kDirectory;
  } else {
    Warn(first_header, raw_path, UnsupportedType(type));
    return Status::Ok();
  }
  if (pax.sparse) {
    Warn(first_header, raw_path, "unsupported GNU sparse file (pax)");
    return Status::Ok();
  }
  switch (Normalize(raw_path, &m.path)) {
    case PathCheck::kHostile:
      Warn(first_header, raw_path, "hostile path (absolute or escapes with '..')");
      return Status::Ok();
    case PathCheck::kEmpty:
      // "./" is the archive root, which every tar of "." starts with: nothing to report.
      if (m.kind != Kind::kDirectory) Warn(first_header, raw_path, "empty path");
      return Status::Ok();
    case PathCheck::kOk:
      break;
  }
  if (m.kind == Kind::kHardLink) {
    if (Normalize(raw_link, &m.link_target) != PathCheck::kOk) {
      Warn(first_header, raw_path,
           "hostile or empty hard-link target " + Quote(raw_link) +
               " (absolute or escapes with '..')");
      return Status::Ok();
    }
  } else if (m.kind == Kind::kSymlink) {
    m.link_target = raw_link;
  }

  int64_t mode = 0, uid = 0, gid = 0, mtime = 0;
  constexpr int64_t kU32 = std::numeric_limits<uint32_t>::max();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (!ParseNumber(h.data() + kModeOff, 8, 0, kMax, &mode) ||
      (!pax.uid && !ParseNumber(h.data() + kUidOff, 8, 0, kU32, &uid)) ||
      (!pax.gid && !ParseNumber(h.data() + kGidOff, 8, 0, kU32, &gid)) ||
      (!pax.mtime &&
       !ParseNumber(h.data() + kMtimeOff, 12, std::numeric_limits<int64_t>::min(), kMax, &mtime))) {
    return Damage("bad numeric field in header", pos);
  }
  m.header_offset = first_header;
  m.data_offset = data_off;
  m.size = m.kind == Kind::kFile ? data_size : 0;
  m.mode = static_cast<uint32_t>(mode & 07777);
  m.uid = static_cast<uint32_t>(pax.uid.value_or(static_cast<uint64_t>(uid)));
  m.gid = static_cast<uint32_t>(pax.gid.value_or(static_cast<uint64_t>(gid)));
  m.mtime = pax.mtime.value_or(timespec{static_cast<time_t>(mtime), 0});
  m.xattrs = std::move(pax.xattrs);
  index_.members.push_back(std::move(m));
  return Status::Ok();
}

}  // namespace

Result<TarIndex> IndexTar(const TarReadFn& read, uint64_t size, const std::string& name) {
  return Indexer(read, size, name).Run();
}

bool NormalizeMemberPath(std::string_view raw, std::string* out) {
  std::string normalized;
  if (Normalize(raw, &normalized) != PathCheck::kOk) return false;
  *out = std::move(normalized);
  return true;
}

}  // namespace daqfs
