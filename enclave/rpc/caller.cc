// Caller identity from the AuthContext's "peer_uri" property only (security.md §2.1).
#include "enclave/rpc/caller.h"

#include <grpcpp/security/auth_context.h>

#include "absl/status/status.h"

namespace enclave::rpc {
namespace {

constexpr char kExactlyOneUri[] = "the client certificate must carry exactly one URI SAN";

}  // namespace

absl::StatusOr<std::string> CallerFromPeerUris(const std::vector<std::string_view>& peer_uris) {
  if (peer_uris.empty()) return absl::UnauthenticatedError(kExactlyOneUri);
  if (peer_uris.size() > 1) return absl::PermissionDeniedError(kExactlyOneUri);
  if (peer_uris.front().empty()) return absl::UnauthenticatedError(kExactlyOneUri);
  return std::string(peer_uris.front());
}

absl::StatusOr<std::string> CallerFromAuthContext(const grpc::AuthContext* context) {
  if (context == nullptr || !context->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the call did not present a verified client certificate");
  }
  std::vector<std::string_view> uris;
  for (const grpc::string_ref& value : context->FindPropertyValues(kPeerUriProperty)) {
    uris.emplace_back(value.data(), value.size());
  }
  return CallerFromPeerUris(uris);
}

}  // namespace enclave::rpc
