// Mutual TLS credentials and channel arguments for enclaved's gRPC server.
#include "enclave/server/transport.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/server_credentials.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/secret_file.h"
#include "enclave/rpc/malformed_request.h"

namespace enclave::server {

absl::StatusOr<std::string> ReadPemFile(const std::string& setting, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, " is not set"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return absl::NotFoundError(
        absl::StrCat(setting, ": cannot read ", path, ": ", std::strerror(err)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat(setting, ": cannot read ", path, ": read error"));
  }
  std::string pem = text.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": ", path, " holds no PEM block"));
  }
  return pem;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const Config& config) {
  ENCLAVE_ASSIGN_OR_RETURN(std::string client_ca,
                           ReadPemFile("tls.client_ca_file", config.client_ca_file));
  ENCLAVE_ASSIGN_OR_RETURN(std::string cert,
                           ReadPemFile("tls.server_cert_file", config.server_cert_file));
  // The private key passes the same checks as the log-signing key and the record-key secret
  // (crypto/secret_file.h): no symbolic link, mode 0600 or narrower, owned by the service user.
  if (config.server_key_file.empty()) {
    return absl::InvalidArgumentError("tls.server_key_file is not set");
  }
  ENCLAVE_ASSIGN_OR_RETURN(
      std::string key,
      crypto::ReadSecretFile("tls.server_key_file", config.server_key_file, 64 * 1024));
  if (key.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.server_key_file: ", config.server_key_file, " holds no PEM block"));
  }
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = std::move(client_ca);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.private_key = std::move(key);
  pair.cert_chain = std::move(cert);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(options);
  if (creds == nullptr) {
    return absl::InvalidArgumentError("tls: the server certificate, key and client CA were rejected");
  }
  return creds;
}

void ConfigureServerBuilder(const Config& config, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(config.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(config.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, config.handshake_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, config.max_connection_age_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             config.max_connection_age_grace_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kMaxConnectionIdleMs);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  // An undecodable request is INVALID_ARGUMENT with a message, not gRPC's INTERNAL with none.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(rpc::MakeMalformedRequestInterceptorFactory(config.max_receive_message_bytes));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

}  // namespace enclave::server
