// TarBackend: a source of `type = archive`: tar files shown as directories of their members.
//
// `path` is a tar file, a folder (its *.tar files, not recursive) or a glob. Each archive becomes
// a directory named after the archive file; under it, the member tree as GNU tar would extract
// it: directories implied by member paths are created, a later member of the same path replaces
// an earlier one, hard links share the node of their target (same bytes, nlink counted), members
// with hostile paths are skipped (tar_index.h). Modes, owners and mtimes are as stored.
//
// Indexing reads headers only. Member data is read with pread from the archive at its offset,
// never copied in advance. A damaged archive keeps the members before the damage; the damage is
// logged with archive and offset and the rest of the mount is unaffected.
//
// Opening a member also requires read access to the archive file itself (checked against the
// caller), so a mount never lets a user read what the backing file would not let them read.
//
// Thread safety: the tree is built in Create() and read-only afterwards; all methods are
// thread-safe.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fs/backend.h"
#include "fs/unique_fd.h"

namespace daqfs {

// The archive files named by `path` (a file, a folder of *.tar files or a glob), sorted.
Result<std::vector<std::string>> FindArchives(const std::string& path);

class TarBackend final : public Backend {
 public:
  // Indexes every archive named by `path`. Fails only when `path` names nothing usable (missing,
  // unreadable); damaged archives are logged and mounted with what survived.
  static Result<std::unique_ptr<TarBackend>> Create(const std::string& source_name,
                                                    const std::string& path);

  Result<NodeId> Lookup(NodeId parent, std::string_view name) override;
  Result<Attr> GetAttr(NodeId node) override;
  Status ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) override;
  Result<std::shared_ptr<ByteSource>> Open(NodeId node, const Caller& caller) override;
  Result<std::string> ReadLink(NodeId node) override;
  Result<std::vector<std::string>> ListXattr(NodeId node) override;
  Result<std::string> GetXattr(NodeId node, const std::string& name) override;
  std::vector<DirEntry> NextSiblings(NodeId dir, std::string_view name, size_t max) override;
  uint64_t TotalBytes() const override { return total_bytes_; }
  uint64_t TotalNodes() const override { return nodes_.size() - 1; }

  size_t archive_count() const { return archives_.size(); }

 private:
  struct Archive {
    std::string path;
    std::shared_ptr<UniqueFd> fd;
    struct stat st {};
    std::string identity;
  };
  struct Node {
    Attr attr;
    uint32_t archive = 0;       // index into archives_ (files, symlinks, member dirs)
    uint64_t data_offset = 0;   // files: where the member's data starts in the archive
    std::string member_path;    // path inside the archive ("" for the source root)
    std::string link;           // symlink target
    std::vector<std::pair<std::string, std::string>> xattrs;
    std::vector<std::pair<std::string, NodeId>> children;  // sorted by name
  };
  class Builder;

  TarBackend() = default;
  const Node* Get(NodeId id) const;

  std::string name_;
  std::vector<Archive> archives_;
  std::vector<Node> nodes_;  // index = NodeId; [0] unused, [1] the root
  uint64_t total_bytes_ = 0;
};

}  // namespace daqfs
