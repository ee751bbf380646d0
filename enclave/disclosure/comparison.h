// The difference of two shares with its 95% interval (disclosure-control.md §3.6a): a comparison of
// two arms, such as re-integration participants against matched controls (T6). Pure integer
// arithmetic on 128-bit intermediates; no floating point between the counts and the release.
//
// Inputs are the arms' released (perturbed) counts, the same numbers the arms' percentages are
// computed from, so the comparison says nothing the released shares do not. Whether it may be
// released at all is the caller's rule: only where both arms' shares are released (core ties the
// comparison's cells together).
#pragma once

#include <cstdint>
#include <optional>

namespace enclave::disclosure {

struct ArmCounts {
  std::int64_t with_outcome = 0;  // numerator; clamped to [0, units] (perturbation may cross it)
  std::int64_t units = 0;         // denominator
};

// Percentage points, each a multiple of the precision.
struct ShareDifference {
  std::int64_t estimate = 0;  // 100 * (a.with_outcome / a.units - b.with_outcome / b.units), rounded
                              // to the nearest multiple (half away from zero)
  std::int64_t lower = 0;     // Wald 95% bound, rounded down (outward)
  std::int64_t upper = 0;     // rounded up (outward)
};

// Arms larger than this are not computed (the 128-bit intermediates stay exact below it).
inline constexpr std::int64_t kMaxComparisonArm = 100000;

// The difference a - b with the two-sample Wald interval: estimate ± 1.96 · 100 ·
// sqrt(pa(1-pa)/na + pb(1-pb)/nb), computed as (100·Δ·D ∓ 196·⌈√S⌉) / D² with D = na·nb,
// Δ = xa·nb − xb·na, S = D·(xa(na−xa)·nb³ + xb(nb−xb)·na³): exact integers, the square root
// rounded up and the bounds rounded outward, so the interval is never narrower than the exact
// one. The arms are treated as independent samples, which ignores the positive correlation of
// matched pairs and so errs on the wide side. nullopt: an arm is empty or larger than
// kMaxComparisonArm, or precision is not in [1, 100].
std::optional<ShareDifference> ShareDifferenceInterval(ArmCounts a, ArmCounts b,
                                                       std::int64_t precision);

}  // namespace enclave::disclosure
