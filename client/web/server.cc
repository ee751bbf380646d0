#include "client/web/server.h"

#include <array>
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace enclave::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Errors go to stderr with the route and the status only: never a path, query, body or value.
void LogError(const std::string& route, unsigned status) {
  std::cerr << "enclavectl serve: " << route << " -> " << status << "\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Api& api, asio::thread_pool& pool,
          std::atomic<int>& connections)
      : stream_(std::move(socket)), api_(api), pool_(pool), connections_(connections) {}
  ~Session() { connections_.fetch_sub(1); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(WebServer::kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnRead(ec);
                     });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      const auto method = parser_->get().method_string();
      LogError(std::string(method.data(), method.size()) + " (body over 64 KiB)", 413);
      auto response = std::make_shared<Response>(api_.TooLarge(11));
      Write(std::move(response), /*close=*/true);
      return;
    }
    if (ec) {
      Close();  // end of stream, timeout, a malformed request: nothing to answer
      return;
    }
    auto request = std::make_shared<Request>(parser_->release());
    stream_.expires_never();
    // The handler may block on the enclave: run it on a worker, answer on the connection's strand.
    asio::post(pool_, [self = shared_from_this(), request] {
      Handled handled = self->api_.Handle(*request);
      const unsigned status = handled.response.result_int();
      if (status >= 400) LogError(handled.route, status);
      auto response = std::make_shared<Response>(std::move(handled.response));
      const bool close = !response->keep_alive();
      asio::post(self->stream_.get_executor(), [self, response, close]() mutable {
        self->Write(std::move(response), close);
      });
    });
  }

  void Write(std::shared_ptr<Response> response, bool close) {
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, close](beast::error_code ec,
                                                                   std::size_t) {
                        if (ec || close) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  // Half-close, then read and discard what the client still sends (a refused body) for a
  // moment, so that the kernel does not answer it with a reset that could eat our response.
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    Drain();
  }

  void Drain() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (std::size_t{4} << 20)) {
                                beast::error_code ignored;
                                self->stream_.socket().close(ignored);
                                return;
                              }
                              self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  const Api& api_;
  asio::thread_pool& pool_;
  std::atomic<int>& connections_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::array<char, 16 * 1024> discard_{};
  std::size_t drained_ = 0;
};

}  // namespace

struct WebServer::State {
  // Declared first: sessions still queued in `io` count down when `io` is destroyed.
  std::atomic<int> connections{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::thread_pool pool{static_cast<std::size_t>(kWorkers)};
  std::optional<asio::signal_set> signals;
  const Api* api = nullptr;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        if (connections.fetch_add(1) >= kMaxConnections) {
          connections.fetch_sub(1);
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Session>(std::move(socket), *api, pool, connections)->Start();
        }
      }
      Accept();
    });
  }
};

WebServer::WebServer() : state_(std::make_unique<State>()) {}

WebServer::~WebServer() {
  Stop();
  state_->pool.join();
}

absl::StatusOr<std::uint16_t> WebServer::Listen(std::uint16_t port) {
  beast::error_code ec;
  // Loopback only: never 0.0.0.0 or ::.
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  state_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(endpoint, ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                                  ec.message());
  }
  return state_->acceptor.local_endpoint().port();
}

void WebServer::StopOnSignals() {
  state_->signals.emplace(state_->io, SIGINT, SIGTERM);
  state_->signals->async_wait([this](beast::error_code ec, int) {
    if (!ec) Stop();
  });
}

void WebServer::Run(const Api& api) {
  state_->api = &api;
  state_->Accept();
  state_->io.run();
  // Requests already handed to workers finish; their answers are no longer written.
  state_->pool.join();
}

void WebServer::Stop() {
  asio::post(state_->io, [this] {
    beast::error_code ignored;
    state_->acceptor.close(ignored);
    state_->io.stop();
  });
}

}  // namespace enclave::web
