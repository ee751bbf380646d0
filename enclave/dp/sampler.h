// Exact samplers on integers for differential privacy (disclosure-control.md §7.4, after
// Canonne, Kamath and Steinke 2020, "The Discrete Gaussian for Differential Privacy").
//
// No floating point anywhere between the random bytes and the sample: every probability is a
// rational n/d of integers, every comparison exact. Each function draws from a RandomSource and
// fails closed: any non-OK status from the source is returned as is, and the caller must then
// release nothing. Run time depends on the sample (rejection loops); callers draw all noise
// before they look at data (core/dp_release.cc).
//
//   ENCLAVE_ASSIGN_OR_RETURN(std::int64_t z, dp::DiscreteLaplace(rng, /*t=*/4, /*s=*/1));  // b = 4
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "enclave/dp/random.h"

namespace enclave::dp {

__extension__ using Uint128 = unsigned __int128;

// Uniform on {0, ..., d-1}: 64 random bits (128 when d > 2^64), rejecting values at or above
// the largest multiple of d that fits (never a bare `%`). kInvalidArgument for d = 0.
absl::StatusOr<Uint128> UniformBelow(RandomSource& rng, Uint128 d);

// Bernoulli(n/d): UniformBelow(d) < n. kInvalidArgument for d = 0 or n > d.
absl::StatusOr<bool> Bernoulli(RandomSource& rng, Uint128 n, Uint128 d);

// Bernoulli(exp(-n/d)), any n >= 0, d > 0. γ ≤ 1: K ← 1; while Bernoulli(γ/K) K ← K+1; K odd.
// γ > 1: ⌊γ⌋ draws of Bernoulli(exp(-1)), false at the first failure, then
// Bernoulli(exp(-(γ - ⌊γ⌋))). kInvalidArgument for d = 0.
absl::StatusOr<bool> BernoulliExp(RandomSource& rng, Uint128 n, Uint128 d);

// Discrete Laplace with scale b = t/s: P(z) ∝ exp(-|z|·s/t) on the integers. t, s >= 1 and
// below 2^62 (kInvalidArgument otherwise). kOutOfRange if a sample would not fit in 62 bits
// (probability below exp(-2^61/b)).
absl::StatusOr<std::int64_t> DiscreteLaplace(RandomSource& rng, std::uint64_t t, std::uint64_t s);

// Discrete Gaussian with variance parameter σ² = p/q: P(z) ∝ exp(-z²/(2σ²)). p, q >= 1 and below
// 2^50 (kInvalidArgument otherwise). A Laplace candidate with |Y|·t·q >= 2^63 is rejected without
// computing its acceptance probability, which is below exp(-2^21) there.
absl::StatusOr<std::int64_t> DiscreteGaussian(RandomSource& rng, std::uint64_t p, std::uint64_t q);

// ⌊√x⌋ on integers.
std::uint64_t FloorSqrt(Uint128 x);

}  // namespace enclave::dp
