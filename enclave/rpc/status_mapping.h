// The one translation point from absl::Status to grpc::Status (style.md §5).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace enclave::rpc {

// Text that replaces the message of kInternal, kUnknown and kDataLoss: those may describe the
// enclave's internals, which a caller must not see.
inline constexpr char kInternalErrorMessage[] = "internal error; the request has been logged";

// Same code (gRPC and Abseil share the numbering); the message is kept for codes whose messages
// are written for callers, and blanked for the three above, whose occurrence is logged (code
// only) via enclave/base/log.h. A kFailedPrecondition that carries alternatives
// (templates::WithSuggestions) gets them as error_details: a serialized enclave.v1.RefusalDetails.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace enclave::rpc
