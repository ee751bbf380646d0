#include "enclave/disclosure/comparison.h"

#include <algorithm>

namespace enclave::disclosure {
namespace {

__extension__ using Int128 = __int128;

// floor(num / den), den > 0.
Int128 FloorDiv(Int128 num, Int128 den) {
  Int128 q = num / den;
  if (num % den != 0 && num < 0) --q;
  return q;
}

Int128 CeilDiv(Int128 num, Int128 den) { return -FloorDiv(-num, den); }

// Nearest integer to num / den, half away from zero; den > 0.
Int128 RoundDiv(Int128 num, Int128 den) {
  Int128 q = num / den;
  const Int128 r = num % den;
  const Int128 ar = r < 0 ? -r : r;
  if (ar != 0 && ar >= den - ar) q += num < 0 ? -1 : 1;
  return q;
}

// ⌈√s⌉ for s >= 0, by integer Newton iteration (no floating point).
Int128 CeilSqrt(Int128 s) {
  if (s <= 1) return s;
  Int128 x = s;
  Int128 y = (x + 1) / 2;
  while (y < x) {
    x = y;
    y = (x + s / x) / 2;
  }
  // x = ⌊√s⌋.
  return x * x == s ? x : x + 1;
}

}  // namespace

std::optional<ShareDifference> ShareDifferenceInterval(ArmCounts a, ArmCounts b,
                                                       std::int64_t precision) {
  if (precision < 1 || precision > 100) return std::nullopt;
  if (a.units <= 0 || b.units <= 0) return std::nullopt;
  if (a.units > kMaxComparisonArm || b.units > kMaxComparisonArm) return std::nullopt;
  const Int128 na = a.units, nb = b.units;
  const Int128 xa = std::clamp<std::int64_t>(a.with_outcome, 0, a.units);
  const Int128 xb = std::clamp<std::int64_t>(b.with_outcome, 0, b.units);
  const Int128 d = na * nb;
  const Int128 delta = xa * nb - xb * na;
  const Int128 q = xa * (na - xa) * nb * nb * nb + xb * (nb - xb) * na * na * na;
  const Int128 half = 196 * CeilSqrt(q * d);  // 100 · 1.96 · √S
  const Int128 scale = d * d * precision;
  ShareDifference out;
  out.estimate = static_cast<std::int64_t>(RoundDiv(100 * delta, d * precision) * precision);
  out.lower = static_cast<std::int64_t>(FloorDiv(100 * delta * d - half, scale) * precision);
  out.upper = static_cast<std::int64_t>(CeilDiv(100 * delta * d + half, scale) * precision);
  return out;
}

}  // namespace enclave::disclosure
