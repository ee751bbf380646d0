// Counting failed TLS handshakes from gRPC's log callback; periodic summaries in the query log.
#include "enclave/server/auth_failures.h"

#include <grpc/support/log.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "enclave/base/log.h"

namespace enclave::server {
namespace {

std::mutex& CountsMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::uint64_t>& Counts() {  // guarded by CountsMutex()
  static auto* counts = new std::map<std::string, std::uint64_t>();
  return *counts;
}

std::map<std::string, std::uint64_t>& Totals() {  // guarded by CountsMutex()
  static auto* totals = new std::map<std::string, std::uint64_t>();
  return *totals;
}

constexpr std::string_view kReasons[] = {"certificate-not-trusted", "no-client-certificate",
                                         "other", "peer-alert", "protocol"};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CaptureLog(gpr_log_func_args* args) {
  const std::string_view message = args->message != nullptr ? args->message : "";
  const std::string_view reason = HandshakeFailureReason(message);
  if (reason.empty()) {
    // gRPC's own diagnostics, unchanged in substance, as its default logger writes them (1.51
    // exports no default function to chain to).
    std::fprintf(stderr, "%s %s:%d] %s\n", gpr_log_severity_string(args->severity),
                 args->file != nullptr ? args->file : "?", args->line, std::string(message).c_str());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(CountsMutex());
    ++Counts()[std::string(reason)];
    ++Totals()[std::string(reason)];
  }
  base::LogWarning("tls_handshake_failed", {{"reason", base::Word(reason)}});
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::string_view HandshakeFailureReason(std::string_view grpc_message) {
  // ssl_transport_security.cc (gRPC 1.51): "Handshake failed with fatal error SSL_ERROR_SSL:
  // error:0A0000C7:SSL routines::peer did not return a certificate."
  constexpr std::string_view kPrefix = "Handshake failed with fatal error";
  if (grpc_message.substr(0, kPrefix.size()) != kPrefix) return "";
  const std::string_view m = grpc_message.substr(kPrefix.size());
  if (Contains(m, "peer did not return a certificate")) return "no-client-certificate";
  if (Contains(m, "certificate verify failed")) return "certificate-not-trusted";
  if (Contains(m, " alert ")) return "peer-alert";
  for (std::string_view p : {"wrong version number", "http request", "unsupported protocol",
                             "no shared cipher", "version too low", "no protocols available",
                             "packet length too long", "record layer failure"}) {
    if (Contains(m, p)) return "protocol";
  }
  return "other";
}

void InstallHandshakeFailureCapture() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&CaptureLog); });
}

std::map<std::string, std::uint64_t> TakeHandshakeFailureCounts() {
  std::lock_guard<std::mutex> lock(CountsMutex());
  return std::exchange(Counts(), {});
}

std::map<std::string, std::uint64_t> HandshakeFailureTotals() {
  std::lock_guard<std::mutex> lock(CountsMutex());
  return Totals();
}

std::span<const std::string_view> HandshakeFailureReasons() { return kReasons; }

void RestoreHandshakeFailureCounts(const std::map<std::string, std::uint64_t>& counts) {
  std::lock_guard<std::mutex> lock(CountsMutex());
  for (const auto& [reason, n] : counts) Counts()[reason] += n;
}

core::QueryLogEntry AuthFailureSummaryEntry(const std::map<std::string, std::uint64_t>& counts,
                                            std::int64_t since_unix_ms,
                                            const std::string& data_version) {
  std::uint64_t total = 0;
  std::string by_reason;
  for (const auto& [reason, n] : counts) {
    total += n;
    absl::StrAppend(&by_reason, " ", reason, "=", n);
  }
  core::QueryLogEntry entry;
  entry.type = core::QueryLogEntry::Type::kAuthFailureSummary;
  entry.data_version = data_version;
  entry.decision = "UNAUTHENTICATED";
  entry.reason = "TLS handshakes failed before any handler ran";
  entry.detail = absl::StrCat("total=", total, by_reason, " since_unix_ms=", since_unix_ms);
  return entry;
}

AuthFailureReporter::AuthFailureReporter(std::shared_ptr<core::QueryLog> log,
                                         std::chrono::milliseconds interval,
                                         std::string data_version)
    : log_(std::move(log)),
      interval_(interval),
      data_version_(std::move(data_version)),
      window_start_ms_(NowMs()) {
  thread_ = std::thread([this] { Run(); });
}

AuthFailureReporter::~AuthFailureReporter() { Stop().IgnoreError(); }

void AuthFailureReporter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) break;
    lock.unlock();
    if (absl::Status s = Flush(); !s.ok()) {
      base::LogError("auth_failure_summary_not_logged", {{"code", s.code()}});
    }
    lock.lock();
  }
}

absl::Status AuthFailureReporter::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  std::map<std::string, std::uint64_t> counts = TakeHandshakeFailureCounts();
  if (counts.empty()) return absl::OkStatus();
  const std::int64_t now = NowMs();
  absl::Status s = log_->Append(AuthFailureSummaryEntry(counts, window_start_ms_, data_version_));
  if (!s.ok()) {
    RestoreHandshakeFailureCounts(counts);
    return s;
  }
  window_start_ms_ = now;
  return absl::OkStatus();
}

absl::Status AuthFailureReporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return absl::OkStatus();
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return Flush();
}

}  // namespace enclave::server
