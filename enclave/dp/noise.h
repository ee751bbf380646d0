// From a template's privacy parameters to exact noise (disclosure-control.md §7.4-§7.6): ε in
// integer micro-units, scales as reduced fractions, contribution bounds, and the noisy count or sum
// of one cell. Pure and on integers; the randomness comes through dp::RandomSource.
//
//   ENCLAVE_ASSIGN_OR_RETURN(dp::Noise noise, dp::LaplaceForEpsilon(/*l1=*/1, /*eps_micro=*/250000));
//   // noise.t / noise.s == 4: b = Δ₁/ε
//   ENCLAVE_ASSIGN_OR_RETURN(std::int64_t z, dp::Sample(rng, noise));
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "enclave/dp/random.h"

namespace enclave::dp {

inline constexpr std::int64_t kMicro = 1'000'000;

enum class Mechanism { kDiscreteLaplace, kDiscreteGaussian };

// Laplace: scale b = t/s. Gaussian: σ² = t/s. Always in lowest terms.
struct Noise {
  Mechanism mechanism = Mechanism::kDiscreteLaplace;
  std::uint64_t t = 1;
  std::uint64_t s = 1;
};

// Discrete Laplace for L1 sensitivity Δ₁ and ε = epsilon_micro·10⁻⁶: b = Δ₁·10⁶/epsilon_micro
// exactly, reduced by the gcd, so that the sampler uses exactly the ε charged.
// kInvalidArgument for Δ₁ < 1, epsilon_micro < 1 or a scale that does not fit (t ≥ 2^62).
absl::StatusOr<Noise> LaplaceForEpsilon(std::int64_t l1_sensitivity, std::int64_t epsilon_micro);

// Discrete Gaussian for squared L2 sensitivity Δ₂² and ρ = rho_micro·10⁻⁶ (ρ-zCDP):
// σ² = Δ₂²·10⁶/(2·rho_micro), reduced. kInvalidArgument when out of the sampler's range.
absl::StatusOr<Noise> GaussianForRho(std::int64_t l2_sensitivity_squared, std::int64_t rho_micro);

// The ε (micro, rounded up) that a ρ-zCDP release is charged in an ε ledger, at δ = 10⁻⁸:
// ε = ρ + 2·√(ρ·ln(1/δ)), with ln(10⁸) rounded up to 18.420681 (§7.6; ρ = 0.1 → 2.81).
// Integers only. kInvalidArgument for rho_micro < 1 or above 10¹².
absl::StatusOr<std::int64_t> EpsilonMicroForRho(std::int64_t rho_micro);

// One sample of `noise`. Fails closed with the source's status.
absl::StatusOr<std::int64_t> Sample(RandomSource& rng, const Noise& noise);

// Public metadata of a release's treatment, e.g. "DP_LAPLACE_eps=0.25" or "DP_GAUSSIAN_rho=0.01".
std::string TreatmentName(Mechanism mechanism, std::int64_t budget_micro);
// "0.25" for 250000, "1" for 1000000, "0.000001" for 1.
std::string FormatMicro(std::int64_t micro);

// Contribution bounds of one template (§7.5).
struct ContributionBounds {
  std::int64_t max_cells_per_unit = 1;  // L0
  std::int64_t clamp_min = 0;           // per unit and cell, sums and means
  std::int64_t clamp_max = 0;
};

// L∞ of a unit's per-cell contribution: 1 for counts, max(|clamp_min|, |clamp_max|) for sums.
std::int64_t CountLinf();
std::int64_t SumLinf(const ContributionBounds& bounds);
// Δ₁ = L0·L∞ and Δ₂² = L0·L∞²; kInvalidArgument when a factor is < 1 or the product overflows.
absl::StatusOr<std::int64_t> L1Sensitivity(std::int64_t l0, std::int64_t linf);
absl::StatusOr<std::int64_t> L2SensitivitySquared(std::int64_t l0, std::int64_t linf);

// A unit's per-cell measure clamped to [clamp_min, clamp_max].
std::int64_t Clamp(std::int64_t value, const ContributionBounds& bounds);

// value + noise; kOutOfRange on overflow (never wraps).
absl::StatusOr<std::int64_t> AddNoise(std::int64_t value, std::int64_t noise);

// Splits a charge into `parts` non-negative parts summing to it exactly (the last takes the
// remainder): sequential composition of the parts costs exactly `total_micro`.
// kInvalidArgument when parts < 1 or total_micro < parts (a part would be 0).
absl::StatusOr<std::int64_t> SplitPart(std::int64_t total_micro, std::int64_t parts,
                                       std::int64_t index);

}  // namespace enclave::dp
