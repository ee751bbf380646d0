// Composition root helpers: build the enclave from a config, start the gRPC server with mutual TLS,
// and stop it in order. main.cc and the in-process end-to-end tests use the same StartServer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "enclave/core/query_service.h"
#include "enclave/server/config.h"

namespace enclave::server {

class RunningServer {
 public:
  virtual ~RunningServer() = default;
  virtual int port() const = 0;
  // The metrics endpoint's TCP port (metrics_listen on loopback); 0 when off or a Unix socket.
  virtual int metrics_port() const { return 0; }
  // The admission queue's counters (queries queued, shed, waited): core/admission.h.
  virtual core::AdmissionStats admission_stats() const = 0;
  // Stops accepting, lets in-flight calls finish until the grace period, then cancels them.
  virtual void Shutdown() = 0;
  // Blocks until Shutdown has completed.
  virtual void Wait() = 0;
  // A cheap liveness self-check for the systemd watchdog (systemd_notify.h): a round trip
  // through the query log's writer. Not OK once the log failed or closed; blocks while the
  // writer is stuck.
  virtual absl::Status CheckAlive() = 0;
  // After Shutdown: OK when the `server-stop` entry was logged and the final checkpoint signed.
  // Otherwise (the query log failed earlier, e.g. a full disk, and refuses every write since)
  // kDataLoss naming what was not done: "the stop was not logged and the final checkpoint was not
  // signed: ...". enclaved then exits 3, not 0.
  virtual absl::Status StopStatus() = 0;
};

// Loads policies and data, checks every template against the database, opens the query log, takes
// the state directory's lock file, and starts listening. Any failure is a status naming the
// problem; nothing is left listening.
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const Config& config);

// The detail of the `policy-loaded` entry written at start: one line per template
// ("template ID@VERSION sha256=HEX rule_set=ID"), per rule set ("rule_set ID@VERSION
// canonical_sha256=HEX", the SHA-256 of disclosure::CanonicalText) and the principals file
// ("principals sha256=HEX"). Identifiers and hashes only. kUnavailable if the principals file
// cannot be read.
absl::StatusOr<std::string> PolicyLoadedDetail(const core::TemplateCatalog& catalog,
                                               const std::string& policies_dir);

// What `enclaved --check` reports.
struct ConfigCheck {
  std::size_t templates = 0;
  std::size_t principals = 0;
};

// Everything StartServer loads and checks (TLS files readable, database opens, policies load and
// every template's SQL passes), without taking the lock, opening the query log or listening.
absl::StatusOr<ConfigCheck> CheckConfiguration(const Config& config);

}  // namespace enclave::server
