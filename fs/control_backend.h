// ControlBackend: the hidden .daqfs/ folder at the mount root.
//
// Files: `stats` (Stats::Format()) and `config` (the effective configuration). Their content is
// generated when opened, so they are marked dynamic (read with direct I/O; st_size is the length
// of a fresh rendering). Later parts add more files through AddFile.
//
// Thread safety: AddFile must be called before the mount starts; everything else is thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fs/backend.h"

namespace daqfs {

class ControlBackend final : public Backend {
 public:
  static constexpr const char* kDirName = ".daqfs";
  ControlBackend();

  // Adds a file whose content is render() at open time.
  void AddFile(std::string name, std::function<std::string()> render);

  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;

 private:
  struct File {
    std::string name;
    std::function<std::string()> render;
  };
  Attr FileAttr(const File& f) const;
  const File* FindFile(NodeId node) const;

  timespec start_{};
  std::vector<File> files_;  // node id = index + 2
};

}  // namespace daqfs
