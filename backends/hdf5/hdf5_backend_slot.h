// Hdf5Backend::Slot: one HDF5 file of an Hdf5Backend (private to hdf5_backend*.cc).
//
// Fields above `mu` are set when the file is found and never change; the rest is guarded by
// `mu` (set by the scanner, the view made on first use); `shown` is read without it.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/hdf5/hdf5_backend.h"
#include "backends/hdf5/hdf5_file_view.h"

namespace daqfs {

struct Hdf5Backend::Slot {
  uint32_t number = 0;
  std::string path;       // as found
  std::string real_path;  // canonical: what is opened and what access checks use
  std::string file_name;  // the original file's entry name
  std::string dir_name;   // the folder's entry name
  struct stat st {};
  std::string identity;

  std::mutex mu;  // guards view, scanned, links
  std::shared_ptr<Hdf5FileView> view;
  bool scanned = false;
  std::vector<std::string> links;  // canonical paths of the files it links
  std::atomic<bool> shown{false};  // shown as a folder
};

namespace hdf5_ids {
inline constexpr int kSlotShift = 44;
inline constexpr uint64_t kLocalMask = (1ull << kSlotShift) - 1;
inline constexpr uint64_t kOriginalFile = 0;  // the local id of the original file
inline uint32_t SlotNumber(NodeId id) { return static_cast<uint32_t>(id >> kSlotShift); }
inline uint64_t LocalId(NodeId id) { return id & kLocalMask; }
inline NodeId MakeId(uint32_t slot, uint64_t local) {
  return (static_cast<uint64_t>(slot) << kSlotShift) | local;
}
}  // namespace hdf5_ids

}  // namespace daqfs
