// TarBackend::Slot: one archive file of a TarBackend (private to tar_backend*.cc).
//
// Fields above `mu` are set when the archive is found and never change; the rest is guarded
// by `mu` and set once by the indexer.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "backends/archive/archive_index.h"
#include "backends/archive/member_tree.h"
#include "backends/archive/tar_backend.h"
#include "fs/unique_fd.h"

namespace daqfs {

struct TarBackend::Slot {
  uint32_t number = 0;
  std::string path;
  std::string real_path;  // canonical (symlinks resolved) when found: what access checks open
  std::string dir_name;
  std::shared_ptr<UniqueFd> fd;
  struct stat st {};
  std::string identity;

  std::mutex mu;  // guards state, error, index, tree, archive_units, units_of
  std::condition_variable cv;
  enum class State { kPending, kReady, kFailed } state = State::kPending;
  Status error;
  std::shared_ptr<const ArchiveIndex> index;
  std::shared_ptr<const MemberTree> tree;
  // kTarZst: the decoded stream of the whole archive as decode units (its frames), shared by
  // every member opened from `units_of` (== index when current): built on the first open.
  std::shared_ptr<ByteSource> archive_units;
  std::shared_ptr<const ArchiveIndex> units_of;

  // Waits for the index; returns ok or the indexing error.
  Status Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return state != State::kPending; });
    return state == State::kReady ? Status::Ok() : error;
  }
  TreeArchive AsTreeArchive() const { return TreeArchive{number, st, path, identity}; }
};

namespace tar_ids {
inline constexpr uint64_t kLocalMask = 0xFFFFFFFFull;
inline uint32_t SlotNumber(NodeId id) { return static_cast<uint32_t>(id >> 32); }
inline uint64_t LocalId(NodeId id) { return id & kLocalMask; }
inline NodeId MakeId(uint32_t slot, uint64_t local) {
  return (static_cast<uint64_t>(slot) << 32) | local;
}
}  // namespace tar_ids

}  // namespace daqfs
