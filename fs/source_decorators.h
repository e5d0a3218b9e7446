// ByteSource decorators: a slow source (simulate_latency_ms, for benchmarks and tests), plus a
// Backend decorator that applies a source decorator to every file it opens. The fault injectors
// for tests live in tests/testing/fault_sources.h.
//
// Thread safety: as the wrapped source; the counters are atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "fs/backend.h"
#include "fs/byte_source.h"

namespace daqfs {

// Forwards everything to `inner`: the block layout, decode groups and cursors, resident blocks
// and the parts of composed blocks. A decorator that acts on decodes (latency, faults) overrides
// WrapUnits so the units of composed blocks are decorated too (their decodes happen there, not in
// ReadBlock), and ResidentBlock to answer none (every block then goes through its decode).
class ForwardingSource : public ByteSource {
 public:
  explicit ForwardingSource(std::shared_ptr<ByteSource> inner) : inner_(std::move(inner)) {}
  uint64_t Size() const override { return inner_->Size(); }
  std::string Identity() const override { return inner_->Identity(); }
  bool IsDecoded() const override { return inner_->IsDecoded(); }
  uint64_t BlockCount() const override { return inner_->BlockCount(); }
  BlockRange BlockRangeOf(uint64_t i) const override { return inner_->BlockRangeOf(i); }
  uint64_t BlockOf(uint64_t off) const override { return inner_->BlockOf(off); }
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override {
    return inner_->ReadBlock(i, out);
  }
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override {
    return inner_->ReadAt(off, out);
  }
  Group GroupOf(uint64_t i) const override { return inner_->GroupOf(i); }
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override {
    return inner_->ReadGroup(i, emit);
  }
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t i) override {
    return inner_->OpenGroupCursor(i);
  }
  std::optional<Resident> ResidentBlock(uint64_t i) const override {
    return inner_->ResidentBlock(i);
  }
  std::vector<BlockPart> PartsOf(uint64_t i) const override {
    std::vector<BlockPart> parts = inner_->PartsOf(i);
    for (BlockPart& p : parts) {
      if (p.units) p.units = WrapUnits(std::move(p.units));
    }
    return parts;
  }

 protected:
  // The units source of a composed block as this decorator shows it (default: unchanged).
  virtual std::shared_ptr<ByteSource> WrapUnits(std::shared_ptr<ByteSource> units) const {
    return units;
  }

  std::shared_ptr<ByteSource> inner_;
};

// Sleeps `latency` before every block decode and every direct read: a slow parallel
// filesystem or a slow decoder (latency, not CPU).
class LatencySource final : public ForwardingSource {
 public:
  LatencySource(std::shared_ptr<ByteSource> inner, std::chrono::milliseconds latency)
      : ForwardingSource(std::move(inner)), latency_(latency) {}
  Status ReadBlock(uint64_t i, std::span<uint8_t> out) override;
  Result<size_t> ReadAt(uint64_t off, std::span<uint8_t> out) override;
  Status ReadGroup(uint64_t i, const BlockEmit& emit) override;
  std::unique_ptr<GroupCursor> OpenGroupCursor(uint64_t i) override;
  std::optional<Resident> ResidentBlock(uint64_t) const override { return std::nullopt; }

 protected:
  std::shared_ptr<ByteSource> WrapUnits(std::shared_ptr<ByteSource> units) const override {
    return std::make_shared<LatencySource>(std::move(units), latency_);
  }

 private:
  void Sleep() const;
  std::chrono::milliseconds latency_;
};

// A Backend that forwards every call and passes each opened source through `wrap`.
class WrappingBackend final : public Backend {
 public:
  using WrapFn = std::function<std::shared_ptr<ByteSource>(std::shared_ptr<ByteSource>)>;
  WrappingBackend(std::unique_ptr<Backend> inner, WrapFn wrap)
      : inner_(std::move(inner)), wrap_(std::move(wrap)) {}
  Status Start(BackendEnv& env) override { return inner_->Start(env); }
  void Stop() override { inner_->Stop(); }
  void Forget(NodeId n) override { inner_->Forget(n); }
  Result<NodeId> Lookup(NodeId p, std::string_view n) override { return inner_->Lookup(p, n); }
  Result<Attr> GetAttr(NodeId n) override { return inner_->GetAttr(n); }
  Status ReadDir(NodeId d, uint64_t c, const EmitFn& e) override {
    return inner_->ReadDir(d, c, e);
  }
  Result<std::shared_ptr<ByteSource>> Open(NodeId n, const Caller& c) override {
    Result<std::shared_ptr<ByteSource>> s = inner_->Open(n, c);
    if (!s.ok()) return s;
    return wrap_(std::move(*s));
  }
  Result<std::string> ReadLink(NodeId n) override { return inner_->ReadLink(n); }
  Result<std::vector<std::string>> ListXattr(NodeId n) override { return inner_->ListXattr(n); }
  Result<std::string> GetXattr(NodeId n, const std::string& k) override {
    return inner_->GetXattr(n, k);
  }
  std::vector<DirEntry> NextSiblings(NodeId d, std::string_view n, size_t m) override {
    return inner_->NextSiblings(d, n, m);
  }
  uint64_t TotalBytes() const override { return inner_->TotalBytes(); }
  uint64_t TotalNodes() const override { return inner_->TotalNodes(); }

 private:
  std::unique_ptr<Backend> inner_;
  WrapFn wrap_;
};

}  // namespace daqfs
