// StreamReceiver: the ingest thread of one stream source. It owns the ZeroMQ socket (PULL or
// SUB; connected to, or bound on, one or more endpoints) and only receives: each multipart
// message is parsed (stream_messages.h) and applied to the source's StreamLedger, whose frames
// keep the received message parts themselves (no copy of the pixels). It never waits for
// readers, disks or the kernel: what it tells the outside goes through `on_change`, which must
// not block (the backend hands it to the invalidator's queue).
//
// Malformed messages are counted in the ledger and logged at a bounded rate; they never stop
// the thread. Peers connected now are counted from the socket's monitor events.
//
// Thread safety: Start and Stop from one thread; connected() and received() from any.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backends/stream/stream_ledger.h"
#include "backends/stream/stream_messages.h"
#include "fs/status.h"

namespace zmq {
class context_t;
}

namespace daqfs {

struct StreamReceiverOptions {
  std::vector<std::string> endpoints;  // tcp://host:port, ipc://path...
  bool sub = false;                    // SUB (all messages) instead of PULL
  bool bind = false;                   // bind instead of connect
  StreamProtocol protocol = StreamProtocol::kDectrisV1;
  ArrayKeys array_keys;
  // Messages libzmq may queue for this socket before the sender sees back-pressure (PULL) or
  // drops (SUB). 0 = no limit: a detector does not buffer, so the receiver's queue is where a
  // short stall of this thread is absorbed; the ring bounds the bytes kept.
  int receive_hwm = 0;
  std::string name;  // for log lines: the source's name
  // The largest message part taken (ZMQ_MAXMSGSIZE); a peer sending a larger one is
  // disconnected by ZeroMQ.
  uint64_t max_message_bytes = kMaxStreamImageBytes + (1 << 20);
};

class StreamReceiver {
 public:
  using OnChange = std::function<void(const StreamLedger::Change&)>;
  StreamReceiver(StreamReceiverOptions options, StreamLedger* ledger, OnChange on_change);
  ~StreamReceiver();  // Stop()
  StreamReceiver(const StreamReceiver&) = delete;
  StreamReceiver& operator=(const StreamReceiver&) = delete;

  // Creates the socket, connects or binds every endpoint, starts the thread. An endpoint that
  // cannot be bound or has a bad address is an error naming it.
  Status Start();
  // Ends the thread (a receive under way returns at once). Idempotent.
  void Stop();

  int connected() const { return connected_.load(std::memory_order_relaxed); }
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  // The endpoints as bound (a `tcp://127.0.0.1:*` gets its port), or as given when connecting.
  const std::vector<std::string>& endpoints() const { return bound_; }

 private:
  void Loop();

  StreamReceiverOptions options_;
  StreamLedger* ledger_;
  OnChange on_change_;
  std::unique_ptr<zmq::context_t> context_;
  struct Sockets;
  std::unique_ptr<Sockets> sockets_;
  std::vector<std::string> bound_;
  std::thread thread_;
  std::atomic<int> connected_{0};
  std::atomic<uint64_t> received_{0};
};

}  // namespace daqfs
