#include "enclave/core/query_log.h"

namespace enclave::core {

const char* QueryLogEntryTypeName(QueryLogEntry::Type type) {
  switch (type) {
    case QueryLogEntry::Type::kAccepted:
      return "query-accepted";
    case QueryLogEntry::Type::kResult:
      return "query-result";
    case QueryLogEntry::Type::kRefused:
      return "query-refused";
    case QueryLogEntry::Type::kAborted:
      return "query-aborted";
    case QueryLogEntry::Type::kServerStart:
      return "server-start";
    case QueryLogEntry::Type::kServerStop:
      return "server-stop";
    case QueryLogEntry::Type::kPolicyLoaded:
      return "policy-loaded";
    case QueryLogEntry::Type::kPolicyRefused:
      return "policy-refused";
    case QueryLogEntry::Type::kAuthFailureSummary:
      return "auth-failure-summary";
    case QueryLogEntry::Type::kBudget:
      return "budget";
    case QueryLogEntry::Type::kDataLoad:
      return "data-load";
    case QueryLogEntry::Type::kDatasetRollback:
      return "dataset-rollback";
  }
  return "unknown";
}

}  // namespace enclave::core
