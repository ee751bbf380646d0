#include "enclave/core/health.h"

#include <algorithm>

#include "enclave/base/log.h"
#include "enclave/core/internal/ids.h"
#include "enclave/core/request_record.h"

namespace enclave::core {

const char* ServingStatusName(ServingStatus status) {
  return status == ServingStatus::kServing ? "SERVING" : "NOT_SERVING";
}

HealthMonitor::HealthMonitor(std::shared_ptr<const ObservedQueryLog> log, Probe probe)
    : log_(std::move(log)), probe_(std::move(probe)) {}

void HealthMonitor::MarkServing() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::kStarting) return;
    phase_ = Phase::kServing;
  }
  cv_.notify_all();
}

void HealthMonitor::MarkStopping() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = Phase::kStopping;
  }
  cv_.notify_all();
}

HealthMonitor::Phase HealthMonitor::phase() const {
  std::lock_guard<std::mutex> lock(mu_);
  return phase_;
}

HealthMonitor::Phase HealthMonitor::WaitForPhaseChange(Phase seen,
                                                       std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return phase_ != seen; });
  return phase_;
}

HealthMonitor::Reading HealthMonitor::Current() const {
  switch (phase()) {
    case Phase::kStarting:
      return {ServingStatus::kNotServing, "starting"};
    case Phase::kStopping:
      return {ServingStatus::kNotServing, "stopping"};
    case Phase::kServing:
      break;
  }
  if (log_ != nullptr && log_->LastAppendFailed()) {
    return {ServingStatus::kNotServing, "query-log-unwritable"};
  }
  if (probe_ && !probe_().ok()) return {ServingStatus::kNotServing, "state-dir-unwritable"};
  return {ServingStatus::kServing, "serving"};
}

HealthService::HealthService(std::shared_ptr<const policy::PrincipalDirectory> principals,
                             std::shared_ptr<policy::RevocationSource> revocations,
                             std::shared_ptr<QueryLog> log,
                             std::shared_ptr<const HealthMonitor> monitor,
                             std::vector<std::string> services)
    : principals_(std::move(principals)),
      revocations_(std::move(revocations)),
      log_(std::move(log)),
      monitor_(std::move(monitor)),
      services_(std::move(services)) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  request_prefix_ = "h-" + internal::Base36(static_cast<std::uint64_t>(millis > 0 ? millis : 0)) + "-";
}

std::string HealthService::NextRequestId() {
  return request_prefix_ + std::to_string(next_request_.fetch_add(1));
}

bool HealthService::Knows(std::string_view service) const {
  return std::find(services_.begin(), services_.end(), service) != services_.end();
}

void HealthService::Count(std::string_view method, std::string_view answer) {
  std::lock_guard<std::mutex> lock(counts_mu_);
  ++counts_[{std::string(method), std::string(answer)}];
}

std::map<std::pair<std::string, std::string>, std::uint64_t> HealthService::Counts() const {
  std::lock_guard<std::mutex> lock(counts_mu_);
  return counts_;
}

absl::Status HealthService::Authorize(const policy::CallerIdentity& caller,
                                      std::string_view method) {
  const std::string rpc = method == "Watch" ? "Health/Watch" : "Health/Check";
  auto refuse = [&](absl::Status status, const std::string& role) {
    RequestRecord record(*log_, rpc, NextRequestId());
    record.entry().caller = caller.uri;
    record.entry().caller_cert_sha256 = caller.cert_sha256;
    record.entry().role = role;
    absl::Status refused = record.Refuse(std::move(status));
    Count(method == "Watch" ? "Watch" : "Check",
          refused.code() == absl::StatusCode::kUnavailable ? "UNAVAILABLE" : "PERMISSION_DENIED");
    return refused;
  };
  absl::StatusOr<policy::Principal> principal =
      principals_ != nullptr ? principals_->Find(caller.uri)
                             : absl::StatusOr<policy::Principal>(absl::PermissionDeniedError(""));
  if (!principal.ok()) {
    return refuse(absl::PermissionDeniedError("caller is not a registered principal"), "");
  }
  const std::string role = templates::RoleName(principal->role);
  if (revocations_ != nullptr) {
    absl::StatusOr<std::shared_ptr<const policy::RevocationList>> list = revocations_->Current();
    if (!list.ok() || *list == nullptr) {
      base::LogError("revocation_list_unreadable", {{"code", list.status().code()}});
      return refuse(absl::PermissionDeniedError(
                        "the enclave cannot read its revocation list and refuses every call "
                        "until it is fixed; try again later"),
                    role);
    }
    if (absl::Status revoked = (*list)->Check(caller); !revoked.ok()) return refuse(revoked, role);
  }
  if (!policy::MayCheckHealth(principal->role)) {
    return refuse(absl::PermissionDeniedError(
                      "role '" + role +
                      "' may not call the health service; it is for operators (role OPERATOR)"),
                  role);
  }
  return absl::OkStatus();
}

absl::StatusOr<ServingStatus> HealthService::Check(const policy::CallerIdentity& caller,
                                                   std::string_view service,
                                                   std::string_view method) {
  if (absl::Status allowed = Authorize(caller, method); !allowed.ok()) return allowed;
  if (!Knows(service)) {
    Count(method, "NOT_FOUND");
    std::string names;
    for (const std::string& name : services_) {
      names += names.empty() ? "" : ", ";
      names += name.empty() ? "\"\" (the whole server)" : name;
    }
    return absl::NotFoundError("unknown service '" + internal::Bounded(std::string(service)) +
                               "'; allowed: " + names);
  }
  const ServingStatus status = monitor_->Current().status;
  Count(method, ServingStatusName(status));
  return status;
}

}  // namespace enclave::core
