// Rule-set validation, canonical text and CBS presets (disclosure-control.md §Defaults at a glance).
#include "enclave/disclosure/rule_set.h"

#include <set>
#include <string>
#include <vector>

namespace enclave::disclosure {
namespace {

std::string Str(std::int64_t v) { return std::to_string(v); }

}  // namespace

const char* CountPerturbationName(CountPerturbation method) {
  switch (method) {
    case CountPerturbation::kNone:
      return "none";
    case CountPerturbation::kRandomRounding:
      return "random-rounding";
    case CountPerturbation::kPtable:
      return "ptable";
  }
  return "unknown";
}

std::vector<RuleSetProblem> ValidateRuleSet(const RuleSetParams& r) {
  std::vector<RuleSetProblem> out;
  auto add = [&out](std::string field, std::string message) {
    out.push_back(RuleSetProblem{std::move(field), std::move(message)});
  };
  if (r.id.empty()) add("id", "a rule set needs an id");
  if (r.version == 0) add("version", "must be at least 1");
  if (r.min_units < kMinUnitsFloor) {
    add("min_units", "must be at least " + Str(kMinUnitsFloor));
  }
  if (r.min_share_denominator < kMinShareDenominatorFloor ||
      r.min_share_denominator < r.min_units) {
    add("min_share_denominator", "must be at least " +
                                     Str(kMinShareDenominatorFloor) + " and at least min_units");
  }
  if (r.dominance.empty()) add("dominance", "at least one (n,k) dominance rule is required");
  std::set<std::int32_t> seen_n;
  for (std::size_t i = 0; i < r.dominance.size(); ++i) {
    const NkRule& d = r.dominance[i];
    const std::string at = "dominance[" + std::to_string(i) + "]";
    if (d.n < 1 || d.n > kMaxDominanceN) {
      add(at + ".n", "must be between 1 and " + Str(kMaxDominanceN));
    } else if (!seen_n.insert(d.n).second) {
      add(at + ".n", "n = " + Str(d.n) + " is listed more than once");
    }
    if (d.k_percent < 1 || d.k_percent > 100) {
      add(at + ".k_percent", "must be between 1 and 100");
    }
  }
  if (r.p_percent < 1 || r.p_percent > 100) add("p_percent", "must be between 1 and 100");
  if (r.p_coalition < 1 || r.p_coalition > kMaxCoalition) {
    add("p_coalition", "must be between 1 and " + Str(kMaxCoalition));
  }
  if (r.income_rule) {
    if (r.income_min_units < kIncomeMinUnitsFloor || r.income_min_units < r.min_units) {
      add("income.min_units", "must be at least " + Str(kIncomeMinUnitsFloor) +
                                  " and at least min_units");
    }
    if (r.income_max_extreme_percent < 1 || r.income_max_extreme_percent > 100) {
      add("income.max_extreme_percent", "must be between 1 and 100");
    }
  }
  if (r.group_max_permille < 1 || r.group_max_permille > 1000) {
    add("group.max_permille", "must be between 1 and 1000");
  }
  if (r.model_min_residual_df < kModelMinResidualDfFloor) {
    add("model_min_residual_df",
        "must be at least " + Str(kModelMinResidualDfFloor));
  }
  if (r.decomposition_quota < 1 || r.decomposition_quota > 1000) {
    add("decomposition_quota", "must be between 1 and 1000");
  }
  if (r.sum_precision < 1) add("precision.sum", "must be at least 1");
  if (r.mean_precision < 1) add("precision.mean", "must be at least 1");
  if (r.quantile_precision < 1) add("precision.quantile", "must be at least 1");
  switch (r.count_perturbation) {
    case CountPerturbation::kNone:
      break;
    case CountPerturbation::kRandomRounding:
      if (r.rounding_base < 2 || r.rounding_base > r.min_units) {
        add("count_perturbation.rounding_base", "must be between 2 and min_units");
      }
      break;
    case CountPerturbation::kPtable:
      if (r.ptable_max_deviation < 1 || r.ptable_max_deviation > 20) {
        add("count_perturbation.max_deviation", "(D) must be between 1 and 20");
      } else if (r.ptable_variance_permille < 1 ||
                 r.ptable_variance_permille >
                     1000 * r.ptable_max_deviation * r.ptable_max_deviation) {
        // Noise bounded by D cannot have a variance above D^2.
        add("count_perturbation.variance_permille",
            "(V * 1000) must be above 0 and at most 1000 * D^2");
      }
      if (r.ptable_js < 0 || r.ptable_js >= r.min_units) {
        add("count_perturbation.js", "must be between 0 and min_units - 1");
      }
      break;
  }
  return out;
}

std::string Tag(const RuleSetParams& r) { return r.id + "@" + std::to_string(r.version); }

std::string CanonicalText(const RuleSetParams& r) {
  std::string s = Tag(r);
  s += " T=" + Str(r.min_units);
  s += " share=" + Str(r.min_share_denominator);
  for (const NkRule& d : r.dominance) {
    s += " nk=(" + Str(d.n) + "," + Str(d.k_percent) + ")";
  }
  s += " p=" + Str(r.p_percent) + " c=" + Str(r.p_coalition);
  if (r.income_rule) {
    s += " income=(" + Str(r.income_min_units) + "," + Str(r.income_max_extreme_percent) + ")";
  } else {
    s += " income=off";
  }
  s += " group=" + Str(r.group_max_permille);
  s += r.sensitive_zeros_unsafe ? " zeros=unsafe" : " zeros=safe";
  s += " df=" + Str(r.model_min_residual_df);
  s += " quota=" + Str(r.decomposition_quota);
  s += " precision=(" + Str(r.sum_precision) + "," + Str(r.mean_precision) + "," +
       Str(r.quantile_precision) + ")";
  s += " counts=";
  s += CountPerturbationName(r.count_perturbation);
  switch (r.count_perturbation) {
    case CountPerturbation::kNone:
      break;
    case CountPerturbation::kRandomRounding:
      s += "(" + Str(r.rounding_base) + ")";
      break;
    case CountPerturbation::kPtable:
      s += "(D=" + Str(r.ptable_max_deviation) + ",Vpm=" + Str(r.ptable_variance_permille) +
           ",js=" + Str(r.ptable_js) + ")";
      break;
  }
  return s;
}

RuleSetParams CbsDefaultRuleSet() {
  RuleSetParams r;
  r.id = "cbs-default";
  r.version = 3;
  return r;
}

RuleSetParams CbsBusinessRuleSet() {
  RuleSetParams r;
  r.id = "cbs-business";
  r.version = 2;
  r.dominance = {NkRule{1, 50}, NkRule{2, 85}};
  return r;
}

RuleSetParams CbsIncomeRuleSet() {
  RuleSetParams r;
  r.id = "cbs-income";
  r.version = 2;
  r.income_rule = true;
  return r;
}

}  // namespace enclave::disclosure
