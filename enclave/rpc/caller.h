// Caller identity for the enclave's RPCs: exactly one URI SAN of the verified client certificate.
//
// Identity comes only from the connection's AuthContext (grpc/grpc doc/server_side_auth.md), never
// from request fields or metadata, and never from the generic "peer identity", which mixes DNS,
// URI, e-mail and IP SANs and falls back to the CN (security.md §2.1).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class AuthContext;
}  // namespace grpc

namespace enclave::rpc {

// The TLS property that holds one URI SAN each (gRPC's GRPC_PEER_URI_PROPERTY_NAME).
inline constexpr char kPeerUriProperty[] = "peer_uri";

// The pure rule on the values of the "peer_uri" property: exactly one, non-empty → that value.
// kUnauthenticated when there is none (or it is empty), kPermissionDenied when there are several.
absl::StatusOr<std::string> CallerFromPeerUris(const std::vector<std::string_view>& peer_uris);

// The caller id of a call's AuthContext. kUnauthenticated when `context` is null or the peer is not
// authenticated, else as CallerFromPeerUris.
absl::StatusOr<std::string> CallerFromAuthContext(const grpc::AuthContext* context);

}  // namespace enclave::rpc
