// Primary disclosure rules applied per cell (disclosure-control.md §3). Pure: no I/O.
//
// Every cell gets a decision: released, or confidential with the id of the rule that fired. The
// rule id is for the privacy officer's log only; callers of the API see one confidential code.
#pragma once

#include <cstdint>
#include <string>

namespace enclave::disclosure {

enum class CellStatus { kReleased, kConfidential };

struct RuleSetParams {
  std::string id = "cbs-default";
  std::uint32_t version = 1;
  std::int64_t min_units = 10;               // threshold T (§3.2)
  std::int64_t min_share_denominator = 100;  // §3.6
};

struct Decision {
  CellStatus status = CellStatus::kConfidential;
  // "released", "threshold", "share-denominator", "share-numerator", "quantile-n", "empty".
  std::string rule;
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
