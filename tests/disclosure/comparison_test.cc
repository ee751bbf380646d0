// The difference of two shares with its 95% interval (disclosure-control.md §3.6a).
#include "enclave/disclosure/comparison.h"

#include <doctest/doctest.h>

#include <cmath>

namespace enclave::disclosure {
namespace {

// The same interval in long double, for comparison only (the product computes on integers).
void Reference(ArmCounts a, ArmCounts b, long double* est, long double* lo, long double* hi) {
  const long double pa = static_cast<long double>(a.with_outcome) / a.units;
  const long double pb = static_cast<long double>(b.with_outcome) / b.units;
  const long double se = std::sqrt(pa * (1 - pa) / a.units + pb * (1 - pb) / b.units);
  *est = 100 * (pa - pb);
  *lo = 100 * (pa - pb - 1.96L * se);
  *hi = 100 * (pa - pb + 1.96L * se);
}

TEST_CASE("the difference and its interval agree with the textbook formula, rounded outward") {
  const ArmCounts cases[][2] = {
      {{40, 120}, {30, 240}}, {{12, 100}, {55, 110}}, {{50, 100}, {50, 100}},
      {{0, 100}, {100, 100}}, {{987, 99991}, {12345, 100000}}, {{33, 150}, {60, 300}}};
  for (const auto& c : cases) {
    CAPTURE(c[0].with_outcome);
    CAPTURE(c[1].with_outcome);
    const auto d = ShareDifferenceInterval(c[0], c[1], 1);
    REQUIRE(d.has_value());
    long double est = 0, lo = 0, hi = 0;
    Reference(c[0], c[1], &est, &lo, &hi);
    CHECK(std::fabs(static_cast<long double>(d->estimate) - est) <= 0.5L + 1e-9L);
    CHECK(static_cast<long double>(d->lower) <= lo + 1e-9L);
    CHECK(static_cast<long double>(d->lower) > lo - 1);
    CHECK(static_cast<long double>(d->upper) >= hi - 1e-9L);
    CHECK(static_cast<long double>(d->upper) < hi + 1);
    CHECK(d->lower <= d->estimate);
    CHECK(d->estimate <= d->upper);
  }
  // 40/120 = 33.3%, 30/240 = 12.5%: 20.8 pp, se = sqrt(.3333*.6667/120 + .125*.875/240) = 0.04776.
  const auto d = ShareDifferenceInterval({40, 120}, {30, 240}, 1);
  REQUIRE(d.has_value());
  CHECK(d->estimate == 21);
  CHECK(d->lower == 11);  // 20.83 - 9.36 = 11.47, rounded down
  CHECK(d->upper == 31);  // 30.19, rounded up
}

TEST_CASE("the same counts always give the same numbers, precision rounds to its multiples") {
  const auto a = ShareDifferenceInterval({40, 120}, {30, 240}, 5);
  const auto b = ShareDifferenceInterval({40, 120}, {30, 240}, 5);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->estimate == b->estimate);
  CHECK(a->estimate == 20);
  CHECK(a->lower == 10);
  CHECK(a->upper == 35);
}

TEST_CASE("undefined or out-of-range inputs give no number (fail closed)") {
  CHECK_FALSE(ShareDifferenceInterval({0, 0}, {1, 10}, 1).has_value());
  CHECK_FALSE(ShareDifferenceInterval({1, 10}, {0, 0}, 1).has_value());
  CHECK_FALSE(ShareDifferenceInterval({1, kMaxComparisonArm + 1}, {1, 10}, 1).has_value());
  CHECK_FALSE(ShareDifferenceInterval({1, 10}, {1, 10}, 0).has_value());
  CHECK_FALSE(ShareDifferenceInterval({1, 10}, {1, 10}, 101).has_value());
  // A perturbed numerator above its denominator is clamped: 100%.
  const auto d = ShareDifferenceInterval({130, 120}, {0, 100}, 1);
  REQUIRE(d.has_value());
  CHECK(d->estimate == 100);
  CHECK(d->lower == 100);
  CHECK(d->upper == 100);
  // The largest arms stay exact (no overflow): a difference of 0 has a symmetric interval.
  const auto big = ShareDifferenceInterval({kMaxComparisonArm / 2, kMaxComparisonArm},
                                           {kMaxComparisonArm / 2, kMaxComparisonArm}, 1);
  REQUIRE(big.has_value());
  CHECK(big->estimate == 0);
  CHECK(big->lower == -1);
  CHECK(big->upper == 1);
}

}  // namespace
}  // namespace enclave::disclosure
