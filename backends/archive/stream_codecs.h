// Whole-stream decoders for the compressed tars that have no cheap random access here: one-block
// .tar.xz (liblzma) and .tar.lz4 (liblz4's frame format); bzip2 (libbz2) too, though the archive
// index reads .tar.bz2 by block (bz2_blocks.h). The archive index decodes such an archive once
// into a spill blob of the cache folder (inside the `disk` budget) and serves it as a plain tar
// from there (archive_index.h); the saved index keeps the spill, so a remount does not decode
// again.
//
// Concatenated streams are decoded in turn, as the command-line tools do (pxz and `xz -T`
// write one stream of many blocks; pbzip2 and lbzip2 concatenate bzip2 streams; lz4 frames may
// be concatenated, and skippable frames are skipped). Bytes of zeros after the last stream
// (padding) end the data.
//
// Errors: data that does not decode gives Code::kCorrupt naming the file, the compressed offset
// (where the decoder's input stood) and the library's reason; the output before it has been
// handed to the sink already, and `verified` says how much of it to trust: the streams before
// the damaged one (pbzip2 writes a stream per block, so little is lost there; a one-stream xz
// or lz4 file keeps nothing).
//
// Thread safety: plain functions, reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "backends/common/zstd_frames.h"  // CompressedReadFn
#include "fs/status.h"

namespace daqfs {

enum class StreamCodec { kXz, kBzip2, kLz4 };

// The codec whose magic starts `head`, if any.
std::optional<StreamCodec> SniffStreamCodec(std::span<const uint8_t> head);
const char* StreamCodecName(StreamCodec codec);  // "xz", "bzip2", "lz4"

using StreamSink = std::function<Status(std::span<const uint8_t>)>;

// Decodes the whole stream of `size` bytes read with `read`, handing the output to `sink` in
// pieces of up to 1 MiB. A sink error stops the decode and is returned. Logs progress every GiB
// of input. `*verified` (if given) is set to the output bytes of the streams decoded to their
// end, whose checks passed: after damage, the output of the damaged stream is not to be trusted
// (the codecs check a block's or frame's CRC only after handing out its bytes).
Status DecodeStream(StreamCodec codec, const CompressedReadFn& read, uint64_t size,
                    const std::string& name, const StreamSink& sink, uint64_t* verified = nullptr);

}  // namespace daqfs
