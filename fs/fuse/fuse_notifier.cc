#define FUSE_USE_VERSION 312
#include "fs/fuse/fuse_notifier.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fs/log.h"
#include "fs/thread_priority.h"

namespace daqfs {

int ForEachPageAlignedRun(uint64_t offset, const std::vector<ReadPiece>& data,
                          const std::function<int(uint64_t, const uint8_t*, size_t)>& send) {
  static const uint64_t page = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<uint64_t>(p) : 4096;
  }();
  std::vector<uint8_t> carry;  // a page whose bytes come from more than one piece
  uint64_t carry_off = 0;
  uint64_t pos = offset;
  for (const ReadPiece& piece : data) {
    const uint8_t* p = piece.data;
    size_t n = piece.size;
    if (!carry.empty() || pos % page != 0) {
      if (carry.empty()) carry_off = pos;
      size_t k = std::min<size_t>(n, page - (carry_off + carry.size()) % page);
      carry.insert(carry.end(), p, p + k);
      p += k;
      n -= k;
      pos += k;
      if ((carry_off + carry.size()) % page == 0) {
        if (int rc = send(carry_off, carry.data(), carry.size()); rc != 0) return rc;
        carry.clear();
      }
    }
    if (n == 0) continue;
    // Page-aligned here: whole pages straight from the piece, the rest carried.
    size_t whole = n / page * page;
    if (whole > 0) {
      if (int rc = send(pos, p, whole); rc != 0) return rc;
      p += whole;
      n -= whole;
      pos += whole;
    }
    if (n > 0) {
      carry_off = pos;
      carry.assign(p, p + n);
      pos += n;
    }
  }
  if (!carry.empty()) return send(carry_off, carry.data(), carry.size());
  return 0;
}

FuseNotifier::FuseNotifier(::fuse_session* session, std::function<bool(uint64_t)> alive)
    : FuseNotifier(
          Sender{[session](uint64_t parent, const std::string& name) {
                   return fuse_lowlevel_notify_inval_entry(session, parent, name.data(),
                                                           name.size());
                 },
                 [session](uint64_t ino) {
                   return fuse_lowlevel_notify_inval_inode(session, ino, 0, 0);
                 },
                 [session](uint64_t ino, uint64_t offset, uint64_t length) {
                   return fuse_lowlevel_notify_inval_inode(session, ino, static_cast<off_t>(offset),
                                                           static_cast<off_t>(length));
                 },
                 [session](uint64_t ino, uint64_t offset, const std::vector<ReadPiece>& data) {
                   return ForEachPageAlignedRun(
                       offset, data, [&](uint64_t off, const uint8_t* p, size_t n) {
                         fuse_bufvec v = FUSE_BUFVEC_INIT(n);
                         v.buf[0].mem = const_cast<uint8_t*>(p);
                         return fuse_lowlevel_notify_store(session, ino, static_cast<off_t>(off),
                                                           &v, FUSE_BUF_NO_SPLICE);
                       });
                 }},
          std::move(alive)) {}

FuseNotifier::FuseNotifier(Sender sender, std::function<bool(uint64_t)> alive)
    : sender_(std::move(sender)), alive_(std::move(alive)) {}

FuseNotifier::~FuseNotifier() { Stop(); }

void FuseNotifier::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-notify");
    // Kernel notices (a live stream's new entries) are waited for by readers: before the
    // bulk work when the CPUs are busy (as root).
    (void)SetThreadNice(-5);
    Loop();
  });
}

void FuseNotifier::Stop() {
  std::deque<Event> stores;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    dropped_ += queue_.size() + stores_.size();
    queue_.clear();
    stores.swap(stores_);
    queued_ranges_ = 0;
    queued_store_bytes_ = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Event& e : stores) Tell(e, false);
}

void FuseNotifier::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] {
    return (queue_.empty() && stores_.empty() && !busy_) || stop_ || !thread_.joinable();
  });
}

void FuseNotifier::NotifyInvalEntry(uint64_t parent_ino, std::string_view name) {
  Event e;
  e.ino = parent_ino;
  e.entry = true;
  e.name = std::string(name);
  Push(std::move(e));
}

void FuseNotifier::NotifyInvalInode(uint64_t ino) {
  Event e;
  e.ino = ino;
  Push(std::move(e));
}

void FuseNotifier::NotifyInvalRange(uint64_t ino, uint64_t offset, uint64_t length) {
  Event e;
  e.ino = ino;
  e.range = true;
  e.offset = offset;
  e.length = length;
  Push(std::move(e));
}

bool FuseNotifier::NotifyStore(uint64_t ino, uint64_t offset, std::vector<ReadPiece> data,
                               std::function<void(bool taken)> done) {
  uint64_t bytes = 0;
  for (const ReadPiece& p : data) bytes += p.size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || !sender_.store || bytes == 0 ||
        queued_store_bytes_ + bytes > kMaxQueuedStoreBytes) {
      return false;
    }
    queued_store_bytes_ += bytes;
    Event e;
    e.ino = ino;
    e.offset = offset;
    e.length = bytes;
    e.data = std::move(data);
    e.done = std::move(done);
    stores_.push_back(std::move(e));
  }
  cv_.notify_all();
  return true;
}

void FuseNotifier::Tell(Event& e, bool taken) {
  if (!e.done) return;
  std::function<void(bool)> done = std::move(e.done);
  e.done = nullptr;
  try {
    done(taken);
  } catch (const std::exception& x) {
    LogError(std::string("kernel page cache store: its outcome was not taken in: ") + x.what());
  } catch (...) {
    LogError("kernel page cache store: its outcome was not taken in");
  }
}

void FuseNotifier::Push(Event e) {
  std::vector<Event> stale;  // stores dropped: told so outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.range && !queue_.empty() && queue_.back().range && queue_.back().ino == e.ino &&
        queue_.back().offset + queue_.back().length == e.offset) {
      queue_.back().length += e.length;  // continues the last one: one notice
      return;
    }
    if (stop_ || queue_.size() >= kMaxQueued || (e.range && queued_ranges_ >= kMaxQueuedRanges)) {
      ++dropped_;
      return;
    }
    if (e.range) ++queued_ranges_;
    if (!e.entry && !e.range) {
      // The inode's content changed: bytes queued for its page cache before are stale.
      for (auto it = stores_.begin(); it != stores_.end();) {
        if (it->ino != e.ino) {
          ++it;
          continue;
        }
        queued_store_bytes_ -= it->length;
        ++dropped_;
        stale.push_back(std::move(*it));
        it = stores_.erase(it);
      }
    }
    queue_.push_back(std::move(e));
  }
  cv_.notify_all();
  for (Event& s : stale) Tell(s, false);
}

void FuseNotifier::Loop() {
  RateLimitedLog errors;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty() || !stores_.empty(); });
    if (stop_) break;
    const bool store = queue_.empty();  // invalidations first: they keep listings right
    std::deque<Event>& from = store ? stores_ : queue_;
    Event e = std::move(from.front());
    from.pop_front();
    if (e.range) --queued_ranges_;
    if (store) queued_store_bytes_ -= e.length;
    busy_ = true;
    lock.unlock();
    int rc = 0;
    bool sent = false;
    if (!alive_ || alive_(e.ino)) {
      if (store) {
        rc = sender_.store(e.ino, e.offset, e.data);
        if (rc == 0 && on_stored_) on_stored_(e.ino, e.offset, e.length);

      } else if (e.entry) {
        rc = sender_.inval_entry(e.ino, e.name);
      } else if (e.range && sender_.inval_range) {
        rc = sender_.inval_range(e.ino, e.offset, e.length);
      } else {
        rc = sender_.inval_inode(e.ino);
      }
      sent = true;
    }
    if (rc < 0 && rc != -ENOENT && rc != -ENOTCONN && rc != -ENODEV) {
      errors.Log(LogLevel::kWarn, std::string(store ? "kernel page cache store into inode "
                                                    : "kernel cache invalidation of inode ") +
                                      std::to_string(e.ino) + " failed: " + std::strerror(-rc));
    }
    e.data.clear();  // the pieces' blocks are released outside the lock
    Tell(e, sent && rc == 0);
    lock.lock();
    busy_ = false;
    if (sent && store && rc == 0) stored_bytes_ += e.length;
    if (sent) {
      ++sent_;
    } else {
      ++dropped_;
    }
    cv_.notify_all();
  }
  busy_ = false;
  cv_.notify_all();
}

uint64_t FuseNotifier::sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t FuseNotifier::stored_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stored_bytes_;
}

uint64_t FuseNotifier::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace daqfs
