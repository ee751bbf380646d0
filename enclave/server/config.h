// enclaved's configuration: read from a protobuf text-format file (deploy/enclaved.example.textproto
// documents every setting), overridden by command-line flags, validated before anything starts.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace enclave::server {

struct Config {
  std::string listen_address = "127.0.0.1:7443";
  std::string port_file;
  std::string client_ca_file;
  std::string server_cert_file;
  std::string server_key_file;
  std::string database_path;
  std::string policies_dir;
  std::string state_dir;
  int max_receive_message_bytes = 64 * 1024;
  int max_send_message_bytes = 4 * 1024 * 1024;
  int default_deadline_ms = 30000;
  int max_deadline_ms = 120000;
  int max_concurrent_queries = 8;
  // Beyond max_concurrent_queries a query waits (FIFO) in a queue of at most this many, up to its
  // deadline and at most max_queue_wait_ms; then RESOURCE_EXHAUSTED "retry after N s".
  int max_queued_queries = 64;
  int max_queue_wait_ms = 10000;
  int handshake_timeout_ms = 10000;
  int max_connection_age_ms = 900000;
  int max_connection_age_grace_ms = 30000;
  int max_concurrent_streams = 16;
  int shutdown_grace_ms = 10000;
  // When non-empty, start-up fails unless the database's data_version equals it.
  std::string expected_data_version;
  // Four eyes (issue 5): the privacy officers' approval keys and the templates' approvals. Both
  // required at start-up (StartServer refuses without them); there is no way to skip approval.
  std::string approvers_file;
  std::string approvals_dir;
  // Query log (audit_log { ... } in the file): sign a checkpoint after this many new entries and
  // on this timer when the log grew (always at shutdown too); write failed TLS handshakes as an
  // auth-failure-summary entry on this timer when there were any (and at shutdown).
  int checkpoint_every_entries = 1000;
  int checkpoint_interval_ms = 60000;
  int auth_failure_summary_interval_ms = 60000;
  // The log-signing key (Ed25519 PKCS#8 PEM or a note signer key). Empty: state_dir's
  // log_signing.key, created on first start (development). In the file, a value starting with
  // "$CREDENTIALS_DIRECTORY/" names a systemd credential (LoadCredentialEncrypted=).
  std::string log_signing_key_file;
  // The metrics endpoint (metrics { listen: ... }): "" off (the default), a loopback
  // "127.0.0.1:PORT" / "[::1]:PORT", or "unix:/ABSOLUTE/PATH" (server/metrics.h).
  std::string metrics_listen;
  // false: the query log does not sync (synchronous=OFF). ONLY for tests/bench/bench_server_qps's
  // baseline: deliberately not settable from the file or a flag.
  bool audit_log_durable = true;
  // false: commits are not signed one by one (only every checkpoint_every_entries / interval, as
  // before issue 11). ONLY for bench_server_qps's comparison: not settable from the file or a flag.
  bool audit_log_checkpoint_every_commit = true;
};

// kInvalidArgument "FILE:LINE:COL: problem" for a malformed file or an out-of-range value.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);
// Checks required fields and ranges; kInvalidArgument naming the setting and what is allowed.
absl::Status ValidateConfig(const Config& config);
// host:port, [ipv6]:port, port 0..65535; kInvalidArgument naming listen_address and what is allowed.
absl::Status ValidateListenAddress(const std::string& address);

}  // namespace enclave::server
