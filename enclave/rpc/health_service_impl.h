// grpc.health.v1.Health over core::HealthService (issue 13): the standard health checking protocol
// behind the same mutual TLS and per-call authorisation as the enclave's other services. Identity
// comes from the AuthContext only; the core authorises (operators) and logs refusals.
//
//   rpc::HealthServiceImpl health(core_health);
//   builder.RegisterService(&health);
//
// Watch sends the current status at once and then each change (polled every `poll`, woken at
// once when the server starts stopping); it re-authorises the caller on every poll, so a
// revocation ends the stream. At most `max_watchers` streams run at once (each holds one of the
// sync server's threads): more are RESOURCE_EXHAUSTED. A stream ends with OK after it has sent
// NOT_SERVING for a stopping server, so a shutdown never waits for a watcher.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "enclave/core/health.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace enclave::rpc {

class HealthServiceImpl final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthServiceImpl(std::shared_ptr<core::HealthService> health, int max_watchers = 4,
                             std::chrono::milliseconds poll = std::chrono::milliseconds(1000));

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  std::shared_ptr<core::HealthService> health_;
  const int max_watchers_;
  const std::chrono::milliseconds poll_;
  std::mutex mu_;
  int watchers_ = 0;  // guarded by mu_
};

}  // namespace enclave::rpc
