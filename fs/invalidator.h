// Invalidator: how a backend tells the kernel that something it may have cached changed.
//
// A backend whose tree changes while mounted (a rescanned archive folder, a live stream's
// growing series folders) calls these after the change is visible through its own methods.
// The Vfs maps the backend's node ids to the inode numbers the kernel knows (nodes the kernel
// never looked up need no notice) and queues the events; the FUSE adapter (fs/fuse/) drains the
// queue on a notifier thread of its own into fuse_lowlevel_notify_inval_entry / _inval_inode.
// The calls never block on the kernel and never call back into the backend, so they may be made
// from any thread, including while the backend holds its own locks.
//
// Because changes are announced, folders that change may keep long kernel cache lifetimes.
//
// Thread safety: every method is thread-safe and non-blocking (events are queued).
#pragma once

#include <cstdint>
#include <string_view>

namespace daqfs {

using NodeId = uint64_t;

class Invalidator {
 public:
  virtual ~Invalidator() = default;
  // `name` now exists in folder `parent` (a negative entry the kernel cached must go, and the
  // folder's listing and attributes changed).
  virtual void EntryAdded(NodeId parent, std::string_view name) = 0;
  // `name` no longer exists in `parent` (or names another node now).
  virtual void EntryRemoved(NodeId parent, std::string_view name) = 0;
  // The attributes or content of `node` changed (a folder's listing, a file's bytes or size).
  virtual void ContentChanged(NodeId node) = 0;
};

// An Invalidator that drops every event (a backend used without a kernel: tools, tests).
class NullInvalidator final : public Invalidator {
 public:
  void EntryAdded(NodeId, std::string_view) override {}
  void EntryRemoved(NodeId, std::string_view) override {}
  void ContentChanged(NodeId) override {}
};

}  // namespace daqfs
