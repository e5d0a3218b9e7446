// daqfs: the daemon. Parses the command line, loads the configuration, builds the sources, mounts
// and serves. Everything with state lives in objects the tests can build themselves; this file
// only wires them.
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "cache/blob_store.h"
#include "cache/cached_read_path.h"
#include "cache/disk_block_cache.h"
#include "cache/memory_block_cache.h"
#include "cache/thread_pool.h"
#include "fs/config.h"
#include "fs/defaults.h"
#include "fs/fuse/fuse_server.h"
#include "fs/fuse/mount_point.h"
#include "fs/inflight_limit.h"
#include "fs/log.h"
#include "fs/source_decorators.h"
#include "fs/source_type.h"
#include "fs/unique_fd.h"
#include "fs/vfs.h"
#include "tools/daqfs_args.h"
#include "tools/source_types.h"

namespace daqfs {
namespace {

std::string Absolute(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/') return path;
  return base_dir + "/" + path;
}

std::string DirOf(const std::string& file) {
  char real[PATH_MAX];
  std::string abs = realpath(file.c_str(), real) ? std::string(real) : file;
  size_t slash = abs.find_last_of('/');
  return slash == std::string::npos ? "." : abs.substr(0, slash == 0 ? 1 : slash);
}

std::string Cwd() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

// Builds one source's Backend through its type, then the decorators every source gets: the
// simulated latency (tests, benchmarks) and, outside it, the in-flight limit.
Result<std::unique_ptr<Backend>> MakeBackend(const SourceSpec& spec) {
  Result<std::unique_ptr<Backend>> created = spec.source_type->Create(spec);
  if (!created.ok()) return created.status();
  std::unique_ptr<Backend> backend = std::move(*created);
  if (spec.simulate_latency_ms > 0) {
    auto latency = std::chrono::milliseconds(spec.simulate_latency_ms);
    LogWarn("source " + spec.name + ": simulate_latency_ms = " +
            std::to_string(spec.simulate_latency_ms) + " (benchmarks and tests only)");
    backend = std::make_unique<WrappingBackend>(
        std::move(backend), [latency](std::shared_ptr<ByteSource> s) {
          return std::shared_ptr<ByteSource>(
              std::make_shared<LatencySource>(std::move(s), latency));
        });
  }
  auto limit = std::make_shared<InflightLimit>(spec.name, spec.max_inflight, spec.stuck_timeout);
  return std::unique_ptr<Backend>(
      std::make_unique<InflightLimitBackend>(std::move(backend), std::move(limit)));
}

// The cache layer of one mount: decode pool, memory and SSD tiers, read path. Built after the
// daemon has forked (it owns threads and the cache folder's lock).
// Members are destroyed bottom-up: the pool's workers stop before the path and the caches
// their tasks use.
struct CacheLayer {
  std::unique_ptr<MemoryBlockCache> memory;
  std::unique_ptr<DiskBlockCache> disk;
  std::unique_ptr<DiskBlobStore> blobs;  // in the SSD tier's folder and budget; null without it
  // What each source's BackendEnv::blobs comes from (null results without an SSD tier). The
  // Vfs takes it at Start once BackendEnv is wired.
  BlobStoreFactory blob_stores = NoBlobStores();
  std::unique_ptr<CachedReadPath> path;
  std::unique_ptr<ThreadPool> pool;
  std::string ssd_off;  // why a configured SSD tier is not in use ("" = it is, or none was asked)
};

Result<CacheLayer> MakeCacheLayer(const Config& config, Metrics& metrics) {
  CacheLayer c;
  const CacheConfig& cc = config.cache;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // One computing worker more than the CPUs (from 2 on): a worker is also stalled in ways no
  // BlockingScope marks (a lock hand-off, a page fault, preempted by the reader or the
  // notifier), and one spare keeps the CPUs busy then. Measured on 2 cores, cold `cat
  // frames/*.tif` of 2000 HDF5 frames: 0.87 -> 0.94 of `cat data.npy` (medians of 5
  // interleaved runs), data.npy unchanged.
  const unsigned cpus = ThreadPool::UsableCpus();
  c.pool = std::make_unique<ThreadPool>(
      cc.decode_threads ? cc.decode_threads : DefaultDecodeThreads(cores),
      cpus >= 2 ? cpus + 1 : cpus);
  if (cc.memory > 0) c.memory = std::make_unique<MemoryBlockCache>(cc.memory, &metrics);
  if (cc.disk > 0 && !cc.dir.empty()) {
    DiskCacheOptions o;
    o.dir = cc.dir;
    o.budget_bytes = cc.disk;
    // Queued writes hold blocks the memory tier may already have dropped: a quarter of the
    // memory budget (8 MiB..256 MiB) keeps the daemon within memory + prefetch_budget + a
    // little, and lets the writer absorb bursts of fast sequential reads.
    o.write_queue_bytes = std::clamp<uint64_t>(cc.memory / 4, 8ull << 20, kMaxWriteQueueBytes);
    Result<std::unique_ptr<DiskBlockCache>> d = DiskBlockCache::Open(o, &metrics);
    if (d.ok()) {
      c.disk = std::move(*d);
      Result<std::unique_ptr<DiskBlobStore>> b =
          DiskBlobStore::Open(cc.dir, c.disk.get(), &metrics);
      if (b.ok()) {
        c.blobs = std::move(*b);
        c.blob_stores = c.blobs->Factory();
      } else {
        LogWarn("SSD blob store disabled: " + b.status().message());
      }
    } else if (d.status().code() == Code::kUnavailable) {
      return d.status();  // in use by another daemon: refuse
    } else {
      c.ssd_off = d.status().message();
      LogWarn("SSD cache disabled: " + c.ssd_off);
    }
  }
  ReadPathOptions ro;
  ro.prefetch_window_bytes = cc.prefetch_window;
  ro.prefetch_budget_bytes = cc.prefetch_budget;
  if (cc.prefetch_budget == 0) ro.prefetch_window_bytes = 0;
  c.path =
      std::make_unique<CachedReadPath>(ro, c.memory.get(), c.disk.get(), c.pool.get(), &metrics);
  for (size_t i = 0; i < config.sources.size(); ++i) {
    CachePolicy p = CachePolicy::kAuto;
    ParseCachePolicy(config.sources[i].cache, &p);
    // A live stream's frames are in its ring and spill already: auto keeps their decoded
    // copies in RAM only (an SSD copy of every frame would compete with the spill's writes).
    if (p == CachePolicy::kAuto && config.sources[i].type == "stream") p = CachePolicy::kMemory;
    c.path->SetPolicy(static_cast<uint32_t>(i + 1), p);
  }
  return c;
}

// Checks through its type that a source holds something to serve (a rescanned folder may be
// empty at start-up: only a warning, logged). Messages start "source NAME: " for a configured
// source; a --source has no name of its own. The summary is for --check-config.
Result<std::string> CheckSource(const SourceSpec& spec, bool named = true) {
  std::string prefix = named ? "source " + spec.name + ": " : "";
  Result<SourceCheck> c = spec.source_type->Check(spec);
  if (!c.ok()) return Status(c.status().code(), prefix + c.status().message());
  if (!c->warning.empty()) LogWarn(prefix + c->warning);
  return c->summary;
}

// Makes every source's paths absolute (relative to the configuration file's folder).
void ResolveSourcePaths(Config* config, const std::string& config_file) {
  std::string base = DirOf(config_file);
  for (SourceSpec& spec : config->sources) spec.source_type->ResolvePaths(*spec.options, base);
}

// --check-config: the whole configuration and every source, without mounting.
int CheckConfigFile(const std::string& file, const SourceTypeRegistry& types) {
  Result<Config> loaded = LoadConfig(file, types);
  if (!loaded.ok()) {
    std::fprintf(stderr, "daqfs: %s\n", loaded.status().message().c_str());
    return kExitConfig;
  }
  Config& config = *loaded;
  ResolveSourcePaths(&config, file);
  if (!config.mount.log.empty() && config.mount.log[0] == '/') {
    // The daemon appends to it (creating it if need be): it or its folder must be writable.
    const std::string& log = config.mount.log;
    std::string folder = log.substr(0, std::max<size_t>(log.find_last_of('/'), 1));
    bool exists = access(log.c_str(), F_OK) == 0;
    if (exists ? access(log.c_str(), W_OK) != 0 : access(folder.c_str(), W_OK | X_OK) != 0) {
      std::fprintf(stderr, "daqfs: %s: [mount] log: cannot write %s: %s\n", file.c_str(),
                   log.c_str(), std::strerror(errno));
      return kExitConfig;
    }
  }
  SetLogLevel(LogLevel::kError);  // the summary says it all
  int rc = kExitOk;
  std::string summary = file + ": configuration valid\n";
  summary += config.mount.mountpoint.empty()
                 ? "  mountpoint: not set (name MOUNTPOINT on the command line)\n"
                 : "  mountpoint: " + config.mount.mountpoint + "\n";
  summary +=
      "  cache dir: " + (config.cache.dir.empty() ? std::string("not set") : config.cache.dir) +
      (config.cache.disk == 0 ? " (SSD tier off)" : "") + "\n";
  for (const SourceSpec& spec : config.sources) {
    Result<std::string> checked = CheckSource(spec);
    if (!checked.ok()) {
      std::fprintf(stderr, "daqfs: %s\n", checked.status().message().c_str());
      rc = kExitSource;
      continue;
    }
    summary += "  source " + spec.name + " (" + spec.type + "): " + *checked + "\n";
  }
  if (rc == kExitOk) std::fputs(summary.c_str(), stdout);
  return rc;
}

// Tells systemd (Type=notify units) about the daemon's state; nothing without NOTIFY_SOCKET.
void Notify(const std::string& state) { sd_notify(0, state.c_str()); }

void RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int Main(int argc, char** argv) {
  DaqfsArgs args;
  if (int rc = ReportOutcome(ParseDaqfsArgs(argc, argv, &args)); rc >= 0) return rc;
  Result<SourceTypeRegistry> types = MakeSourceTypes();
  if (!types.ok()) {
    std::fprintf(stderr, "daqfs: %s\n", types.status().message().c_str());
    return kExitRuntime;
  }
  if (!args.check_config.empty()) return CheckConfigFile(args.check_config, *types);

  Config config;
  std::string mountpoint;
  if (!args.source.empty()) {
    // The type is sniffed from PATH: the first registered type that can serve it.
    // A ZeroMQ endpoint (tcp://HOST:PORT) is not a path.
    Result<SourceSpec> sniffed = types->Sniff(
        args.source.find("://") != std::string::npos ? args.source : Absolute(args.source, Cwd()));
    if (!sniffed.ok()) {
      std::fprintf(stderr, "daqfs: %s\n", sniffed.status().message().c_str());
      return kExitSource;
    }
    sniffed->name = "source";
    config.sources.push_back(std::move(*sniffed));
    // A quick one-source mount keeps its cache in memory unless told where the SSD folder is
    // (a shared default folder would let only one such mount start).
    config.cache.dir = args.cache_dir.empty() ? "" : Absolute(args.cache_dir, Cwd());
    if (args.cache_dir.empty()) config.cache.disk = 0;
    mountpoint = args.positional[0];
  } else {
    if (!args.cache_dir.empty()) {
      std::fprintf(stderr, "daqfs: --cache-dir goes with --source; set [cache] dir in %s\n",
                   args.positional[0].c_str());
      return kExitUsage;
    }
    Result<Config> loaded = LoadConfig(args.positional[0], *types);
    if (!loaded.ok()) {
      std::fprintf(stderr, "daqfs: %s\n", loaded.status().message().c_str());
      return kExitConfig;
    }
    config = std::move(*loaded);
    ResolveSourcePaths(&config, args.positional[0]);
    mountpoint = args.positional.size() == 2 ? args.positional[1] : config.mount.mountpoint;
    if (mountpoint.empty()) {
      std::fprintf(stderr,
                   "daqfs: no MOUNTPOINT: name it after %s or set [mount] mountpoint there\n",
                   args.positional[0].c_str());
      return kExitUsage;
    }
  }
  if (!args.log_level.empty() && !ParseLogLevel(args.log_level, &config.mount.log_level)) {
    std::fprintf(stderr, "daqfs: bad --log-level '%s'\n", args.log_level.c_str());
    return kExitUsage;
  }
  SetLogLevel(config.mount.log_level);
  if (config.mount.log == "syslog") UseSyslog(true);
  bool log_file = !config.mount.log.empty() && config.mount.log[0] == '/';
  // Why start-up failed goes where the command was run (the terminal, mount(8), the journal),
  // and into the log file too when there is one.
  UniqueFd console(log_file ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1);
  auto fail = [&](int code, const std::string& message) {
    if (console.valid()) {
      LogError(message);
      (void)WriteAll(console.get(), "daqfs: " + message + "\n", "the console");
    } else {
      std::fprintf(stderr, "daqfs: %s\n", message.c_str());
    }
    return code;
  };
  if (log_file) {
    if (Status s = LogToFile(config.mount.log); !s.ok()) {
      std::fprintf(stderr, "daqfs: [mount] log: %s\n", s.message().c_str());  // still stderr
      return kExitConfig;
    }
  }
  RaiseFileLimit();
  // Blocks are 1 MiB buffers allocated and freed at high rates by many threads. Kept in glibc's
  // arenas (below a fixed mmap threshold) a freed block is reused without page faults and
  // kernel zeroing; few arenas (4 and the main one) and a fixed trim threshold (64 MiB free at
  // the top of an arena) keep the freed memory bounded.
  // A live stream's received frames (ZeroMQ allocates each message; 4 and 16 MiB frames are
  // common) come from the arenas too, up to glibc's largest threshold (32 MiB): the memory of
  // frames that left the ring is what the next ones reuse, where a fresh mapping per frame
  // costs ZeroMQ's receiving thread a page fault and a zeroed page every 4 KiB (measured with
  // 4 MiB frames: 230-280 frames/s instead of 350-500 once the ring recycles). Nor is freed
  // memory handed back to the kernel below the ring's size (glibc's limit: 2 GiB - 1 per
  // arena): a finished series leaves the ring all at once, and the next one would otherwise
  // fault in fresh zeroed pages for all of its frames (a third of the receiving thread's time).
  // The price: the daemon's memory does not shrink after a peak (up to that much free per
  // arena stays, block cache memory included), which is what a ring of that size means anyway.
  const size_t streams =
      static_cast<size_t>(std::count_if(config.sources.begin(), config.sources.end(),
                                        [](const SourceSpec& s) { return s.type == "stream"; }));
  mallopt(M_MMAP_THRESHOLD, streams > 0 ? 32 << 20 : 4 << 20);
  const uint64_t keep_free =
      streams > 0 ? std::max<uint64_t>(config.cache.ring, 64 << 20) : uint64_t{64} << 20;
  mallopt(M_TRIM_THRESHOLD,
          static_cast<int>(std::min<uint64_t>(keep_free, std::numeric_limits<int>::max())));
  mallopt(M_ARENA_MAX, 4);

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  unsigned fuse_threads = config.mount.threads ? config.mount.threads : DefaultFuseThreads(cores);
  std::vector<Vfs::Source> sources;
  for (const SourceSpec& spec : config.sources) {
    if (Result<std::string> c = CheckSource(spec, args.source.empty()); !c.ok()) {
      return fail(kExitSource, c.status().message());
    }
    if (2 * spec.max_inflight >= fuse_threads) {
      LogInfo("source " + spec.name +
              ": twice max_inflight = " + std::to_string(2 * spec.max_inflight) +
              " (its slots and waiters) is not below the " + std::to_string(fuse_threads) +
              " FUSE threads: if its storage stops answering, the whole mount can wait for it");
    }
    Result<std::unique_ptr<Backend>> b = MakeBackend(spec);
    if (!b.ok()) return fail(kExitSource, b.status().message());
    sources.push_back(Vfs::Source{spec.name, std::move(*b)});
  }
  // After the sources: a dead mount is only replaced when everything else is in order.
  Result<std::string> prepared = PrepareMountPoint(mountpoint, args.nonempty);
  if (!prepared.ok()) return fail(kExitMount, prepared.status().message());
  mountpoint = *prepared;

  VfsOptions vo;
  vo.list_daqfs_xattrs = config.mount.list_daqfs_xattrs;
  vo.single_source = !args.source.empty();
  vo.uid = config.mount.uid;
  vo.gid = config.mount.gid;
  Vfs vfs(std::move(sources), vo);
  // Rendered when read, so that it shows where the log goes now (a daemon in the background
  // switches from stderr to syslog once the mount is ready).
  // What the mount runs with, not only what the file said: -o allow_other, the mount point.
  for (const std::string& o : args.mount_options) {
    if (o == "allow_other") config.mount.allow_other = true;
  }
  config.mount.mountpoint = mountpoint;
  // Set once the cache layer is built (before serving): why the SSD tier is off, if it is.
  auto ssd_off = std::make_shared<std::string>();
  vfs.control().AddFile("config", [config, ssd_off] {
    Config shown = config;
    shown.mount.log = LogTarget();
    std::string text = FormatConfig(shown);
    // Notes as comment lines short enough to read back (an INI line holds 199 bytes).
    auto note = [&text](std::string words) {
      while (!words.empty()) {
        size_t cut = words.size() <= 96 ? words.size() : words.rfind(' ', 96);
        if (cut == std::string::npos || cut == 0) cut = std::min<size_t>(words.size(), 96);
        text += "; " + words.substr(0, cut) + "\n";
        words.erase(0, cut);
        words.erase(0, words.find_first_not_of(' '));
      }
    };
    if (shown.mount.log != config.mount.log) {
      note("log: the configuration says " + config.mount.log +
           "; the daemon runs in the background without a terminal, so it logs to " +
           shown.mount.log);
    }
    if (!ssd_off->empty()) note("the SSD tier is off: " + *ssd_off);
    return text;
  });

  // Background mode: the parent waits until the child's mount is ready (or failed) and exits
  // with the child's verdict, so `mount` and scripts see a usable mount when we return.
  int status_pipe[2] = {-1, -1};
  if (!args.foreground) {
    if (pipe2(status_pipe, O_CLOEXEC) != 0) {
      std::perror("daqfs: pipe");
      return kExitRuntime;
    }
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("daqfs: fork");
      return kExitRuntime;
    }
    if (pid > 0) {
      close(status_pipe[1]);
      char code = kExitRuntime;
      ssize_t n;
      do n = read(status_pipe[0], &code, 1);
      while (n < 0 && errno == EINTR);
      return n == 1 ? code : kExitMount;
    }
    close(status_pipe[0]);
    setsid();
  }
  auto report = [&](int code) {
    if (status_pipe[1] >= 0) {
      char c = static_cast<char>(code);
      (void)WriteAll(status_pipe[1], std::string(1, c), "the status pipe");
      close(status_pipe[1]);
      status_pipe[1] = -1;
    }
  };

  Result<CacheLayer> cache = MakeCacheLayer(config, vfs.stats().metrics());
  if (!cache.ok()) {
    int code = fail(kExitCache, cache.status().message());  // the reason before the verdict
    report(code);
    return code;
  }
  *ssd_off = cache->ssd_off;
  // Whichever way Main returns from here on, the backends stop (and drop their blobs) before
  // the cache layer, which is destroyed before the Vfs, goes.
  struct StopFirst {
    Vfs& vfs;
    ~StopFirst() {
      vfs.Stop();
      vfs.SetReadPath(nullptr);
    }
  } stop_first{vfs};
  vfs.SetReadPath(cache->path.get());
  if (cache->disk || cache->memory) {
    vfs.SetSpace([memory = cache->memory.get(), disk = cache->disk.get(), dir = config.cache.dir,
                  budget = config.cache.disk] {
      // The SSD tier's budget and what is left of it (no more than its folder's filesystem has
      // free), else the memory tier's.
      FsSpace sp;
      if (disk) {
        DiskBlockCache::Counters dc = disk->counters();
        uint64_t used = dc.bytes + dc.external_bytes;  // blocks and blobs share the budget
        sp.total_bytes = budget;
        sp.free_bytes = budget > used ? budget - used : 0;
        struct statvfs fs;
        if (statvfs(dir.c_str(), &fs) == 0) {
          sp.free_bytes = std::min<uint64_t>(sp.free_bytes, uint64_t{fs.f_bavail} * fs.f_frsize);
        }
      } else {
        sp.total_bytes = memory->budget();
        uint64_t used = memory->bytes();
        sp.free_bytes = sp.total_bytes > used ? sp.total_bytes - used : 0;
      }
      return sp;
    });
  }
  VfsEnv venv;
  venv.blobs = cache->blob_stores;  // each source's blobs (saved indexes, spills); null: no SSD
  // Each source's small state: DIR/state-v1/NAME/ when the SSD tier's folder is in use.
  if (cache->disk) venv.state_root = config.cache.dir + "/state-v1";
  // [cache] ring: an equal share for each stream source.
  const uint64_t ring_share = streams > 0 ? config.cache.ring / streams : 0;
  venv.ring_bytes = [&config, ring_share](const std::string& name) -> uint64_t {
    for (const SourceSpec& s : config.sources) {
      if (s.name == name && s.type == "stream") return ring_share;
    }
    return 0;
  };
  if (Status s = vfs.Start(std::move(venv)); !s.ok()) {  // background indexing of the sources
    int code = fail(kExitSource, s.message());
    report(code);
    return code;
  }

  FuseOptions fo;
  fo.mountpoint = mountpoint;
  fo.mount_options = args.mount_options;
  fo.threads = fuse_threads;
  fo.max_background = config.mount.max_background;
  fo.read_ahead_kb = config.mount.read_ahead_kb;
  fo.drop_behind = config.mount.drop_behind;
  fo.readdirplus_always = config.mount.readdirplus_always;
  fo.entry_timeout = config.mount.entry_timeout;
  fo.allow_other = config.mount.allow_other;
  fo.debug = args.debug;
  fo.on_hangup = [] {
    Status s = ReopenLog();
    if (s.ok())
      LogInfo("SIGHUP: log reopened (" + LogTarget() + ")");
    else
      LogError("SIGHUP: cannot reopen the log: " + s.message());
  };
  FuseServer server(vfs, fo);
  if (Status s = server.Mount(); !s.ok()) {
    int code = fail(kExitMount, s.message());
    report(code);
    return code;
  }
  LogInfo("mounted on " + server.options().mountpoint);
  int ready_fd = args.ready_fd;
  bool background = !args.foreground;
  bool to_syslog = config.mount.log == "stderr" && background;
  std::string served = server.options().mountpoint;
  Status run = server.Run([&] {
    if (ready_fd >= 0) {
      (void)WriteAll(ready_fd, std::string_view("ready\n"), "--ready-fd");
      close(ready_fd);
    }
    Notify("READY=1\nSTATUS=serving " + served);
    if (background) {
      // Detach from the terminal: logs go to syslog from here on (a log file stays on fd 2).
      if (to_syslog) UseSyslog(true);
      int null = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (!log_file) dup2(null, 2);
        close(null);
      }
      if (chdir("/") != 0) LogWarn("chdir / failed");
    }
    report(kExitOk);
  });
  Notify("STOPPING=1");
  report(run.ok() ? kExitOk : kExitRuntime);
  if (!run.ok()) {
    LogError(run.message());
    vfs.Stop();
    return kExitRuntime;
  }
  LogInfo("unmounted " + server.options().mountpoint);
  vfs.Stop();  // the backends' threads end before the caches and blob stores go
  vfs.SetReadPath(nullptr);
  return kExitOk;
}

}  // namespace
}  // namespace daqfs

int main(int argc, char** argv) { return daqfs::Main(argc, argv); }
