// The on-disk format of the SSD tier: block file names, the block file header and the LRU file.
//
// Everything here is pure (no I/O): the cache (disk_block_cache.cc) and daqfs-cache build and
// check names and headers with it, and the fuzz targets (tests/fuzz/disk_block_header_fuzz.cc,
// lru_file_fuzz.cc) feed it arbitrary bytes.
//
// Block file (v1/blocks/HH/HASH16.LEN): a 40-byte header
//   {magic "DQFSBLK1", u32 key length, u32 zero, u64 data length, u64 XXH64 of the data,
//    u64 XXH64 of the first 32 header bytes + key}  (all little-endian)
// then the key (BlockKey::Serialize()), then the data.
// LRU file (v1/lru): the block hashes as u64 little-endian, oldest use first; a trailing partial
// entry is ignored (a save cut short), unknown hashes are skipped by the reader.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace daqfs {

inline constexpr size_t kBlockHeaderSize = 40;

// The header of a block file holding `data_len` bytes with XXH64 `data_checksum` under `key`:
// kBlockHeaderSize bytes followed by the key (what precedes the data in the file).
std::vector<uint8_t> EncodeBlockHeader(std::string_view key, uint64_t data_len,
                                       uint64_t data_checksum);

// What a block file's header claims. Parse checks the magic, the zero field and the header
// checksum (over the 32 header bytes and `key`, the key bytes as read from the file).
struct BlockHeader {
  uint32_t key_len = 0;
  uint64_t data_len = 0;
  uint64_t data_checksum = 0;  // XXH64 of the data
};
// Parses the first kBlockHeaderSize bytes of `header` with the file's key bytes `file_key`.
// Returns nullptr and fills `out` when the header is sound, else a short reason ("bad magic").
const char* ParseBlockHeader(std::span<const uint8_t> header, std::string_view file_key,
                             BlockHeader* out);

// Verifies a whole block file read as header + key + data against what the reader expects:
// `want_key` and `want_len`. nullptr when good, else a short reason.
const char* VerifyBlockFile(std::span<const uint8_t> header, std::string_view file_key,
                            std::span<const uint8_t> data, std::string_view want_key,
                            uint64_t want_len);

// 64-bit XXH64 of block data, as stored in the header.
uint64_t BlockDataChecksum(std::span<const uint8_t> data);

// File names. A shard is the first byte of the key hash ("00".."ff").
unsigned ShardOf(uint64_t hash);
std::string ShardName(unsigned shard);
bool ParseShardName(std::string_view name, unsigned* shard);
// 1..16 lower-case hex digits (no prefix) as a number; false on anything else.
bool ParseLowerHex(std::string_view s, uint64_t* out);
// "HASH16.LEN": 16 lower-case hex digits, '.', decimal length without leading zeros.
std::string BlockFileName(uint64_t hash, uint64_t len);
bool ParseBlockFileName(std::string_view name, uint64_t* hash, uint64_t* len);

// The LRU file: oldest first.
std::vector<uint8_t> EncodeLruFile(std::span<const uint64_t> hashes_oldest_first);
std::vector<uint64_t> ParseLruFile(std::span<const uint8_t> bytes);

// Little-endian helpers (also used by the blob store's trailer).
void StoreLe32(uint8_t* p, uint32_t v);
void StoreLe64(uint8_t* p, uint64_t v);
uint32_t LoadLe32(const uint8_t* p);
uint64_t LoadLe64(const uint8_t* p);

}  // namespace daqfs
