#include "enclave/dp/sampler.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "enclave/base/status_macros.h"

namespace enclave::dp {
namespace {

constexpr Uint128 kTwoTo64 = static_cast<Uint128>(1) << 64;
constexpr std::uint64_t kMax62 = std::uint64_t{1} << 62;

absl::StatusOr<std::uint64_t> Random64(RandomSource& rng) {
  std::array<std::uint8_t, 8> bytes{};
  ENCLAVE_RETURN_IF_ERROR(rng.Fill(std::span<std::uint8_t>(bytes)));
  std::uint64_t v = 0;
  for (std::uint8_t b : bytes) v = (v << 8) | b;  // big-endian: independent of the host
  return v;
}

}  // namespace

absl::StatusOr<Uint128> UniformBelow(RandomSource& rng, Uint128 d) {
  if (d == 0) return absl::InvalidArgumentError("uniform sampler: the bound must be positive");
  if (d <= kTwoTo64) {
    // limit = ⌊2^64/d⌋·d; accept x < limit. For d = 2^64 (or a power of two) nothing is rejected.
    const Uint128 limit = (kTwoTo64 / d) * d;
    for (;;) {
      ENCLAVE_ASSIGN_OR_RETURN(std::uint64_t x, Random64(rng));
      if (static_cast<Uint128>(x) < limit) return static_cast<Uint128>(x) % d;
    }
  }
  // d > 2^64: 128 bits. 2^128 mod d = (2^128 - d) mod d, computed without 2^128; accept x at or
  // above it, a range of ⌊2^128/d⌋·d values.
  const Uint128 rem = (static_cast<Uint128>(0) - d) % d;
  for (;;) {
    ENCLAVE_ASSIGN_OR_RETURN(std::uint64_t hi, Random64(rng));
    ENCLAVE_ASSIGN_OR_RETURN(std::uint64_t lo, Random64(rng));
    const Uint128 x = (static_cast<Uint128>(hi) << 64) | lo;
    if (x >= rem) return (x - rem) % d;
  }
}

absl::StatusOr<bool> Bernoulli(RandomSource& rng, Uint128 n, Uint128 d) {
  if (d == 0 || n > d) {
    return absl::InvalidArgumentError("Bernoulli sampler: needs 0 <= n <= d and d > 0");
  }
  if (n == 0) return false;
  if (n == d) return true;
  ENCLAVE_ASSIGN_OR_RETURN(Uint128 u, UniformBelow(rng, d));
  return u < n;
}

absl::StatusOr<bool> BernoulliExp(RandomSource& rng, Uint128 n, Uint128 d) {
  if (d == 0) return absl::InvalidArgumentError("Bernoulli(exp) sampler: d must be positive");
  if (n <= d) {
    // γ = n/d ≤ 1.
    Uint128 k = 1;
    for (;;) {
      Uint128 dk = 0;
      if (__builtin_mul_overflow(d, k, &dk)) {
        // Reached only after k ≥ 2^64 successes in a row, each with probability ≤ 1/k.
        return absl::InternalError("Bernoulli(exp) sampler: iteration bound exceeded");
      }
      ENCLAVE_ASSIGN_OR_RETURN(bool b, Bernoulli(rng, n, dk));
      if (!b) break;
      ++k;
    }
    return (k & 1) == 1;
  }
  const Uint128 whole = n / d;
  for (Uint128 i = 0; i < whole; ++i) {
    ENCLAVE_ASSIGN_OR_RETURN(bool b, BernoulliExp(rng, 1, 1));
    if (!b) return false;
  }
  return BernoulliExp(rng, n % d, d);
}

absl::StatusOr<std::int64_t> DiscreteLaplace(RandomSource& rng, std::uint64_t t, std::uint64_t s) {
  if (t == 0 || s == 0 || t >= kMax62 || s >= kMax62) {
    return absl::InvalidArgumentError("discrete Laplace: scale t/s needs 1 <= t, s < 2^62");
  }
  for (;;) {
    ENCLAVE_ASSIGN_OR_RETURN(Uint128 u, UniformBelow(rng, t));
    ENCLAVE_ASSIGN_OR_RETURN(bool keep, BernoulliExp(rng, u, t));
    if (!keep) continue;
    Uint128 v = 0;
    for (;;) {
      ENCLAVE_ASSIGN_OR_RETURN(bool more, BernoulliExp(rng, 1, 1));
      if (!more) break;
      ++v;
      if (v >= kMax62) return absl::OutOfRangeError("discrete Laplace: sample out of range");
    }
    const Uint128 y = (u + static_cast<Uint128>(t) * v) / s;  // < 2^62·2^62 + 2^62: fits
    if (y >= kMax62) return absl::OutOfRangeError("discrete Laplace: sample out of range");
    ENCLAVE_ASSIGN_OR_RETURN(bool negative, Bernoulli(rng, 1, 2));
    if (negative && y == 0) continue;  // P(0) would be 1 - a instead of (1 - a)/(1 + a)
    const auto magnitude = static_cast<std::int64_t>(y);
    return negative ? -magnitude : magnitude;
  }
}

std::uint64_t FloorSqrt(Uint128 x) {
  // Binary search on r with r² ≤ x; r < 2^64.
  std::uint64_t lo = 0;
  std::uint64_t hi = ~std::uint64_t{0};
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2 + 1;
    if (static_cast<Uint128>(mid) * mid <= x) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

absl::StatusOr<std::int64_t> DiscreteGaussian(RandomSource& rng, std::uint64_t p, std::uint64_t q) {
  constexpr std::uint64_t kMax50 = std::uint64_t{1} << 50;
  if (p == 0 || q == 0 || p >= kMax50 || q >= kMax50) {
    return absl::InvalidArgumentError("discrete Gaussian: σ² = p/q needs 1 <= p, q < 2^50");
  }
  // t = ⌊σ⌋ + 1 with ⌊σ⌋ = ⌊√⌊p/q⌋⌋ (equal for integers: r² ≤ p/q ⟺ r² ≤ ⌊p/q⌋).
  const std::uint64_t t = FloorSqrt(p / q) + 1;  // ≤ 2^25 + 1
  // γ = (|Y|·t·q − p)² / (2·p·q·t²). q·t² < p + 2·√(p·q) + q < 2^52, so den < 2^103.
  const Uint128 den = static_cast<Uint128>(2) * p * q * t * t;
  const Uint128 tq = static_cast<Uint128>(t) * q;  // < 2^76
  const Uint128 max_abs_y = ((static_cast<Uint128>(1) << 63) - 1) / tq;  // |Y|·t·q < 2^63
  for (;;) {
    ENCLAVE_ASSIGN_OR_RETURN(std::int64_t y, DiscreteLaplace(rng, t, 1));
    const auto abs_y = static_cast<Uint128>(y < 0 ? -y : y);
    // Beyond, |Y|·t·q − p > 2^62 and γ > 2^124 / 2^103: acceptance below exp(-2^21).
    if (abs_y > max_abs_y) continue;
    const Uint128 ytq = abs_y * tq;
    const Uint128 diff = ytq >= p ? ytq - p : p - ytq;  // < 2^63
    ENCLAVE_ASSIGN_OR_RETURN(bool accept, BernoulliExp(rng, diff * diff, den));
    if (accept) return y;
  }
}

}  // namespace enclave::dp
