// Rule sets: the floors every rule set must respect, validation, CBS presets and the canonical
// text that the query log records so a release can be replayed (disclosure-control.md §Defaults).
//
// RuleSetParams itself lives in threshold.h (existing code holds it by value). The policy loader
// maps a RuleSetFile to RuleSetParams, then refuses it if ValidateRuleSet reports any problem:
//
//   std::vector<RuleSetProblem> problems = ValidateRuleSet(params);
//   for (const RuleSetProblem& p : problems) report(p.field, p.message);  // e.g. "p_percent"
//   log.Record("rule_set", CanonicalText(params));  // "cbs-business@2 T=10 share=100 nk=(1,50)..."
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "enclave/disclosure/threshold.h"

namespace enclave::disclosure {

// Hard floors. No rule set may go below them; stricter values are always allowed. T = 3 (the
// Handbook's value for official tables) is too low for interactive querying (§3.2), so the floor
// is CBS Remote Access's 10, the same as templates::kMinUnitsFloor.
inline constexpr std::int64_t kMinUnitsFloor = 10;
inline constexpr std::int64_t kMinShareDenominatorFloor = 100;
inline constexpr std::int64_t kIncomeMinUnitsFloor = 100;
inline constexpr std::int64_t kModelMinResidualDfFloor = 10;
// Dominance considers at most this many largest holdings; MagnitudeFacts::top_abs needs as many.
inline constexpr std::int32_t kMaxDominanceN = 5;
inline constexpr std::int64_t kMaxCoalition = 4;

struct RuleSetProblem {
  // The field as named in RuleSetFile: "min_units", "dominance[1].k_percent", "group.max_permille".
  std::string field;
  std::string message;  // what is wrong and what is allowed
};

// Every problem found; empty means valid. Checks, among others: id and version present; min_units
// >= kMinUnitsFloor; min_share_denominator >= max(kMinShareDenominatorFloor, min_units); at least
// one (n,k) rule, each with 1 <= n <= kMaxDominanceN, k in [1, 100], no n twice; p in [1, 100];
// coalition in [1, kMaxCoalition]; income (when on) n >= max(100, T), extreme percent in [1, 100];
// group permille in [1, 1000]; model df >= 10; precisions >= 1; count perturbation parameters in
// range (rounding base in [2, T]; ptable D in [1, 20], V in (0, 1000 * D^2], js in [0, T - 1]).
std::vector<RuleSetProblem> ValidateRuleSet(const RuleSetParams& rules);

// "cbs-default@1": what the API and the table metadata name (parameters stay confidential, §3.3).
std::string Tag(const RuleSetParams& rules);

// Every parameter, in a fixed order, for the privacy officer's log and exact replay. Never returned
// to analysts: dominance and ptable parameters are confidential.
std::string CanonicalText(const RuleSetParams& rules);

const char* CountPerturbationName(CountPerturbation method);

// CBS presets, equal to the shipped policies/disclosure/*.textproto files (a test checks this).
RuleSetParams CbsDefaultRuleSet();   // persons: T = 10, (1,50), p = 10
RuleSetParams CbsBusinessRuleSet();  // enterprises: adds (2,85)
RuleSetParams CbsIncomeRuleSet();    // persons' income: adds the IIVS income rule

}  // namespace enclave::disclosure
