// HDF5 test data: files generated with Debian's /usr/bin/python3 + h5py (make_hdf5_samples.py
// beside this file: an NXmx-like master with external links, data files, virtual datasets, and
// what daqfs must show for them), Python snippets for one-off files, and the real samples in
// ../shared/data/hdf5 (the CMake variable DAQFS_SAMPLE_DATA).
//
// Failures (python missing, a script failing) are GoogleTest failures. Reentrant.
#pragma once

#include <map>
#include <string>

namespace daqfs::testing {

// Writes make_hdf5_samples.py's files into dir/src (with `big`: frames of 1 MiB) and returns
// dir/expected as path (from the source root) -> bytes: every file daqfs must show, with its
// content.
std::map<std::string, std::string> MakeHdf5Samples(const std::string& dir, bool big = false);

// Runs tools/make_eiger_dataset.py OUTDIR ARGS (an EIGER-layout master and its data files);
// true when it exited 0, else a test failure showing its output. `args` are shell words
// ("--frames 7 --per-file 3 --dtype uint8").
bool MakeEigerDataset(const std::string& outdir, const std::string& args);

// Runs `code` with /usr/bin/python3 in folder `dir` (h5py and numpy importable); true when it
// exited 0, else a test failure showing its output.
bool RunPython(const std::string& code, const std::string& dir);

// The folder of the real HDF5 samples (DAQFS_SAMPLE_DATA/hdf5); a test failure when missing.
std::string RealHdf5Samples();

// Every regular file under `dir` as path relative to it -> bytes.
std::map<std::string, std::string> ReadTree(const std::string& dir);

}  // namespace daqfs::testing
