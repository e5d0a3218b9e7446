// The one door to libhdf5: a process-wide lock around every H5* call daqfs makes, an RAII owner
// for HDF5 identifiers, and the library's error stack as text.
//
// Why one lock: Debian's libhdf5 1.10.8 is the thread-safe build, which serialises every API call
// on one global mutex of its own; a sequence of calls (open a dataset, read its type, close it)
// is still not atomic, and identifiers are shared state. Holding our own lock around each short
// sequence makes the sequence atomic and keeps our state (the file pool) consistent. It is the
// only mutable global of daqfs (beside libhdf5's own global state, which it guards): a
// function-local recursive mutex, so that an H5Id may be destroyed by code that already holds it.
//
// Rules: take H5Lock only around H5* calls and the bookkeeping of objects that hold HDF5
// identifiers (Hdf5FilePool); never hold it across anything else (no decoding, no pread, no
// logging that may block, no waiting for another lock). Lock order: the lock is a leaf, except
// that an H5Id destructor re-enters it.
//
// Errors: the first H5Lock a thread takes switches libhdf5's automatic error printing off for
// that thread (the error stack is per thread in the thread-safe build); failed calls are turned
// into a Status with H5ErrorText(), which also clears the stack.
//
// Thread safety: H5Lock and H5ErrorText may be used from any thread. An H5Id is owned by one
// holder at a time (move-only); its destructor takes the lock.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>

#include "fs/status.h"

namespace daqfs {

// Holds the libhdf5 lock for its scope (recursive: nested H5Locks on one thread are fine).
class H5Lock {
 public:
  H5Lock();
  H5Lock(const H5Lock&) = delete;
  H5Lock& operator=(const H5Lock&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

// Owner of one HDF5 identifier (file, group, dataset, attribute, datatype, dataspace, property
// list): released with H5Idec_ref under the lock. An invalid id (< 0) owns nothing.
class H5Id {
 public:
  H5Id() = default;
  explicit H5Id(hid_t id) : id_(id) {}
  ~H5Id() { Reset(); }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void Reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// The messages of this thread's HDF5 error stack, innermost last ("" when empty), joined by
// "; "; the stack is cleared. Call under H5Lock right after a failed call.
std::string H5ErrorText();

// A Status for a failed HDF5 call: `code`, "WHAT: <error stack text>".
Status H5Failure(Code code, const std::string& what);

}  // namespace daqfs
