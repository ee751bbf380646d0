// Failed TLS handshakes as periodic `auth-failure-summary` entries in the query log
// (docs/security.md §2.2, SATRE 2.5.03). A rejected handshake (no client certificate, one from
// another CA, a non-TLS client) never reaches a handler, so the RPC layer cannot log it. gRPC
// 1.51 reports each one through its log callback ("Handshake failed with fatal error ...", at
// ERROR severity, from the TLS layer); InstallHandshakeFailureCapture() installs a callback that
// counts them by reason, process-wide. An AuthFailureReporter drains those counts into a summary
// entry every interval when they are non-zero, and once more when it stops (server shutdown).
//
// Counts only: no address, certificate or message text is written to the log.
//
//   InstallHandshakeFailureCapture();
//   AuthFailureReporter reporter(log, std::chrono::seconds(60), data_version);
//   ...
//   reporter.Stop();  // the last summary, before the server-stop entry
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "enclave/core/query_log.h"

namespace enclave::server {

// The reason of a failed TLS handshake that one gRPC log message reports, or "" when the message
// reports none: "no-client-certificate", "certificate-not-trusted" (unknown CA, expired, wrong
// key usage: OpenSSL's "certificate verify failed"), "protocol" (not TLS, no common version or
// cipher), "peer-alert" (the peer aborted, e.g. it does not trust the server), "other".
std::string_view HandshakeFailureReason(std::string_view grpc_message);

// Installs (once per process; later calls do nothing) the gRPC log function that counts failed
// handshakes and writes one operational warning per failure (reason only); every other gRPC
// message goes to gRPC's default logger as before. A later gpr_set_log_function elsewhere in the
// process (e.g. client::SilenceTransportLogs) replaces it.
void InstallHandshakeFailureCapture();

// Failed handshakes counted since the last call, by reason; resets the counts.
std::map<std::string, std::uint64_t> TakeHandshakeFailureCounts();

// Failed handshakes counted since the process started, by reason (never reset; for the metrics).
std::map<std::string, std::uint64_t> HandshakeFailureTotals();

// The reasons HandshakeFailureReason can give, ascending.
std::span<const std::string_view> HandshakeFailureReasons();

// Adds counts back (a summary that could not be written is not lost).
void RestoreHandshakeFailureCounts(const std::map<std::string, std::uint64_t>& counts);

// The summary entry: decision UNAUTHENTICATED; detail "total=N <reason>=<count> ...
// since_unix_ms=<start of the window>" (reasons ascending).
core::QueryLogEntry AuthFailureSummaryEntry(const std::map<std::string, std::uint64_t>& counts,
                                            std::int64_t since_unix_ms,
                                            const std::string& data_version);

class AuthFailureReporter {
 public:
  // Starts the timer thread. `interval` > 0.
  AuthFailureReporter(std::shared_ptr<core::QueryLog> log, std::chrono::milliseconds interval,
                      std::string data_version);
  ~AuthFailureReporter();  // Stop()
  AuthFailureReporter(const AuthFailureReporter&) = delete;
  AuthFailureReporter& operator=(const AuthFailureReporter&) = delete;

  // Writes a summary now if any failure was counted; OK when there was nothing to write.
  // kUnavailable when the log write failed (the counts are kept for the next attempt).
  absl::Status Flush();
  // Stops the timer and writes the last summary (if non-zero). Idempotent.
  absl::Status Stop();

 private:
  void Run();

  std::shared_ptr<core::QueryLog> log_;
  const std::chrono::milliseconds interval_;
  const std::string data_version_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;           // guarded by mu_
  std::int64_t window_start_ms_;    // guarded by flush_mu_
  std::mutex flush_mu_;
  std::thread thread_;
};

}  // namespace enclave::server
