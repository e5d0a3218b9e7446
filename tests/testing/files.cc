#include "tests/testing/files.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace daqfs::testing {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/daqfs-" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", tmpl.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = tmpl;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  // Never delete through a live mount: detach whatever a failed test left mounted inside
  // (deepest first, as /proc/mounts lists parents before children).
  std::vector<std::pair<std::string, std::string>> mounts;  // (mount point, type)
  std::ifstream in("/proc/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string dev, mnt, type;
    ls >> dev >> mnt >> type;
    if (mnt.rfind(path_ + "/", 0) == 0) mounts.emplace_back(mnt, type);
  }
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->second.rfind("fuse", 0) == 0) {
      Shell("fusermount3 -u -z " + ShellQuote(it->first) + " 2>/dev/null");
    } else {
      umount2(it->first.c_str(), MNT_DETACH);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint8_t> SlurpBytes(const std::string& path) {
  std::string s = Slurp(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

void WriteFile(const std::string& path, std::string_view data) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) MakeDirs(parent.string());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

void WriteFile(const std::string& path, std::span<const uint8_t> data) {
  WriteFile(path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) ADD_FAILURE() << "mkdir -p " << path << ": " << ec.message();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

int Shell(const std::string& command) {
  int st = std::system(("bash -c " + ShellQuote(command)).c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool HaveTool(const std::string& tool) {
  return Shell("command -v " + ShellQuote(tool) + " >/dev/null 2>&1") == 0;
}

std::string SampleData(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 2) {
    uint16_t v = static_cast<uint16_t>(2048 + static_cast<int>(rng() % 400) - 200) & 0x0fff;
    out[i] = static_cast<char>(v & 0xff);
    if (i + 1 < size) out[i + 1] = static_cast<char>(v >> 8);
  }
  return out;
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (slash > pos) out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> MemoryReader(
    std::span<const uint8_t> bytes) {
  return [bytes](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
    if (off >= bytes.size()) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), bytes.size() - off);
    std::memcpy(out.data(), bytes.data() + off, n);
    return n;
  };
}

std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)> MemoryReader(
    std::string_view bytes) {
  return MemoryReader(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace daqfs::testing
