// The query log port: every request, allowed or refused, is recorded before anything is
// returned. A failed write means nothing is released (fail closed).
//
// Entries hold who asked what and what was decided, never a person-level value: parameters are
// the canonical (checked) ones, results are per-status counts, per-cell rule ids and the SHA-256 of
// the released bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::core {

struct QueryLogEntry {
  enum class Type {
    kAccepted,
    kResult,
    kRefused,
    kAborted,
    kServerStart,
    kServerStop,
    kPolicyLoaded,        // a policy (templates, rule sets, principals) loaded, with its hashes
    kPolicyRefused,       // a policy file refused at load (unsigned, tampered, invalid)
    kAuthFailureSummary,  // failed TLS handshakes since the last summary (counts only)
    kBudget,              // a privacy-budget reservation, charge or refund
    kDataLoad,            // a delivery loaded as a new dataset version (aggregate counts only)
    kDatasetRollback,     // the current dataset version moved back to an earlier one
  };
  Type type = Type::kAccepted;
  std::string request_id;
  std::string caller;  // URI SAN from the certificate, or "" when unknown
  std::string caller_cert_sha256;  // lower-case hex SHA-256 of the caller's DER certificate, or ""
  std::string role;
  std::string project;  // project, and agreement id for researchers ("project/agreement")
  std::string rpc;     // "RunQuery", ...
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;
  // The four-eyes approval the template runs under (templates::TemplateApproval::LogText():
  // "approval=<SHA-256 of the signature> approver=<officer> key=<key id>"), or "".
  std::string template_approval;
  std::string canonical_params;
  std::string decision;  // "allowed", or the refusal's status code name
  std::string reason;    // refusal message (never record data), or "" 
  std::string rule_set;
  std::string data_version;
  std::int64_t cells_released = 0;
  std::int64_t cells_confidential = 0;
  // Per-cell rule ids in canonical cell order, e.g. "released,threshold,...": officer-only.
  std::string cell_rules;
  std::string result_sha256;
  // Lifecycle, policy, budget, load and summary entries: identifiers, hashes and counts only.
  std::string detail;
};

const char* QueryLogEntryTypeName(QueryLogEntry::Type type);

class QueryLog {
 public:
  virtual ~QueryLog() = default;
  // Durable before it returns OK (e.g. SQLite synchronous=FULL). kUnavailable on failure.
  virtual absl::Status Append(const QueryLogEntry& entry) = 0;
};

}  // namespace enclave::core
