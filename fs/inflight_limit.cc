#include "fs/inflight_limit.h"

#include <cstdio>

#include "fs/blocking.h"
#include "fs/log.h"

namespace daqfs {

InflightLimit::InflightLimit(std::string source_name, unsigned max, double timeout_seconds)
    : name_(std::move(source_name)),
      max_(max < 1 ? 1 : max),
      timeout_(timeout_seconds > 0 ? timeout_seconds : 0) {}

InflightLimit::Slot& InflightLimit::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    if (limit_) limit_->Release();
    limit_ = o.limit_;
    o.limit_ = nullptr;
  }
  return *this;
}

InflightLimit::Slot::~Slot() {
  if (limit_) limit_->Release();
}

Result<InflightLimit::Slot> InflightLimit::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (inflight_ < max_) {
      ++inflight_;
      return Slot(this);
    }
    // At most `max_` calls wait too: beyond that a call fails at once, so a stuck source holds
    // at most 2 x max_ threads (its slots and its waiters), never every FUSE worker.
    if (waiting_ < max_) {
      ++waiting_;
      BlockingScope blocking;
      bool got = freed_.wait_for(lock, timeout_, [&] { return inflight_ < max_; });
      --waiting_;
      if (got) {
        ++inflight_;
        return Slot(this);
      }
    }
  }
  stuck_->Add();
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", timeout_.count());
  return Status(Code::kUnavailable, "source " + name_ +
                                        ": storage not answering: " + std::to_string(max_) +
                                        " calls in flight for more than " + seconds + " s");
}

void InflightLimit::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --inflight_;
  }
  freed_.notify_one();
}

unsigned InflightLimit::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

unsigned InflightLimit::inflight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inflight_;
}

void InflightLimit::RegisterMetrics(Metrics& metrics, const std::string& source_label) {
  Counter& c = metrics.AddCounter(
      "daqfs_source_stuck_total",
      "Calls into a source refused with EIO because its in-flight limit (max_inflight) stayed "
      "full for stuck_timeout seconds: its storage is not answering",
      source_label);
  c.Add(own_stuck_.Get());
  stuck_ = &c;
  metrics.AddGauge(
      "daqfs_source_inflight", "Calls into a source in flight (at most its max_inflight)",
      [this] { return static_cast<double>(inflight()); }, source_label);
}

Status InflightLimitedSource::ReadBlock(uint64_t i, std::span<uint8_t> out) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ReadBlock(i, out);
}

Status InflightLimitedSource::ReadGroup(uint64_t i, const BlockEmit& emit) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ReadGroup(i, emit);
}

Result<size_t> InflightLimitedSource::ReadAt(uint64_t off, std::span<uint8_t> out) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ReadAt(off, out);
}

namespace {
// A cursor whose every Read holds a slot of the limit while it runs.
class LimitedCursor final : public GroupCursor {
 public:
  LimitedCursor(std::unique_ptr<GroupCursor> inner, std::shared_ptr<InflightLimit> limit)
      : inner_(std::move(inner)), limit_(std::move(limit)) {}
  Status Read(uint64_t index, std::span<uint8_t> out) override {
    Result<InflightLimit::Slot> slot = limit_->Acquire();
    if (!slot.ok()) return slot.status();
    return inner_->Read(index, out);
  }
  uint64_t buffered_bytes() const override { return inner_->buffered_bytes(); }
  uint64_t starts() const override { return inner_->starts(); }

 private:
  std::unique_ptr<GroupCursor> inner_;
  std::shared_ptr<InflightLimit> limit_;
};
}  // namespace

std::unique_ptr<GroupCursor> InflightLimitedSource::OpenGroupCursor(uint64_t i) {
  std::unique_ptr<GroupCursor> c = inner_->OpenGroupCursor(i);
  if (!c) return nullptr;
  return std::make_unique<LimitedCursor>(std::move(c), limit_);
}

Status InflightLimitBackend::Start(BackendEnv& env) {
  limit_->RegisterMetrics(*env.metrics, env.source_label);
  return inner_->Start(env);
}

Result<NodeId> InflightLimitBackend::Lookup(NodeId parent, std::string_view name) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->Lookup(parent, name);
}

Result<Attr> InflightLimitBackend::GetAttr(NodeId node) {
  if (node == kRootNode) return inner_->GetAttr(node);  // the mount root lists it: never waits
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->GetAttr(node);
}

Status InflightLimitBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ReadDir(dir, cookie, emit);
}

Result<std::shared_ptr<ByteSource>> InflightLimitBackend::Open(NodeId node, const Caller& caller) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  Result<std::shared_ptr<ByteSource>> s = inner_->Open(node, caller);
  if (!s.ok()) return s;
  return std::shared_ptr<ByteSource>(
      std::make_shared<InflightLimitedSource>(std::move(*s), limit_));
}

Result<std::string> InflightLimitBackend::ReadLink(NodeId node) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ReadLink(node);
}

Result<std::vector<std::string>> InflightLimitBackend::ListXattr(NodeId node) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->ListXattr(node);
}

Result<std::string> InflightLimitBackend::GetXattr(NodeId node, const std::string& name) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return slot.status();
  return inner_->GetXattr(node, name);
}

std::vector<DirEntry> InflightLimitBackend::NextSiblings(NodeId dir, std::string_view name,
                                                         size_t max) {
  Result<InflightLimit::Slot> slot = limit_->Acquire();
  if (!slot.ok()) return {};
  return inner_->NextSiblings(dir, name, max);
}

}  // namespace daqfs
