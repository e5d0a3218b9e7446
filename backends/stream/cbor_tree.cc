#include "backends/stream/cbor_tree.h"

#include <cbor.h>

#include <optional>
#include <utility>

namespace daqfs {
namespace {

// The tree being built from libcbor's callbacks.
class Builder {
 public:
  explicit Builder(size_t size) : size_(size) {}

  static const cbor_callbacks& Callbacks() {
    static const cbor_callbacks callbacks = [] {
      cbor_callbacks c = cbor_empty_callbacks;
      c.uint8 = [](void* b, uint8_t v) { Self(b)->Unsigned(v); };
      c.uint16 = [](void* b, uint16_t v) { Self(b)->Unsigned(v); };
      c.uint32 = [](void* b, uint32_t v) { Self(b)->Unsigned(v); };
      c.uint64 = [](void* b, uint64_t v) { Self(b)->Unsigned(v); };
      c.negint8 = [](void* b, uint8_t v) { Self(b)->Negative(v); };
      c.negint16 = [](void* b, uint16_t v) { Self(b)->Negative(v); };
      c.negint32 = [](void* b, uint32_t v) { Self(b)->Negative(v); };
      c.negint64 = [](void* b, uint64_t v) { Self(b)->Negative(v); };
      c.byte_string = [](void* b, cbor_data d, size_t n) { Self(b)->String(true, d, n); };
      c.string = [](void* b, cbor_data d, size_t n) { Self(b)->String(false, d, n); };
      c.byte_string_start = [](void* b) { Self(b)->Open(CborNode::Type::kBytes, std::nullopt); };
      c.string_start = [](void* b) { Self(b)->Open(CborNode::Type::kText, std::nullopt); };
      c.array_start = [](void* b, size_t n) { Self(b)->Open(CborNode::Type::kArray, n); };
      c.indef_array_start = [](void* b) { Self(b)->Open(CborNode::Type::kArray, std::nullopt); };
      c.map_start = [](void* b, size_t n) { Self(b)->OpenMap(n); };
      c.indef_map_start = [](void* b) { Self(b)->Open(CborNode::Type::kMap, std::nullopt); };
      c.tag = [](void* b, uint64_t v) { Self(b)->Tag(v); };
      c.float2 = [](void* b, float v) { Self(b)->Float(v); };
      c.float4 = [](void* b, float v) { Self(b)->Float(v); };
      c.float8 = [](void* b, double v) { Self(b)->Float(v); };
      c.boolean = [](void* b, bool v) { Self(b)->Simple(CborNode::Type::kBool, v ? 1 : 0); };
      c.null = [](void* b) { Self(b)->Simple(CborNode::Type::kNull, 0); };
      c.undefined = [](void* b) { Self(b)->Simple(CborNode::Type::kUndefined, 0); };
      c.indef_break = [](void* b) { Self(b)->Break(); };
      return c;
    }();
    return callbacks;
  }

  void set_offset(size_t offset) { offset_ = offset; }
  bool done() const { return root_.has_value(); }
  const std::string& error() const { return error_; }
  CborNode Take() { return std::move(*root_); }

 private:
  struct Frame {
    CborNode node;
    std::optional<uint64_t> left;  // items still to come; nullopt: until a break
  };
  static Builder* Self(void* b) { return static_cast<Builder*>(b); }

  bool Fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at byte " + std::to_string(offset_);
    return false;
  }
  bool Count() {
    if (++items_ > CborTree::kMaxItems) return Fail("more than 65536 items");
    if (root_) return Fail("bytes after the item");
    return true;
  }
  void Unsigned(uint64_t v) {
    CborNode n;
    n.type = CborNode::Type::kUnsigned;
    n.u = v;
    Add(std::move(n));
  }
  void Negative(uint64_t v) {
    CborNode n;
    n.type = CborNode::Type::kNegative;
    n.u = v;
    Add(std::move(n));
  }
  void Float(double v) {
    CborNode n;
    n.type = CborNode::Type::kFloat;
    n.f = v;
    Add(std::move(n));
  }
  void Simple(CborNode::Type type, uint64_t v) {
    CborNode n;
    n.type = type;
    n.u = v;
    Add(std::move(n));
  }
  void String(bool bytes, cbor_data d, size_t n) {
    if (!stack_.empty() && !stack_.back().left && stack_.back().node.items.empty() &&
        (stack_.back().node.type == CborNode::Type::kBytes ||
         stack_.back().node.type == CborNode::Type::kText)) {
      // A chunk of an indefinite-length string: joined into its owned copy.
      CborNode& s = stack_.back().node;
      if ((s.type == CborNode::Type::kBytes) != bytes) {
        Fail("a chunk of another type inside an indefinite-length string");
        return;
      }
      s.owned->append(reinterpret_cast<const char*>(d), n);
      return;
    }
    CborNode node;
    node.type = bytes ? CborNode::Type::kBytes : CborNode::Type::kText;
    if (bytes) {
      node.bytes = std::span<const uint8_t>(d, n);
    } else {
      node.text = std::string_view(reinterpret_cast<const char*>(d), n);
    }
    Add(std::move(node));
  }
  void Open(CborNode::Type type, std::optional<uint64_t> size) {
    if (!Count()) return;
    if (stack_.size() >= CborTree::kMaxDepth) {
      Fail("nested deeper than 64");
      return;
    }
    // Each item takes at least one byte: a count beyond the bytes left is a lie.
    if (size && *size > size_ - offset_) {
      Fail("a container of " + std::to_string(*size) + " items in fewer bytes");
      return;
    }
    Frame f;
    f.node.type = type;
    f.left = size;
    if (!size && (type == CborNode::Type::kBytes || type == CborNode::Type::kText)) {
      f.node.owned = std::make_shared<std::string>();
    }
    stack_.push_back(std::move(f));
    if (size && *size == 0) Close();
  }
  void OpenMap(uint64_t pairs) {
    if (pairs > (size_ - offset_) / 2) {
      Fail("a map of " + std::to_string(pairs) + " pairs in fewer bytes");
      return;
    }
    Open(CborNode::Type::kMap, pairs * 2);
  }
  void Tag(uint64_t v) {
    Open(CborNode::Type::kTag, 1);
    if (!error_.empty()) return;
    stack_.back().node.u = v;
  }
  void Break() {
    if (stack_.empty() || stack_.back().left) {
      Fail("a break outside an indefinite-length item");
      return;
    }
    CborNode& n = stack_.back().node;
    if (n.type == CborNode::Type::kBytes) {
      n.bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(n.owned->data()),
                                         n.owned->size());
    } else if (n.type == CborNode::Type::kText) {
      n.text = *n.owned;
    } else if (n.type == CborNode::Type::kMap && n.items.size() % 2 != 0) {
      Fail("a map with a key and no value");
      return;
    }
    Close();
  }
  // The innermost open container is complete.
  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    --items_;  // Add counts it once more
    Add(std::move(f.node));
  }
  void Add(CborNode n) {
    if (!error_.empty() || !Count()) return;
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& top = stack_.back();
    if (!top.left &&
        (top.node.type == CborNode::Type::kBytes || top.node.type == CborNode::Type::kText)) {
      Fail("an item inside an indefinite-length string");
      return;
    }
    top.node.items.push_back(std::move(n));
    if (top.left && --*top.left == 0) Close();
  }

  size_t size_;
  size_t offset_ = 0;
  size_t items_ = 0;
  std::vector<Frame> stack_;
  std::optional<CborNode> root_;
  std::string error_;
};

}  // namespace

const CborNode* CborNode::Find(std::string_view key) const {
  if (type != Type::kMap) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const CborNode& k = items[i].Untagged();
    if (k.type == Type::kText && k.text == key) return &items[i + 1];
  }
  return nullptr;
}

const CborNode& CborNode::Untagged() const {
  const CborNode* n = this;
  while (n->type == Type::kTag && n->items.size() == 1) n = &n->items[0];
  return *n;
}

bool CborNode::AsInt(int64_t* out) const {
  if (type == Type::kUnsigned && u <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (type == Type::kNegative && u <= static_cast<uint64_t>(INT64_MAX)) {
    *out = -1 - static_cast<int64_t>(u);
    return true;
  }
  return false;
}

Result<CborNode> CborTree::Parse(std::span<const uint8_t> message) {
  Builder b(message.size());
  size_t offset = 0;
  while (offset < message.size() && b.error().empty() && !b.done()) {
    b.set_offset(offset);
    cbor_decoder_result r = cbor_stream_decode(message.data() + offset, message.size() - offset,
                                               &Builder::Callbacks(), &b);
    if (r.status == CBOR_DECODER_NEDATA) {
      return Status(Code::kCorrupt, "CBOR: truncated at byte " + std::to_string(offset));
    }
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
      return Status(Code::kCorrupt, "CBOR: malformed item at byte " + std::to_string(offset));
    }
    offset += r.read;
  }
  if (!b.error().empty()) return Status(Code::kCorrupt, "CBOR: " + b.error());
  if (!b.done()) return Status(Code::kCorrupt, "CBOR: truncated at byte " + std::to_string(offset));
  if (offset != message.size()) {
    return Status(Code::kCorrupt,
                  "CBOR: " + std::to_string(message.size() - offset) + " bytes after the item");
  }
  return b.Take();
}

}  // namespace daqfs
