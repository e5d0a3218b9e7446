#include "fs/inode_table.h"

namespace daqfs {

InodeTable::InodeTable(InodeKey root) {
  by_ino_[kRootIno] = Entry{root, 1, {}};
  by_key_[root] = kRootIno;
}

uint64_t InodeTable::Acquire(InodeKey key, uint64_t count, InodeKey parent, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    by_ino_[it->second].lookups += count;
    return it->second;
  }
  uint64_t ino = next_ino_++;
  by_ino_[ino] = Entry{key, count, Origin{parent, std::string(name)}};
  by_key_[key] = ino;
  return ino;
}

std::optional<InodeKey> InodeTable::Resolve(uint64_t ino) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return std::nullopt;
  return it->second.key;
}

std::optional<InodeTable::Origin> InodeTable::OriginOf(uint64_t ino) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end() || it->second.origin.name.empty()) return std::nullopt;
  return it->second.origin;
}

std::optional<uint64_t> InodeTable::Find(InodeKey key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<InodeKey> InodeTable::Forget(uint64_t ino, uint64_t count,
                                           const std::function<void(InodeKey)>& released) {
  if (ino == kRootIno) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return std::nullopt;
  if (it->second.lookups > count) {
    it->second.lookups -= count;
    return std::nullopt;
  }
  InodeKey key = it->second.key;
  by_key_.erase(key);
  by_ino_.erase(it);
  if (released) released(key);
  return key;
}

size_t InodeTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_ino_.size();
}

}  // namespace daqfs
