#include "tools/daqfs_args.h"

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "fs/version.h"

namespace daqfs {

const char* const kDaqfsUsage =
    R"(usage: daqfs [-f] [-d] [-o OPTIONS] [--ready-fd N] CONFIG.ini [MOUNTPOINT]
       daqfs [-f] [-d] [-o OPTIONS] [--ready-fd N] --source PATH MOUNTPOINT
       daqfs --check-config CONFIG.ini

Mounts facility data (tar archives, HDF5 and NeXus files, TIFF series, live ZeroMQ detector
streams) read-only at MOUNTPOINT. With CONFIG.ini, every [source NAME] section becomes a folder
NAME at the mount root, and MOUNTPOINT may be left out when the file sets [mount] mountpoint; with
--source, the root is that one source (type detected from PATH: an archive, a folder of *.tar /
*.tar.zst / *.tar.gz / *.tar.xz / *.tar.bz2 / *.tar.lz4 files, an HDF5 file, a folder of HDF5
files, a folder of TIFF files or a multi-page TIFF (one image stack), a quoted glob, or a stream
endpoint tcp://HOST:PORT, received as dectris-stream2). Options may come before or after the
positional arguments; -- ends them.

The mount is always nosuid,nodev (suid and dev options are dropped, with a log line) and never
shows setuid or setgid bits. With allow_other, the kernel checks modes (default_permissions) and
opening a file also needs read access, at that moment, to the backing file it comes from.

options:
  -f                 stay in the foreground (default: detach once the mount is ready)
  -d                 foreground plus libfuse's request trace on stderr
  -o OPT[,OPT...]    mount options: ro, allow_other (adds default_permissions), nonempty (mount
                     over a folder that holds files), ... as mount.fuse3 passes them from
                     /etc/fstab; suid and dev are ignored
  --source PATH      serve one source without a configuration file
  --ready-fd N       write "ready\n" to file descriptor N once the mount serves requests
  --cache-dir DIR    with --source: keep the SSD cache and archive indexes in DIR (without
                     it a --source mount caches in memory only)
  --log-level L      error | warn | info | debug (overrides [mount] log_level)
  --check-config F   check configuration F and its sources without mounting; prints a summary
  -h, --help         this text
  -V, --version      version

Refused before mounting: a MOUNTPOINT that is already a mount point (exit 4), one that is not
empty (exit 4, unless -o nonempty), a source that holds nothing daqfs can serve (exit 3). A dead
daqfs mount left by a killed daemon ("Transport endpoint is not connected") is detached and
replaced. Under systemd (NOTIFY_SOCKET set), READY=1 is sent once the mount answers. SIGHUP
reopens the log file ([mount] log = /path); SIGINT and SIGTERM unmount.

/etc/fstab:  /etc/daqfs.ini  /mnt/daq  fuse.daqfs  ro,allow_other  0 0

exit status: 0 clean unmount (fusermount3 -u, umount, SIGINT, SIGTERM) or configuration valid;
1 bad command line; 2 bad configuration; 3 a source cannot be opened or holds nothing to serve;
4 mounting failed or the mount point is unusable; 5 FUSE loop failed; 6 the cache folder is in
use by another daqfs.
)";

namespace {

void SplitOptions(const std::string& list, std::vector<std::string>* out, bool* nonempty) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string o = list.substr(pos, comma - pos);
    // Options that belong to mount(8) or fstab, not to the kernel or libfuse.
    bool skip = o.empty() || o == "defaults" || o == "auto" || o == "noauto" || o == "nofail" ||
                o == "user" || o == "users" || o == "_netdev" || o.rfind("x-", 0) == 0 ||
                o.rfind("comment=", 0) == 0;
    if (o == "nonempty")
      *nonempty = true;  // libfuse 3 has no such option: daqfs checks itself
    else if (!skip)
      out->push_back(o);
    pos = comma + 1;
  }
}

enum Opt {
  kForeground,
  kDebug,
  kMountOptions,
  kSource,
  kReadyFd,
  kCacheDir,
  kCheckConfig,
  kLogLevel,
  kHelp,
  kVersion
};
constexpr CliOption kOptions[] = {
    {nullptr, 'f', false, kForeground},
    {nullptr, 'd', false, kDebug},
    {nullptr, 'o', true, kMountOptions},
    {"source", 0, true, kSource},
    {"ready-fd", 0, true, kReadyFd},
    {"cache-dir", 0, true, kCacheDir},
    {"check-config", 0, true, kCheckConfig},
    {"log-level", 0, true, kLogLevel},
    {"help", 'h', false, kHelp},
    {"version", 'V', false, kVersion},
};

CliOutcome Usage(const std::string& message) {
  return CliOutcome::Exit(kExitUsage, "", "daqfs: " + message + "\n" + kDaqfsUsage);
}

}  // namespace

CliOutcome ParseDaqfsArgs(int argc, const char* const* argv, DaqfsArgs* a) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv, kOptions);
  // Options act in order, as written: --help before a bad option still prints the help.
  for (const auto& [id, v] : parsed.options) {
    switch (id) {
      case kHelp:
        return CliOutcome::Exit(kExitOk, kDaqfsUsage, "");
      case kVersion:
        return CliOutcome::Exit(kExitOk, std::string("daqfs ") + DaqfsVersion() + "\n", "");
      case kForeground:
        a->foreground = true;
        break;
      case kDebug:
        a->foreground = a->debug = true;
        break;
      case kMountOptions:
        SplitOptions(v, &a->mount_options, &a->nonempty);
        break;
      case kSource:
        a->source = v;
        break;
      case kReadyFd: {
        char* end;
        long fd = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || fd < 0 || fd > INT_MAX) {
          return CliOutcome::Exit(kExitUsage, "", "daqfs: bad --ready-fd '" + v + "'\n");
        }
        a->ready_fd = static_cast<int>(fd);
        break;
      }
      case kCacheDir:
        a->cache_dir = v;
        break;
      case kCheckConfig:
        a->check_config = v;
        break;
      case kLogLevel:
        a->log_level = v;
        break;
    }
  }
  switch (parsed.error) {
    case ParsedCommandLine::Error::kNone:
      break;
    case ParsedCommandLine::Error::kUnknownOption:
      return Usage("unknown option '" + parsed.bad + "'");
    case ParsedCommandLine::Error::kMissingValue:
      return Usage(parsed.bad + " needs a value");
    case ParsedCommandLine::Error::kUnexpectedValue:
      return Usage(parsed.bad + " takes no value");
  }
  a->positional = parsed.arguments;
  if (!a->check_config.empty()) {
    if (!a->positional.empty() || !a->source.empty()) {
      return Usage("--check-config takes only the configuration file");
    }
    return CliOutcome::Run();
  }
  bool ok = a->source.empty() ? (a->positional.size() == 1 || a->positional.size() == 2)
                              : a->positional.size() == 1;
  if (!ok) {
    return Usage(std::string("expected ") +
                 (a->source.empty() ? "CONFIG.ini [MOUNTPOINT]" : "MOUNTPOINT (with --source)"));
  }
  // --ready-fd must name a descriptor open for writing: a bad one found after mounting would
  // leave a mount nobody was told about.
  if (a->ready_fd >= 0) {
    int fl = fcntl(a->ready_fd, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
      return CliOutcome::Exit(
          kExitUsage, "",
          "daqfs: --ready-fd " + std::to_string(a->ready_fd) + ": " +
              (fl < 0 ? "not an open file descriptor" : "not open for writing") + "\n");
    }
  }
  return CliOutcome::Run();
}

}  // namespace daqfs
