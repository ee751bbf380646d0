// The HTTP layer of `enclavectl serve` (docs/web-api.md): the security checks every request
// passes (Host, token, Origin, Content-Type), the headers every response carries, the embedded
// page's files and the JSON API over the client library. No sockets here (server.h owns them):
// Api::Handle maps one parsed request to one response and is safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>

#include <boost/beast/http.hpp>

#include "client/cli/audit.h"
#include "enclave/client/client.h"
#include "enclave/client/format.h"
#include "enclave/client/retry.h"

namespace enclave::web {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Request bodies above this are refused with 413 (the server enforces it while reading).
inline constexpr std::uint64_t kMaxBodyBytes = 64 * 1024;
// Name of the session cookie set by GET /?token=T.
// The session cookie's name carries the port: browsers do not separate cookies by port, so two
// sessions on 127.0.0.1 (an analyst's and an officer's) would otherwise overwrite each other.
inline std::string SessionCookieName(std::uint16_t port) {
  return "enclave_session_" + std::to_string(port);
}

struct ApiConfig {
  std::string token;        // the per-session token (identity.h NewSessionToken)
  std::uint16_t port = 0;   // the bound port: Host and Origin must name it
  std::string caller;       // the certificate's URI SAN
  std::string target;       // the enclave's address, for /api/session
  client::Language lang = client::Language::kEn;
  std::string version;
  client::RetryPolicy retry;  // a busy enclave is asked again, as the CLI does
  client::cli::AuditTrust trust;  // the officer's pinned log key, origin and stored checkpoint
};

struct Handled {
  Response response;
  // The route for the error log: "GET /api/templates/{id}", never the request's own path or
  // query (which may carry parameter values).
  std::string route;
};

class Api {
 public:
  // `enclave` and `audit` must outlive the Api and be safe for concurrent calls (the gRPC
  // clients are).
  Api(ApiConfig config, client::EnclaveClient& enclave, client::AuditClient& audit);

  Handled Handle(const Request& request) const;

  // The response for a request whose body exceeded kMaxBodyBytes (the server stops reading it).
  Response TooLarge(unsigned version) const;

  const ApiConfig& config() const { return config_; }

 private:
  struct ExportedBundle {
    std::string bytes;
    std::string origin;
    std::uint64_t size = 0;
  };
  // The whole log's export bundle, in memory, verified with the pinned key before it is offered.
  absl::StatusOr<ExportedBundle> ExportBundle() const;

  ApiConfig config_;
  client::EnclaveClient& enclave_;
  client::AuditClient& audit_;
};

// Sets the headers docs/web-api.md requires on every response (CSP, nosniff, no-referrer,
// no-store, COOP, CORP, X-Frame-Options).
void AddSecurityHeaders(Response& response);

// The HTTP status for a gRPC-style status code (INVALID_ARGUMENT 400 ... other 500).
http::status HttpStatusFor(absl::StatusCode code);

// {"error":{"code":"…","message":"…","suggestions":[…]}} for a failed call.
std::string ErrorJson(const absl::Status& status);

}  // namespace enclave::web
