#include "enclave/dp/noise.h"

#include <cstdint>
#include <algorithm>
#include <climits>
#include <string>

#include "enclave/base/status_macros.h"
#include "enclave/dp/sampler.h"

namespace enclave::dp {
namespace {

constexpr Uint128 kMax62 = static_cast<Uint128>(1) << 62;
constexpr Uint128 kMax50 = static_cast<Uint128>(1) << 50;

Uint128 Gcd(Uint128 a, Uint128 b) {
  while (b != 0) {
    const Uint128 r = a % b;
    a = b;
    b = r;
  }
  return a;
}

}  // namespace

absl::StatusOr<Noise> LaplaceForEpsilon(std::int64_t l1_sensitivity, std::int64_t epsilon_micro) {
  if (l1_sensitivity < 1 || epsilon_micro < 1) {
    return absl::InvalidArgumentError(
        "discrete Laplace: sensitivity and epsilon (micro) must be at least 1");
  }
  Uint128 t = static_cast<Uint128>(l1_sensitivity) * kMicro;
  Uint128 s = static_cast<Uint128>(epsilon_micro);
  const Uint128 g = Gcd(t, s);
  t /= g;
  s /= g;
  if (t >= kMax62 || s >= kMax62) {
    return absl::InvalidArgumentError("discrete Laplace: scale sensitivity/epsilon too large");
  }
  return Noise{Mechanism::kDiscreteLaplace, static_cast<std::uint64_t>(t),
               static_cast<std::uint64_t>(s)};
}

absl::StatusOr<Noise> GaussianForRho(std::int64_t l2_sensitivity_squared, std::int64_t rho_micro) {
  if (l2_sensitivity_squared < 1 || rho_micro < 1) {
    return absl::InvalidArgumentError(
        "discrete Gaussian: sensitivity and rho (micro) must be at least 1");
  }
  Uint128 p = static_cast<Uint128>(l2_sensitivity_squared) * kMicro;
  Uint128 q = static_cast<Uint128>(rho_micro) * 2;
  const Uint128 g = Gcd(p, q);
  p /= g;
  q /= g;
  if (p >= kMax50 || q >= kMax50) {
    return absl::InvalidArgumentError("discrete Gaussian: variance sensitivity²/(2·rho) too large");
  }
  return Noise{Mechanism::kDiscreteGaussian, static_cast<std::uint64_t>(p),
               static_cast<std::uint64_t>(q)};
}

absl::StatusOr<std::int64_t> EpsilonMicroForRho(std::int64_t rho_micro) {
  if (rho_micro < 1 || rho_micro > 1'000'000'000'000) {
    return absl::InvalidArgumentError("zCDP: rho (micro) must be in [1, 10^12]");
  }
  // 2·√(ρ·L)·10⁶ = 2·√(r·L·10⁶) with r = ρ·10⁶ and L·10⁶ = 18420681 ≥ ln(10⁸)·10⁶.
  const Uint128 x = static_cast<Uint128>(rho_micro) * 18'420'681;
  std::uint64_t root = FloorSqrt(x);
  if (static_cast<Uint128>(root) * root < x) ++root;  // round up: never undercharge
  return rho_micro + 2 * static_cast<std::int64_t>(root);
}

absl::StatusOr<std::int64_t> Sample(RandomSource& rng, const Noise& noise) {
  switch (noise.mechanism) {
    case Mechanism::kDiscreteLaplace:
      return DiscreteLaplace(rng, noise.t, noise.s);
    case Mechanism::kDiscreteGaussian:
      return DiscreteGaussian(rng, noise.t, noise.s);
  }
  return absl::InternalError("unknown noise mechanism");
}

std::string FormatMicro(std::int64_t micro) {
  const bool negative = micro < 0;
  const std::uint64_t m = negative ? 0 - static_cast<std::uint64_t>(micro)
                                   : static_cast<std::uint64_t>(micro);
  std::string out = (negative ? "-" : "") + std::to_string(m / kMicro);
  std::uint64_t frac = m % kMicro;
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 6 - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

std::string TreatmentName(Mechanism mechanism, std::int64_t budget_micro) {
  return mechanism == Mechanism::kDiscreteLaplace ? "DP_LAPLACE_eps=" + FormatMicro(budget_micro)
                                                  : "DP_GAUSSIAN_rho=" + FormatMicro(budget_micro);
}

std::int64_t CountLinf() { return 1; }

std::int64_t SumLinf(const ContributionBounds& bounds) {
  const auto abs = [](std::int64_t v) -> std::int64_t {
    return v == INT64_MIN ? INT64_MAX : (v < 0 ? -v : v);
  };
  return std::max(abs(bounds.clamp_min), abs(bounds.clamp_max));
}

absl::StatusOr<std::int64_t> L1Sensitivity(std::int64_t l0, std::int64_t linf) {
  std::int64_t out = 0;
  if (l0 < 1 || linf < 1 || __builtin_mul_overflow(l0, linf, &out)) {
    return absl::InvalidArgumentError("sensitivity: L0 and L∞ must be at least 1 and bounded");
  }
  return out;
}

absl::StatusOr<std::int64_t> L2SensitivitySquared(std::int64_t l0, std::int64_t linf) {
  std::int64_t sq = 0;
  std::int64_t out = 0;
  if (l0 < 1 || linf < 1 || __builtin_mul_overflow(linf, linf, &sq) ||
      __builtin_mul_overflow(l0, sq, &out)) {
    return absl::InvalidArgumentError("sensitivity: L0 and L∞ must be at least 1 and bounded");
  }
  return out;
}

std::int64_t Clamp(std::int64_t value, const ContributionBounds& bounds) {
  if (value < bounds.clamp_min) return bounds.clamp_min;
  if (value > bounds.clamp_max) return bounds.clamp_max;
  return value;
}

absl::StatusOr<std::int64_t> AddNoise(std::int64_t value, std::int64_t noise) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(value, noise, &out)) {
    return absl::OutOfRangeError("noisy value out of range");
  }
  return out;
}

absl::StatusOr<std::int64_t> SplitPart(std::int64_t total_micro, std::int64_t parts,
                                       std::int64_t index) {
  if (parts < 1 || total_micro < parts || index < 0 || index >= parts) {
    return absl::InvalidArgumentError("privacy budget: cannot split the charge into that many parts");
  }
  const std::int64_t each = total_micro / parts;
  return index + 1 < parts ? each : total_micro - each * (parts - 1);
}

}  // namespace enclave::dp
