// PushMessages: a test publisher for stream receivers: crafted or captured messages sent on a
// PUSH socket connected to the receiver's endpoint. Header only (cppzmq); its users link libzmq
// (daqfs_stream does).
#pragma once

#include <string>
#include <vector>
#include <zmq.hpp>

namespace daqfs::testing {

// Sends `messages` (each a list of parts, in order) to `endpoint` and returns once they left the
// socket (it lingers until delivered, at most 10 s).
inline void PushMessages(const std::string& endpoint,
                         const std::vector<std::vector<std::string>>& messages) {
  zmq::context_t ctx(1);
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 10000);
  push.connect(endpoint);
  for (const std::vector<std::string>& m : messages) {
    for (size_t i = 0; i < m.size(); ++i) {
      push.send(zmq::buffer(m[i]),
                i + 1 < m.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  push.close();  // linger: delivered before the context goes
}

}  // namespace daqfs::testing
