#include "enclave/disclosure/cell_key.h"

#include <algorithm>
#include <limits>

#include "enclave/base/check.h"
#include "enclave/disclosure/threshold.h"

namespace enclave::disclosure {
namespace {

constexpr std::int64_t kMillion = 1000000;

// Rounds num/den to the nearest integer, half away from zero. REQUIRES: den > 0.
Int128 DivRound(Int128 num, Int128 den) {
  const Int128 q = num / den;
  const Int128 r = num % den;  // same sign as num
  const Int128 twice = (r < 0 ? -r : r) * 2;
  if (twice >= den) return num < 0 ? q - 1 : q + 1;
  return q;
}

std::int64_t Saturate(Int128 v) {
  if (v > std::numeric_limits<std::int64_t>::max()) return std::numeric_limits<std::int64_t>::max();
  if (v < std::numeric_limits<std::int64_t>::min()) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::uint32_t DistinctCellKey::Finish() {
  std::sort(units_.begin(), units_.end());
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < units_.size(); ++i) {
    if (i > 0 && units_[i].first == units_[i - 1].first) continue;
    sum += units_[i].second;
  }
  units_.clear();
  return sum;
}

std::int64_t PerturbCount(std::int64_t count, std::uint32_t cell_key, const Ptable& treatment) {
  return treatment.Perturb(count, cell_key);
}

absl::Status CheckMagnitudeParams(const MagnitudeParams& params) {
  if (params.k < 1 || params.weights_permille.size() != params.k) {
    return absl::InvalidArgumentError("magnitude noise needs k >= 1 and one weight per rank");
  }
  for (std::int64_t w : params.weights_permille) {
    if (w < 0 || w > 1000) {
      return absl::InvalidArgumentError("magnitude noise weights must be in [0, 1000] permille");
    }
  }
  if (params.m_permille < 0 || params.m_permille > 1000) {
    return absl::InvalidArgumentError("magnitude noise m must be in [0, 1000] permille");
  }
  std::uint64_t sum = 0;
  for (std::uint64_t c : params.row.counts) {
    if (c > kKeySpace) return absl::InvalidArgumentError("magnitude noise row exceeds 2^32");
    sum += c;
  }
  if (sum != kKeySpace || params.row.SumV() != 0) {
    return absl::InvalidArgumentError(
        "magnitude noise row must sum to 2^32 and have mean exactly 0");
  }
  return absl::OkStatus();
}

PerturbedMagnitude PerturbMagnitude(std::int64_t sum, std::span<const std::int64_t> largest,
                                    std::uint32_t cell_key, std::string_view variable,
                                    const MagnitudeParams& params, const MagnitudeKeyFn& key,
                                    std::int64_t precision) {
  ENCLAVE_CHECK(CheckMagnitudeParams(params).ok());
  ENCLAVE_CHECK(precision >= 1);
  std::vector<Int128> magnitudes;
  magnitudes.reserve(largest.size());
  for (std::int64_t x : largest) magnitudes.push_back(x < 0 ? -static_cast<Int128>(x) : x);
  std::sort(magnitudes.begin(), magnitudes.end(), [](Int128 a, Int128 b) { return a > b; });
  const std::size_t k = std::min<std::size_t>(params.k, magnitudes.size());
  Int128 numerator = 0;  // Σ w_j · m · |x_(j)| · v_j, in units of 10^-6
  for (std::size_t j = 0; j < k; ++j) {
    const std::uint32_t rank = static_cast<std::uint32_t>(j + 1);
    const std::int32_t v = params.row.Lookup(key(variable, rank, cell_key));
    numerator += static_cast<Int128>(params.weights_permille[j]) * params.m_permille *
                 magnitudes[j] * v;
  }
  PerturbedMagnitude out;
  out.perturbed = Saturate(static_cast<Int128>(sum) + DivRound(numerator, kMillion));
  out.released = RoundToPrecision(out.perturbed, precision);
  return out;
}

std::optional<std::int64_t> DerivedMean(std::int64_t perturbed_sum, std::int64_t released_count,
                                        std::int64_t precision) {
  if (released_count <= 0) return std::nullopt;
  const std::int64_t p = precision < 1 ? 1 : precision;
  const Int128 units = DivRound(perturbed_sum, static_cast<Int128>(released_count) * p);
  return Saturate(units * p);
}

}  // namespace enclave::disclosure
