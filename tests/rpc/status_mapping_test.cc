// The one absl → gRPC status translation.
#include <doctest/doctest.h>

#include <vector>

#include "enclave/rpc/status_mapping.h"
#include "enclave/templates/hints.h"
#include "enclave/v1/service.pb.h"

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

  TEST_CASE("a refused table's alternatives become RefusalDetails in error_details") {
    const std::vector<templates::Suggestion> list = {
        {templates::Suggestion::Kind::kCoarserGeography, {{"geo", "wijkcluster"}}},
        {templates::Suggestion::Kind::kFewerBreakdowns, {{"breakdown1", "geen"}}}};
    const grpc::Status g = ToGrpcStatus(
        templates::WithSuggestions(absl::FailedPreconditionError("cannot be released"), list));
    CHECK(g.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(g.error_message() == "cannot be released");
    enclave::v1::RefusalDetails details;
    REQUIRE(details.ParseFromString(g.error_details()));
    REQUIRE(details.suggestions_size() == 2);
    CHECK(details.suggestions(0).kind() == enclave::v1::Suggestion::COARSER_GEOGRAPHY);
    CHECK(details.suggestions(0).changes(0).name() == "geo");
    CHECK(details.suggestions(0).changes(0).value() == "wijkcluster");
    CHECK(details.suggestions(1).kind() == enclave::v1::Suggestion::FEWER_BREAKDOWNS);
    // No payload, another code, or an internal error: no details.
    CHECK(ToGrpcStatus(absl::FailedPreconditionError("x")).error_details().empty());
    CHECK(ToGrpcStatus(templates::WithSuggestions(absl::InvalidArgumentError("x"), list))
              .error_details()
              .empty());
    CHECK(ToGrpcStatus(templates::WithSuggestions(absl::InternalError("x"), list))
              .error_details()
              .empty());
  }
}

}  // namespace enclave::rpc
