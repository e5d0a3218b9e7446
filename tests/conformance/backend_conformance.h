// The backend conformance suite: what every Backend must do, run on every flavour of every
// source type (plain tar, zstd members, .tar.zst ..., later hdf5, tiff, stream).
//
// A flavour plugs in by implementing ConformanceFlavour (make test data, make a started
// backend over it, optionally grow the source) and registering it with
// INSTANTIATE_TEST_SUITE_P(Name, BackendConformanceTest, ::testing::Values(...)) in its own
// test file. The suite then checks, through the flavour's backend:
//  - Lookup of every expected path; a missing name is kNotFound twice (negative lookups stable);
//  - ReadDir resumable: listing in pieces of 1, 2 and 3 entries equals the whole listing, and
//    while the folder grows (Grow between pieces) no entry present throughout is lost or repeated;
//  - GetAttr sizes equal the bytes read;
//  - reads at 0 / middle / end / past end and whole files in odd pieces through the real read
//    path (Vfs + CachedReadPath + MemoryBlockCache + ThreadPool), for every cache policy;
//  - concurrent readers at random offsets byte-equal to the expected bytes;
//  - every decorator (ForwardingSource, LatencySource 0 ms, FaultySource without faults,
//    WrappingBackend) keeps the block layout (BlockCount, BlockRangeOf, BlockOf, GroupOf) and
//    the bytes; resident blocks (ByteSource::ResidentBlock) hold exactly their block's bytes.
// Expected bytes come from the files before packing, never from daqfs itself.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "fs/backend.h"

namespace daqfs::testing {

class ConformanceFlavour {
 public:
  virtual ~ConformanceFlavour() = default;
  // Short name for test names ([A-Za-z0-9_]).
  virtual std::string Name() const = 0;
  // Writes the flavour's source data under `dir` (an empty folder) and returns every file the
  // backend must show: path from the backend root ('/'-separated) -> its bytes, taken from the
  // data before packing. Should hold a file of several MiB, a small one, an empty one and one
  // in a sub-folder.
  virtual std::map<std::string, std::string> MakeData(const std::string& dir) = 0;
  // Creates and starts the backend over what MakeData wrote in `dir`. With `rescan` the backend
  // looks at its source again by itself, often (the growth test); errors fail the test.
  virtual Result<std::unique_ptr<Backend>> MakeBackend(const std::string& dir, bool rescan) = 0;
  // Called once the suite started a backend MakeBackend made (with the suite's environment),
  // before any test uses it: a flavour whose source feeds a running backend (a live stream's
  // publisher) sends its data here and returns once the backend shows it. Default: nothing.
  virtual void AfterStart(Backend& backend) { (void)backend; }
  // True when two backends over the same data name their decode units differently (a live
  // stream names a frame as that backend received it): the suite then compares two instances'
  // layouts and bytes, not their unit names. Default: false (names come from the data).
  virtual bool UnitNamesPerInstance() const { return false; }
  // True when some blocks or units of its files are in memory as they read
  // (ByteSource::ResidentBlock: a live stream's raw frames): the suite checks that it finds
  // some and that each holds its block's bytes. Default: false.
  virtual bool HasResidentBlocks() const { return false; }
  // Adds one more item (number `n`, from 1) to the source under `dir` and returns the name of
  // the entry it adds to the listing of GrowFolder() (the backend's root by default). Where the
  // source allows, the name should sort before the existing entries (an insertion ahead of a
  // reader's position: the hard case for readdir cookies). "" = this flavour cannot grow.
  virtual std::string Grow(const std::string& dir, int n) {
    (void)dir;
    (void)n;
    return "";
  }
  // The folder whose listing Grow adds to, from the backend root ('/'-separated; "" = the root
  // itself). A source whose root is fixed (an image stack's data.npy and frames/) grows a
  // folder inside it. Default: the root.
  virtual std::string GrowFolder() const { return ""; }
};

// Shared so GoogleTest can copy parameters.
using FlavourPtr = std::shared_ptr<ConformanceFlavour>;

// Test name of a parameter.
std::string FlavourName(const ::testing::TestParamInfo<FlavourPtr>& info);
// How GoogleTest prints a parameter: its name.
inline void PrintTo(const FlavourPtr& flavour, std::ostream* os) { *os << flavour->Name(); }

class BackendConformanceTest : public ::testing::TestWithParam<FlavourPtr> {
 protected:
  void SetUp() override;
  ConformanceFlavour& flavour() { return *GetParam(); }
  std::string dir_;
  std::map<std::string, std::string> expected_;
  std::shared_ptr<void> temp_;  // the TempDir holding dir_
};

}  // namespace daqfs::testing
