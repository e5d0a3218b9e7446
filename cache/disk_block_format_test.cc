#include "cache/disk_block_format.h"

#include <gtest/gtest.h>

#include <cstring>

namespace daqfs {
namespace {

TEST(DiskBlockFormatTest, HeaderRoundTripAndEveryDamageIsNamed) {
  std::string key = "dev:ino:size:mtime:/a.zst\n7";
  std::vector<uint8_t> data(1000, 0x42);
  std::vector<uint8_t> file = EncodeBlockHeader(key, data.size(), BlockDataChecksum(data));
  ASSERT_EQ(file.size(), kBlockHeaderSize + key.size());
  std::span<const uint8_t> header(file.data(), kBlockHeaderSize);
  std::string_view file_key(reinterpret_cast<const char*>(file.data()) + kBlockHeaderSize,
                            key.size());
  BlockHeader h;
  ASSERT_EQ(ParseBlockHeader(header, file_key, &h), nullptr);
  EXPECT_EQ(h.key_len, key.size());
  EXPECT_EQ(h.data_len, 1000u);
  EXPECT_EQ(VerifyBlockFile(header, file_key, data, key, 1000), nullptr);
  EXPECT_STREQ(VerifyBlockFile(header, file_key, data, key + "x", 1000), "block of another key");
  EXPECT_STREQ(VerifyBlockFile(header, file_key, data, key, 999), "bad data length");
  data[5] ^= 1;
  EXPECT_STREQ(VerifyBlockFile(header, file_key, data, key, 1000), "bad data checksum");
  data[5] ^= 1;
  file[3] ^= 1;
  EXPECT_STREQ(ParseBlockHeader(header, file_key, &h), "bad magic");
  file[3] ^= 1;
  file[20] ^= 1;  // data length: covered by the header checksum
  EXPECT_STREQ(ParseBlockHeader(header, file_key, &h), "bad header checksum");
  EXPECT_STREQ(ParseBlockHeader(header.first(10), file_key, &h), "file too short");
}

TEST(DiskBlockFormatTest, NamesRoundTripAndRejectNonCanonicalForms) {
  uint64_t hash, len;
  std::string n = BlockFileName(0x0123456789abcdefull, 1048576);
  EXPECT_EQ(n, "0123456789abcdef.1048576");
  ASSERT_TRUE(ParseBlockFileName(n, &hash, &len));
  EXPECT_EQ(hash, 0x0123456789abcdefull);
  EXPECT_EQ(len, 1048576u);
  for (const char* bad : {"0123456789abcdef.01", "0123456789ABCDEF.1", "0123456789abcdef.",
                          "0123456789abcdef.99999999999999999999", "x.1", ""}) {
    EXPECT_FALSE(ParseBlockFileName(bad, &hash, &len)) << bad;
  }
  unsigned shard;
  EXPECT_EQ(ShardName(ShardOf(0xab00000000000000ull)), "ab");
  EXPECT_TRUE(ParseShardName("ab", &shard));
  EXPECT_EQ(shard, 0xabu);
  EXPECT_FALSE(ParseShardName("a", &shard));
}

TEST(DiskBlockFormatTest, LruFileRoundTripIgnoresAPartialTail) {
  std::vector<uint64_t> order = {3, 1, 0xffffffffffffffffull};
  std::vector<uint8_t> bytes = EncodeLruFile(order);
  EXPECT_EQ(ParseLruFile(bytes), order);
  bytes.push_back(7);
  EXPECT_EQ(ParseLruFile(bytes), order);
  EXPECT_TRUE(ParseLruFile({}).empty());
}

}  // namespace
}  // namespace daqfs
