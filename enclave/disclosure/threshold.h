// Primary disclosure rules applied per cell (disclosure-control.md §3). Pure: no I/O.
//
// Every cell gets a decision: released, or confidential with the id of the rule that fired. The
// rule id is for the privacy officer's log only; callers of the API see one confidential code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace enclave::disclosure {

enum class CellStatus { kReleased, kConfidential };

// (n,k) dominance (§3.3): a cell is unsafe if its n largest holdings hold more than k% of the
// total: 100 * (x1 + ... + xn) > k * X.
struct NkRule {
  std::int32_t n = 1;
  std::int32_t k_percent = 50;
};

// How released counts are perturbed (§5). Parameters only: the cell key method implements them.
enum class CountPerturbation { kNone, kRandomRounding, kPtable };

// A named, versioned rule set (policies/disclosure/*.textproto). Every parameter is an integer so
// that no decision depends on floating point. Defaults are CBS practice ("Defaults at a glance");
// disclosure/rule_set.h validates a rule set and renders it canonically for the query log.
struct RuleSetParams {
  std::string id = "cbs-default";
  std::uint32_t version = 1;
  std::int64_t min_units = 10;               // threshold T (§3.2)
  std::int64_t min_share_denominator = 100;  // §3.6

  // Magnitudes (§3.3), applied to |x| of holdings. Every listed (n,k) rule applies.
  // (Built with the count constructor: GCC 12's -Wmaybe-uninitialized misfires at -O2 on an
  // initializer_list default member initializer here.)
  std::vector<NkRule> dominance = std::vector<NkRule>(1, NkRule{1, 50});
  std::int64_t p_percent = 10;   // p% rule: unsafe if 100 * (X - x1 - ... - x_{c+1}) < p * x1
  std::int64_t p_coalition = 1;  // c: how many contributors collude to estimate x1

  // Income rule (§3.5, IIVS): on in rule sets for income statistics (cbs-income); applies to
  // every magnitude and quantile of a template using that rule set.
  bool income_rule = false;
  std::int64_t income_min_units = 100;
  std::int64_t income_max_extreme_percent = 30;  // max(|min|, |max|) <= 30% of sum |x|

  // Group disclosure (§3.4): unsafe if 1000 * n_gc > group_max_permille * n_g.
  std::int64_t group_max_permille = 900;
  bool sensitive_zeros_unsafe = true;  // a zero in a sensitive category (unless structural)

  std::int64_t model_min_residual_df = 10;  // §3.6; parameter only

  // Decomposition quota (§6.2): distinct partitions of one population shown across all releases
  // of a data version; a template's officer-approved max_partitions may raise it.
  std::int64_t decomposition_quota = 10;

  // Release precision (§8): released magnitudes are multiples of these; percentages are whole.
  std::int64_t sum_precision = 1000;
  std::int64_t mean_precision = 100;
  std::int64_t quantile_precision = 100;

  // Count perturbation (§5.3, §5.5): defaults to cell-key random rounding to base 5.
  CountPerturbation count_perturbation = CountPerturbation::kRandomRounding;
  std::int64_t rounding_base = 5;
  std::int64_t ptable_max_deviation = 3;         // D
  std::int64_t ptable_variance_permille = 1000;  // V = 1.000
  std::int64_t ptable_js = 2;                    // small values 1..js never released
};

struct Decision {
  CellStatus status = CellStatus::kConfidential;
  // "released", "threshold", "share-denominator", "share-numerator", "quantile-n", "empty"; and
  // from primary.h: "dominance-nk", "p-percent", "income-n", "income-extreme", "group",
  // "sensitive-zero", "structural-zero", "min-max", "facts-invalid".
  std::string rule;
  // The parameters of the rule that decided, e.g. "nk(1,50)", "p(10,c=1)", "T=10"; for the log.
  std::string params = {};
};

// Threshold rule for any statistic of a cell with `units` distinct units: released only when
// units >= min_units. A cell with no units is confidential too ("empty"): its count would be 0,
// and a 0 beside suppressed neighbours narrows them.
Decision ThresholdRule(const RuleSetParams& rules, std::int64_t units);

// A share numerator/denominator (§3.6): denominator >= min_share_denominator and numerator >=
// min_units (and denominator - numerator >= min_units, so the complement is not revealed).
Decision ShareRule(const RuleSetParams& rules, std::int64_t numerator, std::int64_t denominator);

// Quantile at level permille/1000 over n units: n * min(q, 1-q) >= min_units (§3.5).
Decision QuantileRule(const RuleSetParams& rules, std::int64_t n, std::uint32_t permille);

// Rounds to the nearest multiple of `precision` (half away from zero); precision <= 1 is identity.
std::int64_t RoundToPrecision(std::int64_t value, std::int64_t precision);

}  // namespace enclave::disclosure
