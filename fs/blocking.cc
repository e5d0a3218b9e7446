#include "fs/blocking.h"

namespace daqfs {
namespace {
thread_local BlockingObserver* observer = nullptr;
thread_local unsigned depth = 0;
}  // namespace

void SetBlockingObserver(BlockingObserver* o) { observer = o; }
bool BlockingObserved() { return observer != nullptr; }

BlockingScope::BlockingScope() {
  if (depth++ == 0 && observer) observer->BlockingStarted();
}

BlockingScope::~BlockingScope() {
  if (--depth == 0 && observer) observer->BlockingEnded();
}

}  // namespace daqfs
