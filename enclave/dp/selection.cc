#include "enclave/dp/selection.h"

#include <cstdint>

namespace enclave::dp {
namespace {

__extension__ using Int128 = __int128;

// ln 10 rounded up and ln 2 rounded down, in units of 10⁻¹⁸:
// ln 10 = 2.302585092994045684017..., ln 2 = 0.693147180559945309417...
constexpr Int128 kLn10Up = 2'302'585'092'994'045'685;
constexpr Int128 kLn2Down = 693'147'180'559'945'309;
constexpr Int128 kScale = 1'000'000'000'000'000'000;

}  // namespace

absl::StatusOr<std::int64_t> SelectionThreshold(std::int64_t min_units, std::int64_t l0,
                                                std::int64_t selection_epsilon_micro,
                                                std::int64_t delta_exponent) {
  if (min_units < 1 || l0 < 1 || l0 > 1'000'000 || selection_epsilon_micro < 1 ||
      selection_epsilon_micro > 10'000'000 || delta_exponent < 6 || delta_exponent > 12) {
    return absl::InvalidArgumentError(
        "selection threshold: min_units >= 1, l0 in [1, 1000000], selection_epsilon_micro in "
        "[1, 10000000] and delta_exponent in [6, 12]");
  }
  // ln(1/(2δ)) = d·ln 10 − ln 2, an upper bound in 10⁻¹⁸ units (< 2.8·10¹⁹).
  const Int128 ln_upper = Int128{delta_exponent} * kLn10Up - kLn2Down;
  // (l0 / ε_sel)·ln(1/(2δ)) = l0·10⁶·ln_upper / (ε_sel_micro·10¹⁸), rounded up. At most
  // 10⁶·10⁶·2.8·10¹⁹ = 2.8·10³¹ in the numerator: fits in 128 bits.
  const Int128 num = Int128{l0} * 1'000'000 * ln_upper;
  const Int128 den = Int128{selection_epsilon_micro} * kScale;
  const Int128 extra = (num + den - 1) / den;
  const Int128 tau = Int128{min_units} + extra;
  if (tau > INT64_MAX) {
    return absl::InvalidArgumentError("selection threshold: tau does not fit in 64 bits");
  }
  return static_cast<std::int64_t>(tau);
}

}  // namespace enclave::dp
