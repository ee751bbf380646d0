// Rule sets: validation floors, the shipped policies/disclosure files equal the CBS presets, and
// the policy loader refuses an invalid rule set at its file and line.
#include "enclave/disclosure/rule_set.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"

namespace enclave::disclosure {
namespace {

namespace fs = std::filesystem;

const fs::path kShipped = fs::path(ENCLAVE_SOURCE_DIR) / "policies";

bool HasProblem(const RuleSetParams& r, const std::string& field) {
  for (const RuleSetProblem& p : ValidateRuleSet(r)) {
    if (p.field == field) return true;
  }
  return false;
}

TEST_SUITE("ValidateRuleSet") {
  TEST_CASE("the CBS presets are valid") {
    CHECK(ValidateRuleSet(CbsDefaultRuleSet()).empty());
    CHECK(ValidateRuleSet(CbsBusinessRuleSet()).empty());
    CHECK(ValidateRuleSet(CbsIncomeRuleSet()).empty());
    CHECK(ValidateRuleSet(RuleSetParams{}).empty());
  }

  TEST_CASE("each floor refuses the value just below it and accepts the floor") {
    struct Edit {
      const char* field;
      void (*below)(RuleSetParams&);
      void (*at)(RuleSetParams&);
    };
    const std::vector<Edit> edits = {
        {"min_units", [](RuleSetParams& r) { r.min_units = 9; },
         [](RuleSetParams& r) { r.min_units = 10; }},
        {"min_share_denominator", [](RuleSetParams& r) { r.min_share_denominator = 99; },
         [](RuleSetParams& r) { r.min_share_denominator = 100; }},
        {"dominance[0].k_percent", [](RuleSetParams& r) { r.dominance[0].k_percent = 0; },
         [](RuleSetParams& r) { r.dominance[0].k_percent = 1; }},
        {"dominance[0].k_percent", [](RuleSetParams& r) { r.dominance[0].k_percent = 101; },
         [](RuleSetParams& r) { r.dominance[0].k_percent = 100; }},
        {"dominance[0].n", [](RuleSetParams& r) { r.dominance[0].n = 0; },
         [](RuleSetParams& r) { r.dominance[0].n = 1; }},
        {"dominance[0].n", [](RuleSetParams& r) { r.dominance[0].n = kMaxDominanceN + 1; },
         [](RuleSetParams& r) { r.dominance[0].n = kMaxDominanceN; }},
        {"p_percent", [](RuleSetParams& r) { r.p_percent = 0; },
         [](RuleSetParams& r) { r.p_percent = 1; }},
        {"p_percent", [](RuleSetParams& r) { r.p_percent = 101; },
         [](RuleSetParams& r) { r.p_percent = 100; }},
        {"p_coalition", [](RuleSetParams& r) { r.p_coalition = 0; },
         [](RuleSetParams& r) { r.p_coalition = 1; }},
        {"income.min_units",
         [](RuleSetParams& r) {
           r.income_rule = true;
           r.income_min_units = 99;
         },
         [](RuleSetParams& r) {
           r.income_rule = true;
           r.income_min_units = 100;
         }},
        {"group.max_permille", [](RuleSetParams& r) { r.group_max_permille = 1001; },
         [](RuleSetParams& r) { r.group_max_permille = 1000; }},
        {"model_min_residual_df", [](RuleSetParams& r) { r.model_min_residual_df = 9; },
         [](RuleSetParams& r) { r.model_min_residual_df = 10; }},
        {"precision.sum", [](RuleSetParams& r) { r.sum_precision = 0; },
         [](RuleSetParams& r) { r.sum_precision = 1; }},
        {"count_perturbation.rounding_base", [](RuleSetParams& r) { r.rounding_base = 1; },
         [](RuleSetParams& r) { r.rounding_base = 2; }},
        {"count_perturbation.js",
         [](RuleSetParams& r) {
           r.count_perturbation = CountPerturbation::kPtable;
           r.ptable_js = 10;
         },
         [](RuleSetParams& r) {
           r.count_perturbation = CountPerturbation::kPtable;
           r.ptable_js = 9;
         }},
        {"count_perturbation.variance_permille",
         [](RuleSetParams& r) {
           r.count_perturbation = CountPerturbation::kPtable;
           r.ptable_variance_permille = 9001;
         },
         [](RuleSetParams& r) {
           r.count_perturbation = CountPerturbation::kPtable;
           r.ptable_variance_permille = 9000;
         }},
    };
    for (const Edit& e : edits) {
      CAPTURE(e.field);
      RuleSetParams below = CbsDefaultRuleSet();
      e.below(below);
      CHECK(HasProblem(below, e.field));
      RuleSetParams at = CbsDefaultRuleSet();
      e.at(at);
      CHECK(ValidateRuleSet(at).empty());
    }
  }

  TEST_CASE("a rule set needs a dominance rule, an id and a version, n appears once") {
    RuleSetParams r = CbsBusinessRuleSet();
    r.dominance.clear();
    CHECK(HasProblem(r, "dominance"));
    r = CbsBusinessRuleSet();
    r.dominance[1].n = 1;
    CHECK(HasProblem(r, "dominance[1].n"));
    r.id.clear();
    r.version = 0;
    CHECK(HasProblem(r, "id"));
    CHECK(HasProblem(r, "version"));
  }

  TEST_CASE("tag and canonical text name the version and every parameter") {
    CHECK(Tag(CbsBusinessRuleSet()) == "cbs-business@2");
    const std::string text = CanonicalText(CbsBusinessRuleSet());
    CHECK(text.find("nk=(1,50) nk=(2,85)") != std::string::npos);
    CHECK(text.find("p=10") != std::string::npos);
    CHECK(text.find("counts=random-rounding(5)") != std::string::npos);
    CHECK(CanonicalText(CbsDefaultRuleSet()) != CanonicalText(CbsIncomeRuleSet()));
  }
}

// A copy of the shipped policies in a temp directory, to break on purpose.
class PolicyCopy {
 public:
  PolicyCopy() {
    root_ = fs::temp_directory_path() /
            ("enclave_rule_set_" + std::to_string(::getpid()) + "_" + std::to_string(++n_));
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(kShipped, root_ / "policies", fs::copy_options::recursive);
  }
  ~PolicyCopy() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  PolicyCopy(const PolicyCopy&) = delete;
  PolicyCopy& operator=(const PolicyCopy&) = delete;
  std::string dir() const { return (root_ / "policies").string(); }
  std::string Read(const std::string& rel) const {
    std::ifstream in(root_ / "policies" / rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void Write(const std::string& rel, const std::string& text) const {
    std::ofstream(root_ / "policies" / rel, std::ios::binary | std::ios::trunc) << text;
  }
  void Edit(const std::string& rel, const std::string& from, const std::string& to) const {
    std::string text = Read(rel);
    auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), to);
    Write(rel, text);
  }

 private:
  static inline int n_ = 0;
  fs::path root_;
};

int LineOf(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

std::string LoadError(const PolicyCopy& copy) {
  auto loaded = adapters::policy_files::LoadPolicies(copy.dir(), nullptr);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(loaded.status().message());
}

const char kBusiness[] = "disclosure/cbs-business.textproto";

TEST_SUITE("RuleSetFiles") {
  TEST_CASE("the shipped rule sets load and equal the CBS presets") {
    auto loaded = adapters::policy_files::LoadPolicies(kShipped.string(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const auto& sets = loaded->catalog->rule_sets;
    REQUIRE(sets.count("cbs-default") == 1);
    REQUIRE(sets.count("cbs-business") == 1);
    REQUIRE(sets.count("cbs-income") == 1);
    CHECK(CanonicalText(sets.at("cbs-default")) == CanonicalText(CbsDefaultRuleSet()));
    CHECK(CanonicalText(sets.at("cbs-business")) == CanonicalText(CbsBusinessRuleSet()));
    CHECK(CanonicalText(sets.at("cbs-income")) == CanonicalText(CbsIncomeRuleSet()));
  }

  TEST_CASE("every parameter is stated in the shipped files") {
    for (const char* file : {"cbs-default", "cbs-business", "cbs-income"}) {
      std::ifstream in(kShipped / "disclosure" / (std::string(file) + ".textproto"));
      const std::string text(std::istreambuf_iterator<char>(in), {});
      CAPTURE(file);
      for (const char* key :
           {"id:", "version:", "description", "min_units:", "min_share_denominator:",
            "dominance", "p_percent:", "p_coalition:", "income", "max_extreme_percent:",
            "max_permille:", "sensitive_zeros_unsafe:", "model_min_residual_df:", "sum:",
            "mean:", "quantile:", "method:", "rounding_base:", "max_deviation:",
            "variance_permille:", "js:"}) {
        CHECK_MESSAGE(text.find(key) != std::string::npos, key);
      }
    }
  }

  TEST_CASE("an absent section takes the CBS default (minimal rule sets keep loading)") {
    PolicyCopy copy;
    copy.Write("disclosure/cbs-business.textproto",
               "id: \"cbs-business\"\nversion: 1\nmin_units: 10\nmin_share_denominator: 100\n");
    auto loaded = adapters::policy_files::LoadPolicies(copy.dir(), nullptr);
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    RuleSetParams expected;
    expected.id = "cbs-business";
    expected.version = 1;
    CHECK(CanonicalText(loaded->catalog->rule_sets.at("cbs-business")) == CanonicalText(expected));
  }

  TEST_CASE("an invalid rule set is refused at its file and line") {
    struct Bad {
      const char* from;
      const char* to;
      const char* field;
    };
    for (const Bad& bad : {Bad{"min_units: 10", "min_units: 3", "min_units"},
                           Bad{"dominance { n: 2 k_percent: 85 }",
                               "dominance { n: 2 k_percent: 185 }", "dominance[1].k_percent"},
                           Bad{"p_percent: 10", "p_percent: 0", "p_percent"},
                           Bad{"max_permille: 900", "max_permille: 1900", "group.max_permille"},
                           Bad{"rounding_base: 5", "rounding_base: 1",
                               "count_perturbation.rounding_base"},
                           Bad{"method: RANDOM_ROUNDING", "method: METHOD_UNSPECIFIED",
                               "count_perturbation.method"}}) {
      CAPTURE(bad.field);
      PolicyCopy copy;
      copy.Edit(kBusiness, bad.from, bad.to);
      const int line = LineOf(copy.Read(kBusiness), bad.to);
      const std::string error = LoadError(copy);
      CHECK(error.find("policies/disclosure/cbs-business.textproto:" + std::to_string(line) +
                       ":") != std::string::npos);
      CHECK(error.find(bad.field) != std::string::npos);
    }
  }

  TEST_CASE("a malformed rule set is refused") {
    PolicyCopy copy;
    copy.Edit(kBusiness, "p_percent: 10", "p_percent: ten");
    const std::string error = LoadError(copy);
    CHECK(error.find("cbs-business.textproto:" +
                     std::to_string(LineOf(copy.Read(kBusiness), "p_percent: ten"))) !=
          std::string::npos);
  }
}

}  // namespace
}  // namespace enclave::disclosure
