// The socket side of `enclavectl serve`: a Boost.Beast HTTP/1.1 server on 127.0.0.1 only.
//
// Threads: one thread runs the asio io_context (accept, read, write: never blocks); each parsed
// request is handed to a small pool of worker threads (kWorkers) that runs Api::Handle, which may
// block on a gRPC call to the enclave, and posts the response back. One connection handles one
// request at a time; at most kMaxConnections are open (more are closed at once), and an idle
// connection is closed after kIdleTimeout. That is plenty for one user's browser, and a slow
// query does not stop the page's files or other calls.
//
//   WebServer server;
//   absl::StatusOr<std::uint16_t> port = server.Listen(0);   // 127.0.0.1, 0: any free port
//   Api api(config_with_port, enclave, audit);
//   server.StopOnSignals();
//   server.Run(api);                                       // until Stop() or SIGINT/SIGTERM
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "client/web/api.h"

namespace enclave::web {

class WebServer {
 public:
  static constexpr int kWorkers = 4;
  static constexpr int kMaxConnections = 32;
  static constexpr std::chrono::seconds kIdleTimeout{120};

  WebServer();
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds 127.0.0.1:port (0: a free port) and listens. Returns the bound port.
  absl::StatusOr<std::uint16_t> Listen(std::uint16_t port);

  // From now on SIGINT and SIGTERM stop Run() (a signal before Run() is kept and stops it at once).
  void StopOnSignals();
  // Serves until Stop() (from any thread) or a signal (StopOnSignals). Returns after the workers
  // finished their requests.
  void Run(const Api& api);
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace enclave::web
