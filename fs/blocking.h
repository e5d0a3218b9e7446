// BlockingScope: a thread says that it waits on storage, so the pool that runs it can start
// another worker meanwhile.
//
// The decode pool has more threads than cores (DefaultDecodeThreads) so that reads of slow
// storage overlap, but it keeps only as many of them computing as there are CPUs: a core shared
// by many runnable or constantly woken decode threads starves the FUSE workers and the reader
// (on two cores, with every one of 16 decode threads woken per prefetch, `cat frames/*.tif` read
// 25% slower than with two threads: every wake-up is a cross-CPU interrupt and a preemption).
// A worker that blocks on storage (PreadFull, a simulated latency, a wait for a busy source)
// opens a BlockingScope: while it is open the pool does not count the worker as running and may
// wake another one for the queued work.
//
// Scopes nest (only the outermost tells the observer) and cost nothing on threads without an
// observer (FUSE workers, tests).
//
// Thread safety: the observer is per thread; scopes are used on the thread that opened them.
#pragma once

namespace daqfs {

class BlockingObserver {
 public:
  virtual ~BlockingObserver() = default;
  virtual void BlockingStarted() = 0;
  virtual void BlockingEnded() = 0;
};

// Sets the observer of the calling thread (null: none).
void SetBlockingObserver(BlockingObserver* observer);
// True if the calling thread has an observer (a BlockingScope here would tell someone).
bool BlockingObserved();

class BlockingScope {
 public:
  BlockingScope();
  ~BlockingScope();
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;
};

}  // namespace daqfs
