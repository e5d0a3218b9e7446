#include "tools/source_types.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "backends/archive/archive_source_type.h"
#include "backends/hdf5/hdf5_source_type.h"
#include "backends/stream/stream_source_type.h"
#include "backends/tiff/tiff_source_type.h"
#include "fs/config.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

SourceTypeRegistry Types() {
  Result<SourceTypeRegistry> types = MakeSourceTypes();
  EXPECT_TRUE(types.ok()) << types.status().ToString();
  return types.ok() ? std::move(*types) : SourceTypeRegistry{};
}

TEST(SourceTypesTest, EveryTypeIsRegisteredInSniffOrder) {
  EXPECT_EQ(Types().Names(), (std::vector<std::string>{"archive", "hdf5", "tiff", "stream"}));
}

TEST(SourceTypesTest, SniffPicksTheTypeByWhatThePathHolds) {
  testing::TempDir dir;
  testing::MakeDirs(dir / "tars");
  std::ofstream(dir / "tars/a.tar", std::ios::binary) << std::string(1024, '\0');
  ASSERT_TRUE(testing::RunPython("import h5py\nwith h5py.File('m.h5', 'w') as f: f['x'] = 1\n",
                                 dir.path()));
  SourceTypeRegistry types = Types();
  Result<SourceSpec> tar = types.Sniff(dir / "tars");
  ASSERT_TRUE(tar.ok()) << tar.status().ToString();
  EXPECT_EQ(tar->type, "archive");
  Result<SourceSpec> h5 = types.Sniff(dir / "m.h5");
  ASSERT_TRUE(h5.ok()) << h5.status().ToString();
  EXPECT_EQ(h5->type, "hdf5");
  testing::MakeDirs(dir / "scan");
  ASSERT_TRUE(testing::RunPython(
      "import numpy as np, tifffile\ntifffile.imwrite('scan/p_1.tif', np.zeros((4, 4), 'u2'))\n",
      dir.path()));
  Result<SourceSpec> tiff = types.Sniff(dir / "scan");
  ASSERT_TRUE(tiff.ok()) << tiff.status().ToString();
  EXPECT_EQ(tiff->type, "tiff");
  std::ofstream(dir / "notes.txt") << "hello\n";
  Result<SourceSpec> none = types.Sniff(dir / "notes.txt");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("not an HDF5 file"), std::string::npos)
      << none.status().message();
}

TEST(SourceTypesTest, ExampleConfigParsesToTheDefaults) {
  std::string path = std::string(DAQFS_SOURCE_DIR) + "/configs/daqfs.example.ini";
  Result<Config> c = LoadConfig(path, Types());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Config defaults;
  ASSERT_EQ(c->sources.size(), 4u);
  const SourceSpec& s = c->sources[0];
  EXPECT_EQ(s.name, "mwa");
  const auto& archive = static_cast<const ArchiveOptions&>(*s.options);
  EXPECT_EQ(archive.path, "/data/mwa");
  EXPECT_FALSE(archive.merged);
  EXPECT_EQ(archive.strip_suffix, kDefaultStripSuffix);
  SourceSpec d;
  EXPECT_EQ(s.cache, d.cache);
  EXPECT_EQ(s.rescan, d.rescan);
  EXPECT_EQ(s.simulate_latency_ms, d.simulate_latency_ms);
  EXPECT_EQ(s.max_inflight, d.max_inflight);
  EXPECT_EQ(s.stuck_timeout, d.stuck_timeout);
  const SourceSpec& h = c->sources[1];
  EXPECT_EQ(h.name, "eiger");
  EXPECT_EQ(h.type, "hdf5");
  const auto& hdf5 = static_cast<const Hdf5Options&>(*h.options);
  EXPECT_EQ(hdf5.path, "/data/eiger");
  EXPECT_EQ(hdf5.text_max, kDefaultHdf5TextMax);
  EXPECT_EQ(h.cache, d.cache);
  const SourceSpec& t = c->sources[2];
  EXPECT_EQ(t.name, "tomo");
  EXPECT_EQ(t.type, "tiff");
  const auto& tiff = static_cast<const TiffOptions&>(*t.options);
  EXPECT_EQ(tiff.path, "/data/tomo/scan_0042");
  EXPECT_FALSE(tiff.raw);
  EXPECT_EQ(t.cache, d.cache);
  const SourceSpec& l = c->sources[3];
  EXPECT_EQ(l.name, "b7-live");
  EXPECT_EQ(l.type, "stream");
  const auto& stream = static_cast<const StreamOptions&>(*l.options);
  StreamOptions sd;
  EXPECT_EQ(stream.endpoints, std::vector<std::string>{"tcp://eiger-b7.example.org:31001"});
  EXPECT_EQ(stream.protocol, sd.protocol);
  EXPECT_EQ(stream.sub, sd.sub);
  EXPECT_EQ(stream.bind, sd.bind);
  EXPECT_EQ(stream.tiff, sd.tiff);
  EXPECT_EQ(stream.raw, sd.raw);
  EXPECT_EQ(stream.keep_series, sd.keep_series);
  EXPECT_EQ(stream.series_name, sd.series_name);
  EXPECT_EQ(stream.spill, sd.spill);
  EXPECT_EQ(stream.spill_bytes, sd.spill_bytes);
  EXPECT_EQ(stream.mode, sd.mode);
  EXPECT_EQ(stream.uid, geteuid());
  EXPECT_EQ(c->cache.ring, defaults.cache.ring);
  EXPECT_EQ(c->mount.threads, defaults.mount.threads);
  EXPECT_EQ(c->mount.read_ahead_kb, defaults.mount.read_ahead_kb);
  EXPECT_EQ(c->mount.entry_timeout, defaults.mount.entry_timeout);
  EXPECT_EQ(c->mount.max_background, defaults.mount.max_background);
  EXPECT_EQ(c->mount.log, defaults.mount.log);
  EXPECT_EQ(c->mount.log_level, defaults.mount.log_level);
  EXPECT_EQ(c->mount.allow_other, defaults.mount.allow_other);
  EXPECT_EQ(c->mount.list_daqfs_xattrs, defaults.mount.list_daqfs_xattrs);
  EXPECT_EQ(c->mount.readdirplus_always, defaults.mount.readdirplus_always);
  EXPECT_EQ(c->cache.disk, defaults.cache.disk);
  EXPECT_EQ(c->cache.prefetch_window, defaults.cache.prefetch_window);
  EXPECT_EQ(c->cache.prefetch_budget, defaults.cache.prefetch_budget);
  EXPECT_EQ(c->cache.decode_threads, defaults.cache.decode_threads);
}

TEST(SourceTypesTest, ExampleConfigDocumentsEveryKey) {
  std::ifstream in(std::string(DAQFS_SOURCE_DIR) + "/configs/daqfs.example.ini");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<Config> all = ParseConfig(
      "[mount]\nuid = 1\ngid = 1\nmountpoint = /m\n[cache]\ndir = /c\n"
      "[source s]\ntype = archive\npath = /p\n"
      "[source h]\ntype = hdf5\npath = /h\n"
      "[source t]\ntype = tiff\npath = /t\n"
      "[source l]\ntype = stream\nendpoint = tcp://d:1\n",
      "t.ini", Types());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  // Every key FormatConfig writes appears in the example, set or commented out.
  std::string formatted = FormatConfig(*all);
  size_t pos = 0;
  int keys = 0;
  while ((pos = formatted.find(" = ", pos)) != std::string::npos) {
    size_t start = formatted.rfind('\n', pos) + 1;
    std::string key = formatted.substr(start, pos - start);
    bool shown = text.find("\n" + key + " = ") != std::string::npos ||
                 text.find("\n; " + key + " = ") != std::string::npos;
    EXPECT_TRUE(shown) << key << " is missing from the example";
    pos += 3;
    keys++;
  }
  // 13 [mount] + 7 [cache] + (type + 3 archive + 5 shared) + (type + 4 hdf5 + 5 shared) +
  // (type + 2 tiff + 5 shared) + (type + 16 stream + 5 shared)
  EXPECT_EQ(keys, 69);
}

}  // namespace
}  // namespace daqfs
