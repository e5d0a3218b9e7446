#include "tests/testing/hdf5_samples.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>

#include "tests/testing/files.h"

#ifndef DAQFS_SOURCE_DIR
#error "DAQFS_SOURCE_DIR must be defined (tests/CMakeLists.txt)"
#endif
#ifndef DAQFS_SAMPLE_DATA
#error "DAQFS_SAMPLE_DATA must be defined (tests/CMakeLists.txt)"
#endif

namespace daqfs::testing {
namespace {

// Runs a shell command, returning its exit code and output.
int Capture(const std::string& command, std::string* output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void Walk(const std::string& root, const std::string& rel,
          std::map<std::string, std::string>* out) {
  DIR* d = opendir((root + "/" + rel).c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (lstat((root + "/" + r).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      Walk(root, r, out);
    } else if (S_ISREG(st.st_mode)) {
      (*out)[r] = Slurp(root + "/" + r);
    }
  }
  closedir(d);
}

}  // namespace

std::map<std::string, std::string> MakeHdf5Samples(const std::string& dir, bool big) {
  std::string output;
  std::string cmd =
      "/usr/bin/python3 " +
      ShellQuote(std::string(DAQFS_SOURCE_DIR) + "/tests/testing/make_hdf5_samples.py") + " " +
      ShellQuote(dir) + (big ? " --big" : "");
  int rc = Capture(cmd, &output);
  EXPECT_EQ(rc, 0) << cmd << "\n" << output;
  return ReadTree(dir + "/expected");
}

bool MakeEigerDataset(const std::string& outdir, const std::string& args) {
  std::string output;
  std::string cmd = "/usr/bin/python3 " +
                    ShellQuote(std::string(DAQFS_SOURCE_DIR) + "/tools/make_eiger_dataset.py") +
                    " " + ShellQuote(outdir) + " " + args;
  int rc = Capture(cmd, &output);
  EXPECT_EQ(rc, 0) << cmd << "\n" << output;
  return rc == 0;
}

bool RunPython(const std::string& code, const std::string& dir) {
  std::string script = dir + "/.snippet.py";
  WriteFile(script, code);
  std::string output;
  int rc = Capture("cd " + ShellQuote(dir) + " && /usr/bin/python3 " + ShellQuote(script), &output);
  std::remove(script.c_str());
  EXPECT_EQ(rc, 0) << code << "\n" << output;
  return rc == 0;
}

std::string RealHdf5Samples() {
  std::string dir = std::string(DAQFS_SAMPLE_DATA) + "/hdf5";
  struct stat st;
  EXPECT_EQ(stat((dir + "/PROVENANCE.md").c_str(), &st), 0)
      << "the real HDF5 samples are missing: " << dir << " (DAQFS_SAMPLE_DATA)";
  return dir;
}

std::map<std::string, std::string> ReadTree(const std::string& dir) {
  std::map<std::string, std::string> out;
  Walk(dir, "", &out);
  return out;
}

}  // namespace daqfs::testing
