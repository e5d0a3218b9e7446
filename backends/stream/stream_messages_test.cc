#include "backends/stream/stream_messages.h"

#include <gtest/gtest.h>
#include <lz4.h>

#include <string>
#include <vector>

#include "backends/common/lz4_chunks.h"
#include "tests/testing/files.h"
#include "tests/testing/hdf5_samples.h"

namespace daqfs {
namespace {

using json = nlohmann::json;

// Pixels and their encodings, written by independent encoders: the bitshuffle library's Python
// module (the blocks without the 12-byte header), libhdf5 with Debian's plugins (whole HDF5
// chunks of filters 32008 and 32004, read back raw with read_direct_chunk), cbor2 (stream2
// messages with tags 55799, 40, 69, 73 and 56500).
constexpr const char* kWrite = R"PY(
import numpy as np, bitshuffle, h5py, cbor2
from cbor2 import CBORTag
u2 = ((np.arange(48 * 64) * 7919) % 4099).astype('<u2').reshape(48, 64)
u4 = ((np.arange(30 * 40) * 104729) % 100003).astype('<u4').reshape(30, 40)
i2 = (np.arange(48 * 64) % 600 - 300).astype('<i2').reshape(48, 64)
u2.tofile('u2.bin'); u4.tofile('u4.bin'); i2.tofile('i2.bin')
open('u2.bs', 'wb').write(bytes(bitshuffle.compress_lz4(u2)))
open('u4.bs', 'wb').write(bytes(bitshuffle.compress_lz4(u4)))
with h5py.File('c.h5', 'w') as f:
    f.create_dataset('bs', data=u2, chunks=u2.shape, compression=32008, compression_opts=(0, 2))
    f.create_dataset('lz', data=u2, chunks=u2.shape, compression=32004, compression_opts=(0,))
    bs = f['bs'].id.read_direct_chunk((0, 0))[1]
    lz = f['lz'].id.read_direct_chunk((0, 0))[1]
open('u2.h5bs', 'wb').write(bs)
open('u2.h5lz', 'wb').write(lz)
def arr(a, tag, payload):
    return CBORTag(40, [list(a.shape), CBORTag(tag, payload)])
image = {'type': 'image', 'series_id': 7, 'series_unique_id': 'S7', 'image_id': 3,
         'real_time': [999995, 50000000], 'user_data': {'sample': 'lysozyme'},
         'data': {'threshold_1': arr(u2, 69, CBORTag(56500, ['bslz4', 2, bs])),
                  'threshold_2': arr(u2, 69, CBORTag(56500, ['lz4', 2, lz])),
                  'difference': arr(i2, 73, i2.astype('>i2').tobytes()),
                  'raw32': arr(u4, 70, u4.tobytes())}}
open('image.cbor', 'wb').write(cbor2.dumps(CBORTag(55799, image)))
open('start.cbor', 'wb').write(cbor2.dumps(CBORTag(55799, {
    'type': 'start', 'series_id': 7, 'series_unique_id': 'S7', 'image_dtype': 'uint16',
    'channels': ['threshold_1', 'threshold_2'], 'count_time': [1, 100],
    'flatfield': {'threshold_1': arr(u2, 69, u2.tobytes())}})))
open('end.cbor', 'wb').write(cbor2.dumps(CBORTag(55799, {
    'type': 'end', 'series_id': 7, 'series_unique_id': 'S7'})))
open('other.cbor', 'wb').write(cbor2.dumps({'type': 'calibration', 'series_id': 7}))
)PY";

std::span<const uint8_t> Span(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class StreamMessagesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(testing::RunPython(kWrite, dir_.path())); }
  std::string File(const std::string& name) { return testing::Slurp(dir_ / name); }
  // The parts of a message, kept alive by the fixture.
  StreamParts Parts(std::vector<std::string> texts) {
    kept_.push_back(std::move(texts));
    StreamParts parts;
    for (const std::string& t : kept_.back()) parts.push_back(Span(t));
    return parts;
  }
  // Decodes image `i` of `e`; "" on success and a mismatch with `want` as an error text.
  static std::string Decoded(const StreamEvent& e, size_t i, const std::string& want) {
    if (i >= e.images.size()) return "no image " + std::to_string(i);
    std::string out(e.images[i].DecodedBytes(), '\0');
    Status s = DecodeStreamImage(e.images[i],
                                 std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    if (!s.ok()) return s.ToString();
    return out == want ? "" : "pixels differ";
  }
  static std::string Framed(const std::string& blocks, uint64_t decoded) {
    std::string h(12, '\0');
    for (int i = 0; i < 8; ++i) h[i] = static_cast<char>(decoded >> (56 - 8 * i));
    return h + blocks;
  }
  static std::string Lz4Block(const std::string& raw) {
    std::string out(LZ4_compressBound(static_cast<int>(raw.size())), '\0');
    int n = LZ4_compress_default(raw.data(), out.data(), static_cast<int>(raw.size()),
                                 static_cast<int>(out.size()));
    out.resize(n > 0 ? n : 0);
    return out;
  }
  static std::string V1Image(const std::string& type, const std::string& enc, int w, int h,
                             const std::string& blob) {
    return json{{"htype", "dimage_d-1.0"},
                {"shape", {w, h}},
                {"type", type},
                {"encoding", enc},
                {"size", blob.size()}}
        .dump();
  }
  static std::string DImage(uint64_t frame) {
    return json{{"htype", "dimage-1.0"}, {"series", 2}, {"frame", frame}, {"hash", "abc"}}.dump();
  }
  static std::string DConfig() {
    return json{{"htype", "dconfig-1.0"}, {"start_time", 10}, {"stop_time", 20}, {"real_time", 10}}
        .dump();
  }

  testing::TempDir dir_{"stream-messages"};
  std::vector<std::vector<std::string>> kept_;
};

TEST_F(StreamMessagesTest, DectrisV1ImagesDecodeInEveryEncoding) {
  const std::string u2 = File("u2.bin"), u4 = File("u4.bin");
  struct Case {
    std::string type, enc, blob, want;
    int w, h;
  };
  for (const Case& c : std::vector<Case>{
           {"uint16", "<", u2, u2, 64, 48},
           {"uint16", "lz4<", Lz4Block(u2), u2, 64, 48},
           {"uint16", "bs16-lz4<", File("u2.bs"), u2, 64, 48},  // without the header
           {"uint16", "bs16-lz4<", Framed(File("u2.bs"), u2.size()), u2, 64, 48},
           {"uint32", "bs32-lz4<", File("u4.bs"), u4, 40, 30},
           {"uint32", "bs32-lz4<", Framed(File("u4.bs"), u4.size()), u4, 40, 30},
       }) {
    StreamParts parts =
        Parts({DImage(5), V1Image(c.type, c.enc, c.w, c.h, c.blob), c.blob, DConfig()});
    Result<StreamEvent> e = ParseDectrisV1(parts);
    ASSERT_TRUE(e.ok()) << c.enc << ": " << e.status().ToString();
    EXPECT_EQ(e->kind, StreamEvent::Kind::kFrame);
    EXPECT_EQ(e->series, 2u);
    EXPECT_EQ(e->frame, 5u);
    ASSERT_EQ(e->images.size(), 1u);
    EXPECT_EQ(e->images[0].width, static_cast<uint32_t>(c.w));
    EXPECT_EQ(e->images[0].height, static_cast<uint32_t>(c.h));
    EXPECT_EQ(e->images[0].payload.data(), parts[2].data());  // the received bytes, no copy
    EXPECT_EQ(Decoded(*e, 0, c.want), "") << c.enc;
    EXPECT_EQ(e->meta["hash"], "abc");
    EXPECT_EQ(e->meta["real_time"], 10);
  }
  // With an appendix part.
  Result<StreamEvent> e = ParseDectrisV1(
      Parts({DImage(6), V1Image("uint16", "<", 64, 48, u2), u2, DConfig(), "{\"user\": 1}"}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->meta["appendix"]["user"], 1);
}

TEST_F(StreamMessagesTest, DectrisV1HeadersAndEnd) {
  json h = {{"htype", "dheader-1.0"}, {"series", 2}, {"header_detail", "none"}};
  Result<StreamEvent> e = ParseDectrisV1(Parts({h.dump()}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kSeriesStart);
  EXPECT_EQ(e->series, 2u);
  h["header_detail"] = "basic";
  e = ParseDectrisV1(Parts({h.dump(), "{\"beam_center_x\": 512.5}", "appendix text"}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->meta["config"]["beam_center_x"], 512.5);
  EXPECT_EQ(e->meta["appendix"], "appendix text");
  h["header_detail"] = "all";
  e = ParseDectrisV1(Parts({h.dump(), "{}", "{\"htype\": \"dflatfield-1.0\"}", "FF",
                            "{\"htype\": \"dpixelmask-1.0\"}", "MASK",
                            "{\"htype\": \"dcountrate_table-1.0\"}", "TABLE"}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->meta["dpixelmask-1.0"]["blob_bytes"], 4);
  e = ParseDectrisV1(Parts({"{\"htype\": \"dseries_end-1.0\", \"series\": 2}"}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kSeriesEnd);
  EXPECT_EQ(e->series, 2u);
}

TEST_F(StreamMessagesTest, MalformedDectrisV1MessagesAreErrorsThatSayWhy) {
  const std::string u2 = File("u2.bin");
  const std::string d = V1Image("uint16", "<", 64, 48, u2);
  struct Case {
    std::vector<std::string> parts;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no parts"},
           {{"not json"}, "not JSON"},
           {{"[1, 2]"}, "not a JSON object"},
           {{"{\"htype\": \"dnothing-1.0\"}"}, "unknown htype"},
           {{"{\"series\": 1}"}, "no htype"},
           {{DImage(1), d, u2}, "3 parts"},
           {{DImage(1), d, u2, DConfig(), "x", "y"}, "6 parts"},
           {{"{\"htype\": \"dimage-1.0\", \"series\": 1}", d, u2, DConfig()}, "no 'frame'"},
           {{"{\"htype\": \"dimage-1.0\", \"series\": -1, \"frame\": 1}", d, u2, DConfig()},
            "'series' is not a non-negative integer"},
           {{DImage(1), DConfig(), u2, DConfig()}, "no dimage_d-1.0"},
           {{DImage(1), V1Image("uint16", "<", 64, 48, u2), u2.substr(1), DConfig()},
            "blob of 6143 bytes, header says 6144"},
           {{DImage(1), V1Image("uint16", "<", 64, 47, u2), u2, DConfig()},
            "raw blob of 6144 bytes for a 64x47 uint16 image"},
           {{DImage(1), V1Image("uint16", "zstd<", 64, 48, u2), u2, DConfig()},
            "unknown encoding 'zstd<'"},
           {{DImage(1), V1Image("complex64", "<", 64, 48, u2), u2, DConfig()},
            "unknown type 'complex64'"},
           {{DImage(1), V1Image("uint16", "<", 0, 48, u2), u2, DConfig()}, "bad size"},
           {{DImage(1), d, u2, "nope"}, "dconfig-1.0: not JSON"},
           {{"{\"htype\": \"dheader-1.0\", \"series\": 1, \"header_detail\": \"some\"}"},
            "unknown header_detail"},
           {{"{\"htype\": \"dheader-1.0\", \"series\": 1, \"header_detail\": \"basic\"}"},
            "1 parts for header_detail basic"},
           {{"{\"htype\": \"dseries_end-1.0\", \"series\": 1}", "x"}, "2 parts"},
       }) {
    Result<StreamEvent> e = ParseDectrisV1(Parts(c.parts));
    ASSERT_FALSE(e.ok()) << c.want;
    EXPECT_EQ(e.status().code(), Code::kCorrupt);
    EXPECT_NE(e.status().message().find(c.want), std::string::npos) << e.status().message();
  }
  // Parses, but the payload does not decode to its image: an error when decoded.
  for (const char* enc : {"lz4<", "bs16-lz4<"}) {
    std::string junk(300, '\x7f');
    Result<StreamEvent> e =
        ParseDectrisV1(Parts({DImage(1), V1Image("uint16", enc, 64, 48, junk), junk, DConfig()}));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_NE(Decoded(*e, 0, u2), "") << enc;
  }
}

TEST_F(StreamMessagesTest, Stream2ImagesOfSeveralChannelsDecode) {
  const std::string image = File("image.cbor"), u2 = File("u2.bin"), u4 = File("u4.bin"),
                    i2 = File("i2.bin");
  Result<StreamEvent> e = ParseDectrisStream2(Parts({image}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kFrame);
  EXPECT_EQ(e->series, 7u);
  EXPECT_EQ(e->series_unique, "S7");
  EXPECT_EQ(e->frame, 3u);
  ASSERT_EQ(e->images.size(), 4u);
  EXPECT_EQ(e->images[0].channel, "threshold_1");
  EXPECT_EQ(e->images[0].encoding, FrameEncoding::kBitshuffleLz4);
  EXPECT_EQ(e->images[0].width, 64u);
  EXPECT_EQ(e->images[0].height, 48u);
  EXPECT_EQ(Decoded(*e, 0, u2), "");
  EXPECT_EQ(e->images[1].encoding, FrameEncoding::kHdf5Lz4);
  EXPECT_EQ(Decoded(*e, 1, u2), "");
  EXPECT_EQ(e->images[2].encoding, FrameEncoding::kBigEndian);  // tag 73: int16 big endian
  EXPECT_EQ(e->images[2].type, (PixelType{PixelKind::kSigned, 2}));
  EXPECT_EQ(Decoded(*e, 2, i2), "");
  EXPECT_EQ(e->images[3].type, (PixelType{PixelKind::kUnsigned, 4}));
  EXPECT_EQ(Decoded(*e, 3, u4), "");
  EXPECT_EQ(e->meta["real_time"], json({999995, 50000000}));  // a rational as sent
  EXPECT_EQ(e->meta["user_data"]["sample"], "lysozyme");
  EXPECT_FALSE(e->meta.contains("data"));

  e = ParseDectrisStream2(Parts({File("start.cbor")}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kSeriesStart);
  EXPECT_EQ(e->meta["image_dtype"], "uint16");
  EXPECT_EQ(e->meta["flatfield"]["threshold_1"][1]["bytes"], 6144);  // pixels: their size
  e = ParseDectrisStream2(Parts({File("end.cbor")}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kSeriesEnd);
  e = ParseDectrisStream2(Parts({File("other.cbor")}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->kind, StreamEvent::Kind::kIgnored);
}

TEST_F(StreamMessagesTest, MalformedStream2MessagesAreErrorsThatSayWhy) {
  const std::string image = File("image.cbor");
  struct Case {
    std::vector<std::string> parts;
    std::string want;
  };
  // Replaces the first occurrence of `from` in the image message.
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string m = image;
    size_t at = m.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) m.replace(at, from.size(), to);
    return m;
  };
  for (const Case& c : std::vector<Case>{
           {{image, image}, "2 parts"},
           {{image.substr(0, image.size() / 2)}, "truncated"},
           {{"\x83\x01\x02\x03"}, "no CBOR map"},
           {{"\xa1\x61x\x01"}, "no 'type'"},
           {{edit("image_id", "imagX_id")}, "no image_id"},
           {{edit("series_id", "serieX_id")}, "no series_id"},
           {{edit("bslz4", "zstd1")}, "unknown codec 'zstd1'"},
           {{edit("\x64\x64\x61\x74\x61", "\x64\x64\x61\x74\x6f")}, "no data"},  // "dato"
       }) {
    Result<StreamEvent> e = ParseDectrisStream2(Parts(c.parts));
    ASSERT_FALSE(e.ok()) << c.want;
    EXPECT_EQ(e.status().code(), Code::kCorrupt);
    EXPECT_NE(e.status().message().find(c.want), std::string::npos) << e.status().message();
  }
}

// What a peer could send to crash or exhaust a receiver is an error or harmless.
TEST_F(StreamMessagesTest, HostileMessagesAreRefusedOrHarmless) {
  auto bytes = [](std::vector<uint8_t> b) { return std::string(b.begin(), b.end()); };
  // stream2: pixels as an indefinite-length byte string (joined in a copy the parse owns).
  std::string indefinite =
      bytes({0xa4, 0x64, 't',  'y',  'p',  'e',  0x65, 'i',  'm',  'a',  'g',  'e',  0x69,
             's',  'e',  'r',  'i',  'e',  's',  '_',  'i',  'd',  0x01, 0x68, 'i',  'm',
             'a',  'g',  'e',  '_',  'i',  'd',  0x00, 0x64, 'd',  'a',  't',  'a',  0xa1,
             0x61, 'c',  0xd8, 0x28, 0x82, 0x82, 0x02, 0x02, 0xd8, 0x45, 0x5f, 0x44, 0x01,
             0x02, 0x03, 0x04, 0x44, 0x05, 0x06, 0x07, 0x08, 0xff});
  Result<StreamEvent> e = ParseDectrisStream2(Parts({indefinite}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("indefinite length"), std::string::npos)
      << e.status().message();
  // The same with a definite string parses (the test message itself is right).
  std::string definite = indefinite;
  definite.replace(definite.size() - 12, 12, bytes({0x48, 1, 2, 3, 4, 5, 6, 7, 8}));
  e = ParseDectrisStream2(Parts({definite}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // A key that is not text and holds invalid UTF-8: kept, printable.
  std::string odd_key = definite;
  odd_key[0] = static_cast<char>(0xa5);  // one more pair
  odd_key += bytes({0x81, 0x61, 0xff, 0x01});
  e = ParseDectrisStream2(Parts({odd_key}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(e->meta.dump(-1, ' ', false, json::error_handler_t::replace).empty());
  // JSON nested deeper than 64.
  e = ParseDectrisV1(Parts({std::string(100, '[') + std::string(100, ']')}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("nested deeper than 64"), std::string::npos);
  // Claims a compressed payload cannot hold.
  const std::string tiny(10, '\0');
  for (const auto& [d, want] : std::vector<std::pair<std::string, std::string>>{
           {V1Image("uint16", "lz4<", 4096, 64, tiny), "cannot hold"},
           {V1Image("uint32", "lz4<", 1 << 20, 1 << 20, tiny), "at most 4 GiB"},
       }) {
    e = ParseDectrisV1(Parts({DImage(1), d, tiny, DConfig()}));
    ASSERT_FALSE(e.ok()) << want;
    EXPECT_NE(e.status().message().find(want), std::string::npos) << e.status().message();
  }
  // A stream2 chunk whose header names another size than its image.
  std::string image = File("image.cbor");
  const std::string u2 = File("u2.bin");
  const std::string bs = File("u2.h5bs");
  size_t at = image.find(bs.substr(0, 12));
  ASSERT_NE(at, std::string::npos);
  image[at + 7] = static_cast<char>(image[at + 7] + 2);  // decoded size + 2
  e = ParseDectrisStream2(Parts({image}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("the chunk decodes to 6146 bytes, the image has 6144"),
            std::string::npos)
      << e.status().message();
}

TEST_F(StreamMessagesTest, ArrayMessagesWithDefaultAndConfiguredKeys) {
  const std::string u2 = File("u2.bin");
  json h = {{"htype", "array-1.0"}, {"shape", {48, 64}}, {"type", "uint16"}, {"frame", 9}};
  Result<StreamEvent> e = ParseArrayMessage(Parts({h.dump(), u2}), ArrayKeys{});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->frame, 9u);
  EXPECT_EQ(e->series, 0u);
  EXPECT_EQ(e->images[0].width, 64u);
  EXPECT_EQ(e->images[0].height, 48u);
  EXPECT_EQ(Decoded(*e, 0, u2), "");
  ArrayKeys keys;
  keys.shape = "dims";
  keys.type = "dtype";
  keys.frame = "n";
  keys.series = "scan";
  json mine = {{"dims", {48, 64}}, {"dtype", "<u2"}, {"n", 4}, {"scan", 12}};
  e = ParseArrayMessage(Parts({mine.dump(), u2}), keys);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->frame, 4u);
  EXPECT_EQ(e->series, 12u);
  EXPECT_EQ(Decoded(*e, 0, u2), "");
  for (const auto& [parts, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{h.dump()}, "1 parts"},
           {{h.dump(), u2.substr(2)}, "blob of 6142 bytes for a 64x48 uint16 image"},
           {{mine.dump(), u2}, "'shape' is not a shape"},
           {{"{", u2}, "not JSON"},
       }) {
    Result<StreamEvent> bad = ParseArrayMessage(Parts(parts), ArrayKeys{});
    ASSERT_FALSE(bad.ok()) << want;
    EXPECT_NE(bad.status().message().find(want), std::string::npos) << bad.status().message();
  }
}

#ifdef DAQFS_STREAM_SAMPLES
// The captured DECTRIS messages (../shared/data/stream/PROVENANCE.md): pixels as the bitshuffle
// library's own decoder gives them.
TEST_F(StreamMessagesTest, CapturedStream2MessagesDecodeToTheirPixels) {
  const std::string dir = std::string(DAQFS_STREAM_SAMPLES) + "/dectris-stream2-r500k-bslz4-16bit";
  ASSERT_TRUE(testing::RunPython(R"PY(
import cbor2, numpy as np, bitshuffle
for i in range(1, 11):
    m = cbor2.loads(open(')PY" + dir +
                                     R"PY(/%06d.cbor' % i, 'rb').read())
    for name, v in m['data'].items():
        shape, typed = v.value
        codec, elem, payload = typed.value.value
        block = int.from_bytes(payload[8:12], 'big') // elem
        px = bitshuffle.decompress_lz4(np.frombuffer(payload[12:], np.uint8), tuple(shape),
                                       np.dtype('<u2'), block)
        px.tofile('ref_%d_%s.bin' % (i, name))
)PY",
                                 dir_.path()));
  for (int i = 1; i <= 10; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/%06d.cbor", i);
    std::string m = testing::Slurp(dir + name);
    ASSERT_FALSE(m.empty()) << name;
    Result<StreamEvent> e = ParseDectrisStream2(Parts({m}));
    ASSERT_TRUE(e.ok()) << name << ": " << e.status().ToString();
    EXPECT_EQ(e->kind, StreamEvent::Kind::kFrame);
    EXPECT_EQ(e->series, 1u);
    EXPECT_EQ(e->series_unique, "01GRXWT80JSDY2FNW8SGCCDZD9");
    EXPECT_EQ(e->frame, static_cast<uint64_t>(i - 1));
    ASSERT_EQ(e->images.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      const StreamImage& img = e->images[k];
      EXPECT_EQ(img.width, 1030u);
      EXPECT_EQ(img.height, 514u);
      EXPECT_EQ(img.type, (PixelType{PixelKind::kUnsigned, 2}));
      std::string ref = File("ref_" + std::to_string(i) + "_" + img.channel + ".bin");
      ASSERT_EQ(ref.size(), 514u * 1030u * 2u) << img.channel;
      EXPECT_EQ(Decoded(*e, k, ref), "") << name << " " << img.channel;
    }
    EXPECT_EQ(e->meta["real_time"], json({999995, 50000000}));
  }
  Result<StreamEvent> end = ParseDectrisStream2(Parts({testing::Slurp(dir + "/000011.cbor")}));
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->kind, StreamEvent::Kind::kSeriesEnd);
  EXPECT_EQ(end->series, 1u);
}

TEST_F(StreamMessagesTest, CapturedLz4BlobsDecodeToTheirKnownSizes) {
  // v1 `lz4<`: a bare block of a 1028 x 1062 uint32 image (4,366,944 bytes).
  const std::string v1 =
      testing::Slurp(std::string(DAQFS_STREAM_SAMPLES) + "/ADEiger_Stream_lz4_data");
  ASSERT_EQ(v1.size(), 17628u);
  Result<StreamEvent> e =
      ParseDectrisV1(Parts({DImage(0), V1Image("uint32", "lz4<", 1028, 1062, v1), v1, DConfig()}));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::string out(e->images[0].DecodedBytes(), '\0');
  ASSERT_EQ(out.size(), 4366944u);
  EXPECT_TRUE(
      DecodeStreamImage(e->images[0], std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()))
          .ok());
  // stream2 `lz4`: HDF5 LZ4 framing (12-byte header, a length per block); as a bare block it
  // does not decode.
  const std::string s2 =
      testing::Slurp(std::string(DAQFS_STREAM_SAMPLES) + "/ADEiger_Stream2_lz4_data");
  Result<Lz4ChunkHeader> h = PeekLz4ChunkHeader(Span(s2));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  StreamImage img;
  img.width = static_cast<uint32_t>(h->decoded_size);
  img.height = 1;
  img.type = PixelType{PixelKind::kUnsigned, 1};
  img.payload = Span(s2);
  img.encoding = FrameEncoding::kHdf5Lz4;
  std::string px(img.DecodedBytes(), '\0');
  std::span<uint8_t> pixels(reinterpret_cast<uint8_t*>(px.data()), px.size());
  EXPECT_TRUE(DecodeStreamImage(img, pixels).ok());
  img.encoding = FrameEncoding::kLz4Block;
  EXPECT_EQ(DecodeStreamImage(img, pixels).code(), Code::kCorrupt);
}
#endif

}  // namespace
}  // namespace daqfs
