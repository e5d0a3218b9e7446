// Mount point checks made before mounting, and the mount table as the kernel reports it.
//
// PrepareMountPoint turns the mistakes an admin or a restarted service makes into clear errors,
// and recovers the one case a restart must survive:
//   - a folder that is already a live mount point is refused (daqfs never stacks mounts);
//   - a dead daqfs mount (its daemon was killed: "Transport endpoint is not connected") is
//     detached lazily and replaced, with a log line, so systemd's Restart= or a Slurm prolog
//     recovers by itself; a dead mount of another filesystem is refused;
//   - a folder that is not empty is refused unless allowed (-o nonempty, as libfuse 2 did):
//     the mount would hide its files.
// The mount table is read with libmount from /proc/self/mountinfo. Paths are compared as
// canonical absolute paths; the mount point itself is never stat'ed before we know it is not a
// dead mount (resolving it would fail), only its parent is resolved.
//
// Thread safety: plain functions; they read the process's mount table at the time of the call.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "fs/status.h"

namespace daqfs {

struct MountEntry {
  std::string target;  // canonical mount point
  std::string fstype;  // "fuse.daqfs", "tmpfs", ...
  std::string source;  // the mount's source ("daqfs" for ours)
  dev_t devno = 0;     // st_dev of the mounted filesystem
};

// The topmost mount whose target is exactly `canonical_path`, if any.
std::optional<MountEntry> FindMount(const std::string& canonical_path);

// `path` as a canonical absolute path, resolving only its parent folder (relative paths against
// the working directory). Errors: the parent cannot be resolved (errno status naming it).
Result<std::string> CanonicalMountPoint(const std::string& path);

// True for a mount daqfs made (fstype fuse.daqfs).
bool IsDaqfsMount(const MountEntry& m);

// Checks `path` as described above and returns its canonical form, ready to mount on. Errors
// (Code::kUnavailable, message naming the folder and what to do): missing or not a folder,
// already a live mount point, a dead mount that is not daqfs's or cannot be detached, not empty
// while `allow_nonempty` is false.
Result<std::string> PrepareMountPoint(const std::string& path, bool allow_nonempty);

}  // namespace daqfs
