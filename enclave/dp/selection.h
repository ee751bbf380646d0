// Minimum counts with DP where cells are not public (disclosure-control.md §7.7, "Google
// pre-thresholding"): a cell is released iff its raw unit count is at least k AND its noisy unit
// count exceeds τ = k + ⌈(L0/ε_sel)·ln(1/(2δ))⌉, with ε_sel charged on top of the query's ε.
//
// τ is a public policy constant: a function of the template's parameters only, never of the data.
// It is computed here in integers (an exact rational upper bound of ln(1/(2δ)), rounded up), so
// the threshold is never below the one the formula asks for.
//
//   ENCLAVE_ASSIGN_OR_RETURN(std::int64_t tau, dp::SelectionThreshold(10, 1, 1'000'000, 6));  // 24
//   const bool shown = dp::Selected(raw_units, raw_units + noise, 10, tau);
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace enclave::dp {

// τ = min_units + ⌈(l0·10⁶/selection_epsilon_micro)·ln(10^delta_exponent / 2)⌉, with ln 10
// rounded up and ln 2 rounded down at 18 decimals (a rational upper bound of ln(1/(2δ))): τ is
// never below the formula's exact ceiling, and above it only if the exact value lies within
// 10⁻⁵ below an integer.
// kInvalidArgument unless min_units ≥ 1, l0 in [1, 10⁶], selection_epsilon_micro in [1, 10⁷] and
// delta_exponent in [6, 12] (δ = 10^-delta_exponent), or when τ would not fit in int64.
absl::StatusOr<std::int64_t> SelectionThreshold(std::int64_t min_units, std::int64_t l0,
                                                std::int64_t selection_epsilon_micro,
                                                std::int64_t delta_exponent);

// The §7.7 release rule: raw_units ≥ min_units and noisy_units > threshold. The raw check comes
// first and alone suffices to withhold a cell: however large its noise, a cell of fewer than
// min_units units is never shown.
constexpr bool Selected(std::int64_t raw_units, std::int64_t noisy_units, std::int64_t min_units,
                        std::int64_t threshold) {
  return raw_units >= min_units && noisy_units > threshold;
}

}  // namespace enclave::dp
