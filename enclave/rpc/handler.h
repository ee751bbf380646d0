// What every gRPC handler of the enclave shares: a fail-closed wrapper and the caller's identity.
#pragma once

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/rpc/caller.h"
#include "enclave/rpc/status_mapping.h"

namespace enclave::rpc {

// An escaping exception would become an opaque UNKNOWN in gRPC 1.51 (security.md §8 item 12);
// every handler body runs inside this and fails closed as kInternal instead.
template <typename Body>
grpc::Status Guarded(Body&& body) {
  try {
    return ToGrpcStatus(body());
  } catch (...) {
    return ToGrpcStatus(absl::InternalError("exception in handler"));
  }
}

// The caller's identity, from the TLS AuthContext only (never metadata).
inline absl::StatusOr<std::string> Caller(const grpc::ServerContext* context) {
  return CallerFromAuthContext(context->auth_context().get());
}

}  // namespace enclave::rpc
