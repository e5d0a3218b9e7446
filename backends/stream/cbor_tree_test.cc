#include "backends/stream/cbor_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace daqfs {
namespace {

Result<CborNode> Parse(const std::vector<uint8_t>& bytes) { return CborTree::Parse(bytes); }

TEST(CborTreeTest, ItemsOfEveryKindNestAndPointIntoTheMessage) {
  // 55799({"a": [1, -2, h'0102', "xy", 1.5, true, null], 40: 69(h'ffee')})
  std::vector<uint8_t> m = {0xd9, 0xd9, 0xf7, 0xa2, 0x61, 'a',  0x87, 0x01, 0x21,
                            0x42, 0x01, 0x02, 0x62, 'x',  'y',  0xf9, 0x3e, 0x00,
                            0xf5, 0xf6, 0x18, 0x28, 0xd8, 0x45, 0x42, 0xff, 0xee};
  Result<CborNode> r = Parse(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->type, CborNode::Type::kTag);
  EXPECT_EQ(r->u, 55799u);
  const CborNode& map = r->Untagged();
  ASSERT_EQ(map.type, CborNode::Type::kMap);
  ASSERT_EQ(map.items.size(), 4u);
  const CborNode* a = map.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 7u);
  int64_t v = 0;
  EXPECT_TRUE(a->items[0].AsInt(&v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(a->items[1].AsInt(&v));
  EXPECT_EQ(v, -2);
  ASSERT_EQ(a->items[2].type, CborNode::Type::kBytes);
  EXPECT_EQ(a->items[2].bytes.data(), m.data() + 10);  // no copy
  EXPECT_EQ(a->items[2].bytes.size(), 2u);
  EXPECT_EQ(a->items[3].text, "xy");
  EXPECT_EQ(a->items[4].f, 1.5);
  EXPECT_EQ(a->items[5].type, CborNode::Type::kBool);
  EXPECT_EQ(a->items[5].u, 1u);
  EXPECT_EQ(a->items[6].type, CborNode::Type::kNull);
  EXPECT_EQ(map.items[2].u, 40u);  // an integer key
  ASSERT_EQ(map.items[3].type, CborNode::Type::kTag);
  EXPECT_EQ(map.items[3].u, 69u);
  EXPECT_EQ(map.items[3].Untagged().bytes.size(), 2u);
  EXPECT_EQ(map.Find("b"), nullptr);
}

TEST(CborTreeTest, IndefiniteLengthItemsAreJoined) {
  // [_ (_ h'01', h'0203'), (_ "a", "bc"), {_ "k": []}]
  std::vector<uint8_t> m = {0x9f, 0x5f, 0x41, 0x01, 0x42, 0x02, 0x03, 0xff, 0x7f, 0x61, 'a',
                            0x62, 'b',  'c',  0xff, 0xbf, 0x61, 'k',  0x80, 0xff, 0xff};
  Result<CborNode> r = Parse(m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->items.size(), 3u);
  EXPECT_EQ(std::vector<uint8_t>(r->items[0].bytes.begin(), r->items[0].bytes.end()),
            (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(r->items[1].text, "abc");
  ASSERT_NE(r->items[2].Find("k"), nullptr);
  EXPECT_EQ(r->items[2].Find("k")->items.size(), 0u);
}

TEST(CborTreeTest, MalformedInputIsAnErrorWithItsPlace) {
  struct Case {
    std::vector<uint8_t> bytes;
    std::string want;
  };
  std::vector<uint8_t> deep(70, 0x81);  // [[[[...
  deep.push_back(0x01);
  for (const Case& c : std::vector<Case>{
           {{}, "truncated"},
           {{0x82, 0x01}, "truncated"},               // an array of 2 with 1 item
           {{0x45, 0x01, 0x02}, "truncated"},         // 5 bytes announced, 2 there
           {{0x01, 0x02}, "1 bytes after the item"},  // two items
           {{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "items in fewer bytes"},
           {{0xbb, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00}, "pairs in fewer bytes"},
           {deep, "nested deeper than 64"},
           {{0xff}, "a break outside"},                // a break alone
           {{0x5f, 0x61, 'a', 0xff}, "another type"},  // a text chunk in a byte string
           {{0xbf, 0x01, 0xff}, "a key and no value"},
           {{0x1c}, "malformed"},  // reserved additional information
       }) {
    Result<CborNode> r = Parse(c.bytes);
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_EQ(r.status().code(), Code::kCorrupt);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace daqfs
