// absl::Status → grpc::Status, blanking the text of internal failures.
#include "enclave/rpc/status_mapping.h"

#include <string>
#include <vector>

#include "enclave/base/log.h"
#include "enclave/rpc/marshalling.h"
#include "enclave/templates/hints.h"
#include "enclave/v1/service.pb.h"

namespace enclave::rpc {
namespace {

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled: return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown: return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted: return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange: return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal: return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss: return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    default: return grpc::StatusCode::INTERNAL;  // a code Abseil may add later: fail closed
  }
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const grpc::StatusCode code = ToGrpcCode(status.code());
  if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
      code == grpc::StatusCode::DATA_LOSS) {
    base::LogError("rpc_internal_error", {{"code", status.code()}});
    return grpc::Status(code, kInternalErrorMessage);
  }
  // Alternatives to a refused table (templates/hints.h) travel as structured error details.
  if (code == grpc::StatusCode::FAILED_PRECONDITION) {
    const std::vector<templates::Suggestion> suggestions = templates::SuggestionsOf(status);
    if (!suggestions.empty()) {
      enclave::v1::RefusalDetails details;
      for (const templates::Suggestion& s : suggestions) ToSuggestion(s, details.add_suggestions());
      return grpc::Status(code, std::string(status.message()), details.SerializeAsString());
    }
  }
  return grpc::Status(code, std::string(status.message()));
}

}  // namespace enclave::rpc
