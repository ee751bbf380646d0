#include "enclave/disclosure/threshold.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

namespace enclave::disclosure {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

bool Released(const Decision& d) { return d.status == CellStatus::kReleased; }

TEST_CASE("the threshold refuses 9 units and releases 10") {
  RuleSetParams rules;
  const Decision nine = ThresholdRule(rules, 9);
  CHECK_FALSE(Released(nine));
  CHECK(nine.rule == "threshold");
  const Decision ten = ThresholdRule(rules, 10);
  CHECK(Released(ten));
  CHECK(ten.rule == "released");
  CHECK(Released(ThresholdRule(rules, 1000000)));
}

TEST_CASE("the threshold follows the rule set's minimum") {
  RuleSetParams rules;
  rules.min_units = 15;
  CHECK(ThresholdRule(rules, 14).rule == "threshold");
  CHECK(Released(ThresholdRule(rules, 15)));
}

TEST_CASE("an empty cell is confidential as empty") {
  RuleSetParams rules;
  CHECK(ThresholdRule(rules, 0).rule == "empty");
  CHECK_FALSE(Released(ThresholdRule(rules, 0)));
  CHECK(ThresholdRule(rules, -1).rule == "empty");
}

TEST_CASE("a share needs a denominator of at least 100") {
  RuleSetParams rules;
  CHECK(ShareRule(rules, 50, 99).rule == "share-denominator");
  CHECK(Released(ShareRule(rules, 50, 100)));
  CHECK(ShareRule(rules, 0, 0).rule == "empty");
}

TEST_CASE("a share needs a numerator of at least the minimum units") {
  RuleSetParams rules;
  CHECK(ShareRule(rules, 9, 1000).rule == "share-numerator");
  CHECK(Released(ShareRule(rules, 10, 1000)));
  // The documented examples: 57 of 1,180 released, 57 of 73 and 7 of 442 refused.
  CHECK(Released(ShareRule(rules, 57, 1180)));
  CHECK_FALSE(Released(ShareRule(rules, 57, 73)));
  CHECK_FALSE(Released(ShareRule(rules, 7, 442)));
}

TEST_CASE("a share whose complement is below the minimum is refused") {
  RuleSetParams rules;
  CHECK(ShareRule(rules, 91, 100).rule == "share-numerator");  // complement 9
  CHECK(Released(ShareRule(rules, 90, 100)));                  // complement 10
  CHECK_FALSE(Released(ShareRule(rules, 100, 100)));            // complement 0
  CHECK_FALSE(Released(ShareRule(rules, 120, 100)));            // numerator above denominator
}

TEST_CASE("the median needs 20 units") {
  RuleSetParams rules;
  CHECK(QuantileRule(rules, 19, 500).rule == "quantile-n");
  CHECK(Released(QuantileRule(rules, 20, 500)));
}

TEST_CASE("P95 needs 200 units and P5 likewise") {
  RuleSetParams rules;
  CHECK(QuantileRule(rules, 199, 950).rule == "quantile-n");
  CHECK(Released(QuantileRule(rules, 200, 950)));
  CHECK_FALSE(Released(QuantileRule(rules, 40, 950)));
  CHECK(QuantileRule(rules, 199, 50).rule == "quantile-n");
  CHECK(Released(QuantileRule(rules, 200, 50)));
}

TEST_CASE("P25 and P75 need 40 units") {
  RuleSetParams rules;
  CHECK_FALSE(Released(QuantileRule(rules, 39, 250)));
  CHECK(Released(QuantileRule(rules, 40, 250)));
  CHECK_FALSE(Released(QuantileRule(rules, 39, 750)));
  CHECK(Released(QuantileRule(rules, 40, 750)));
}

TEST_CASE("a quantile level of 0 or 1000 is a minimum or maximum and never released") {
  RuleSetParams rules;
  CHECK_FALSE(Released(QuantileRule(rules, 1000000, 0)));
  CHECK_FALSE(Released(QuantileRule(rules, 1000000, 1000)));
  CHECK(QuantileRule(rules, 0, 500).rule == "empty");
}

TEST_CASE("the quantile rule does not overflow for huge counts") {
  RuleSetParams rules;
  CHECK(Released(QuantileRule(rules, kMax, 500)));
  rules.min_units = kMax;
  CHECK_FALSE(Released(QuantileRule(rules, kMax, 500)));
}

TEST_CASE("rounding goes to the nearest multiple, half away from zero") {
  CHECK(RoundToPrecision(149, 100) == 100);
  CHECK(RoundToPrecision(150, 100) == 200);
  CHECK(RoundToPrecision(151, 100) == 200);
  CHECK(RoundToPrecision(-149, 100) == -100);
  CHECK(RoundToPrecision(-150, 100) == -200);
  CHECK(RoundToPrecision(1234567, 1000) == 1235000);
  CHECK(RoundToPrecision(1234499, 1000) == 1234000);
  CHECK(RoundToPrecision(0, 100) == 0);
  CHECK(RoundToPrecision(300, 100) == 300);
  CHECK(RoundToPrecision(7, 5) == 5);
  CHECK(RoundToPrecision(8, 5) == 10);
}

TEST_CASE("a precision of one or less leaves the value as it is") {
  CHECK(RoundToPrecision(12345, 1) == 12345);
  CHECK(RoundToPrecision(12345, 0) == 12345);
  CHECK(RoundToPrecision(-12345, -10) == -12345);
}

TEST_CASE("rounding saturates instead of overflowing") {
  // kMax = 9223372036854775807: the next multiple of 1000 is not representable.
  CHECK(RoundToPrecision(kMax, 1000) == 9223372036854775000);
  CHECK(RoundToPrecision(kMin, 1000) == -9223372036854775000);
  CHECK(RoundToPrecision(kMax, kMax) == kMax);
  CHECK(RoundToPrecision(kMin, kMax) == -kMax);
  CHECK(RoundToPrecision(kMax / 2 + 1, kMax) == kMax);
}

}  // namespace
}  // namespace enclave::disclosure
