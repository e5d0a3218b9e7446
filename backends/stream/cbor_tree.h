// CborTree: a CBOR data item read into a small tree whose byte and text strings point into the
// message they came from (no copy of a frame's pixels), built on libcbor's streaming decoder
// (cbor_stream_decode: libcbor tokenizes, this file only nests the items).
//
// What it keeps: unsigned and negative integers, byte and text strings (definite length;
// indefinite ones are joined into an owned copy), arrays, maps (keys of any type, in order),
// tags (one node holding the tagged item), floats, booleans, null and undefined.
//
// Limits (a message from the network is outside input): at most kMaxDepth nested containers,
// at most kMaxItems items, sizes checked against the bytes left before anything is reserved.
// Malformed input gives Code::kCorrupt naming the reason and the byte offset; nothing is read
// outside the buffer.
//
// Thread safety: values; Parse is reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/status.h"

namespace daqfs {

struct CborNode {
  enum class Type : uint8_t {
    kUnsigned,  // u
    kNegative,  // the value is -1 - u
    kBytes,     // bytes
    kText,      // text
    kArray,     // items
    kMap,       // items: key, value, key, value...
    kTag,       // u = tag number, items[0] = the tagged item
    kFloat,     // f
    kBool,      // u = 0 or 1
    kNull,
    kUndefined,
  };
  Type type = Type::kNull;
  uint64_t u = 0;
  double f = 0;
  std::span<const uint8_t> bytes;  // kBytes: into the message (or into `owned`)
  std::string_view text;           // kText: into the message (or into `owned`)
  std::vector<CborNode> items;
  std::shared_ptr<std::string> owned;  // an indefinite-length string, joined

  // A map's value for text key `key`, or null.
  const CborNode* Find(std::string_view key) const;
  // The item under any tags (tags unwrapped; for a node that is no tag, itself).
  const CborNode& Untagged() const;
  bool IsInteger() const { return type == Type::kUnsigned || type == Type::kNegative; }
  // The integer value if it fits an int64_t.
  bool AsInt(int64_t* out) const;
};

class CborTree {
 public:
  static constexpr size_t kMaxDepth = 64;
  static constexpr size_t kMaxItems = 1 << 16;  // a stream2 image has fewer than 1000

  // The one data item that `message` holds (bytes after it are an error). The tree's strings
  // point into `message`, which must outlive it.
  static Result<CborNode> Parse(std::span<const uint8_t> message);
};

}  // namespace daqfs
