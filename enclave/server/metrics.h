// enclaved's aggregate metrics in the Prometheus text exposition format 0.0.4 (issue 13), and the
// loopback-only HTTP/1.1 endpoint that serves them (GET /metrics, nothing else).
//
// Aggregate only: never a per-person value, a parameter value, a released cell, a caller or a
// request id. Every label value comes from a closed vocabulary (the loaded policy's template ids,
// the ledgers of its agreements, fixed rpc, outcome, status-code, entry-type and handshake-reason
// names); every value is a count, a duration, a size, a timestamp or a budget in micro-ε.
// docs/operator.md "Metrics" lists every family.
//
//   MetricsSources sources{...};
//   ENCLAVE_ASSIGN_OR_RETURN(auto endpoint, MetricsEndpoint::Start("127.0.0.1:9464",
//                                                   [sources] { return RenderMetrics(sources); }));
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/core/admission.h"
#include "enclave/core/budget_ledger.h"
#include "enclave/core/health.h"
#include "enclave/core/observed_log.h"

namespace enclave::adapters::sqlite {
class AuditLogStore;
}  // namespace enclave::adapters::sqlite

namespace enclave::server {

struct MetricsSources {
  std::shared_ptr<const core::QueryLogMetrics> requests;
  std::shared_ptr<const core::HealthService> health;
  std::shared_ptr<const adapters::sqlite::AuditLogStore> log;  // size, checkpoint
  std::string state_dir;                                        // file sizes, checkpoint age
  // The privacy-budget ledgers of the loaded agreements (null: no DP, no budget metrics).
  std::shared_ptr<core::BudgetLedger> ledger;
  std::vector<core::LedgerLimit> ledgers;
  // Failed TLS handshakes by reason since the process started (HandshakeFailureTotals).
  std::function<std::map<std::string, std::uint64_t>()> handshake_totals;
  // The admission queue's counters (core/admission.h); empty: no admission metrics.
  std::function<core::AdmissionStats()> admission;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::string version;
};

// The whole exposition, "# HELP" and "# TYPE" lines included. Safe to call from any thread.
std::string RenderMetrics(const MetricsSources& sources);

// A label value as the exposition format writes it (backslash, double quote, newline escaped).
std::string EscapeLabelValue(std::string_view value);

// metrics_listen: "" (off), "HOST:PORT" with HOST a loopback address (127.0.0.0/8, or [::1]; port
// 0 picks a free one), or "unix:/ABSOLUTE/PATH" (a Unix socket, created 0660). kInvalidArgument
// naming the setting and what is allowed otherwise.
absl::Status ValidateMetricsListen(const std::string& listen);

// The complete HTTP/1.1 response to one request head (request line and headers): 200 with the
// exposition for "GET /metrics" (a query string is ignored), 405 for another method, 404 for
// another path, 400 for anything that is not an HTTP/1.x request line. Always "Connection: close".
std::string MetricsHttpResponse(std::string_view request_head,
                                const std::function<std::string()>& render);

class MetricsEndpoint {
 public:
  using Render = std::function<std::string()>;
  // Binds `listen` (ValidateMetricsListen) and serves on one thread of its own: at most 16
  // connections at once, a request head of at most 8 KiB read within 5 s, one response per
  // connection. kInvalidArgument for a bad address, kUnavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen,
                                                                Render render);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The TCP port bound (the chosen one for port 0); 0 for a Unix socket.
  int port() const;
  // Stops serving and removes the Unix socket. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit MetricsEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::server
