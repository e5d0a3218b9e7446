// Random access into gzip data: inflate checkpoints, as indexed_gzip, rapidgzip and zlib's
// zran.c keep them.
//
// One forward decode of the whole file (GzipStreamIndexer, which the tar header parser reads
// through while it runs; its progress is logged every GiB of gzip data) records a checkpoint about
// every `interval` bytes of output, at a deflate block boundary: the compressed offset, the bits of
// the byte before it that belong to the next block, the output offset, and the 32 KiB of output
// before it (the window deflate's back-references may reach). Decoding may then start at any
// checkpoint (InflateFromCheckpoint): a read anywhere costs at most one interval of inflation. A
// gzip member's start needs no window: concatenated members (pigz -i, bgzip, `cat a.gz b.gz`) get a
// checkpoint at a member start when one is due there. The indexing pass checks every member's
// CRC-32 and size; a decode from a checkpoint checks the data it inflates (deflate's own
// structure), and the CRC of every member it reaches the end of from the member's start.
//
// Errors: data that does not inflate (a bad block, a truncated member, a CRC mismatch) gives
// Code::kCorrupt naming the file, the compressed offset and zlib's reason. The damaged member's
// output is not trusted at all (GzipStreamIndexer::verified): deflate may turn damaged data
// into wrong bytes long before it notices, or only the member's CRC-32 may notice. Bytes after the
// last member that are all zero (tape padding) are accepted; others end the data and are reported
// (GzipIndex::trailing).
//
// Thread safety: GzipStreamIndexer is single-threaded; InflateFromCheckpoint is reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/common/zstd_frames.h"  // CompressedReadFn
#include "fs/status.h"

namespace daqfs {

inline constexpr uint64_t kGzipWindowBytes = 32 << 10;
inline constexpr uint64_t kDefaultGzipInterval = 4 << 20;

struct GzipCheckpoint {
  uint64_t in_offset = 0;     // compressed byte where decoding resumes (see `bits`)
  uint8_t bits = 0;           // 1-7: that many high bits of the byte before in_offset start it
  bool member_start = false;  // a gzip member's header starts at in_offset (no window)
  uint64_t out_offset = 0;    // output offset of the checkpoint
  std::string window;         // up to 32 KiB of output before out_offset ("" at a member start)
  // Set on a point after which nothing decodes (the data was damaged there when indexed): a
  // decode from it fails at once, so the reads before it still work.
  bool damaged = false;
  // CRC-32 of the output from this point to the next (or the end), when known: a decode of the
  // whole interval is checked against it (gzip's own CRC covers a member, which a read from a
  // checkpoint never decodes whole). Unknown for the last interval before damage.
  bool has_crc = false;
  uint32_t crc = 0;
  bool operator==(const GzipCheckpoint&) const = default;
};

struct GzipIndex {
  std::vector<GzipCheckpoint> points;  // by out_offset; points[0] is the first member's start
  uint64_t compressed_size = 0;        // bytes of gzip data (up to the end of the last member)
  uint64_t decompressed_size = 0;
  uint32_t members = 0;
  std::string trailing;  // "" or what follows the last member that is not gzip data
};

class GzipStreamIndexer {
 public:
  // `size`: bytes of the file; `name` for messages.
  GzipStreamIndexer(CompressedReadFn read, uint64_t size, std::string name,
                    uint64_t interval = kDefaultGzipInterval);
  ~GzipStreamIndexer();
  GzipStreamIndexer(const GzipStreamIndexer&) = delete;
  GzipStreamIndexer& operator=(const GzipStreamIndexer&) = delete;

  // Output bytes [offset, offset + out.size()): forward only (an offset before what was already
  // passed is kInvalid); short at the end of the data.
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out);
  // Decodes the rest; then index() is complete.
  Status Drain();
  const GzipIndex& index() const { return index_; }
  GzipIndex Take() { return std::move(index_); }
  // Output bytes decoded so far.
  uint64_t position() const { return out_total_; }
  // Output bytes known good: all of them, or after a failure the output of the members before
  // the damaged one (deflate may decode damaged data to wrong bytes before it notices, or only
  // the member's CRC-32 notices: nothing of that member can be trusted).
  uint64_t verified() const { return failed_.ok() ? out_total_ : member_out_; }

 private:
  struct Zlib;
  Status Produce();  // decodes the next piece of output (or reaches the end)
  Status Corrupted(const std::string& why) const;

  CompressedReadFn read_;
  uint64_t size_;
  std::string name_;
  uint64_t interval_;
  std::unique_ptr<Zlib> z_;
  std::vector<uint8_t> in_;
  uint64_t in_pos_ = 0;                         // compressed bytes read into in_ so far
  uint64_t next_progress_ = uint64_t{1} << 30;  // logs progress each GiB of input
  // Output: buf_ holds [out_total_ - have_, out_total_); at least the last 32 KiB are kept.
  std::vector<uint8_t> buf_;
  size_t have_ = 0;
  uint64_t out_total_ = 0;
  uint64_t member_out_ = 0;  // output offset where the current member started
  uint64_t last_point_ = 0;  // output offset of the last checkpoint
  uint32_t crc_ = 0;         // CRC-32 of the output since the last checkpoint
  // Adds a checkpoint at the current output offset, closing the last one's interval.
  void AddPoint(GzipCheckpoint p);
  bool in_member_ = false;
  bool ended_ = false;
  Status failed_;
  GzipIndex index_;
};

// Decodes output bytes [from.out_offset + skip, + out.size()) starting at checkpoint `from`,
// going on into later members as needed. kCorrupt as above; short output (the data ends) is
// kCorrupt too: the caller asks only for what the index says is there.
Status InflateFromCheckpoint(const CompressedReadFn& read, const GzipCheckpoint& from,
                             uint64_t skip, std::span<uint8_t> out, const std::string& name);

}  // namespace daqfs
