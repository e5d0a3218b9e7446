// Files and folders for tests: a temp folder removed with its content (mounts inside it are
// detached first), whole-file reads and writes, and shell helpers.
//
// Every helper reports a failure through GoogleTest (ADD_FAILURE) instead of returning an
// error, so a test whose setup broke fails rather than testing nothing. Thread safety: the
// functions are reentrant; a TempDir is owned by one test.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/status.h"

namespace daqfs::testing {

// A fresh folder /tmp/daqfs-<prefix>-XXXXXX (mode 0755, so other users can reach mounts inside
// it). The destructor lazily detaches every mount below it (a test that failed half-way) and
// removes the folder with its content. Non-copyable.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole content of `path`; "" when it cannot be read (callers compare the content, so a
// missing file fails the comparison).
std::string Slurp(const std::string& path);
std::vector<uint8_t> SlurpBytes(const std::string& path);
// Creates or replaces `path` with `data`, making missing parent folders; a failure is a test
// failure.
void WriteFile(const std::string& path, std::string_view data);
void WriteFile(const std::string& path, std::span<const uint8_t> data);
// Creates `path` and its parents (like mkdir -p).
void MakeDirs(const std::string& path);

// Quotes `s` for bash ('...').
std::string ShellQuote(const std::string& s);

// The non-empty parts of a slash-separated path ("a//b/" -> a, b).
std::vector<std::string> SplitPath(const std::string& path);
// Runs `command` with bash -c; returns its exit code (-1 when killed by a signal).
int Shell(const std::string& command);
// True when `tool` is on PATH.
bool HaveTool(const std::string& tool);

// Reads `bytes` at any offset, as the decoders' read functions do (CompressedReadFn): fills what
// it can, short only at the end. `bytes` must outlive the reader.
std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> MemoryReader(
    std::span<const uint8_t> bytes);
std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> MemoryReader(
    std::string_view bytes);

// Deterministic test bytes: 12-bit samples in 16-bit little-endian words around 2048 (compresses
// to ~0.7 with zstd, like beamline detector data), a function of `seed` and the position.
std::string SampleData(uint64_t seed, size_t size);

}  // namespace daqfs::testing
