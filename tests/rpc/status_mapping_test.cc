// The one absl → gRPC status translation.
#include <doctest/doctest.h>

#include "enclave/rpc/status_mapping.h"

namespace enclave::rpc {

TEST_SUITE("StatusMapping") {
  TEST_CASE("internal, unknown and data-loss messages are replaced by a fixed text") {
    const absl::Status statuses[] = {absl::InternalError("sqlite: no such column wijk_code"),
                                     absl::UnknownError("secret detail"),
                                     absl::DataLossError("chain broken at 17")};
    for (const absl::Status& s : statuses) {
      const grpc::Status g = ToGrpcStatus(s);
      CHECK(static_cast<int>(g.error_code()) == static_cast<int>(s.code()));
      CHECK(g.error_message() == kInternalErrorMessage);
      CHECK(g.error_message().find(std::string(s.message())) == std::string::npos);
    }
  }

  TEST_CASE("caller-facing codes keep their code and message") {
    const grpc::Status g = ToGrpcStatus(absl::InvalidArgumentError("year: allowed 2015 to 2024"));
    CHECK(g.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(g.error_message() == "year: allowed 2015 to 2024");
    CHECK(ToGrpcStatus(absl::PermissionDeniedError("unknown caller")).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    CHECK(ToGrpcStatus(absl::NotFoundError("no such template")).error_code() ==
          grpc::StatusCode::NOT_FOUND);
    CHECK(ToGrpcStatus(absl::ResourceExhaustedError("busy")).error_code() ==
          grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
    CHECK(ToGrpcStatus(absl::DeadlineExceededError("x")).error_code() ==
          grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  TEST_CASE("OK maps to OK") { CHECK(ToGrpcStatus(absl::OkStatus()).ok()); }
}

}  // namespace enclave::rpc
