// Primary sensitivity rules over one cell's facts (disclosure-control.md §3), and the protection a
// primary-unsafe cell needs from secondary suppression (§4.3). Pure functions on integers: every
// comparison is an exact cross-multiplication in 128 bits, no floating point.
//
// The caller (core's TableBuilder) computes per cell, from each unit's contribution, the facts
// below, then asks for one decision per released statistic:
//
//   COUNT     CountDecision(rules, units, group_or_null)
//   SUM       MagnitudeDecision(rules, magnitude_facts)
//   MEAN      MeanOrMedian(rules, magnitude_facts): the mean, else the median, else nothing
//   QUANTILE  QuantileDecision(rules, units, permille)
//   SHARE     ShareDecision(rules, numerator, denominator, sensitive)
//   RATIO     RatioDecision(rules, numerator_facts, denominator_facts)
//   MIN, MAX  MinMaxRule(): never
//
// A Decision names the rule that decided ("dominance-nk") and its parameters ("nk(1,50)") for the
// privacy officer's log; the analyst sees one confidential code whatever the rule (§8).
// For a confidential cell, the *Protection functions give the interval the secondary-suppression
// audit must leave open (protection.h).
#pragma once

#include <cstdint>
#include <vector>

#include "enclave/disclosure/protection.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::disclosure {

// A magnitude cell (sum, mean, ratio part). Contributions are merged per holding first (§3.1: a
// household's or enterprise group's units); without a declared holding every unit is its own.
struct MagnitudeFacts {
  std::int64_t units = 0;     // distinct statistical units in the cell (threshold)
  std::int64_t holdings = 0;  // distinct holdings; equal to units when the template declares none
  // |holding contribution|, sorted descending; at least the largest
  // max(kMaxDominanceN, p_coalition + 1) when the cell has that many holdings. Missing entries
  // (fewer given than holdings) are bounded by the last one given: conservative, never unsafe.
  std::vector<std::int64_t> top_abs;
  std::int64_t abs_sum = 0;  // X = sum of |contribution| over holdings (negatives count as |x|)
  std::int64_t min = 0;      // smallest unit value, signed (income rule)
  std::int64_t max = 0;      // largest unit value, signed (income rule)
};

// A count in a category of a group (§3.4): a row or column defined by the template's group
// dimensions (wijk, age band, ...), the category a code of a sensitive dimension.
struct GroupFacts {
  std::int64_t group_units = 0;     // n_g: distinct units in the group (the margin)
  std::int64_t category_units = 0;  // n_gc: distinct units of the group in this category
  bool sensitive = false;           // the template marks the category sensitive (bijstand, ...)
  bool structural_zero = false;     // the template declares the cell impossible (bijstand < 18)
};

// Contract for all Decision functions: kReleased or kConfidential with a rule id; inconsistent
// facts (unsorted or negative top_abs, more top entries than holdings, top entries summing above
// abs_sum, min > max, negative counts) give kConfidential "facts-invalid" (fail closed).

// Every (n,k) rule of the rule set on holdings: unsafe if 100 * (x1 + ... + xn) > k * X.
Decision DominanceNk(const RuleSetParams& rules, const MagnitudeFacts& facts);

// p% rule with coalition c: unsafe if 100 * (X - x1 - ... - x_{c+1}) < p * x1.
Decision PPercent(const RuleSetParams& rules, const MagnitudeFacts& facts);

enum class IncomeUse { kMeanOrSum, kQuantile };

// IIVS income rule: n >= income_min_units; a mean or sum also needs
// 100 * max(|min|, |max|) <= income_max_extreme_percent * X. Released when the rule set has no
// income rule.
Decision IncomeRule(const RuleSetParams& rules, const MagnitudeFacts& facts, IncomeUse use);

// Group disclosure: unsafe if 1000 * n_gc > group_max_permille * n_g (90%: 10 n_gc > 9 n_g).
// A declared structural zero is released as such ("structural-zero", kReleased: shown as "-").
// A zero in a sensitive category is unsafe ("sensitive-zero") unless the rule set declares zeros
// safe. Non-sensitive categories always pass ("released"); a sensitive cell of an empty group is
// "empty".
Decision GroupDisclosure(const RuleSetParams& rules, const GroupFacts& facts);

// Minimum, maximum, range: one unit's value; never released ("min-max").
Decision MinMaxRule();

// --- Per statistic kind ----------------------------------------------------------------------

// COUNT of distinct units. `group` (nullable) when the cell is a category of a group dimension.
// Order: structural zero (released), sensitive zero, threshold (any other 0 is "empty", as
// ThresholdRule), group disclosure. REQUIRES group->category_units == units (else "facts-invalid").
Decision CountDecision(const RuleSetParams& rules, std::int64_t units, const GroupFacts* group);

// SUM (and each part of a RATIO): threshold on units, every (n,k) rule, p%, and the income rule
// (kMeanOrSum) when the rule set has one. The first rule that fires decides.
Decision MagnitudeDecision(const RuleSetParams& rules, const MagnitudeFacts& facts);

enum class AverageRelease { kMean, kMedian, kNone };
struct AverageDecision {
  AverageRelease release = AverageRelease::kNone;
  Decision mean;    // MagnitudeDecision: why the mean was (not) released
  Decision median;  // QuantileDecision at 500 permille
};

// MEAN: "a mean only where dominance passes, otherwise the median" (§3.5, IIVS). kMean when
// MagnitudeDecision releases; else kMedian when the median passes; else kNone.
AverageDecision MeanOrMedian(const RuleSetParams& rules, const MagnitudeFacts& facts);

// QUANTILE at permille/1000: QuantileRule (n * min(q, 1-q) >= T; 0 and 1000 are min/max), and,
// with an income rule, n >= income_min_units.
Decision QuantileDecision(const RuleSetParams& rules, std::int64_t units, std::uint32_t permille);

// SHARE numerator/denominator: ShareRule, then GroupDisclosure when the numerator's category is
// sensitive (a sensitive share above 90% is group disclosure, §3.6).
Decision ShareDecision(const RuleSetParams& rules, std::int64_t numerator,
                       std::int64_t denominator, bool sensitive);

// RATIO of magnitudes: both parts must pass MagnitudeDecision (§3.6); the failing part decides.
Decision RatioDecision(const RuleSetParams& rules, const MagnitudeFacts& numerator,
                       const MagnitudeFacts& denominator);

// --- Protection requirements (§4.3) for the secondary-suppression audit ----------------------

// Count cell suppressed by threshold or as a zero: not inside [1, T-1] (lo <= 0 or hi >= T); for a
// sensitive category (zeros unsafe): hi >= T.
ProtectionRequirement ThresholdProtection(const RuleSetParams& rules, bool sensitive);

// Magnitude cell suppressed by dominance or p%: every rule that fires contributes its bound, the
// largest is required: (n,k) hi >= ceil(100 * (x1 + ... + xn) / k); p% hi >= X + ceil(p * x1 / 100
// - (X - x1 - ... - x_{c+1})). A magnitude cell that fails only the threshold (or the income
// rule) needs its value hidden within p% either way: lo <= X - ceil(p X / 100) or
// hi >= X + ceil(p X / 100). The bounds are in the same unit as the magnitude (holding |x|).
ProtectionRequirement MagnitudeProtection(const RuleSetParams& rules, const MagnitudeFacts& facts);

// Group disclosure: lo <= floor(group_max_permille * n_g / 1000); for a sensitive zero, as
// ThresholdProtection(rules, true).
ProtectionRequirement GroupProtection(const RuleSetParams& rules, const GroupFacts& facts);

// Both requirements at once, conservatively: every interval that satisfies the result satisfies
// both. Upper bounds combine to the larger, lower bounds to the smaller; a one-sided upper with a
// one-sided lower requires both (require_both). A requirement with no bound stays unsatisfiable.
ProtectionRequirement Combine(const ProtectionRequirement& a, const ProtectionRequirement& b);

}  // namespace enclave::disclosure
