#include "enclave/core/request_record.h"

#include <utility>

#include "enclave/base/log.h"

namespace enclave::core {

RequestRecord::RequestRecord(QueryLog& log, std::string_view rpc, std::string request_id)
    : log_(log) {
  entry_.rpc = std::string(rpc);
  entry_.request_id = std::move(request_id);
}

absl::Status RequestRecord::Write(QueryLogEntry::Type type, const char* what,
                                  std::string_view unavailable) {
  entry_.type = type;
  if (log_.Append(entry_).ok()) return absl::OkStatus();
  base::LogError("query_log_write_failed", {{"rpc", base::Word(entry_.rpc)},
                                            {"entry", base::Word(what)}});
  return absl::UnavailableError(std::string(unavailable));
}

absl::Status RequestRecord::Refuse(absl::Status status) {
  entry_.decision = absl::StatusCodeToString(status.code());
  entry_.reason = std::string(status.message());
  if (absl::Status written = Write(QueryLogEntry::Type::kRefused, "query-refused",
                                  "the query log is unavailable; the request was not served");
      !written.ok()) {
    return written;
  }
  return status;
}

absl::Status RequestRecord::Accept() {
  entry_.decision = "allowed";
  entry_.reason.clear();
  return Write(QueryLogEntry::Type::kAccepted, "query-accepted",
               "the query log is unavailable; the query was not run");
}

absl::Status RequestRecord::Abort(absl::Status status) {
  entry_.decision = absl::StatusCodeToString(status.code());
  entry_.reason = std::string(status.message());
  (void)Write(QueryLogEntry::Type::kAborted, "query-aborted", "");
  base::LogWarning("query_aborted", {{"template", base::TemplateName(entry_.template_id)},
                                     {"code", status.code()}});
  return status;
}

absl::Status RequestRecord::Result() {
  entry_.decision = "allowed";
  entry_.reason.clear();
  return Write(QueryLogEntry::Type::kResult, "query-result",
               "the query log is unavailable; the result was not released");
}

}  // namespace enclave::core
