// Defaults that more than one part of daqfs needs: each is named once here and referred to by
// the configuration (fs/config.*), the parts that consume it (the FUSE adapter, the read path,
// the archive backend) and the daemon's wiring. configs/daqfs.example.ini documents them; its
// test (fs/config_test.cc) checks that the example shows these values.
//
// Thread safety: constants and pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace daqfs {

// [mount]
inline constexpr uint64_t kDefaultReadAheadKb = 4096;        // /sys/class/bdi/<dev>/read_ahead_kb
inline constexpr double kDefaultEntryTimeoutSeconds = 3600;  // immutable entries and attrs
inline constexpr unsigned kDefaultMaxBackground = 64;        // FUSE max_background
// Bytes that sequential readers keep behind them in the kernel's page cache (fs/drop_behind.h);
// 0 = off. A value that is not 0 must be at least kMinDropBehind.
inline constexpr uint64_t kDefaultDropBehind = 512ull << 20;
inline constexpr uint64_t kMinDropBehind = 16ull << 20;
// [mount] readdirplus: listings always carry attributes (true), or as the kernel guesses.
inline constexpr bool kDefaultReaddirplusAlways = true;
// FUSE worker threads when [mount] threads = 0: max(4, 2 x cores).
constexpr unsigned DefaultFuseThreads(unsigned cores) { return std::max(4u, 2 * cores); }

// [cache]
inline constexpr uint64_t kDefaultDiskCacheBytes = 64ull << 30;
inline constexpr uint64_t kDefaultPrefetchWindowBytes = 64ull << 20;
inline constexpr uint64_t kDefaultPrefetchBudgetBytes = 256ull << 20;
// Decode threads when [cache] decode_threads = 0: max(16, 2 x cores), so a source with high
// latency still has enough reads in flight while the cores decode.
constexpr unsigned DefaultDecodeThreads(unsigned cores) { return std::max(16u, 2 * cores); }

// Keys every [source] shares.
inline constexpr std::string_view kDefaultSourceCache = "auto";
// Every value of a source's `cache` key, in the order of cache/'s CachePolicy enum.
inline constexpr std::string_view kCacheModes[] = {"auto", "none", "memory", "disk"};
// Most calls into one source at once (reads, opens, lookups): a source whose storage stops
// answering holds at most this many FUSE workers and decode threads.
inline constexpr unsigned kDefaultMaxInflight = 16;
// Seconds a call waits for one of a full source's in-flight slots before it fails with EIO.
inline constexpr double kDefaultStuckTimeoutSeconds = 30;

// archive sources: a member NAME + this suffix stored zstd-compressed is shown as NAME.
inline constexpr std::string_view kDefaultStripSuffix = ".zst";

// hdf5 sources: scalars and strings whose text is at most this many bytes are text files.
inline constexpr uint64_t kDefaultHdf5TextMax = 4096;
// hdf5 sources: HDF5 files kept open while unused (the LRU of file handles).
inline constexpr size_t kDefaultHdf5OpenFiles = 64;

}  // namespace daqfs
