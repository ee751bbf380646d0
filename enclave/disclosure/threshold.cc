#include "enclave/disclosure/threshold.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace enclave::disclosure {
namespace {

// 128-bit intermediate so that products of 64-bit inputs cannot overflow (GCC/Clang extension).
__extension__ using Int128 = __int128;

Decision Released() { return Decision{CellStatus::kReleased, "released"}; }
Decision Confidential(const char* rule) { return Decision{CellStatus::kConfidential, rule}; }

}  // namespace

Decision ThresholdRule(const RuleSetParams& rules, std::int64_t units) {
  if (units <= 0) return Confidential("empty");
  if (units < rules.min_units) return Confidential("threshold");
  return Released();
}

Decision ShareRule(const RuleSetParams& rules, std::int64_t numerator, std::int64_t denominator) {
  if (denominator <= 0) return Confidential("empty");
  if (denominator < rules.min_share_denominator) return Confidential("share-denominator");
  if (numerator < rules.min_units) return Confidential("share-numerator");
  // The complement (denominator - numerator) would reveal as much as a small numerator.
  // Both are non-negative here and denominator > 0, so the subtraction cannot overflow.
  if (numerator > denominator || denominator - numerator < rules.min_units) {
    return Confidential("share-numerator");
  }
  return Released();
}

Decision QuantileRule(const RuleSetParams& rules, std::int64_t n, std::uint32_t permille) {
  if (n <= 0) return Confidential("empty");
  // A level outside (0, 1000) is a minimum or maximum: one unit's value, never released.
  if (permille == 0 || permille >= 1000) return Confidential("quantile-n");
  const std::uint32_t tail = std::min(permille, 1000U - permille);
  // n * min(q, 1 - q) >= T  <=>  n * min(p, 1000 - p) >= T * 1000, exactly, in 128 bits.
  const Int128 lhs = static_cast<Int128>(n) * static_cast<Int128>(tail);
  const Int128 rhs = static_cast<Int128>(rules.min_units) * 1000;
  if (lhs < rhs) return Confidential("quantile-n");
  return Released();
}

std::int64_t RoundToPrecision(std::int64_t value, std::int64_t precision) {
  if (precision <= 1) return value;
  const std::int64_t remainder = value % precision;  // same sign as value, |remainder| < precision
  const std::int64_t toward_zero = value - remainder;  // a multiple of precision; cannot overflow
  const std::int64_t magnitude = remainder < 0 ? -remainder : remainder;
  // Half away from zero: round up in magnitude when magnitude >= precision - magnitude.
  if (magnitude == 0 || magnitude < precision - magnitude) return toward_zero;
  std::int64_t result = 0;
  if (value > 0) {
    if (__builtin_add_overflow(toward_zero, precision, &result)) {
      return toward_zero;  // saturate: the largest representable multiple of precision
    }
  } else {
    if (__builtin_sub_overflow(toward_zero, precision, &result)) {
      return toward_zero;  // saturate: the most negative representable multiple of precision
    }
  }
  return result;
}

}  // namespace enclave::disclosure
