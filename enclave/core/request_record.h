// One request's entries in the query log (query_log.h). Every decision about a request goes
// through here, so that it is durable in the log before the caller hears of it:
//
//   RequestRecord record(*log, "RunQuery", request_id);
//   record.entry().template_id = ...;                       // who asked what
//   if (!allowed) return record.Refuse(PermissionDeniedError("..."));   // query-refused
//   ENCLAVE_RETURN_IF_ERROR(record.Accept());               // query-accepted: now it may run
//   if (!scanned.ok()) return record.Abort(scanned);        // query-aborted
//   ENCLAVE_RETURN_IF_ERROR(record.Result());               // query-result: now it may be sent
//
// If the log cannot be written the caller gets kUnavailable and nothing else (fail closed).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "enclave/core/query_log.h"

namespace enclave::core {

class RequestRecord {
 public:
  RequestRecord(QueryLog& log, std::string_view rpc, std::string request_id);

  QueryLogEntry& entry() { return entry_; }
  const QueryLogEntry& entry() const { return entry_; }

  // Before the request runs: logs query-refused with the status's code and message and returns
  // the status; kUnavailable when the log cannot be written.
  absl::Status Refuse(absl::Status status);
  // Logs query-accepted; kUnavailable when the log cannot be written (nothing may run).
  absl::Status Accept();
  // After Accept: logs query-aborted with the status and returns it (a failed write is reported
  // in the operational log; the status stands, nothing is released either way).
  absl::Status Abort(absl::Status status);
  // Logs query-result; kUnavailable when the log cannot be written (nothing may be released).
  absl::Status Result();

 private:
  absl::Status Write(QueryLogEntry::Type type, const char* what, std::string_view unavailable);

  QueryLog& log_;
  QueryLogEntry entry_;
};

}  // namespace enclave::core
