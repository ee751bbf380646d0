// Caller identity: exactly one peer_uri, from the AuthContext only.
#include <doctest/doctest.h>
#include <grpcpp/security/auth_context.h>

#include <map>
#include <string>
#include <vector>

#include "enclave/rpc/caller.h"

namespace enclave::rpc {
namespace {

// AuthPropertyIterator's default constructor is protected; iteration is not used by the code
// under test, so an empty iterator suffices.
struct EmptyIterator : grpc::AuthPropertyIterator {
  EmptyIterator() = default;
};

class FakeAuthContext final : public grpc::AuthContext {
 public:
  bool authenticated = true;
  std::multimap<std::string, std::string> properties;

  bool IsPeerAuthenticated() const override { return authenticated; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override {
    return FindPropertyValues("x509_subject_alternative_name");
  }
  std::string GetPeerIdentityPropertyName() const override {
    return "x509_subject_alternative_name";
  }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    auto [begin, end] = properties.equal_range(name);
    for (auto it = begin; it != end; ++it) out.emplace_back(it->second);
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return EmptyIterator(); }
  grpc::AuthPropertyIterator end() const override { return EmptyIterator(); }
  void AddProperty(const std::string& key, const grpc::string_ref& value) override {
    properties.emplace(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }
};

constexpr char kAnalyst[] = "spiffe://udc-lv.local/municipal_analyst/analyst1";
constexpr char kOfficer[] = "spiffe://udc-lv.local/privacy_officer/officer1";

}  // namespace

TEST_SUITE("Caller") {
  TEST_CASE("exactly one URI SAN is the caller id") {
    auto id = CallerFromPeerUris({kAnalyst});
    REQUIRE(id.ok());
    CHECK(*id == kAnalyst);
  }

  TEST_CASE("no URI SAN is unauthenticated and several are permission denied") {
    auto none = CallerFromPeerUris({});
    CHECK(none.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(none.status().message() == "the client certificate must carry exactly one URI SAN");
    auto empty = CallerFromPeerUris({""});
    CHECK(empty.status().code() == absl::StatusCode::kUnauthenticated);
    auto two = CallerFromPeerUris({kAnalyst, kOfficer});
    CHECK(two.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(two.status().message() == "the client certificate must carry exactly one URI SAN");
  }

  TEST_CASE("the caller comes from the peer_uri property of the AuthContext") {
    FakeAuthContext ctx;
    ctx.properties.emplace("x509_subject_alternative_name", "localhost");
    ctx.properties.emplace("x509_subject_alternative_name", kAnalyst);
    ctx.properties.emplace("peer_dns", "localhost");
    ctx.properties.emplace("peer_uri", kAnalyst);
    auto id = CallerFromAuthContext(&ctx);
    REQUIRE(id.ok());
    CHECK(*id == kAnalyst);
  }

  TEST_CASE("the generic peer identity and the common name are never used") {
    FakeAuthContext ctx;
    ctx.properties.emplace("x509_subject_alternative_name", kOfficer);
    ctx.properties.emplace("x509_common_name", kOfficer);
    auto id = CallerFromAuthContext(&ctx);
    CHECK(id.status().code() == absl::StatusCode::kUnauthenticated);
  }

  TEST_CASE("two URI SANs in the AuthContext are refused") {
    FakeAuthContext ctx;
    ctx.properties.emplace("peer_uri", kAnalyst);
    ctx.properties.emplace("peer_uri", kOfficer);
    CHECK(CallerFromAuthContext(&ctx).status().code() == absl::StatusCode::kPermissionDenied);
  }

  TEST_CASE("an unauthenticated peer or a missing AuthContext is refused") {
    FakeAuthContext ctx;
    ctx.authenticated = false;
    ctx.properties.emplace("peer_uri", kAnalyst);
    CHECK(CallerFromAuthContext(&ctx).status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(CallerFromAuthContext(nullptr).status().code() == absl::StatusCode::kUnauthenticated);
  }
}

}  // namespace enclave::rpc
