// Deterministic random numbers for the synthetic data generator.
//
// std::*_distribution output is implementation-defined, so the generator draws raw 64-bit words from
// xoshiro256** (seeded through splitmix64) and builds every distribution here. Same seed, same
// sequence, on any standard library. The transcendental functions come from libm (glibc), whose
// results are stable for the inputs used here.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace enclave::datagen {

inline std::uint64_t SplitMix64(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A well-mixed hash of two words (stream derivation, synthetic identifiers).
inline std::uint64_t Mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0xD1B54A32D192ED03ULL) ^ 0x8CB92BA72F3D8DD7ULL;
  SplitMix64(s);
  return SplitMix64(s);
}

// xoshiro256** with hand-written distributions. Not thread-safe; one per stream.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (std::uint64_t& x : s_) x = SplitMix64(s);
  }

  std::uint64_t Next() {
    const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Integer in [lo, hi] (inclusive); REQUIRES: lo <= hi.
  std::int64_t Int(std::int64_t lo, std::int64_t hi) {
    // Spans used here are far below 2^53, so scaling a 53-bit uniform is exact enough and portable.
    const double span = static_cast<double>(hi - lo) + 1.0;
    const auto r = static_cast<std::int64_t>(Uniform() * span);
    return lo + (r > hi - lo ? hi - lo : r);
  }
  int IntI(int lo, int hi) { return static_cast<int>(Int(lo, hi)); }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Standard normal by Box-Muller (one value per two draws: no cached state).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  double LogNormal(double mu, double sigma) { return std::exp(mu + sigma * Normal()); }
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }
  // Index drawn with probability proportional to weights[i]; REQUIRES: some weight > 0.
  std::size_t Choice(const double* weights, std::size_t n) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += weights[i];
    double x = Uniform() * total;
    for (std::size_t i = 0; i < n; ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return n - 1;
  }
  std::size_t Choice(std::initializer_list<double> weights) {
    return Choice(weights.begin(), weights.size());
  }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace enclave::datagen
