// InodeTable: kernel inode numbers <-> (backend index, node id), with the kernel's lookup counts.
//
// FUSE hands out an inode number with every successful lookup (and readdirplus entry) and later
// returns the same number of references with forget. An entry lives while its count is above
// zero; then its number is released. Numbers are never reused within one mount (a 64-bit counter)
// so a stale number can never name a different node. Inode 1 is the mount root and is pinned.
//
// Thread safety: all methods are thread-safe (one mutex, never held across I/O or callbacks).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fs/backend.h"

namespace daqfs {

struct InodeKey {
  uint32_t backend = 0;
  NodeId node = 0;
  bool operator==(const InodeKey&) const = default;
};

class InodeTable {
 public:
  static constexpr uint64_t kRootIno = 1;

  // The root inode maps to `root`; it is never forgotten.
  explicit InodeTable(InodeKey root);

  // Returns the inode number of `key` (allocating one if it has none) and adds `count` lookups.
  // `parent` and `name` record where it was found (kept from the first lookup), for sibling
  // prefetch.
  uint64_t Acquire(InodeKey key, uint64_t count = 1, InodeKey parent = {},
                   std::string_view name = {});
  struct Origin {
    InodeKey parent;
    std::string name;
  };
  // Where a live inode was first looked up (parent and name); nullopt if unknown.
  std::optional<Origin> OriginOf(uint64_t ino) const;
  // The key of a live inode number, or nullopt if unknown (never issued or already forgotten).
  std::optional<InodeKey> Resolve(uint64_t ino) const;
  // The inode number `key` has now, if any, without adding a lookup.
  std::optional<uint64_t> Find(InodeKey key) const;
  // Drops `count` lookups; at zero the number is released and its key returned. Unknown
  // numbers and the root give nullopt. `released` (may be empty) is called with the key while
  // the table is still locked, so no Add of the same key can come between the release and what
  // it does (Backend::Forget): it must be quick and must not call into this table.
  std::optional<InodeKey> Forget(uint64_t ino, uint64_t count,
                                 const std::function<void(InodeKey)>& released = {});
  // Live inode numbers, root included.
  size_t size() const;

 private:
  struct KeyHash {
    size_t operator()(const InodeKey& k) const {
      return std::hash<uint64_t>()(k.node * 0x9E3779B97F4A7C15ull ^ k.backend);
    }
  };
  struct Entry {
    InodeKey key;
    uint64_t lookups = 0;
    Origin origin;
  };

  mutable std::mutex mu_;  // guards everything below
  uint64_t next_ino_ = kRootIno + 1;
  std::unordered_map<uint64_t, Entry> by_ino_;
  std::unordered_map<InodeKey, uint64_t, KeyHash> by_key_;
};

}  // namespace daqfs
