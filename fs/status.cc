#include "fs/status.h"

#include <cerrno>
#include <cstring>

namespace daqfs {

int Status::ToErrno() const {
  switch (code_) {
    case Code::kOk:
      return 0;
    case Code::kNotFound:
      return ENOENT;
    case Code::kNotDir:
      return ENOTDIR;
    case Code::kIsDir:
      return EISDIR;
    case Code::kReadOnly:
      return EROFS;
    case Code::kPermission:
      return EACCES;
    case Code::kInvalid:
      return EINVAL;
    case Code::kCorrupt:
      return EIO;
    case Code::kIo:
      return EIO;
    case Code::kUnavailable:
      return EIO;
    case Code::kNoAttr:
      return ENODATA;
    case Code::kRange:
      return ERANGE;
    case Code::kNoMemory:
      return ENOMEM;
    case Code::kNotSupported:
      return ENOTSUP;
    case Code::kNotLink:
      return EINVAL;
    case Code::kNoSpace:
      return ENOSPC;
  }
  return EIO;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  const char* name = "error";
  switch (code_) {
    case Code::kOk:
      name = "ok";
      break;
    case Code::kNotFound:
      name = "not found";
      break;
    case Code::kNotDir:
      name = "not a directory";
      break;
    case Code::kIsDir:
      name = "is a directory";
      break;
    case Code::kReadOnly:
      name = "read-only";
      break;
    case Code::kPermission:
      name = "permission denied";
      break;
    case Code::kInvalid:
      name = "invalid";
      break;
    case Code::kCorrupt:
      name = "corrupt";
      break;
    case Code::kIo:
      name = "I/O error";
      break;
    case Code::kUnavailable:
      name = "unavailable";
      break;
    case Code::kNoAttr:
      name = "no such attribute";
      break;
    case Code::kRange:
      name = "out of range";
      break;
    case Code::kNoMemory:
      name = "out of memory";
      break;
    case Code::kNotSupported:
      name = "not supported";
      break;
    case Code::kNotLink:
      name = "not a symlink";
      break;
    case Code::kNoSpace:
      name = "no space";
      break;
  }
  return message_.empty() ? std::string(name) : std::string(name) + ": " + message_;
}

Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status(Code::kNotFound, msg);
    case EACCES:
    case EPERM:
      return Status(Code::kPermission, msg);
    case ENOMEM:
      return Status(Code::kNoMemory, msg);
    case ENOTDIR:
      return Status(Code::kNotDir, msg);
    case EISDIR:
      return Status(Code::kIsDir, msg);
    case ENOSPC:
    case EDQUOT:
      return Status(Code::kNoSpace, msg);
    default:
      return Status(Code::kIo, msg);
  }
}

}  // namespace daqfs
