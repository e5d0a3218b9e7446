// FuseServer: the libfuse3 low-level adapter. The only part of daqfs that includes
// <fuse_lowlevel.h>.
//
// Each request becomes one Vfs call and one fuse_reply_*; no lock is held across a reply. Every
// handler catches anything escaping (bad_alloc -> ENOMEM, anything else -> EIO, logged). Writes of
// every kind are refused with EROFS by the daemon itself, whatever the mount options.
//
// Start-up (Run): fuse_session_new -> fuse_session_mount -> the bdi of the new mount is read from
// /proc/self/mountinfo -> the multi-threaded loop starts; a helper thread waits until the kernel's
// INIT has been answered (a stat of the mount point blocks until then), writes
// /sys/class/bdi/<major:minor>/read_ahead_kb (the INIT reply would otherwise clamp it back), and
// then calls the readiness callback. SIGINT and SIGTERM end the loop; the mount is removed and Run
// returns 0. An external unmount also returns 0. SIGHUP does not unmount: it calls
// FuseOptions::on_hangup (reopen the log) on a thread of its own.
//
// Signals: libfuse 3.14's loop ends on SIGINT / SIGTERM only when the signal interrupts the
// thread that waits for the loop (Run's) or a FUSE worker (whose signals libfuse blocks). The
// kernel may hand a process's signal to any thread that does not block it, such as a decode
// pool's: libfuse's handler then sets the exit flag and wakes nobody, and the daemon keeps
// running (seen: 1 SIGTERM in about 40 under load). Run's handler runs libfuse's and, on any
// other thread, sends the signal on to Run's thread.
//
// The mount is always nosuid,nodev: "suid" and "dev" in the -o list (mount.fuse3 adds them for
// root) are dropped with one log line, never refused.
//
// Kernel notifications: while the loop runs, a FuseNotifier (fuse_notifier.h) is the Vfs's
// KernelNotifier; it is stopped when the loop ends, before the session is destroyed.
//
// Listings: an entry put into a readdir buffer is always sent (never an error reply after it);
// when the reply itself fails (interrupted), the lookup references of its readdirplus entries
// are given back.
//
// Thread safety: one FuseServer per mount; Run() is called once.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "fs/defaults.h"
#include "fs/drop_behind.h"
#include "fs/fuse/fuse_notifier.h"
#include "fs/status.h"
#include "fs/vfs.h"

struct fuse_session;

namespace daqfs {

struct FuseOptions {
  std::string mountpoint;
  std::vector<std::string> mount_options;    // the -o list, split at commas
  unsigned threads = DefaultFuseThreads(4);  // maximum worker threads (the daemon: by cores)
  unsigned max_background = kDefaultMaxBackground;
  uint64_t read_ahead_kb = kDefaultReadAheadKb;         // 0 = leave the kernel's default
  double entry_timeout = kDefaultEntryTimeoutSeconds;   // seconds, for immutable content
  bool allow_other = false;                             // adds allow_other + default_permissions
  bool debug = false;                                   // libfuse's request trace
  uint64_t drop_behind = kDefaultDropBehind;            // fs/drop_behind.h; 0 = off
  bool readdirplus_always = kDefaultReaddirplusAlways;  // false: the kernel's READDIRPLUS_AUTO
  std::function<void()> on_hangup;                      // called on SIGHUP (from a helper thread)
};

class FuseServer {
 public:
  FuseServer(Vfs& vfs, FuseOptions options);
  ~FuseServer();
  FuseServer(const FuseServer&) = delete;
  FuseServer& operator=(const FuseServer&) = delete;

  // Mounts. Errors: Code::kUnavailable with libfuse's reason (bad option, mount refused).
  Status Mount();
  // Serves requests until unmounted or signalled. `ready` is called once, from a helper thread,
  // after the kernel's INIT is answered and the read-ahead is set. Returns ok on a clean end.
  Status Run(const std::function<void()>& ready);

  Vfs& vfs() { return vfs_; }
  const FuseOptions& options() const { return options_; }
  // The page-cache drop-behind of sequential readers while the loop runs (null when off).
  DropBehind* drop_behind() { return drop_behind_.get(); }
  // Files the kernel holds open (its handles): an unmount may end the loop before the kernel's
  // last releases arrive, and Run() then releases what is left (sources, indexes, cached
  // blocks they pin) before the backends stop.
  void Opened(OpenFile* file);
  // The kernel released `file`: it is deleted.
  void Released(OpenFile* file);

 private:
  std::string FindBdi() const;
  void SetReadAhead(const std::string& bdi) const;
  void StopNotifier();

  Vfs& vfs_;
  FuseOptions options_;
  ::fuse_session* se_ = nullptr;
  bool mounted_ = false;
  bool signals_set_ = false;
  std::string bdi_;
  std::unique_ptr<FuseNotifier> notifier_;
  std::unique_ptr<DropBehind> drop_behind_;  // while the loop runs, if on
  std::mutex open_mu_;
  std::unordered_set<OpenFile*> open_files_;  // owned; see Opened()
};

}  // namespace daqfs
