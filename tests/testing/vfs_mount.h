// VfsMount: a Vfs over one started backend (the backend's root is the mount's root) with the
// real read path (a memory tier, the decode pool, prefetch), for tests that read files as the
// FUSE layer does, without FUSE. Header only: its users link daqfs_cache and daqfs_fs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cache/cached_read_path.h"
#include "cache/memory_block_cache.h"
#include "cache/thread_pool.h"
#include "fs/vfs.h"
#include "tests/testing/files.h"

namespace daqfs::testing {

struct VfsMount {
  // The backend is source 1 with `policy`; `prefetch_window` bytes read ahead, 32 MiB in flight
  // at most, `threads` decode threads.
  VfsMount(std::unique_ptr<Backend> backend, CachePolicy policy, uint64_t prefetch_window,
           unsigned threads)
      : pool(std::make_unique<ThreadPool>(threads, threads)) {
    ReadPathOptions o;
    o.prefetch_window_bytes = prefetch_window;
    o.prefetch_budget_bytes = 32ull << 20;
    path = std::make_unique<CachedReadPath>(o, &memory, nullptr, pool.get(), &metrics);
    path->SetPolicy(1, policy);
    std::vector<Vfs::Source> sources;
    sources.push_back({"s", std::move(backend)});
    VfsOptions vo;
    vo.single_source = true;
    vfs = std::make_unique<Vfs>(std::move(sources), vo);
    vfs->SetReadPath(path.get());
  }
  // The inode of `file` ("a/b/c", relative to the root), looked up part by part.
  Result<uint64_t> Ino(const std::string& file) {
    uint64_t ino = InodeTable::kRootIno;
    for (const std::string& part : SplitPath(file)) {
      Result<Vfs::Entry> e = vfs->Lookup(ino, part);
      if (!e.ok()) return e.status();
      ino = e->ino;
    }
    return ino;
  }
  // Waits (up to 10 s) until no prefetch is queued or in flight.
  void WaitIdle() {
    for (int i = 0; i < 10000 && (path->inflight_bytes() > 0 || !pool->idle()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Destroyed bottom-up: the Vfs, then the pool (its tasks use the path and cache), then the
  // path, then the cache.
  Metrics metrics;
  MemoryBlockCache memory{256ull << 20, nullptr};
  std::unique_ptr<CachedReadPath> path;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Vfs> vfs;
};

}  // namespace daqfs::testing
