// What every gRPC handler of the enclave shares: a fail-closed wrapper and the caller's identity.
#pragma once

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/base/log.h"
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

// The caller's URI SAN, from the TLS AuthContext only (never metadata), for services whose core
// takes a URI: the certificate must be for client authentication (extendedKeyUsage clientAuth)
// and is checked against the process deny-list here (revocation takes effect on the next call,
// even on an open connection).
inline absl::StatusOr<std::string> Caller(const grpc::ServerContext* context) {
  absl::StatusOr<policy::CallerIdentity> id =
      CallerIdentityFromAuthContext(context->auth_context().get());
  if (!id.ok()) return id.status();
  if (absl::Status usage = policy::CheckClientCertificateUsage(*id); !usage.ok()) {
    base::LogWarning("client_certificate_refused", {{"reason", base::Word("no-client-auth-eku")}});
    return usage;
  }
  if (absl::Status revoked = CheckProcessRevocations(*id); !revoked.ok()) return revoked;
  return id->uri;
}

// The caller's full certificate identity (URI SAN, SHA-256, serial, notAfter), from the TLS
// AuthContext only; the core checks it against the deny-list and the agreements.
inline absl::StatusOr<policy::CallerIdentity> CallerCertificate(
    const grpc::ServerContext* context) {
  return CallerIdentityFromAuthContext(context->auth_context().get());
}

}  // namespace enclave::rpc
