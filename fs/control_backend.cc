#include "fs/control_backend.h"

#include <unistd.h>

namespace daqfs {

ControlBackend::ControlBackend() { clock_gettime(CLOCK_REALTIME, &start_); }

void ControlBackend::AddFile(std::string name, std::function<std::string()> render) {
  files_.push_back(File{std::move(name), std::move(render)});
}

const ControlBackend::File* ControlBackend::FindFile(NodeId node) const {
  if (node < 2 || node - 2 >= files_.size()) return nullptr;
  return &files_[node - 2];
}

Attr ControlBackend::FileAttr(const File& f) const {
  Attr a;
  a.type = NodeType::kFile;
  a.mode = 0444;
  a.uid = geteuid();
  a.gid = getegid();
  a.mtime = start_;
  a.cache_seconds = 0;  // rendered per open: never cached
  a.dynamic = true;
  a.size = f.render().size();
  return a;
}

Result<NodeId> ControlBackend::Lookup(NodeId parent, std::string_view name) {
  if (parent != kRootNode) return Status(Code::kNotDir, std::string(name));
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].name == name) return NodeId{i + 2};
  }
  return NotFound(std::string(name));
}

Result<Attr> ControlBackend::GetAttr(NodeId node) {
  if (node == kRootNode) {
    Attr a;
    a.type = NodeType::kDirectory;
    a.mode = 0555;
    a.nlink = 2;
    a.uid = geteuid();
    a.gid = getegid();
    a.mtime = start_;
    return a;
  }
  const File* f = FindFile(node);
  if (!f) return NotFound("control node");
  return FileAttr(*f);
}

Status ControlBackend::ReadDir(NodeId dir, uint64_t cookie, const EmitFn& emit) {
  if (dir != kRootNode) return Status(Code::kNotDir, "control node");
  for (uint64_t i = cookie; i < files_.size(); ++i) {
    DirEntry e{files_[i].name, i + 2, FileAttr(files_[i])};
    if (!emit(e, i + 1)) break;
  }
  return Status::Ok();
}

Result<std::shared_ptr<ByteSource>> ControlBackend::Open(NodeId node, const Caller&) {
  const File* f = FindFile(node);
  if (!f) return Status(Code::kIsDir, ".daqfs");
  return std::shared_ptr<ByteSource>(
      std::make_shared<MemorySource>(f->render(), std::string(".daqfs/") + f->name));
}

Result<std::string> ControlBackend::ReadLink(NodeId) { return Status(Code::kNotLink, ".daqfs"); }

}  // namespace daqfs
