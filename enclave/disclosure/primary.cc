// Primary sensitivity rules and protection requirements (disclosure-control.md §3, §4.3).
#include "enclave/disclosure/primary.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "enclave/disclosure/rule_set.h"

namespace enclave::disclosure {
namespace {

// 128-bit intermediates so that products and sums of 64-bit inputs cannot overflow.
__extension__ using Int128 = __int128;

std::string Str(std::int64_t v) { return std::to_string(v); }

Decision Released() { return Decision{CellStatus::kReleased, "released", ""}; }
Decision Confidential(const char* rule, std::string params) {
  return Decision{CellStatus::kConfidential, rule, std::move(params)};
}
bool IsReleased(const Decision& d) { return d.status == CellStatus::kReleased; }

// Saturates a 128-bit value into int64: requirements beyond int64 are unreachable anyway.
std::int64_t Saturate(Int128 v) {
  if (v > static_cast<Int128>(std::numeric_limits<std::int64_t>::max())) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (v < static_cast<Int128>(std::numeric_limits<std::int64_t>::min())) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return static_cast<std::int64_t>(v);
}

// ceil(a / b) for b > 0.
Int128 CeilDiv(Int128 a, Int128 b) {
  Int128 q = a / b;
  if (a % b != 0 && a > 0) ++q;
  return q;
}

bool FactsValid(const MagnitudeFacts& f) {
  if (f.units < 0 || f.holdings < 0 || f.abs_sum < 0 || f.min > f.max) return false;
  if (static_cast<Int128>(f.top_abs.size()) > static_cast<Int128>(f.holdings)) return false;
  Int128 sum = 0;
  for (std::size_t i = 0; i < f.top_abs.size(); ++i) {
    if (f.top_abs[i] < 0) return false;
    if (i > 0 && f.top_abs[i] > f.top_abs[i - 1]) return false;
    sum += f.top_abs[i];
  }
  return sum <= static_cast<Int128>(f.abs_sum);
}

// x_i (0-based) of the cell: given, zero beyond the last holding, otherwise bounded above by the
// smallest given (or X when none is given), which can only make a cell less safe.
Int128 Top(const MagnitudeFacts& f, std::int64_t i) {
  if (i >= f.holdings) return 0;
  const auto index = static_cast<std::size_t>(i);
  if (index < f.top_abs.size()) return f.top_abs[index];
  if (!f.top_abs.empty()) return f.top_abs.back();
  return f.abs_sum;
}

Int128 TopSum(const MagnitudeFacts& f, std::int64_t n) {
  Int128 s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += Top(f, i);
  return s;
}

std::string NkParams(const NkRule& r) {
  return "nk(" + Str(r.n) + "," + Str(r.k_percent) + ")";
}
std::string PParams(const RuleSetParams& r) {
  return "p(" + Str(r.p_percent) + ",c=" + Str(r.p_coalition) + ")";
}
std::string TParams(const RuleSetParams& r) { return "T=" + Str(r.min_units); }

// X - x1 - ... - x_{c+1}: what the coalition does not know of the others' total.
Int128 Remainder(const RuleSetParams& r, const MagnitudeFacts& f) {
  return static_cast<Int128>(f.abs_sum) - TopSum(f, r.p_coalition + 1);
}

bool NkFires(const NkRule& rule, const MagnitudeFacts& f) {
  return 100 * TopSum(f, rule.n) > static_cast<Int128>(rule.k_percent) * f.abs_sum;
}

bool PFires(const RuleSetParams& r, const MagnitudeFacts& f) {
  return 100 * Remainder(r, f) < static_cast<Int128>(r.p_percent) * Top(f, 0);
}

Int128 Abs(std::int64_t v) { return v < 0 ? -static_cast<Int128>(v) : static_cast<Int128>(v); }

}  // namespace

Decision DominanceNk(const RuleSetParams& rules, const MagnitudeFacts& facts) {
  if (!FactsValid(facts)) return Confidential("facts-invalid", "");
  for (const NkRule& rule : rules.dominance) {
    if (NkFires(rule, facts)) return Confidential("dominance-nk", NkParams(rule));
  }
  return Released();
}

Decision PPercent(const RuleSetParams& rules, const MagnitudeFacts& facts) {
  if (!FactsValid(facts)) return Confidential("facts-invalid", "");
  if (PFires(rules, facts)) return Confidential("p-percent", PParams(rules));
  return Released();
}

Decision IncomeRule(const RuleSetParams& rules, const MagnitudeFacts& facts, IncomeUse use) {
  if (!rules.income_rule) return Released();
  if (!FactsValid(facts)) return Confidential("facts-invalid", "");
  const std::string params = "income(n>=" + Str(rules.income_min_units) + "," +
                             Str(rules.income_max_extreme_percent) + "%)";
  if (facts.units < rules.income_min_units) return Confidential("income-n", params);
  if (use == IncomeUse::kQuantile) return Released();
  const Int128 extreme = std::max({Abs(facts.min), Abs(facts.max), Top(facts, 0)});
  if (100 * extreme > static_cast<Int128>(rules.income_max_extreme_percent) * facts.abs_sum) {
    return Confidential("income-extreme", params);
  }
  return Released();
}

Decision GroupDisclosure(const RuleSetParams& rules, const GroupFacts& facts) {
  if (facts.group_units < 0 || facts.category_units < 0 ||
      facts.category_units > facts.group_units) {
    return Confidential("facts-invalid", "");
  }
  if (facts.category_units == 0 && facts.structural_zero) {
    return Decision{CellStatus::kReleased, "structural-zero", ""};
  }
  if (!facts.sensitive) return Released();
  const std::string params = "group(" + Str(rules.group_max_permille) + ")";
  if (facts.category_units == 0) {
    if (facts.group_units == 0) return Confidential("empty", "");
    if (rules.sensitive_zeros_unsafe) return Confidential("sensitive-zero", params);
    return Released();
  }
  if (static_cast<Int128>(facts.category_units) * 1000 >
      static_cast<Int128>(rules.group_max_permille) * facts.group_units) {
    return Confidential("group", params);
  }
  return Released();
}

Decision MinMaxRule() { return Confidential("min-max", ""); }

Decision CountDecision(const RuleSetParams& rules, std::int64_t units, const GroupFacts* group) {
  if (group != nullptr) {
    if (group->category_units != units) return Confidential("facts-invalid", "");
    if (units == 0) {
      // A structural zero is released as such; a sensitive zero is unsafe. Any other zero falls
      // to the threshold rule ("empty").
      Decision zero = GroupDisclosure(rules, *group);
      if (!IsReleased(zero) || zero.rule == "structural-zero") return zero;
    }
  }
  Decision d = ThresholdRule(rules, units);
  if (!IsReleased(d)) {
    if (d.params.empty()) d.params = TParams(rules);
    return d;
  }
  if (group != nullptr) return GroupDisclosure(rules, *group);
  return d;
}

Decision MagnitudeDecision(const RuleSetParams& rules, const MagnitudeFacts& facts) {
  if (!FactsValid(facts)) return Confidential("facts-invalid", "");
  Decision d = ThresholdRule(rules, facts.units);
  if (!IsReleased(d)) {
    if (d.params.empty()) d.params = TParams(rules);
    return d;
  }
  d = DominanceNk(rules, facts);
  if (!IsReleased(d)) return d;
  d = PPercent(rules, facts);
  if (!IsReleased(d)) return d;
  return IncomeRule(rules, facts, IncomeUse::kMeanOrSum);
}

AverageDecision MeanOrMedian(const RuleSetParams& rules, const MagnitudeFacts& facts) {
  AverageDecision out;
  out.mean = MagnitudeDecision(rules, facts);
  out.median = FactsValid(facts) ? QuantileDecision(rules, facts.units, 500)
                                 : Confidential("facts-invalid", "");
  if (IsReleased(out.mean)) {
    out.release = AverageRelease::kMean;
  } else if (IsReleased(out.median)) {
    out.release = AverageRelease::kMedian;
  } else {
    out.release = AverageRelease::kNone;
  }
  return out;
}

Decision QuantileDecision(const RuleSetParams& rules, std::int64_t units, std::uint32_t permille) {
  Decision d = QuantileRule(rules, units, permille);
  if (!IsReleased(d)) {
    if (d.params.empty()) d.params = TParams(rules) + ",q=" + Str(permille);
    return d;
  }
  if (rules.income_rule) {
    MagnitudeFacts only_n;
    only_n.units = units;
    only_n.holdings = units;
    return IncomeRule(rules, only_n, IncomeUse::kQuantile);
  }
  return d;
}

Decision ShareDecision(const RuleSetParams& rules, std::int64_t numerator,
                       std::int64_t denominator, bool sensitive) {
  Decision d = ShareRule(rules, numerator, denominator);
  if (!IsReleased(d)) {
    if (d.params.empty()) {
      d.params = "share(" + Str(rules.min_share_denominator) + "," + Str(rules.min_units) + ")";
    }
    return d;
  }
  if (sensitive) {
    return GroupDisclosure(rules, GroupFacts{denominator, numerator, true, false});
  }
  return d;
}

Decision RatioDecision(const RuleSetParams& rules, const MagnitudeFacts& numerator,
                       const MagnitudeFacts& denominator) {
  Decision d = MagnitudeDecision(rules, numerator);
  if (!IsReleased(d)) return d;
  return MagnitudeDecision(rules, denominator);
}

ProtectionRequirement ThresholdProtection(const RuleSetParams& rules, bool sensitive) {
  ProtectionRequirement req;
  req.has_upper = true;
  req.upper = rules.min_units;
  if (!sensitive || !rules.sensitive_zeros_unsafe) {
    req.has_lower = true;
    req.lower = 0;
  }
  return req;
}

ProtectionRequirement MagnitudeProtection(const RuleSetParams& rules,
                                          const MagnitudeFacts& facts) {
  ProtectionRequirement req;
  if (!FactsValid(facts)) return req;  // no bound: never satisfied, the table is refused
  bool fired = false;
  Int128 upper = 0;
  for (const NkRule& rule : rules.dominance) {
    if (NkFires(rule, facts)) {
      fired = true;
      upper = std::max(upper, CeilDiv(100 * TopSum(facts, rule.n), rule.k_percent));
    }
  }
  if (PFires(rules, facts)) {
    fired = true;
    // X + ceil((p * x1 - 100 * R) / 100), where p * x1 > 100 * R because the rule fired.
    const Int128 gap = static_cast<Int128>(rules.p_percent) * Top(facts, 0) -
                       100 * Remainder(rules, facts);
    upper = std::max(upper, static_cast<Int128>(facts.abs_sum) + CeilDiv(gap, 100));
  }
  if (fired) {
    req.has_upper = true;
    req.upper = Saturate(upper);
    return req;
  }
  // Threshold or income only: hide the value within p% on either side.
  const Int128 margin = CeilDiv(static_cast<Int128>(rules.p_percent) * facts.abs_sum, 100);
  req.has_lower = true;
  req.lower = Saturate(static_cast<Int128>(facts.abs_sum) - margin);
  req.has_upper = true;
  req.upper = Saturate(static_cast<Int128>(facts.abs_sum) + margin);
  return req;
}

ProtectionRequirement GroupProtection(const RuleSetParams& rules, const GroupFacts& facts) {
  if (facts.category_units == 0) return ThresholdProtection(rules, facts.sensitive);
  ProtectionRequirement req;
  req.has_lower = true;
  // floor(permille * n_g / 1000): the largest n_gc with 1000 * n_gc <= permille * n_g.
  req.lower = Saturate(static_cast<Int128>(rules.group_max_permille) * facts.group_units / 1000);
  return req;
}

ProtectionRequirement Combine(const ProtectionRequirement& a, const ProtectionRequirement& b) {
  ProtectionRequirement out;
  const bool a_none = !a.has_lower && !a.has_upper;
  const bool b_none = !b.has_lower && !b.has_upper;
  if (a_none || b_none) return out;  // unsatisfiable stays unsatisfiable
  const bool a_either = !a.require_both && a.has_lower && a.has_upper;
  const bool b_either = !b.require_both && b.has_lower && b.has_upper;
  if (a_either && b_either) {
    // (lo <= min L) or (hi >= max U) implies both alternatives.
    out.has_lower = out.has_upper = true;
    out.lower = std::min(a.lower, b.lower);
    out.upper = std::max(a.upper, b.upper);
    return out;
  }
  // Otherwise at least one side is mandatory. Keep a bound only where some input makes it
  // mandatory, or where both inputs offer it; drop "either" alternatives in favour of the other
  // input's mandatory side (sound: reaching the mandatory bound satisfies the "either" input
  // only if it is at least as strict, hence the max/min below).
  const bool a_needs_lower = a.has_lower && (a.require_both || !a.has_upper);
  const bool a_needs_upper = a.has_upper && (a.require_both || !a.has_lower);
  const bool b_needs_lower = b.has_lower && (b.require_both || !b.has_upper);
  const bool b_needs_upper = b.has_upper && (b.require_both || !b.has_lower);
  const bool need_lower = a_needs_lower || b_needs_lower;
  const bool need_upper = a_needs_upper || b_needs_upper;
  if (need_upper) {
    out.has_upper = true;
    out.upper = std::numeric_limits<std::int64_t>::min();
    if (a.has_upper) out.upper = std::max(out.upper, a.upper);
    if (b.has_upper) out.upper = std::max(out.upper, b.upper);
  }
  if (need_lower) {
    out.has_lower = true;
    out.lower = std::numeric_limits<std::int64_t>::max();
    if (a.has_lower) out.lower = std::min(out.lower, a.lower);
    if (b.has_lower) out.lower = std::min(out.lower, b.lower);
  }
  out.require_both = need_lower && need_upper;
  return out;
}

}  // namespace enclave::disclosure
