// Hdf5Backend: a source of `type = hdf5`: HDF5 and NeXus files shown as folders of their groups,
// datasets (text or .npy) and attributes, each beside the original file.
//
// `path` is an HDF5 file, a folder (its HDF5 files, found by their signature, not recursive) or
// a glob (`*_master.h5`). The source's folder shows, for every file F.ext found: F.ext itself,
// byte for byte (a plain file source: the cache's SSD tier is skipped with cache = auto), and a
// folder F (the name without its extension; F.ext.d when that name is taken) holding the file's
// content (hdf5_file_view.h). A file that another file of the source links (an EIGER data file
// behind a master's external links, a virtual dataset's source file) is not shown as a folder of
// its own, only as the original file. Truncated and unreadable files are logged and skipped.
//
// Finding files and the links between them: Create() finds the files (sniffing signatures and
// superblocks: hdf5_sniff.h); Start() scans them for external links and virtual-dataset
// sources (metadata only, one file at a time, masters first; a file already known to be linked
// is not scanned), at once or, with `background`, on one thread of its own (readiness never
// waits; a lookup at the source's root waits for the first scan). The same thread rescans
// (`rescan_seconds`): new files appear once their mtime is `stable_seconds` old, removed files
// disappear, a changed file is a new file (new node ids); each change is announced through
// env.invalidator.
//
// Node ids: slot number (the file, 20 bits) << 44 | the view's local id (44 bits); local 0 is the
// original file. The source's root (id 1) lists each file's two entries with cookie 2 * slot
// (+ 1 for the folder), so a listing resumed after a rescan neither repeats nor skips a file.
//
// Opening a file also requires read access (checked against the caller) to every backing file
// it shows bytes of: the HDF5 file of the folder and the file that holds the dataset.
//
// Metrics (registered at Start, labelled env.source_label): daqfs_hdf5_units_read_total
// {path="fallback"} (dataset units read with H5Dread), daqfs_hdf5_read_errors_total (units that
// failed: a corrupt chunk, a missing virtual-dataset source or data file),
// daqfs_hdf5_open_files (HDF5 files open now), daqfs_hdf5_file_errors_total (files skipped:
// truncated, unreadable).
//
// Thread safety: every method may be called concurrently. Lock order: mu_ (slots) before
// scan_mu_; a view's own locks and H5Lock are taken with none of the backend's held.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/hdf5/hdf5_dataset_units.h"
#include "backends/hdf5/hdf5_file_pool.h"
#include "backends/hdf5/hdf5_file_view.h"
#include "backends/hdf5/hdf5_views.h"
#include "fs/backend.h"
#include "fs/backend_env.h"
#include "fs/defaults.h"
#include "fs/log.h"

namespace daqfs {

struct Hdf5SourceOptions {
  uint64_t text_max = kDefaultHdf5TextMax;  // bytes: strings up to this are text files
  double rescan_seconds = 0;                // 0 = never look again
  double stable_seconds = 5;                // with rescan: skip files changed more recently
  bool background = false;                  // scan on a thread started by Start() instead of in it
  size_t max_open_files = kDefaultHdf5OpenFiles;  // HDF5 files kept open while unused
  DirectReads direct_reads = DirectReads::kAuto;  // cold chunks read around the page cache
  // Extra entries. Null: the image-stack views (hdf5_stack_views.h) unless `stack_views` is
  // false, with frames/NNNNNN.raw beside each .tif when `raw_frames`.
  std::shared_ptr<Hdf5Views> views;
  bool stack_views = true;
  bool raw_frames = false;
};

class Hdf5Backend final : public Backend {
 public:
  // Finds the HDF5 files named by `path`; fails only when `path` names nothing usable (missing,
  // unreadable). Opens none with libhdf5 (Start scans them).
  static Result<std::unique_ptr<Hdf5Backend>> Create(const std::string& source_name,
                                                     const std::string& path,
                                                     Hdf5SourceOptions options = {});
  ~Hdf5Backend() override;  // Stop()

  Status Start(BackendEnv& env) override;
  // Ends the scanning thread and closes the HDF5 files not in use. Requests afterwards still
  // answer (sources already open keep reading).
  void Stop() override;

  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;
  Result<std::vector<std::string>> ListXattr(NodeId node) override;
  Result<std::string> GetXattr(NodeId node, const std::string& name) override;
  std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max) override;
  uint64_t TotalBytes() const override;
  uint64_t TotalNodes() const override;

  // Files found (shown as original files), and of them those shown as folders.
  size_t file_count() const;
  size_t folder_count() const;
  // Blocks until the first scan is done and the scanner is idle (tests). Only after Start.
  void WaitScanned();
  // The file pool (tests: how many files are open).
  const Hdf5FilePool& pool() const { return *pool_; }
  // The shared units source of a dataset (one object per dataset and layout while in use).
  std::shared_ptr<Hdf5DatasetUnits> UnitsFor(
      std::shared_ptr<const Hdf5DatasetRef> ref,
      Hdf5DatasetUnits::Layout layout = Hdf5DatasetUnits::Layout::kAuto);

  struct Slot;  // one HDF5 file

 private:
  Hdf5Backend() = default;
  void Discover(bool initial);
  void ScanPending();
  void ScannerLoop();
  std::shared_ptr<Slot> SlotOf(NodeId id) const;
  std::shared_ptr<Hdf5FileView> ViewOf(const std::shared_ptr<Slot>& slot);
  void WaitFirstScan() const;
  Attr RootAttr() const;
  Status CheckAccess(const Caller& caller, const std::vector<std::string>& files) const;
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(NodeId node);

  std::string name_;
  std::string path_;
  Hdf5SourceOptions options_;
  struct stat root_st_ {};
  bool root_stat_ok_ = false;

  std::shared_ptr<Hdf5FilePool> pool_;
  std::shared_ptr<Hdf5ReadCounters> counters_ = std::make_shared<Hdf5ReadCounters>();
  std::shared_ptr<Hdf5FileView::Env> view_env_;
  Counter own_file_errors_;
  Counter* file_errors_ = &own_file_errors_;
  NullInvalidator null_invalidator_;
  Invalidator* invalidator_ = &null_invalidator_;
  SystemClock system_clock_;
  const Clock* clock_ = &system_clock_;

  mutable std::shared_mutex mu_;  // guards slots_, by_name_, by_path_, next_slot_
  std::map<uint32_t, std::shared_ptr<Slot>> slots_;
  // Root entry name -> (slot, is the folder).
  std::map<std::string, std::pair<uint32_t, bool>> by_name_;
  std::map<std::string, uint32_t> by_path_;  // canonical path -> slot
  uint32_t next_slot_ = 1;

  mutable std::mutex scan_mu_;  // guards scanned_, stop_, busy_
  mutable std::condition_variable scan_cv_;
  bool scanned_ = false;  // the first scan is done
  bool stop_ = false;
  bool busy_ = false;
  bool started_ = false;
  std::thread scanner_;

  RateLimitedLog broken_log_;
  std::set<std::string>
      skipped_logged_;  // used by the discovering thread only  // opens of links that lead nowhere

  std::mutex units_mu_;  // guards units_
  std::unordered_map<std::string, std::weak_ptr<Hdf5DatasetUnits>> units_;
};

}  // namespace daqfs
