#include "enclave/policy/principals.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace enclave::policy {
namespace {

Principal Make(std::string id, Role role) {
  Principal p;
  p.id = std::move(id);
  p.display_name = "Test";
  p.organisation = "LV";
  p.role = role;
  return p;
}

TEST_CASE("a principal is found by its URI SAN with its role") {
  auto dir = PrincipalDirectory::Create({Make("spiffe://lv/analyst-1", Role::kMunicipalAnalyst),
                                         Make("spiffe://cbs/officer-1", Role::kPrivacyOfficer)});
  REQUIRE(dir.ok());
  CHECK(dir->size() == 2);
  auto found = dir->Find("spiffe://cbs/officer-1");
  REQUIRE(found.ok());
  CHECK(found->role == Role::kPrivacyOfficer);
  CHECK(found->organisation == "LV");
}

TEST_CASE("an unknown caller is permission denied") {
  auto dir = PrincipalDirectory::Create({Make("spiffe://lv/analyst-1", Role::kMunicipalAnalyst)});
  REQUIRE(dir.ok());
  auto found = dir->Find("spiffe://lv/analyst-2");
  CHECK(found.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(found.status().message()).find("unknown caller") != std::string::npos);
  CHECK(PrincipalDirectory().Find("").status().code() == absl::StatusCode::kPermissionDenied);
}

TEST_CASE("a duplicate id is rejected") {
  auto dir = PrincipalDirectory::Create({Make("spiffe://lv/a", Role::kMunicipalAnalyst),
                                         Make("spiffe://lv/a", Role::kResearcher)});
  CHECK(dir.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(dir.status().message()).find("spiffe://lv/a") != std::string::npos);
}

TEST_CASE("an empty id is rejected") {
  auto dir = PrincipalDirectory::Create({Make("", Role::kMunicipalAnalyst)});
  CHECK(dir.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("analysts, researchers, officers and stewards may list templates but operators may not") {
  CHECK(MayListTemplates(Role::kMunicipalAnalyst));
  CHECK(MayListTemplates(Role::kResearcher));
  CHECK(MayListTemplates(Role::kPrivacyOfficer));
  CHECK(MayListTemplates(Role::kDataSteward));
  CHECK_FALSE(MayListTemplates(Role::kOperator));
}

TEST_CASE("only analysts and researchers may run queries") {
  CHECK(MayRunQueries(Role::kMunicipalAnalyst));
  CHECK(MayRunQueries(Role::kResearcher));
  CHECK_FALSE(MayRunQueries(Role::kPrivacyOfficer));
  CHECK_FALSE(MayRunQueries(Role::kDataSteward));
  CHECK_FALSE(MayRunQueries(Role::kOperator));
}

}  // namespace
}  // namespace enclave::policy
