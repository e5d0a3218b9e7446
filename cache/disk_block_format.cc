#include "cache/disk_block_format.h"

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace daqfs {
namespace {

constexpr char kMagic[8] = {'D', 'Q', 'F', 'S', 'B', 'L', 'K', '1'};
constexpr size_t kHeaderSummed = 32;  // header bytes covered by the header checksum

// XXH64 of the first 32 header bytes followed by the key.
uint64_t HeaderChecksum(const uint8_t* header, std::string_view key) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, header, kHeaderSummed);
  XXH64_update(&state, key.data(), key.size());
  return XXH64_digest(&state);
}

// Plain decimal without sign or leading zeros; false on overflow.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseLowerHex(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return false;
    v = (v << 4) | d;
  }
  *out = v;
  return true;
}

void StoreLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t LoadLe32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t BlockDataChecksum(std::span<const uint8_t> data) {
  return XXH64(data.data(), data.size(), 0);
}

std::vector<uint8_t> EncodeBlockHeader(std::string_view key, uint64_t data_len,
                                       uint64_t data_checksum) {
  std::vector<uint8_t> head(kBlockHeaderSize + key.size());
  std::memcpy(head.data(), kMagic, sizeof kMagic);
  StoreLe32(&head[8], static_cast<uint32_t>(key.size()));
  StoreLe32(&head[12], 0);
  StoreLe64(&head[16], data_len);
  StoreLe64(&head[24], data_checksum);
  std::memcpy(&head[kBlockHeaderSize], key.data(), key.size());
  StoreLe64(&head[32], HeaderChecksum(head.data(), key));
  return head;
}

const char* ParseBlockHeader(std::span<const uint8_t> header, std::string_view file_key,
                             BlockHeader* out) {
  if (header.size() < kBlockHeaderSize) return "file too short";
  const uint8_t* h = header.data();
  if (std::memcmp(h, kMagic, sizeof kMagic) != 0) return "bad magic";
  if (LoadLe32(h + 8) != file_key.size() || LoadLe32(h + 12) != 0) return "bad key length";
  if (LoadLe64(h + 32) != HeaderChecksum(h, file_key)) return "bad header checksum";
  out->key_len = LoadLe32(h + 8);
  out->data_len = LoadLe64(h + 16);
  out->data_checksum = LoadLe64(h + 24);
  return nullptr;
}

const char* VerifyBlockFile(std::span<const uint8_t> header, std::string_view file_key,
                            std::span<const uint8_t> data, std::string_view want_key,
                            uint64_t want_len) {
  BlockHeader h;
  if (const char* bad = ParseBlockHeader(header, file_key, &h)) return bad;
  if (h.data_len != want_len || data.size() != want_len) return "bad data length";
  if (file_key != want_key) return "block of another key";
  if (h.data_checksum != BlockDataChecksum(data)) return "bad data checksum";
  return nullptr;
}

unsigned ShardOf(uint64_t hash) { return static_cast<unsigned>(hash >> 56); }

std::string ShardName(unsigned shard) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", shard & 0xffu);
  return buf;
}

bool ParseShardName(std::string_view name, unsigned* shard) {
  uint64_t v;
  if (name.size() != 2 || !ParseLowerHex(name, &v)) return false;
  *shard = static_cast<unsigned>(v);
  return true;
}

std::string BlockFileName(uint64_t hash, uint64_t len) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 ".%" PRIu64, hash, len);
  return buf;
}

bool ParseBlockFileName(std::string_view name, uint64_t* hash, uint64_t* len) {
  return name.size() >= 18 && name[16] == '.' && ParseLowerHex(name.substr(0, 16), hash) &&
         ParseDecimal(name.substr(17), len);
}

std::vector<uint8_t> EncodeLruFile(std::span<const uint64_t> hashes_oldest_first) {
  std::vector<uint8_t> bytes(hashes_oldest_first.size() * 8);
  for (size_t i = 0; i < hashes_oldest_first.size(); ++i) {
    StoreLe64(&bytes[i * 8], hashes_oldest_first[i]);
  }
  return bytes;
}

std::vector<uint64_t> ParseLruFile(std::span<const uint8_t> bytes) {
  std::vector<uint64_t> hashes(bytes.size() / 8);
  for (size_t i = 0; i < hashes.size(); ++i) hashes[i] = LoadLe64(&bytes[i * 8]);
  return hashes;
}

}  // namespace daqfs
