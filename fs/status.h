// Status and Result<T>: how every expected failure travels through daqfs.
//
// A Status is a code plus a human message. Expected failures (missing entries, corrupt input,
// unavailable backing files) are returned, never thrown. ToErrno() is the single place where a
// failure becomes an errno value for the FUSE adapter.
//
// Thread safety: value types; no shared state.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace daqfs {

enum class Code {
  kOk = 0,
  kNotFound,      // ENOENT: no such entry
  kNotDir,        // ENOTDIR
  kIsDir,         // EISDIR
  kReadOnly,      // EROFS: any attempt to write
  kPermission,    // EACCES
  kInvalid,       // EINVAL: a bad argument or request
  kCorrupt,       // EIO: outside bytes that do not parse or decode
  kIo,            // EIO: an I/O error on a backing file
  kUnavailable,   // EIO: a backing file or service that is missing or gone
  kNoAttr,        // ENODATA: no such extended attribute
  kRange,         // ERANGE: caller's buffer too small
  kNoMemory,      // ENOMEM
  kNotSupported,  // ENOTSUP
  kNotLink,       // EINVAL for readlink on a non-symlink
  kNoSpace,       // ENOSPC: a byte budget or the disk is full
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // The errno that the FUSE adapter replies with (positive). 0 for ok.
  int ToErrno() const;
  // "not found: foo" style text for logs and tests.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Convenience constructors.
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Corrupt(std::string m) { return Status(Code::kCorrupt, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIo, std::move(m)); }
inline Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
// An I/O failure of a system call: message plus strerror(err); code chosen from err.
Status ErrnoStatus(int err, const std::string& what);

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace daqfs
