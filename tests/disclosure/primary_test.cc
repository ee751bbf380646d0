// Primary rules: every worked example of disclosure-control.md §3, each rule on both sides of its
// boundary, and the §4.3 protection requirements.
#include "enclave/disclosure/primary.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "enclave/disclosure/protection.h"
#include "enclave/disclosure/rule_set.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::disclosure {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

bool Released(const Decision& d) { return d.status == CellStatus::kReleased; }

// A magnitude cell whose holdings are exactly `values` (|x| taken by the caller, as the rules do).
MagnitudeFacts Cell(std::vector<std::int64_t> values) {
  MagnitudeFacts f;
  f.units = static_cast<std::int64_t>(values.size());
  f.holdings = f.units;
  f.top_abs = values;
  f.abs_sum = 0;
  for (std::int64_t v : values) f.abs_sum += v;
  f.min = values.empty() ? 0 : values.back();
  f.max = values.empty() ? 0 : values.front();
  return f;
}

// A cell known only by its total and its two largest holdings (the Handbook examples).
MagnitudeFacts Top2(std::int64_t total, std::int64_t x1, std::int64_t x2, std::int64_t holdings) {
  MagnitudeFacts f;
  f.units = holdings;
  f.holdings = holdings;
  f.top_abs = {x1, x2};
  f.abs_sum = total;
  f.min = 0;
  f.max = x1;
  return f;
}

TEST_SUITE("Dominance") {
  TEST_CASE("[900, 50, 30, 20] fails (1,50) and p = 10") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const MagnitudeFacts f = Cell({900, 50, 30, 20});
    const Decision nk = DominanceNk(rules, f);
    CHECK_FALSE(Released(nk));
    CHECK(nk.rule == "dominance-nk");
    CHECK(nk.params == "nk(1,50)");
    const Decision p = PPercent(rules, f);
    CHECK_FALSE(Released(p));
    CHECK(p.rule == "p-percent");
    CHECK(p.params == "p(10,c=1)");
  }

  TEST_CASE("[300, 250, 200, 150, 100] passes (1,50) and p = 10") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const MagnitudeFacts f = Cell({300, 250, 200, 150, 100});
    CHECK(Released(DominanceNk(rules, f)));
    CHECK(Released(PPercent(rules, f)));
  }

  TEST_CASE("Handbook 1: (1,50) passes at equality, p% fails") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const MagnitudeFacts f = Top2(100000, 50000, 49000, 12);
    CHECK(Released(DominanceNk(rules, f)));  // 5e6 = 5e6: not more than k
    CHECK(PPercent(rules, f).rule == "p-percent");
    // One more euro for the largest tips (1,50).
    CHECK(DominanceNk(rules, Top2(100001, 50001, 49000, 12)).rule == "dominance-nk");
  }

  TEST_CASE("Handbook 2: (1,50) and p% pass, ACRO's (2,90) with >= would fail") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const MagnitudeFacts f = Top2(110000, 52000, 50000, 12);
    CHECK(Released(DominanceNk(rules, f)));
    CHECK(Released(PPercent(rules, f)));
    RuleSetParams strict = rules;
    strict.dominance = {NkRule{2, 90}};
    CHECK_FALSE(Released(DominanceNk(strict, f)));  // 10,200,000 > 9,900,000
  }

  TEST_CASE("p% boundary: 100 * (X - x1 - x2) == p * x1 passes, one less fails") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    // x1 = 10,000, p * x1 = 100,000, so the rest must be >= 1,000.
    CHECK(Released(PPercent(rules, Top2(10000 + 5000 + 1000, 10000, 5000, 12))));
    CHECK_FALSE(Released(PPercent(rules, Top2(10000 + 5000 + 999, 10000, 5000, 12))));
  }

  TEST_CASE("a coalition of two subtracts the third largest too") {
    RuleSetParams rules = CbsDefaultRuleSet();
    const MagnitudeFacts f = Cell({1000, 500, 400, 50, 40});  // rest after 2: 490, after 3: 90
    CHECK(Released(PPercent(rules, f)));                        // 49,000 >= 10,000
    rules.p_coalition = 2;
    CHECK_FALSE(Released(PPercent(rules, f)));  // 9,000 < 10,000
  }

  TEST_CASE("business rule set adds (2,85)") {
    const RuleSetParams business = CbsBusinessRuleSet();
    // Two of 45% each: (1,50) passes, (2,85) fails: 9,000 > 8,500.
    const MagnitudeFacts f = Cell({450, 450, 40, 30, 30});
    CHECK(Released(DominanceNk(CbsDefaultRuleSet(), f)));
    const Decision d = DominanceNk(business, f);
    CHECK(d.rule == "dominance-nk");
    CHECK(d.params == "nk(2,85)");
    // At exactly 85% the rule passes.
    CHECK(Released(DominanceNk(business, Cell({450, 400, 50, 50, 50}))));
  }

  TEST_CASE("three branches of one company (40/30/20%) pass per record but fail as one holding") {
    const RuleSetParams rules = CbsBusinessRuleSet();
    // As records: no record exceeds 50%.
    MagnitudeFacts records = Cell({400, 300, 200, 50, 50});
    CHECK(Released(DominanceNk(CbsDefaultRuleSet(), records)));
    // As holdings: the company holds 90%.
    MagnitudeFacts holdings;
    holdings.units = 5;
    holdings.holdings = 3;
    holdings.top_abs = {900, 50, 50};
    holdings.abs_sum = 1000;
    const Decision d = DominanceNk(rules, holdings);
    CHECK(d.rule == "dominance-nk");
    CHECK(d.params == "nk(1,50)");
  }

  TEST_CASE("negative contributions count as |x|") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    // A loss of 600 among profits: the caller passes |x|, so the loss dominates.
    MagnitudeFacts f = Cell({600, 100, 100, 100, 100});
    f.min = -600;
    f.max = 100;
    CHECK(DominanceNk(rules, f).rule == "dominance-nk");
  }

  TEST_CASE("missing top entries are bounded conservatively") {
    const RuleSetParams rules = CbsBusinessRuleSet();
    // Only x1 given for 5 holdings: x2 is taken as <= x1, so (2,85) sees 2 * 450 > 85% of 1,000.
    MagnitudeFacts f;
    f.units = f.holdings = 5;
    f.top_abs = {450};
    f.abs_sum = 1000;
    CHECK_FALSE(Released(DominanceNk(rules, f)));
  }

  TEST_CASE("inconsistent facts fail closed") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    MagnitudeFacts unsorted = Cell({10, 20, 30});
    unsorted.top_abs = {10, 20, 30};
    CHECK(DominanceNk(rules, unsorted).rule == "facts-invalid");
    MagnitudeFacts too_big = Cell({10, 20, 30});
    too_big.abs_sum = 5;
    CHECK(PPercent(rules, too_big).rule == "facts-invalid");
    MagnitudeFacts negative = Cell({10, 5});
    negative.top_abs = {10, -5};
    CHECK(MagnitudeDecision(rules, negative).rule == "facts-invalid");
  }

  TEST_CASE("no overflow near the int64 limit") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    MagnitudeFacts f = Top2(kMax, kMax / 2, kMax / 4, 20);
    CHECK(Released(DominanceNk(rules, f)));
    MagnitudeFacts g = Top2(kMax, kMax / 2 + 1, kMax / 4, 20);
    CHECK_FALSE(Released(DominanceNk(rules, g)));
  }
}

TEST_SUITE("IncomeRule") {
  MagnitudeFacts Income(std::int64_t n, std::int64_t total, std::int64_t largest) {
    MagnitudeFacts f;
    f.units = f.holdings = n;
    f.top_abs = {largest};
    f.abs_sum = total;
    f.min = 0;
    f.max = largest;
    return f;
  }

  TEST_CASE("n = 120, sum 5.0M: max 1.6M (32%) gives the median only, 1.4M (28%) the mean") {
    RuleSetParams rules = CbsIncomeRuleSet();
    rules.dominance = {NkRule{1, 50}};
    const Decision over = IncomeRule(rules, Income(120, 5000000, 1600000), IncomeUse::kMeanOrSum);
    CHECK(over.rule == "income-extreme");
    CHECK(over.params == "income(n>=100,30%)");
    CHECK(Released(IncomeRule(rules, Income(120, 5000000, 1400000), IncomeUse::kMeanOrSum)));
    // Exactly 30% passes; one euro more fails.
    CHECK(Released(IncomeRule(rules, Income(120, 5000000, 1500000), IncomeUse::kMeanOrSum)));
    CHECK_FALSE(Released(IncomeRule(rules, Income(120, 5000000, 1500001), IncomeUse::kMeanOrSum)));

    // 1.6M of 5.0M is also below (1,50) and p%, so only the income rule makes the difference.
    const AverageDecision avg32 = MeanOrMedian(rules, Income(120, 5000000, 1600000));
    CHECK(avg32.release == AverageRelease::kMedian);
    CHECK(avg32.mean.rule == "income-extreme");
    const AverageDecision avg28 = MeanOrMedian(rules, Income(120, 5000000, 1400000));
    CHECK(avg28.release == AverageRelease::kMean);
  }

  TEST_CASE("n = 99 gives nothing, n = 100 the median") {
    const RuleSetParams rules = CbsIncomeRuleSet();
    const AverageDecision n99 = MeanOrMedian(rules, Income(99, 5000000, 100000));
    CHECK(n99.release == AverageRelease::kNone);
    CHECK(n99.mean.rule == "income-n");
    CHECK(n99.median.rule == "income-n");
    CHECK(QuantileDecision(rules, 99, 500).rule == "income-n");
    CHECK(Released(QuantileDecision(rules, 100, 500)));
    CHECK(MeanOrMedian(rules, Income(100, 5000000, 100000)).release == AverageRelease::kMean);
  }

  TEST_CASE("a negative extreme counts by its absolute value") {
    const RuleSetParams rules = CbsIncomeRuleSet();
    MagnitudeFacts f = Income(120, 5000000, 1000000);
    f.min = -1600000;  // a loss of 1.6M
    CHECK(IncomeRule(rules, f, IncomeUse::kMeanOrSum).rule == "income-extreme");
  }

  TEST_CASE("without an income rule the rule is silent") {
    CHECK(Released(IncomeRule(CbsDefaultRuleSet(), Income(20, 5000000, 1600000),
                              IncomeUse::kMeanOrSum)));
  }
}

TEST_SUITE("QuantileRule") {
  TEST_CASE("P95: n = 200 allowed, 199 and 40 refused") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    CHECK(Released(QuantileDecision(rules, 200, 950)));
    const Decision n199 = QuantileDecision(rules, 199, 950);
    CHECK(n199.rule == "quantile-n");
    CHECK(n199.params == "T=10,q=950");
    CHECK_FALSE(Released(QuantileDecision(rules, 40, 950)));
    // P5 is symmetric.
    CHECK(Released(QuantileDecision(rules, 200, 50)));
    CHECK_FALSE(Released(QuantileDecision(rules, 199, 50)));
  }

  TEST_CASE("median: n = 19 refused, n = 20 allowed") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    CHECK_FALSE(Released(QuantileDecision(rules, 19, 500)));
    CHECK(Released(QuantileDecision(rules, 20, 500)));
  }

  TEST_CASE("minimum, maximum and range are never released") {
    CHECK(MinMaxRule().rule == "min-max");
    CHECK_FALSE(Released(MinMaxRule()));
    CHECK_FALSE(Released(QuantileDecision(CbsDefaultRuleSet(), 1000000, 0)));
    CHECK_FALSE(Released(QuantileDecision(CbsDefaultRuleSet(), 1000000, 1000)));
  }
}

TEST_SUITE("GroupDisclosure") {
  TEST_CASE("bijstand 46 of 50 is unsafe, 44 of 50 passes, 45 of 50 is the boundary") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const Decision d46 = GroupDisclosure(rules, GroupFacts{50, 46, true, false});
    CHECK(d46.rule == "group");
    CHECK(d46.params == "group(900)");
    CHECK(Released(GroupDisclosure(rules, GroupFacts{50, 44, true, false})));
    CHECK(Released(GroupDisclosure(rules, GroupFacts{50, 45, true, false})));  // 450 <= 450
    // Through the count path as well.
    GroupFacts g46{50, 46, true, false};
    CHECK(CountDecision(rules, 46, &g46).rule == "group");
    GroupFacts g44{50, 44, true, false};
    CHECK(Released(CountDecision(rules, 44, &g44)));
  }

  TEST_CASE("a non-sensitive category is never group-disclosive") {
    CHECK(Released(GroupDisclosure(CbsDefaultRuleSet(), GroupFacts{50, 50, false, false})));
  }

  TEST_CASE("a sensitive zero is unsafe unless structural or declared safe") {
    RuleSetParams rules = CbsDefaultRuleSet();
    GroupFacts zero{40, 0, true, false};
    CHECK(GroupDisclosure(rules, zero).rule == "sensitive-zero");
    CHECK(CountDecision(rules, 0, &zero).rule == "sensitive-zero");
    GroupFacts structural{40, 0, true, true};
    const Decision s = CountDecision(rules, 0, &structural);
    CHECK(Released(s));
    CHECK(s.rule == "structural-zero");
    rules.sensitive_zeros_unsafe = false;
    CHECK(Released(GroupDisclosure(rules, zero)));
    // A zero count is still "empty" under the threshold rule.
    CHECK(CountDecision(rules, 0, &zero).rule == "empty");
  }

  TEST_CASE("a share of a sensitive category above 90% is group disclosure") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    CHECK(ShareDecision(rules, 181, 200, true).rule == "group");  // 90.5%, complement 19
    CHECK(Released(ShareDecision(rules, 180, 200, true)));
    CHECK(Released(ShareDecision(rules, 181, 200, false)));
  }
}

TEST_SUITE("ThresholdAndShare") {
  TEST_CASE("threshold: 9 units unsafe, 10 safe, through the count and sum paths") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const Decision nine = CountDecision(rules, 9, nullptr);
    CHECK(nine.rule == "threshold");
    CHECK(nine.params == "T=10");
    CHECK(Released(CountDecision(rules, 10, nullptr)));
    CHECK(MagnitudeDecision(rules, Cell({10, 10, 10, 10, 10, 10, 10, 10, 10})).rule ==
          "threshold");
    CHECK(Released(MagnitudeDecision(rules, Cell({10, 10, 10, 10, 10, 10, 10, 10, 10, 10}))));
  }

  TEST_CASE("shares: 57 of 1,180 released, 57 of 73 and 7 of 442 refused") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    CHECK(Released(ShareDecision(rules, 57, 1180, false)));
    CHECK(ShareDecision(rules, 57, 73, false).rule == "share-denominator");
    CHECK(ShareDecision(rules, 7, 442, false).rule == "share-numerator");
    CHECK(Released(ShareDecision(rules, 10, 100, false)));
    CHECK_FALSE(Released(ShareDecision(rules, 10, 99, false)));
    CHECK_FALSE(Released(ShareDecision(rules, 9, 100, false)));
  }
}

TEST_SUITE("MagnitudeDecision") {
  TEST_CASE("a sum needs the threshold, dominance and p%, the first failure decides") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    std::vector<std::int64_t> even(12, 100);
    CHECK(Released(MagnitudeDecision(rules, Cell(even))));
    std::vector<std::int64_t> dominated = even;
    dominated[0] = 5000;
    CHECK(MagnitudeDecision(rules, Cell(dominated)).rule == "dominance-nk");
    // (1,50) passes (440,000 <= 450,000) but p% fails: the rest is 300.
    const Decision p = MagnitudeDecision(rules, Top2(9000, 4400, 4300, 12));
    CHECK(p.rule == "p-percent");  // 100 * 300 = 30,000 < 44,000
  }

  TEST_CASE("a mean where dominance passes, otherwise the median") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    std::vector<std::int64_t> values(25, 100);
    CHECK(MeanOrMedian(rules, Cell(values)).release == AverageRelease::kMean);
    values[0] = 10000;
    const AverageDecision d = MeanOrMedian(rules, Cell(values));
    CHECK(d.release == AverageRelease::kMedian);
    CHECK(d.mean.rule == "dominance-nk");
    std::vector<std::int64_t> few(15, 100);
    few[0] = 10000;
    CHECK(MeanOrMedian(rules, Cell(few)).release == AverageRelease::kNone);  // median needs 20
  }

  TEST_CASE("a ratio needs both parts") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    std::vector<std::int64_t> even(12, 100);
    std::vector<std::int64_t> dominated = even;
    dominated[0] = 5000;
    CHECK(Released(RatioDecision(rules, Cell(even), Cell(even))));
    CHECK(RatioDecision(rules, Cell(even), Cell(dominated)).rule == "dominance-nk");
    CHECK(RatioDecision(rules, Cell(dominated), Cell(even)).rule == "dominance-nk");
  }
}

TEST_SUITE("Protection") {
  TEST_CASE("threshold, zeros safe: the interval must leave [1, T-1]") {
    const ProtectionRequirement req = ThresholdProtection(CbsDefaultRuleSet(), false);
    CHECK(Satisfied(req, 0, 9));
    CHECK(Satisfied(req, 5, 10));
    CHECK_FALSE(Satisfied(req, 1, 9));
    CHECK_FALSE(Satisfied(req, 7, 7));
  }

  TEST_CASE("threshold in a sensitive category: hi >= T") {
    const ProtectionRequirement req = ThresholdProtection(CbsDefaultRuleSet(), true);
    CHECK_FALSE(Satisfied(req, 0, 9));
    CHECK(Satisfied(req, 0, 10));
  }

  TEST_CASE("worked example §4.5: (A, bijstand) in [0, 19] is protected, [7, 7] is not") {
    const ProtectionRequirement req = ThresholdProtection(CbsDefaultRuleSet(), true);
    CHECK(Satisfied(req, 0, 19));
    CHECK_FALSE(Satisfied(req, 7, 7));
  }

  TEST_CASE("p%: Handbook 1 needs hi >= X + 4,000") {
    const ProtectionRequirement req =
        MagnitudeProtection(CbsDefaultRuleSet(), Top2(100000, 50000, 49000, 12));
    CHECK(req.has_upper);
    CHECK_FALSE(req.has_lower);
    CHECK(req.upper == 104000);
    CHECK(Satisfied(req, 90000, 104000));
    CHECK_FALSE(Satisfied(req, 90000, 103999));
  }

  TEST_CASE("(1,k): [900, 50, 30, 20] needs hi >= 100 * 900 / 50 = 1,800 (p% needs less)") {
    const ProtectionRequirement req =
        MagnitudeProtection(CbsDefaultRuleSet(), Cell({900, 50, 30, 20}));
    // p%: X + ceil(90 - 50) = 1,040; (1,50): 1,800. The larger is required.
    CHECK(req.upper == 1800);
    CHECK(Satisfied(req, 1000, 1800));
    CHECK_FALSE(Satisfied(req, 0, 1799));
  }

  TEST_CASE("(1,k) rounds up") {
    RuleSetParams rules = CbsDefaultRuleSet();
    rules.dominance = {NkRule{1, 60}};
    rules.p_percent = 1;
    // x1 = 701 of 1,000: 100 * 701 / 60 = 1168.33 -> 1,169.
    const ProtectionRequirement req = MagnitudeProtection(rules, Cell({701, 100, 100, 99}));
    CHECK(req.upper == 1169);
  }

  TEST_CASE("a magnitude failing only the threshold is hidden within p% either way") {
    const ProtectionRequirement req =
        MagnitudeProtection(CbsDefaultRuleSet(), Cell({100, 100, 100, 100, 100}));
    CHECK(req.has_lower);
    CHECK(req.has_upper);
    CHECK(req.lower == 450);
    CHECK(req.upper == 550);
    CHECK(Satisfied(req, 450, 500));
    CHECK(Satisfied(req, 500, 550));
    CHECK_FALSE(Satisfied(req, 451, 549));
  }

  TEST_CASE("group: 46 of 50 must reach 45 or below") {
    const ProtectionRequirement req =
        GroupProtection(CbsDefaultRuleSet(), GroupFacts{50, 46, true, false});
    CHECK(req.has_lower);
    CHECK_FALSE(req.has_upper);
    CHECK(req.lower == 45);
    CHECK(Satisfied(req, 45, 50));
    CHECK_FALSE(Satisfied(req, 46, 50));
  }

  TEST_CASE("a sensitive zero needs hi >= T") {
    const ProtectionRequirement req =
        GroupProtection(CbsDefaultRuleSet(), GroupFacts{40, 0, true, false});
    CHECK_FALSE(Satisfied(req, 0, 9));
    CHECK(Satisfied(req, 0, 10));
  }

  TEST_CASE("an unsatisfiable requirement stays unsatisfiable") {
    const ProtectionRequirement none;
    CHECK_FALSE(Satisfied(none, 0, kMax));
    CHECK_FALSE(Satisfied(Combine(none, ThresholdProtection(CbsDefaultRuleSet(), false)), 0, kMax));
    MagnitudeFacts bad = Cell({1, 2});
    bad.top_abs = {1, 2};
    const ProtectionRequirement invalid = MagnitudeProtection(CbsDefaultRuleSet(), bad);
    CHECK_FALSE(Satisfied(invalid, 0, kMax));
  }

  TEST_CASE("Combine: every interval satisfying the result satisfies both inputs") {
    const RuleSetParams rules = CbsDefaultRuleSet();
    const std::vector<ProtectionRequirement> reqs = {
        ThresholdProtection(rules, false), ThresholdProtection(rules, true),
        GroupProtection(rules, GroupFacts{50, 46, true, false}),
        GroupProtection(rules, GroupFacts{12, 11, true, false}),
        MagnitudeProtection(rules, Cell({30, 5, 3, 2})),
        MagnitudeProtection(rules, Cell({10, 10, 10}))};
    for (const auto& a : reqs) {
      for (const auto& b : reqs) {
        const ProtectionRequirement c = Combine(a, b);
        for (std::int64_t lo = -2; lo <= 70; ++lo) {
          for (std::int64_t hi = lo; hi <= 70; ++hi) {
            if (Satisfied(c, lo, hi)) {
              REQUIRE(Satisfied(a, lo, hi));
              REQUIRE(Satisfied(b, lo, hi));
            }
          }
        }
      }
    }
    // Sensitive threshold (hi >= 10) with group 11 of 12 (lo <= 10): both at once.
    const ProtectionRequirement both = Combine(reqs[1], reqs[3]);
    CHECK(both.require_both);
    CHECK(Satisfied(both, 10, 10));
    CHECK_FALSE(Satisfied(both, 11, 12));
    CHECK_FALSE(Satisfied(both, 0, 9));
  }
}

}  // namespace
}  // namespace enclave::disclosure
