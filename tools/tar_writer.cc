// The writer keeps no state beyond the current member's data count: headers are encoded in one
// pure function so that tests (and the repacker, which needs header sizes) can use them alone.
#include "tools/tar_writer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace daqfs {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kModeOff = 100, kUidOff = 108, kGidOff = 116, kSizeOff = 124, kMtimeOff = 136;
constexpr size_t kChksumOff = 148, kTypeOff = 156, kLinkOff = 157, kLinkLen = 100;
constexpr size_t kMagicOff = 257, kVersionOff = 263, kPrefixOff = 345, kPrefixLen = 155;

using Block = std::array<uint8_t, kBlock>;

// Largest value that fits a field of `width` bytes as octal digits plus a terminating NUL.
constexpr uint64_t OctalMax(size_t width) { return (uint64_t{1} << (3 * (width - 1))) - 1; }

void PutOctal(Block* b, size_t off, size_t width, uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(v));
  std::memcpy(b->data() + off, buf, width - 1);
  (*b)[off + width - 1] = '\0';
}

// GNU base-256: high bit of the first byte set, the value big-endian in the rest.
void PutBase256(Block* b, size_t off, size_t width, uint64_t v) {
  for (size_t i = width; i-- > 1;) {
    (*b)[off + i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  (*b)[off] = 0x80;
}

// Puts `v` in octal when it fits, else in base-256 and returns false (the caller adds a pax
// record so that every reader gets the exact value).
bool PutNumber(Block* b, size_t off, size_t width, uint64_t v) {
  if (v <= OctalMax(width)) {
    PutOctal(b, off, width, v);
    return true;
  }
  PutBase256(b, off, width, v);
  return false;
}

void PutString(Block* b, size_t off, size_t len, std::string_view s) {
  std::memcpy(b->data() + off, s.data(), std::min(len, s.size()));
}

void SetChecksum(Block* b) {
  std::memset(b->data() + kChksumOff, ' ', 8);
  uint64_t sum = 0;
  for (uint8_t c : *b) sum += c;
  // Six octal digits, NUL, space: the form every tar since v7 writes.
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06llo", static_cast<unsigned long long>(sum));
  std::memcpy(b->data() + kChksumOff, buf, 6);
  (*b)[kChksumOff + 6] = '\0';
  (*b)[kChksumOff + 7] = ' ';
}

// Splits `path` into ustar prefix and name; false when it cannot be stored in them.
bool SplitUstarPath(const std::string& path, std::string* prefix, std::string* name) {
  if (path.size() <= kNameLen) {
    prefix->clear();
    *name = path;
    return true;
  }
  // The prefix takes as much as it can, so that the name keeps a valid remainder.
  // A directory's trailing '/' cannot be the split point: the name field would be empty.
  const size_t limit = std::min(path.size() - 2, kPrefixLen);
  for (size_t i = limit + 1; i-- > 1;) {
    if (path[i] != '/') continue;
    if (path.size() - i - 1 > kNameLen) return false;  // a shorter prefix only makes it worse
    *prefix = path.substr(0, i);
    *name = path.substr(i + 1);
    return true;
  }
  return false;
}

std::string PaxTime(const timespec& t) {
  char buf[64];
  if (t.tv_nsec == 0) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(t.tv_sec));
    return buf;
  }
  // Negative times: timespec keeps tv_nsec positive, pax writes "-S.F" meaning -(S + F).
  long long sec = t.tv_sec;
  long nsec = t.tv_nsec;
  const bool negative = sec < 0;
  if (negative) {
    sec = -(sec + 1);
    nsec = 1000000000 - nsec;
  }
  std::snprintf(buf, sizeof buf, "%s%lld.%09ld", negative ? "-" : "", sec, nsec);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

Block MakeBlock(const std::string& name, const std::string& prefix, char type, uint32_t mode,
                uint64_t uid, uint64_t gid, uint64_t size, uint64_t mtime, const std::string& link,
                std::string* pax) {
  Block b{};
  PutString(&b, kNameOff, kNameLen, name);
  PutOctal(&b, kModeOff, 8, mode & 07777);
  if (!PutNumber(&b, kUidOff, 8, uid) && pax) pax->append(PaxRecord("uid", std::to_string(uid)));
  if (!PutNumber(&b, kGidOff, 8, gid) && pax) pax->append(PaxRecord("gid", std::to_string(gid)));
  if (!PutNumber(&b, kSizeOff, 12, size) && pax) {
    pax->append(PaxRecord("size", std::to_string(size)));
  }
  PutOctal(&b, kMtimeOff, 12, std::min(mtime, OctalMax(12)));
  b[kTypeOff] = static_cast<uint8_t>(type);
  PutString(&b, kLinkOff, kLinkLen, link);
  std::memcpy(b.data() + kMagicOff, "ustar\0", 6);
  std::memcpy(b.data() + kVersionOff, "00", 2);
  PutString(&b, kPrefixOff, kPrefixLen, prefix);
  return b;
}

}  // namespace

std::string PaxRecord(const std::string& key, const std::string& value) {
  const size_t body = 1 + key.size() + 1 + value.size() + 1;  // " key=value\n"
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

Result<std::vector<uint8_t>> EncodeTarHeader(const TarEntry& e) {
  if (e.path.empty()) return Invalid("tar member with an empty path");
  std::string pax;
  const bool dir = e.kind == TarEntry::Kind::kDirectory;
  const std::string full = dir ? e.path + "/" : e.path;
  std::string prefix, name;
  if (!SplitUstarPath(full, &prefix, &name)) {
    pax.append(PaxRecord("path", full));
    prefix.clear();
    name = full.substr(0, kNameLen);  // a readable stand-in for readers without pax
  }
  std::string link;
  if (e.kind == TarEntry::Kind::kSymlink) {
    link = e.link_target;
    if (link.size() > kLinkLen) {
      pax.append(PaxRecord("linkpath", link));
      link.resize(kLinkLen);
    }
  }
  const bool mtime_exact = e.mtime.tv_sec >= 0 && e.mtime.tv_nsec == 0 &&
                           static_cast<uint64_t>(e.mtime.tv_sec) <= OctalMax(12);
  if (!mtime_exact) pax.append(PaxRecord("mtime", PaxTime(e.mtime)));
  for (const auto& [key, value] : e.xattrs) pax.append(PaxRecord("SCHILY.xattr." + key, value));

  const char type = dir ? '5' : e.kind == TarEntry::Kind::kSymlink ? '2' : '0';
  const uint64_t size = e.kind == TarEntry::Kind::kFile ? e.size : 0;
  const uint64_t mtime = e.mtime.tv_sec < 0 ? 0 : static_cast<uint64_t>(e.mtime.tv_sec);
  Block member = MakeBlock(name, prefix, type, e.mode, e.uid, e.gid, size, mtime, link, &pax);
  SetChecksum(&member);

  std::vector<uint8_t> out;
  if (!pax.empty()) {
    // The 'x' header's own name is informational; GNU tar shows "PaxHeaders.N/base".
    const size_t slash = e.path.rfind('/');
    std::string base = slash == std::string::npos ? e.path : e.path.substr(slash + 1);
    std::string pax_name = "PaxHeaders/" + base;
    pax_name.resize(std::min(pax_name.size(), kNameLen));
    Block x = MakeBlock(pax_name, "", 'x', 0644, 0, 0, pax.size(), mtime, "", nullptr);
    SetChecksum(&x);
    out.insert(out.end(), x.begin(), x.end());
    out.insert(out.end(), pax.begin(), pax.end());
    out.resize((out.size() + kBlock - 1) / kBlock * kBlock, 0);
  }
  out.insert(out.end(), member.begin(), member.end());
  return out;
}

Status TarWriter::Emit(std::span<const uint8_t> data) {
  if (data.empty()) return Status::Ok();
  Status s = sink_(data);
  if (s.ok()) written_ += data.size();
  return s;
}

Status TarWriter::WriteHeader(const TarEntry& entry) {
  if (in_member_) return Invalid("tar writer: header before the previous member ended");
  Result<std::vector<uint8_t>> h = EncodeTarHeader(entry);
  if (!h.ok()) return h.status();
  if (Status s = Emit(*h); !s.ok()) return s;
  in_member_ = true;
  data_size_ = entry.kind == TarEntry::Kind::kFile ? entry.size : 0;
  remaining_ = data_size_;
  return Status::Ok();
}

Status TarWriter::WriteData(std::span<const uint8_t> data) {
  if (!in_member_ || data.size() > remaining_) {
    return Invalid("tar writer: more data than the member's size");
  }
  if (Status s = Emit(data); !s.ok()) return s;
  remaining_ -= data.size();
  return Status::Ok();
}

Status TarWriter::SkipWrittenData(uint64_t n) {
  if (!in_member_ || n > remaining_) return Invalid("tar writer: more data than the member's size");
  remaining_ -= n;
  written_ += n;
  return Status::Ok();
}

Status TarWriter::EndMember() {
  if (!in_member_) return Invalid("tar writer: no member to end");
  if (remaining_ != 0) return Invalid("tar writer: member data is short");
  static constexpr std::array<uint8_t, kBlock> kZeros{};
  const size_t pad = (kBlock - data_size_ % kBlock) % kBlock;
  if (Status s = Emit(std::span(kZeros.data(), pad)); !s.ok()) return s;
  in_member_ = false;
  return Status::Ok();
}

Status TarWriter::Finish() {
  if (in_member_) return Invalid("tar writer: finished inside a member");
  static constexpr std::array<uint8_t, 2 * kBlock> kZeros{};
  return Emit(kZeros);
}

}  // namespace daqfs
