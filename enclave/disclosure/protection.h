// The protection requirement of a primary-unsafe cell (disclosure-control.md §4.3). Pure.
//
// The secondary-suppression audit solves, for every primary-unsafe cell, the attacker's LP
// (§4.2) and gets the feasible interval [lo, hi] of the cell's value. The cell is protected when
// that interval reaches a value at which the cell would have been safe: down to `lower` or below
// (has_lower), or up to `upper` or above (has_upper). Either bound reached suffices, unless
// require_both (a cell failing two rules, e.g. sensitive threshold and group, is safe only at values
// in [upper, lower], so the interval must reach both):
//
//   threshold, zeros safe          has_lower, lower = 0 and has_upper, upper = T
//   threshold/zero, sensitive      has_upper, upper = T
//   p%                             has_upper, upper = X + ceil(p*x1/100 - (X - x1 - x2))
//   (1,k)                          has_upper, upper = ceil(100*x1/k)
//   group                          has_lower, lower = floor(9*n_g/10)   (with 900 permille)
//
// The requirement is computed by the *Protection functions of primary.h from the cell's facts.
//
//   ProtectionRequirement req = ThresholdProtection(rules, sensitive);  // primary.h
//   auto [lo, hi] = audit.Interval(cell);           // from the LP, rounded to integers
//   if (!Satisfied(req, lo, hi)) { /* add a secondary suppression or refuse the table */ }
#pragma once

#include <cstdint>

namespace enclave::disclosure {

struct ProtectionRequirement {
  bool has_lower = false;
  std::int64_t lower = 0;  // protected if the interval reaches <= lower
  bool has_upper = false;
  std::int64_t upper = 0;  // protected if the interval reaches >= upper
  bool require_both = false;  // both bounds must be reached (disclosure::Combine sets it)
};

// True when the feasible interval [lo, hi] reaches either required bound. A requirement with
// neither bound set is never satisfied: a cell that needs protection but has no stated way to get
// it must be refused (fail closed), never released on a default.
// REQUIRES: lo <= hi (the caller's LP interval).
inline bool Satisfied(const ProtectionRequirement& req, std::int64_t lo, std::int64_t hi) {
  if (req.require_both) {
    return req.has_lower && req.has_upper && lo <= req.lower && hi >= req.upper;
  }
  if (req.has_lower && lo <= req.lower) return true;
  if (req.has_upper && hi >= req.upper) return true;
  return false;
}

}  // namespace enclave::disclosure
