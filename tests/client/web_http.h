// A tiny Boost.Beast HTTP/1.1 client for the tests of `enclavectl serve` (issue 12): one request
// per connection to 127.0.0.1:port, the response as Beast parsed it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace enclave::testing {

struct WebReply {
  int status = 0;  // 0: no response (the connection failed or closed)
  boost::beast::http::response<boost::beast::http::string_body> response;
  std::string Header(const std::string& name) const {
    auto it = response.find(name);
    return it == response.end() ? std::string() : std::string(it->value());
  }
  const std::string& body() const { return response.body(); }
};

// `headers` are added as given; Host defaults to 127.0.0.1:port unless given.
inline WebReply WebFetch(int port, boost::beast::http::verb method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         const std::string& body = "") {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  WebReply reply;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  beast::error_code ec;
  socket.connect({asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)}, ec);
  if (ec) return reply;
  http::request<http::string_body> request(method, target, 11);
  bool host = false;
  for (const auto& [name, value] : headers) {
    if (name == "Host") host = true;
    request.set(name, value);
  }
  if (!host) request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.body() = body;
  request.keep_alive(false);
  if (!body.empty() || method == http::verb::post) request.prepare_payload();
  http::write(socket, request, ec);
  // A refused body (413) may stop the write early: the response is still read.
  beast::flat_buffer buffer;
  http::read(socket, buffer, reply.response, ec);
  if (!ec) reply.status = static_cast<int>(reply.response.result_int());
  return reply;
}

}  // namespace enclave::testing
