// libFuzzer target for the SSD tier's block file header parser: the input is a block file
// (header, key, data) as Get reads it. Besides not crashing, checks that a header that parses
// names the key length it was given, and that whatever verifies re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "cache/disk_block_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < daqfs::kBlockHeaderSize) {
    daqfs::BlockHeader h;
    if (daqfs::ParseBlockHeader(std::span<const uint8_t>(data, size), "", &h) == nullptr) {
      std::abort();  // too short to be a header
    }
    return 0;
  }
  std::span<const uint8_t> header(data, daqfs::kBlockHeaderSize);
  // The key length a reader would take from the header (bounded by the input).
  uint32_t key_len = daqfs::LoadLe32(data + 8);
  size_t rest = size - daqfs::kBlockHeaderSize;
  if (key_len > rest) key_len = static_cast<uint32_t>(rest);
  std::string_view key(reinterpret_cast<const char*>(data) + daqfs::kBlockHeaderSize, key_len);
  std::span<const uint8_t> body(data + daqfs::kBlockHeaderSize + key_len, rest - key_len);
  daqfs::BlockHeader h;
  const char* bad = daqfs::ParseBlockHeader(header, key, &h);
  if (bad != nullptr) return 0;
  if (h.key_len != key.size()) std::abort();
  if (daqfs::VerifyBlockFile(header, key, body, key, body.size()) == nullptr) {
    std::vector<uint8_t> again =
        daqfs::EncodeBlockHeader(key, body.size(), daqfs::BlockDataChecksum(body));
    if (again.size() != daqfs::kBlockHeaderSize + key.size() ||
        std::memcmp(again.data(), data, again.size()) != 0) {
      std::abort();
    }
  }
  return 0;
}
