// Per-source in-flight limit: a hung backing filesystem does not hang the mount.
//
// When a source's storage stops answering (an NFS or GPFS server gone), every call that touches
// it blocks in the kernel and cannot be cancelled. Unbounded, such calls would take every FUSE
// worker and every decode thread, and the whole mount (other sources, .daqfs/) would stop
// answering. InflightLimit bounds them per source: at most `max` calls into one source run at
// once; up to `max` more wait at most `timeout` for a slot and then fail with Code::kUnavailable
// (EIO); any call beyond those fails at once. Refusals are counted in
// daqfs_source_stuck_total{source="NAME"}. A stuck call keeps its slot until the storage
// answers; the others fail instead of piling up, so a stuck source holds at most 2 x `max`
// threads (FUSE workers and decode threads together). Refusals are
// logged (a warning naming the source, at most one line per 10 s).
//
// InflightLimitBackend applies one limit to everything of a source that may touch its storage:
// Lookup, ReadDir, GetAttr (except the source's root, which the mount root lists), Open,
// ReadLink, xattrs, NextSiblings, and every read of every ByteSource it opens (ReadBlock,
// ReadGroup, ReadAt; sizes and block layouts are answered without a slot, they are known when
// opened). The daemon wraps every source in one (outside the simulate_latency_ms decorator).
// Calls do not nest inside one source (a decorator's call takes one slot and calls the inner
// object directly), so a slot holder never waits for a second slot.
//
// Thread safety: all classes are thread-safe. InflightLimit's mutex is a leaf lock, never held
// while calling into a source.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "fs/backend.h"
#include "fs/backend_env.h"
#include "fs/byte_source.h"
#include "fs/metrics.h"
#include "fs/source_decorators.h"
#include "fs/status.h"

namespace daqfs {

class InflightLimit {
 public:
  // `max` >= 1 slots; `timeout` > 0 seconds. `source_name` is used in error messages.
  InflightLimit(std::string source_name, unsigned max, double timeout_seconds);
  InflightLimit(const InflightLimit&) = delete;
  InflightLimit& operator=(const InflightLimit&) = delete;

  // A held slot, released when destroyed (movable, not copyable).
  class Slot {
   public:
    Slot() = default;
    explicit Slot(InflightLimit* limit) : limit_(limit) {}
    Slot(Slot&& o) noexcept : limit_(o.limit_) { o.limit_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    InflightLimit* limit_ = nullptr;
  };

  // Takes a slot, waiting at most the timeout. Errors: Code::kUnavailable "source NAME: storage
  // not answering: N calls in flight for more than T s", and the stuck counter goes up.
  Result<Slot> Acquire();

  // daqfs_source_inflight (gauge: calls holding a slot) and daqfs_source_stuck_total (calls
  // refused after the timeout), labelled `source_label`. Call once before serving; counts from
  // before are carried over. `metrics` must outlive this object.
  void RegisterMetrics(Metrics& metrics, const std::string& source_label);

  unsigned inflight() const;
  unsigned waiting() const;  // calls waiting for a slot now
  uint64_t stuck() const { return stuck_->Get(); }
  unsigned max() const { return max_; }

 private:
  void Release();

  const std::string name_;
  const unsigned max_;
  const std::chrono::duration<double> timeout_;
  static constexpr std::chrono::seconds kLogEvery{10};

  mutable std::mutex mu_;  // guards inflight_, waiting_, logged_, last_log_; a leaf lock
  std::condition_variable freed_;
  unsigned inflight_ = 0;
  unsigned waiting_ = 0;  // calls waiting for a slot (at most max_)
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_log_;
  Counter own_stuck_;
  Counter* stuck_ = &own_stuck_;  // set before serving (RegisterMetrics)
};

// A ByteSource whose reads each hold a slot of `limit` (shared with the source's backend). It
// forwards everything else (block layout, groups, parts), and the units of composed blocks and
// the cursors it hands out take slots too: every decode that may touch storage is limited.
class InflightLimitedSource final : public ForwardingSource {
 public:
  InflightLimitedSource(std::shared_ptr<ByteSource> inner, std::shared_ptr<InflightLimit> limit)
      : ForwardingSource(std::move(inner)), limit_(std::move(limit)) {}
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  // Each Read of the cursor holds a slot while it runs.
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t i) override;

 protected:
  std::shared_ptr<ByteSource> WrapUnits(std::shared_ptr<ByteSource> units) const override {
    return std::make_shared<InflightLimitedSource>(std::move(units), limit_);
  }

 private:
  std::shared_ptr<InflightLimit> limit_;
};

// A Backend whose calls that may touch storage each hold a slot of one InflightLimit, and whose
// opened sources are InflightLimitedSources on the same limit.
class InflightLimitBackend final : public Backend {
 public:
  InflightLimitBackend(std::unique_ptr<Backend> inner, std::shared_ptr<InflightLimit> limit)
      : inner_(std::move(inner)), limit_(std::move(limit)) {}
  // Registers the limit's metrics (env.metrics, env.source_label), then starts the inner backend.
  Status Start(BackendEnv& env) override;
  void Stop() override { inner_->Stop(); }
  void Forget(NodeId node) override { inner_->Forget(node); }
  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;
  Result<std::vector<std::string>> ListXattr(NodeId node) override;
  Result<std::string> GetXattr(NodeId node, const std::string& name) override;
  // Empty when no slot comes within the timeout (sibling prefetch is best effort).
  std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max) override;
  uint64_t TotalBytes() const override { return inner_->TotalBytes(); }
  uint64_t TotalNodes() const override { return inner_->TotalNodes(); }

  const InflightLimit& limit() const { return *limit_; }

 private:
  std::unique_ptr<Backend> inner_;
  std::shared_ptr<InflightLimit> limit_;
};

}  // namespace daqfs
