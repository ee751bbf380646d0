// The metrics endpoint: a minimal HTTP/1.1 responder on Boost.Asio, loopback TCP or a Unix socket,
// GET /metrics only, one request per connection.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "enclave/base/log.h"
#include "enclave/server/metrics.h"

namespace enclave::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

constexpr std::size_t kMaxRequestHead = 8 * 1024;
constexpr std::chrono::seconds kRequestTimeout{5};
constexpr int kMaxConnections = 16;
constexpr std::string_view kUnixPrefix = "unix:";

std::string Response(std::string_view status, std::string_view content_type,
                     std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::string(status) + "\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nCache-Control: no-store\r\nConnection: close\r\n" + std::string(extra_headers) +
         "\r\n" + std::string(body);
}

std::string PlainResponse(std::string_view status, std::string_view body,
                          std::string_view extra_headers = "") {
  return Response(status, "text/plain; charset=utf-8", body, extra_headers);
}

struct HostPort {
  std::string host;
  int port = 0;
};

absl::StatusOr<HostPort> ParseLoopback(const std::string& listen) {
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "metrics.listen \"", listen,
      "\" is not allowed; allowed: 127.0.0.1:PORT (or another 127.x.y.z), [::1]:PORT, or "
      "unix:/ABSOLUTE/PATH; the metrics endpoint is never reachable from the network"));
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return bad;
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return bad;  // IPv6 without brackets
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535 || port_text.size() > 5) {
    return bad;
  }
  boost::system::error_code parse_error;
  const asio::ip::address address = asio::ip::make_address(host, parse_error);
  if (parse_error || !address.is_loopback()) return bad;
  return HostPort{host, port};
}

}  // namespace

absl::Status ValidateMetricsListen(const std::string& listen) {
  if (listen.empty()) return absl::OkStatus();
  if (listen.rfind(kUnixPrefix, 0) == 0) {
    const std::string path = listen.substr(kUnixPrefix.size());
    if (path.empty() || path.front() != '/' || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metrics.listen \"", listen, "\": a Unix socket needs an absolute path of at most ",
          sizeof(sockaddr_un{}.sun_path) - 1, " bytes (e.g. unix:/run/enclaved/metrics.sock)"));
    }
    return absl::OkStatus();
  }
  return ParseLoopback(listen).status();
}

std::string MetricsHttpResponse(std::string_view head, const std::function<std::string()>& render) {
  const std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (eol == std::string_view::npos || sp1 == std::string_view::npos ||
      sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return PlainResponse("400 Bad Request", "not an HTTP/1.1 request\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return PlainResponse("400 Bad Request", "not an HTTP/1.1 request\n");
  }
  if (method != "GET") {
    return PlainResponse("405 Method Not Allowed", "only GET /metrics is served\n",
                         "Allow: GET\r\n");
  }
  if (const std::size_t q = target.find('?'); q != std::string_view::npos) {
    target = target.substr(0, q);
  }
  if (target != "/metrics") return PlainResponse("404 Not Found", "only GET /metrics is served\n");
  return Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
}

struct MetricsEndpoint::Impl {
  asio::io_context io;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<unix_socket::acceptor> unix_acceptor;
  std::string socket_path;
  Render render;
  int port = 0;
  std::shared_ptr<std::atomic<int>> active = std::make_shared<std::atomic<int>>(0);
  std::thread thread;
  bool stopped = false;

  template <typename Acceptor>
  void Accept(Acceptor& acceptor);
};

namespace {

template <typename Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, MetricsEndpoint::Render render, std::shared_ptr<std::atomic<int>> active)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(kMaxRequestHead),
        render_(std::move(render)),
        active_(std::move(active)) {
    ++*active_;
  }
  ~Session() { --*active_; }

  void Start() {
    auto self = this->shared_from_this();
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n",
                           [self](const boost::system::error_code& ec, std::size_t n) {
                             self->OnRead(ec, n);
                           });
  }

 private:
  void OnRead(const boost::system::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {
      response_ = PlainResponse("431 Request Header Fields Too Large", "request head too large\n");
    } else if (ec) {
      Close();
      return;
    } else {
      const char* data = static_cast<const char*>(buffer_.data().data());
      response_ = MetricsHttpResponse(std::string_view(data, n), render_);
    }
    auto self = this->shared_from_this();
    asio::async_write(socket_, asio::buffer(response_),
                      [self](const boost::system::error_code&, std::size_t) { self->Close(); });
  }

  void Close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  MetricsEndpoint::Render render_;
  std::shared_ptr<std::atomic<int>> active_;
  std::string response_;
};

}  // namespace

template <typename Acceptor>
void MetricsEndpoint::Impl::Accept(Acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](const boost::system::error_code& ec,
                                          typename Acceptor::protocol_type::socket socket) {
    if (ec == asio::error::operation_aborted) return;  // stopping
    if (!ec) {
      if (active->load() >= kMaxConnections) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session<typename Acceptor::protocol_type::socket>>(std::move(socket),
                                                                            render, active)
            ->Start();
      }
    }
    Accept(acceptor);
  });
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

int MetricsEndpoint::port() const { return impl_->port; }

void MetricsEndpoint::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  boost::system::error_code ignored;
  if (impl_->tcp_acceptor) impl_->tcp_acceptor->close(ignored);
  if (impl_->unix_acceptor) impl_->unix_acceptor->close(ignored);
  if (!impl_->socket_path.empty()) ::unlink(impl_->socket_path.c_str());
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& listen,
                                                                         Render render) {
  if (listen.empty()) return absl::InvalidArgumentError("metrics.listen is empty");
  if (absl::Status s = ValidateMetricsListen(listen); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->render = std::move(render);
  boost::system::error_code ec;
  if (listen.rfind(kUnixPrefix, 0) == 0) {
    const std::string path = listen.substr(kUnixPrefix.size());
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "metrics.listen: ", path, " exists and is not a socket; allowed: a free path"));
      }
      ::unlink(path.c_str());  // left by a stopped enclaved (one per state_dir: the lock file)
    }
    impl->unix_acceptor.emplace(impl->io);
    impl->unix_acceptor->open(unix_socket(), ec);
    if (!ec) impl->unix_acceptor->bind(unix_socket::endpoint(path), ec);
    if (!ec) impl->unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("metrics.listen: cannot listen on ", path, ": ", ec.message()));
    }
    impl->socket_path = path;
    ::chmod(path.c_str(), 0660);  // owner and group (a scraper in the enclaved group)
    impl->Accept(*impl->unix_acceptor);
  } else {
    absl::StatusOr<HostPort> hp = ParseLoopback(listen);
    if (!hp.ok()) return hp.status();
    const tcp::endpoint endpoint(asio::ip::make_address(hp->host),
                                 static_cast<unsigned short>(hp->port));
    impl->tcp_acceptor.emplace(impl->io);
    impl->tcp_acceptor->open(endpoint.protocol(), ec);
    if (!ec) impl->tcp_acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl->tcp_acceptor->bind(endpoint, ec);
    if (!ec) impl->tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("metrics.listen: cannot listen on ", listen, ": ", ec.message()));
    }
    impl->port = impl->tcp_acceptor->local_endpoint().port();
    impl->Accept(*impl->tcp_acceptor);
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    for (;;) {
      try {
        raw->io.run();
        return;
      } catch (...) {
        base::LogError("metrics_endpoint_error", {});  // keep serving; io.run resumes
      }
    }
  });
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(impl)));
}

}  // namespace enclave::server
