// DP settings from policy files: the shipped researcher template T11 loads with its dp block, and
// Validate refuses DP templates outside §7's limits (roles, statistics, budget, bounds).
#include <string>

#include "doctest/doctest.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/templates/validate.h"

namespace enclave::templates {
namespace {

bool HasProblem(const Template& t, const std::string& field) {
  for (const TemplateProblem& p : Validate(t)) {
    if (p.field == field) return true;
  }
  return false;
}

const Template& T11(const core::TemplateCatalog& catalog) {
  const Template* t = catalog.Find("bijstand_dp_wijk_leeftijd");
  REQUIRE(t != nullptr);
  return *t;
}

TEST_SUITE("DP template settings") {
  TEST_CASE("the shipped T11 loads with discrete Laplace at epsilon 0.25, L0 = 1, researchers only") {
    auto loaded =
        adapters::policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies", nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const Template& t = T11(*loaded->catalog);
    REQUIRE(t.dp.has_value());
    CHECK(t.dp->mechanism == DpSettings::Mechanism::kDiscreteLaplace);
    CHECK(t.dp->epsilon_micro == 250000);
    CHECK(t.dp->max_cells_per_unit == 1);
    CHECK(t.dp->display_threshold == 10);
    CHECK(t.roles == std::vector<Role>{Role::kResearcher});
    CHECK(Validate(t).empty());
    // Templates without a dp block stay on the cell key method.
    const Template* sdc = loaded->catalog->Find("bijstand_stand");
    REQUIRE(sdc != nullptr);
    CHECK_FALSE(sdc->dp.has_value());
  }

  TEST_CASE("Validate refuses DP templates outside the limits") {
    auto loaded =
        adapters::policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies", nullptr);
    REQUIRE(loaded.ok());
    const Template base = T11(*loaded->catalog);
    SUBCASE("an analyst role") {
      Template t = base;
      t.roles.push_back(Role::kMunicipalAnalyst);
      CHECK(HasProblem(t, "roles"));
    }
    SUBCASE("epsilon 0 or above 1.0") {
      Template t = base;
      t.dp->epsilon_micro = 0;
      CHECK(HasProblem(t, "dp.epsilon_micro"));
      t.dp->epsilon_micro = 1'000'001;
      CHECK(HasProblem(t, "dp.epsilon_micro"));
    }
    SUBCASE("a quantile statistic") {
      Template t = base;
      t.statistics[0].kind = StatisticKind::kQuantile;
      t.statistics[0].quantile_permille = 500;
      CHECK(HasProblem(t, "statistic[0].kind"));
    }
    SUBCASE("bounds that are not sane") {
      Template t = base;
      t.dp->max_cells_per_unit = 0;
      CHECK(HasProblem(t, "dp.max_cells_per_unit"));
      t = base;
      t.dp->clamp_min = 5;
      t.dp->clamp_max = 1;
      CHECK(HasProblem(t, "dp.clamp_min"));
      t = base;
      t.statistics[0].kind = StatisticKind::kSum;  // a sum needs clamp bounds
      CHECK(HasProblem(t, "dp.clamp_max"));
    }
    SUBCASE("a Gaussian template with an epsilon") {
      Template t = base;
      t.dp->mechanism = DpSettings::Mechanism::kDiscreteGaussian;
      CHECK(HasProblem(t, "dp.rho_micro"));
      CHECK(HasProblem(t, "dp.epsilon_micro"));
    }
  }
}

}  // namespace
}  // namespace enclave::templates
