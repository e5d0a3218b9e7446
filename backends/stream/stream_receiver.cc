#include "backends/stream/stream_receiver.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>
#include <set>
#include <zmq.hpp>

#include "fs/log.h"
#include "fs/thread_priority.h"

namespace daqfs {

struct StreamReceiver::Sockets {
  zmq::socket_t data;
  zmq::socket_t monitor;
};

namespace {

// The received parts of one message, kept alive by the frames that point into them.
struct Message {
  std::vector<zmq::message_t> parts;
};

std::atomic<uint64_t> monitor_ids{0};

// The ids of this process's threads.
std::set<std::string> TaskIds() {
  std::set<std::string> out;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.insert(e->d_name);
    }
    closedir(d);
  }
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

StreamReceiver::StreamReceiver(StreamReceiverOptions options, StreamLedger* ledger,
                               OnChange on_change)
    : options_(std::move(options)), ledger_(ledger), on_change_(std::move(on_change)) {}

StreamReceiver::~StreamReceiver() { Stop(); }

Status StreamReceiver::Start() {
  if (thread_.joinable()) return Invalid(options_.name + ": receiver started twice");
  try {
    const std::set<std::string> before = TaskIds();
    context_ = std::make_unique<zmq::context_t>(1);
    auto s = std::make_unique<Sockets>();
    s->data =
        zmq::socket_t(*context_, options_.sub ? zmq::socket_type::sub : zmq::socket_type::pull);
    // ZeroMQ's I/O thread (started with the first socket) reads the frames off the network:
    // like the ingest thread, before readers and decoders when the CPUs are busy (as root).
    for (const std::string& tid : TaskIds()) {
      if (before.count(tid) ||
          Slurp("/proc/self/task/" + tid + "/comm").rfind("ZMQbg/IO", 0) != 0) {
        continue;
      }
      (void)setpriority(PRIO_PROCESS, static_cast<id_t>(std::stoul(tid)), -10);
    }
    s->data.set(zmq::sockopt::rcvhwm, options_.receive_hwm);
    // No message larger than the largest image a parser takes (and the ring, when bounded):
    // a peer that sends one is disconnected, it cannot make the daemon allocate more.
    s->data.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes));
    s->data.set(zmq::sockopt::linger, 0);
    if (options_.sub) s->data.set(zmq::sockopt::subscribe, "");
    // Peers come and go: counted from the socket's own events, on this thread's poll.
    const std::string monitor_addr =
        "inproc://daqfs-monitor-" + std::to_string(monitor_ids.fetch_add(1));
    if (zmq_socket_monitor(s->data.handle(), monitor_addr.c_str(),
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) !=
        0) {
      return Status(Code::kInvalid,
                    options_.name + ": socket monitor: " + zmq_strerror(zmq_errno()));
    }
    s->monitor = zmq::socket_t(*context_, zmq::socket_type::pair);
    s->monitor.set(zmq::sockopt::linger, 0);
    s->monitor.connect(monitor_addr);
    bound_.clear();
    for (const std::string& e : options_.endpoints) {
      try {
        if (options_.bind) {
          s->data.bind(e);
          bound_.push_back(s->data.get(zmq::sockopt::last_endpoint));
        } else {
          s->data.connect(e);
          bound_.push_back(e);
        }
      } catch (const zmq::error_t& x) {
        return Status(Code::kInvalid, options_.name + ": cannot " +
                                          (options_.bind ? "bind " : "connect to ") + e + ": " +
                                          x.what());
      }
    }
    sockets_ = std::move(s);
  } catch (const zmq::error_t& x) {
    return Status(Code::kInvalid, options_.name + ": ZeroMQ: " + x.what());
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "daqfs-ingest");
    // Before readers and decoders when the CPUs are busy (as root): a detector does not wait.
    (void)SetThreadNice(-10);
    Loop();
  });
  return Status::Ok();
}

void StreamReceiver::Stop() {
  if (context_) context_->shutdown();  // a blocking poll or receive returns ETERM
  if (thread_.joinable()) thread_.join();
  sockets_.reset();
  context_.reset();
}

void StreamReceiver::Loop() {
  RateLimitedLog malformed_log;
  zmq::pollitem_t items[] = {{sockets_->data.handle(), 0, ZMQ_POLLIN, 0},
                             {sockets_->monitor.handle(), 0, ZMQ_POLLIN, 0}};
  try {
    for (;;) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(-1));
      } catch (const zmq::error_t& x) {
        if (x.num() == EINTR) continue;  // a signal (SIGHUP reopens the log): poll again
        throw;
      }
      if (items[1].revents & ZMQ_POLLIN) {
        zmq::message_t event, address;
        if (sockets_->monitor.recv(event, zmq::recv_flags::dontwait) && event.more()) {
          (void)sockets_->monitor.recv(address);
        }
        if (event.size() >= 6) {
          uint16_t id = 0;
          std::memcpy(&id, event.data(), 2);
          if (id == ZMQ_EVENT_CONNECTED || id == ZMQ_EVENT_ACCEPTED) connected_.fetch_add(1);
          if (id == ZMQ_EVENT_DISCONNECTED && connected_.load() > 0) connected_.fetch_sub(1);
        }
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      // Every message waiting is taken before polling again.
      for (;;) {
        auto m = std::make_shared<Message>();
        zmq::message_t part;
        if (!sockets_->data.recv(part, zmq::recv_flags::dontwait)) break;
        bool more = part.more();
        m->parts.push_back(std::move(part));
        while (more) {
          zmq::message_t next;
          (void)sockets_->data.recv(next);  // the rest of a message arrives with its first part
          more = next.more();
          m->parts.push_back(std::move(next));
        }
        received_.fetch_add(1, std::memory_order_relaxed);
        StreamParts parts;
        parts.reserve(m->parts.size());
        for (const zmq::message_t& p : m->parts) {
          parts.emplace_back(static_cast<const uint8_t*>(p.data()), p.size());
        }
        // Nothing a message holds stops the thread: an exception (a value that cannot be
        // stored, memory) counts the message as malformed.
        try {
          auto parse = [&]() -> Result<StreamEvent> {
            switch (options_.protocol) {
              case StreamProtocol::kDectrisV1:
                return ParseDectrisV1(parts);
              case StreamProtocol::kDectrisStream2:
                return ParseDectrisStream2(parts);
              case StreamProtocol::kArray:
                return ParseArrayMessage(parts, options_.array_keys);
            }
            return Status(Code::kCorrupt, "unknown protocol");
          };
          Result<StreamEvent> e = parse();
          if (!e.ok()) {
            ledger_->Malformed();
            malformed_log.Log(LogLevel::kWarn,
                              options_.name + ": malformed message: " + e.status().message());
            continue;
          }
          StreamLedger::Change change = ledger_->Apply(std::move(*e), m);
          if (on_change_) on_change_(change);
        } catch (const std::exception& x) {
          ledger_->Malformed();
          malformed_log.Log(LogLevel::kWarn,
                            options_.name + ": message not taken in: " + std::string(x.what()));
        }
      }
    }
  } catch (const zmq::error_t& x) {
    if (x.num() != ETERM) LogError(options_.name + ": receiver stopped: " + x.what());
  }
}

}  // namespace daqfs
