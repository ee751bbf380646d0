// Caller identity for the enclave's RPCs: exactly one URI SAN of the verified client certificate.
//
// Identity comes only from the connection's AuthContext (grpc/grpc doc/server_side_auth.md), never
// from request fields or metadata, and never from the generic "peer identity", which mixes DNS,
// URI, e-mail and IP SANs and falls back to the CN (security.md §2.1).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/policy/access.h"

namespace grpc {
class AuthContext;
}  // namespace grpc

namespace enclave::rpc {

// The TLS property that holds one URI SAN each (gRPC's GRPC_PEER_URI_PROPERTY_NAME).
inline constexpr char kPeerUriProperty[] = "peer_uri";

// The pure rule on the values of the "peer_uri" property: exactly one, non-empty → that value.
// kUnauthenticated when there is none (or it is empty), kPermissionDenied when there are several.
absl::StatusOr<std::string> CallerFromPeerUris(const std::vector<std::string_view>& peer_uris);

// The TLS property that holds the verified peer certificate in PEM (GRPC_X509_PEM_CERT_PROPERTY_NAME).
inline constexpr char kPeerPemCertProperty[] = "x509_pem_cert";

// The certificate facts of a PEM certificate: SHA-256 of its DER bytes (lower-case hex), serial
// (lower-case hex, no leading zeros), notAfter, and whether its extendedKeyUsage names clientAuth
// (client_auth; false without any extendedKeyUsage). kUnauthenticated when it does not parse.
absl::StatusOr<policy::CallerIdentity> CertificateFacts(std::string_view pem);

// The full caller identity of a call's AuthContext: the URI SAN (as CallerFromAuthContext) and
// the certificate facts of the verified peer certificate. kUnauthenticated when the certificate
// is missing or does not parse. Nothing comes from metadata.
absl::StatusOr<policy::CallerIdentity> CallerIdentityFromAuthContext(
    const grpc::AuthContext* context);

// The caller id of a call's AuthContext. kUnauthenticated when `context` is null or the peer is not
// authenticated, else as CallerFromPeerUris.
absl::StatusOr<std::string> CallerFromAuthContext(const grpc::AuthContext* context);

// The deny-list checked by Caller() in handler.h for services whose core does not check one itself
// (the AuditService). Process-wide; set once by the server before it serves, null for none.
void SetProcessRevocations(std::shared_ptr<policy::RevocationSource> revocations);
// OK, or kPermissionDenied when `caller` is on the process deny-list or the list cannot be read.
absl::Status CheckProcessRevocations(const policy::CallerIdentity& caller);

}  // namespace enclave::rpc
