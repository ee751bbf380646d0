// DP settings from policy files: the shipped researcher template T11 loads with its dp block, and
// Validate refuses DP templates outside §7's limits (roles, statistics, budget, bounds).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

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
    SUBCASE("cells not public: selection parameters in range, ε_sel only then") {
      Template t = base;
      t.dp->selection_epsilon_micro = 500000;  // with public cells it has no meaning
      CHECK(HasProblem(t, "dp.selection_epsilon_micro"));
      t.dp->cells_public = false;
      CHECK(Validate(t).empty());  // negative control: k 10, ε_sel 0.5, δ 1e-8
      t.dp->selection_epsilon_micro = 0;
      CHECK(HasProblem(t, "dp.selection_epsilon_micro"));
      t.dp->selection_epsilon_micro = 1'000'001;
      CHECK(HasProblem(t, "dp.selection_epsilon_micro"));
      t.dp->selection_epsilon_micro = 500000;
      t.dp->min_units = 0;
      CHECK(HasProblem(t, "dp.min_units"));
      t.dp->min_units = 10;
      t.dp->delta_exponent = 5;
      CHECK(HasProblem(t, "dp.delta_exponent"));
      t.dp->delta_exponent = 13;
      CHECK(HasProblem(t, "dp.delta_exponent"));
      t.dp->delta_exponent = 12;
      t.roles.push_back(Role::kMunicipalAnalyst);
      CHECK(HasProblem(t, "roles"));
    }
  }

  TEST_CASE("the loader reads cells_public, min_units, selection_epsilon_micro and delta_exponent") {
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("dp_policy_test_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::copy(fs::path(ENCLAVE_SOURCE_DIR) / "policies", root, fs::copy_options::recursive);
    const fs::path file = root / "templates" / "t11_bijstand_dp_wijk_leeftijd.textproto";
    std::stringstream text;
    text << std::ifstream(file).rdbuf();
    std::string body = text.str();
    const std::string anchor = "  display_threshold: 10\n";
    const std::size_t at = body.find(anchor);
    REQUIRE(at != std::string::npos);
    body.insert(at + anchor.size(),
                "  cells_public: false\n  min_units: 12\n  selection_epsilon_micro: 500000\n"
                "  delta_exponent: 6\n");
    std::ofstream(file, std::ios::trunc) << body;
    auto loaded = adapters::policy_files::LoadPolicies(root.string(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const Template& t = T11(*loaded->catalog);
    REQUIRE(t.dp.has_value());
    CHECK_FALSE(t.dp->cells_public);
    CHECK(t.dp->min_units == 12);
    CHECK(t.dp->selection_epsilon_micro == 500000);
    CHECK(t.dp->delta_exponent == 6);
    // Defaults when unset: the shipped T11.
    auto shipped =
        adapters::policy_files::LoadPolicies(std::string(ENCLAVE_SOURCE_DIR) + "/policies", nullptr);
    REQUIRE(shipped.ok());
    const Template& d = T11(*shipped->catalog);
    CHECK(d.dp->cells_public);
    CHECK(d.dp->min_units == 10);
    CHECK(d.dp->selection_epsilon_micro == 0);
    CHECK(d.dp->delta_exponent == 8);
    fs::remove_all(root);
  }
}

}  // namespace
}  // namespace enclave::templates
