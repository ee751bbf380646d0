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
  }
  return "unknown";
}

}  // namespace enclave::core
