// The gRPC transport of enclaved: mutual-TLS server credentials and the channel arguments
// (security.md §2). StartServer and the in-process TLS tests build servers with these same
// functions, so what the tests check is what production runs.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "enclave/server/config.h"

namespace enclave::server {

// Largest metadata block accepted; metadata is never an auth source, so keep it small.
inline constexpr int kMaxMetadataBytes = 8192;
// Idle connections are closed after this (security.md §2.6).
inline constexpr int kMaxConnectionIdleMs = 5 * 60 * 1000;

// Reads a PEM file named by a setting. kNotFound "SETTING: cannot read PATH: REASON" when it cannot
// be read, kInvalidArgument "SETTING: PATH holds no PEM block" when it is empty or not PEM. The
// message never quotes the file's contents.
absl::StatusOr<std::string> ReadPemFile(const std::string& setting, const std::string& path);

// SslServerCredentials with REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY; pem_root_certs is the
// client CA file only (never the system roots). Errors as ReadPemFile, naming tls.* settings; the
// private key (tls.server_key_file) is read with crypto::ReadSecretFile, so a key reached through
// a symbolic link, with any group or other permission bit (wider than 0600), or owned by another
// user is refused (kFailedPrecondition naming the path, the mode found and the mode allowed), as
// the log-signing key and the record-key secret are.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const Config& config);

// Message-size limits and channel arguments: grpc.so_reuseport=0 (a second server on the port
// fails to bind), max concurrent streams, handshake timeout, connection age/grace/idle, metadata
// size; and the interceptor that answers an undecodable request with INVALID_ARGUMENT
// (rpc/malformed_request.h).
void ConfigureServerBuilder(const Config& config, grpc::ServerBuilder& builder);

}  // namespace enclave::server
