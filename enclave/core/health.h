// Health of the enclave (issue 13): whether it serves, and who may ask. Free of gRPC; the rpc
// layer's grpc.health.v1 service (rpc/health_service_impl.h) is a thin translation of this.
//
// Serving status reflects what a caller would get: NOT_SERVING while the server starts or stops,
// and whenever the query log cannot be written (the last write failed, or the probe says the
// state directory cannot take writes), because then every query is refused (fail closed).
//
//   auto monitor = std::make_shared<HealthMonitor>(observed_log, probe);
//   HealthService health(principals, revocations, observed_log, monitor, {"", "enclave.v1.QueryService"});
//   monitor->MarkServing();                              // once the server listens
//   absl::StatusOr<ServingStatus> s = health.Check(caller, "", "Check");
//   monitor->MarkStopping();                             // first thing at shutdown
//
// Authorisation runs on every call: the caller must be a registered principal whose role may check
// health (policy::MayCheckHealth: operators), not on the deny-list. Refusals are written to the
// query log like every other refusal; allowed checks are not (a status reveals no data, and a
// monitoring system polling every few seconds would bury the log's requests), they are counted
// in metrics instead (Counts()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/core/observed_log.h"
#include "enclave/core/query_log.h"
#include "enclave/policy/access.h"
#include "enclave/policy/principals.h"

namespace enclave::core {

enum class ServingStatus { kServing, kNotServing };
const char* ServingStatusName(ServingStatus status);  // "SERVING", "NOT_SERVING"

class HealthMonitor {
 public:
  // An extra readiness check (e.g. the state directory accepts writes): OK or why not.
  using Probe = std::function<absl::Status()>;
  // `log` may be null (no log check); `probe` may be empty.
  HealthMonitor(std::shared_ptr<const ObservedQueryLog> log, Probe probe);

  enum class Phase { kStarting, kServing, kStopping };
  void MarkServing();   // starting -> serving (not after stopping)
  void MarkStopping();  // final

  struct Reading {
    ServingStatus status = ServingStatus::kNotServing;
    // "serving", "starting", "stopping", "query-log-unwritable", "state-dir-unwritable"
    std::string_view reason;
  };
  Reading Current() const;
  Phase phase() const;

  // Waits until the phase changes from `seen` or `timeout` passes; returns the phase then.
  Phase WaitForPhaseChange(Phase seen, std::chrono::milliseconds timeout) const;

 private:
  std::shared_ptr<const ObservedQueryLog> log_;
  Probe probe_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Phase phase_ = Phase::kStarting;  // guarded by mu_
};

class HealthService {
 public:
  // `services`: the names Check answers for ("" = the whole server); others are kNotFound.
  HealthService(std::shared_ptr<const policy::PrincipalDirectory> principals,
                std::shared_ptr<policy::RevocationSource> revocations,
                std::shared_ptr<QueryLog> log, std::shared_ptr<const HealthMonitor> monitor,
                std::vector<std::string> services);

  // The caller may check health: a registered, unrevoked principal with policy::MayCheckHealth.
  // kPermissionDenied otherwise, written to the query log first as a query-refused entry with
  // rpc "Health/<method>" (kUnavailable if that write fails). `method`: "Check" or "Watch".
  absl::Status Authorize(const policy::CallerIdentity& caller, std::string_view method);

  // Authorize, then the status of `service`; kNotFound for a service not in the list.
  absl::StatusOr<ServingStatus> Check(const policy::CallerIdentity& caller,
                                      std::string_view service, std::string_view method);

  bool Knows(std::string_view service) const;
  const HealthMonitor& monitor() const { return *monitor_; }

  // Calls answered, by method ("Check", "Watch") and answer ("SERVING", "NOT_SERVING",
  // "PERMISSION_DENIED", "NOT_FOUND", "UNAVAILABLE"), for the metrics.
  std::map<std::pair<std::string, std::string>, std::uint64_t> Counts() const;
  void Count(std::string_view method, std::string_view answer);

 private:
  std::string NextRequestId();

  std::shared_ptr<const policy::PrincipalDirectory> principals_;
  std::shared_ptr<policy::RevocationSource> revocations_;
  std::shared_ptr<QueryLog> log_;
  std::shared_ptr<const HealthMonitor> monitor_;
  std::vector<std::string> services_;
  std::string request_prefix_;
  std::atomic<std::uint64_t> next_request_{1};
  mutable std::mutex counts_mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;  // guarded by counts_mu_
};

}  // namespace enclave::core
