#include "backends/hdf5/hdf5_library.h"

#include <vector>

namespace daqfs {
namespace {

// The only mutable global of daqfs (see the header): serialises our use of libhdf5.
std::recursive_mutex& H5Mutex() {
  static std::recursive_mutex mu;
  return mu;
}

herr_t CollectError(unsigned n, const H5E_error2_t* err, void* data) {
  (void)n;
  auto* out = static_cast<std::vector<std::string>*>(data);
  std::string msg = err->desc ? err->desc : "";
  if (msg.empty() && err->func_name) msg = err->func_name;
  if (!msg.empty() && (out->empty() || out->back() != msg)) out->push_back(msg);
  return 0;
}

}  // namespace

H5Lock::H5Lock() : lock_(H5Mutex()) {
  // The automatic error printer is per thread in the thread-safe build: switch it off once.
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

void H5Id::Reset() {
  if (id_ < 0) return;
  H5Lock lock;
  H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

std::string H5ErrorText() {
  H5Lock lock;
  std::vector<std::string> msgs;
  // Outermost first: the API call, then what failed inside it.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectError, &msgs);
  H5Eclear2(H5E_DEFAULT);
  std::string out;
  for (const std::string& m : msgs) out += (out.empty() ? "" : "; ") + m;
  return out;
}

Status H5Failure(Code code, const std::string& what) {
  std::string detail = H5ErrorText();
  return Status(code, detail.empty() ? what : what + ": " + detail);
}

}  // namespace daqfs
