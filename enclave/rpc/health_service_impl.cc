// grpc.health.v1.Health: translation only; the core decides who may ask and what the status is.
#include "enclave/rpc/health_service_impl.h"

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "enclave/rpc/handler.h"

namespace enclave::rpc {
namespace {

using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus ToProto(core::ServingStatus status) {
  return status == core::ServingStatus::kServing ? HealthCheckResponse::SERVING
                                                 : HealthCheckResponse::NOT_SERVING;
}

}  // namespace

HealthServiceImpl::HealthServiceImpl(std::shared_ptr<core::HealthService> health, int max_watchers,
                                     std::chrono::milliseconds poll)
    : health_(std::move(health)), max_watchers_(max_watchers), poll_(poll) {}

grpc::Status HealthServiceImpl::Check(grpc::ServerContext* context,
                                      const grpc::health::v1::HealthCheckRequest* request,
                                      grpc::health::v1::HealthCheckResponse* response) {
  return Guarded([&]() -> absl::Status {
    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<core::ServingStatus> status =
        health_->Check(*caller, request->service(), "Check");
    if (!status.ok()) return status.status();
    response->set_status(ToProto(*status));
    return absl::OkStatus();
  });
}

grpc::Status HealthServiceImpl::Watch(
    grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
    grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) {
  return Guarded([&]() -> absl::Status {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (watchers_ >= max_watchers_) {
        return absl::ResourceExhaustedError(
            "too many health watches at once (at most " + std::to_string(max_watchers_) +
            "); use Check, or retry later");
      }
      ++watchers_;
    }
    struct Release {
      HealthServiceImpl* self;
      ~Release() {
        std::lock_guard<std::mutex> lock(self->mu_);
        --self->watchers_;
      }
    } release{this};

    absl::StatusOr<policy::CallerIdentity> caller = CallerCertificate(context);
    if (!caller.ok()) return caller.status();
    if (absl::Status allowed = health_->Authorize(*caller, "Watch"); !allowed.ok()) return allowed;
    const core::HealthMonitor& monitor = health_->monitor();
    const bool known = health_->Knows(request->service());
    std::optional<HealthCheckResponse::ServingStatus> last;
    for (;;) {
      if (context->IsCancelled()) return absl::CancelledError("the health watch was cancelled");
      const core::HealthMonitor::Phase phase = monitor.phase();
      const HealthCheckResponse::ServingStatus now =
          known ? ToProto(monitor.Current().status) : HealthCheckResponse::SERVICE_UNKNOWN;
      if (last != now) {
        HealthCheckResponse response;
        response.set_status(now);
        if (!writer->Write(response)) {
          return absl::CancelledError("the health watcher went away");
        }
        health_->Count("Watch", HealthCheckResponse::ServingStatus_Name(now));
        last = now;
      }
      // A stopping server has said NOT_SERVING (or SERVICE_UNKNOWN): end, so shutdown need not wait.
      if (phase == core::HealthMonitor::Phase::kStopping) return absl::OkStatus();
      monitor.WaitForPhaseChange(phase, poll_);
      // Every poll is a new decision: a revoked certificate ends the stream.
      if (absl::Status allowed = health_->Authorize(*caller, "Watch"); !allowed.ok()) {
        return allowed;
      }
    }
  });
}

}  // namespace enclave::rpc
