// Distributional tests of the samplers that do not flake (disclosure-control.md §7.8): a fixed
// generator state per scale (deterministic in CI), χ² on the exact pmf with bins of expected count
// ≥ 5 (tails pooled), accepted iff χ² ≤ df + 6·√(2·df); Wilson intervals at α = 10⁻⁶ on P(0) and on
// the sign symmetry P(Z<0) = P(Z>0); mean within 6·SD/√N; sample variance within 6 standard errors
// of the exact variance. Negative controls: the same samples must reject the pmf at scale × 0.7
// and × 1.3, and a Laplace sampler without the (−, 0) rejection must fail the zero test.
//
// N = 200,000 per scale (not the 10⁶ of §7.8) so that the whole binary stays well under 20 s in a
// Debug build on the 2-core CI machine (about 10 s here; 10⁶ per scale would take about 50 s). Power at this N,
// for the weakest case b = 1000: P(0) = 0.0005, expected zeros 100 ± 10, while the missing-
// rejection bug gives 0.0010 (200 zeros), 10 SD away, and the Wilson half-width at α = 10⁻⁶ is
// about 2.4·10⁻⁴. A scale off by 30% shifts the variance by 50-70%, against a standard error of
// the sample variance of about 0.5% (Laplace kurtosis 6) at this N. Seven families × 5 tests at
// α ≈ 10⁻⁶ each: a false failure under fresh entropy about once per 30,000 runs.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "enclave/dp/noise.h"
#include "enclave/dp/sampler.h"
#include "tests/dp/test_random.h"

namespace enclave::dp {
namespace {

using testing::TestRandom;
using Real = long double;

constexpr int kN = 200000;

// Fixed generator states in CI; ENCLAVE_DP_TEST_SEED=<n> (e.g. from the date, nightly) gives
// fresh ones: the acceptance levels above are chosen for that.
std::uint64_t Seed(std::uint64_t offset) {
  const char* env = std::getenv("ENCLAVE_DP_TEST_SEED");
  const std::uint64_t base = env != nullptr ? std::strtoull(env, nullptr, 10) : 0;
  return base * 1'000'003 + offset;
}
constexpr Real kZ = 4.8916;  // two-sided α = 10⁻⁶

// An exact pmf on [-r, r] (mass beyond is below 10⁻³⁰ for the r used), normalised by summation.
struct Pmf {
  std::int64_t r = 0;
  std::vector<Real> p;  // p[z + r]
  Real At(std::int64_t z) const { return z < -r || z > r ? 0 : p[static_cast<std::size_t>(z + r)]; }
  Real Mean() const {
    Real m = 0;
    for (std::int64_t z = -r; z <= r; ++z) m += static_cast<Real>(z) * At(z);
    return m;
  }
  Real Moment(int k) const {  // central, about 0 (the pmfs are symmetric)
    Real m = 0;
    for (std::int64_t z = -r; z <= r; ++z) m += std::pow(static_cast<Real>(z), k) * At(z);
    return m;
  }
};

Pmf LaplacePmf(Real b) {
  Pmf pmf;
  pmf.r = static_cast<std::int64_t>(70 * b) + 70;
  const Real a = std::exp(-1 / b);
  Real total = 0;
  for (std::int64_t z = -pmf.r; z <= pmf.r; ++z) {
    pmf.p.push_back(std::pow(a, static_cast<Real>(z < 0 ? -z : z)));
    total += pmf.p.back();
  }
  for (Real& x : pmf.p) x /= total;
  return pmf;
}

Pmf GaussianPmf(Real sigma2) {
  Pmf pmf;
  pmf.r = static_cast<std::int64_t>(13 * std::sqrt(sigma2)) + 13;
  Real total = 0;
  for (std::int64_t z = -pmf.r; z <= pmf.r; ++z) {
    pmf.p.push_back(std::exp(-static_cast<Real>(z) * static_cast<Real>(z) / (2 * sigma2)));
    total += pmf.p.back();
  }
  for (Real& x : pmf.p) x /= total;
  return pmf;
}

struct Sample {
  std::map<std::int64_t, std::int64_t> hist;
  std::int64_t n = 0;
  std::int64_t Count(std::int64_t z) const {
    auto it = hist.find(z);
    return it == hist.end() ? 0 : it->second;
  }
};

template <typename Draw>
Sample Collect(Draw draw) {
  Sample s;
  for (int i = 0; i < kN; ++i) {
    absl::StatusOr<std::int64_t> z = draw();
    if (!z.ok()) REQUIRE(z.ok());  // one assertion per failure, not per sample
    ++s.hist[*z];
  }
  s.n = kN;
  return s;
}

struct ChiSquare {
  Real stat = 0;
  int df = 0;
  bool Accept() const { return stat <= df + 6 * std::sqrt(2 * static_cast<Real>(df)); }
};

// Bins are runs of consecutive integers from the left, closed once their expected count reaches
// 5; the last run joins the bin before it. Samples beyond ±r count in the outer bins.
ChiSquare Chi2(const Sample& s, const Pmf& pmf) {
  struct Bin {
    Real expected = 0;
    std::int64_t observed = 0;
  };
  std::vector<Bin> bins;
  Bin cur;
  for (std::int64_t z = -pmf.r; z <= pmf.r; ++z) {
    cur.expected += pmf.At(z) * static_cast<Real>(s.n);
    cur.observed += s.Count(z);
    if (cur.expected >= 5) {
      bins.push_back(cur);
      cur = Bin{};
    }
  }
  REQUIRE(!bins.empty());
  bins.back().expected += cur.expected;
  bins.back().observed += cur.observed;
  for (const auto& [z, c] : s.hist) {
    if (z < -pmf.r) bins.front().observed += c;
    if (z > pmf.r) bins.back().observed += c;
  }
  ChiSquare out;
  for (const Bin& b : bins) {
    const Real d = static_cast<Real>(b.observed) - b.expected;
    out.stat += d * d / b.expected;
  }
  out.df = static_cast<int>(bins.size()) - 1;
  return out;
}

// Wilson score interval for k successes in n trials.
bool WilsonContains(std::int64_t k, std::int64_t n, Real p) {
  const Real nn = static_cast<Real>(n);
  const Real phat = static_cast<Real>(k) / nn;
  const Real z2 = kZ * kZ;
  const Real center = (phat + z2 / (2 * nn)) / (1 + z2 / nn);
  const Real half = kZ / (1 + z2 / nn) * std::sqrt(phat * (1 - phat) / nn + z2 / (4 * nn * nn));
  return p >= center - half && p <= center + half;
}

struct Checks {
  bool chi2 = false, zero = false, sign = false, mean = false, variance = false;
  std::string summary;  // shown when a check fails
};

Checks Evaluate(const Sample& s, const Pmf& pmf) {
  Checks c;
  const ChiSquare x = Chi2(s, pmf);
  c.chi2 = x.Accept();
  c.zero = WilsonContains(s.Count(0), s.n, pmf.At(0));
  std::int64_t neg = 0, pos = 0;
  Real sum = 0, sum2 = 0;
  for (const auto& [z, k] : s.hist) {
    if (z < 0) neg += k;
    if (z > 0) pos += k;
    sum += static_cast<Real>(z) * static_cast<Real>(k);
    sum2 += static_cast<Real>(z) * static_cast<Real>(z) * static_cast<Real>(k);
  }
  c.sign = WilsonContains(neg, neg + pos, 0.5L);
  const Real n = static_cast<Real>(s.n);
  const Real var = pmf.Moment(2);
  const Real mu4 = pmf.Moment(4);
  const Real mean = sum / n;
  c.mean = std::fabs(mean - pmf.Mean()) <= 6 * std::sqrt(var / n);
  const Real svar = sum2 / n - mean * mean;
  c.variance = std::fabs(svar - var) <= 6 * std::sqrt((mu4 - var * var) / n);
  std::ostringstream summary;
  summary << "chi2=" << static_cast<double>(x.stat) << " df=" << x.df << " zeros=" << s.Count(0)
          << " expected=" << static_cast<double>(pmf.At(0) * n)
          << " var=" << static_cast<double>(svar) << " exact=" << static_cast<double>(var);
  c.summary = summary.str();
  return c;
}

void RequireAllPass(const Checks& c) {
  INFO(c.summary);
  CHECK(c.chi2);
  CHECK(c.zero);
  CHECK(c.sign);
  CHECK(c.mean);
  CHECK(c.variance);
}

// The sampler of §7.4 without the (−, 0) rejection: P(0) = 1 − a instead of (1 − a)/(1 + a).
absl::StatusOr<std::int64_t> LaplaceWithoutZeroRejection(RandomSource& rng, std::uint64_t t) {
  for (;;) {
    absl::StatusOr<Uint128> u = UniformBelow(rng, t);
    if (!u.ok()) return u.status();
    absl::StatusOr<bool> keep = BernoulliExp(rng, *u, t);
    if (!keep.ok()) return keep.status();
    if (!*keep) continue;
    Uint128 v = 0;
    for (;;) {
      absl::StatusOr<bool> more = BernoulliExp(rng, 1, 1);
      if (!more.ok()) return more.status();
      if (!*more) break;
      ++v;
    }
    const auto y = static_cast<std::int64_t>(*u + t * v);
    absl::StatusOr<bool> negative = Bernoulli(rng, 1, 2);
    if (!negative.ok()) return negative.status();
    return *negative ? -y : y;
  }
}

TEST_SUITE("Discrete Laplace distribution") {
  TEST_CASE("b in {1, 3, 10, 100, 1000}: shape, zeros, symmetry, mean and variance, and scale x0.7 "
            "and x1.3 rejected") {
    for (const std::uint64_t b : {1ULL, 3ULL, 10ULL, 100ULL, 1000ULL}) {
      CAPTURE(b);
      TestRandom rng(Seed(1000 + b));
      const Sample s = Collect([&] { return DiscreteLaplace(rng, b, 1); });
      RequireAllPass(Evaluate(s, LaplacePmf(static_cast<Real>(b))));
      for (const Real f : {0.7L, 1.3L}) {
        CAPTURE(static_cast<double>(f));
        const Checks wrong = Evaluate(s, LaplacePmf(static_cast<Real>(b) * f));
        INFO(wrong.summary);
        CHECK_FALSE(wrong.chi2);
        CHECK_FALSE(wrong.variance);
      }
    }
  }
  TEST_CASE("a non-integer scale b = 10/3 matches its pmf") {
    TestRandom rng(Seed(77));
    const Sample s = Collect([&] { return DiscreteLaplace(rng, 10, 3); });
    RequireAllPass(Evaluate(s, LaplacePmf(10.0L / 3.0L)));
  }
  TEST_CASE("point mass at b = 4 (ε = 0.25): zeros near 12.44%, not the buggy 22.12%") {
    TestRandom rng(Seed(4));
    const Sample s = Collect([&] { return DiscreteLaplace(rng, 4, 1); });
    const Pmf pmf = LaplacePmf(4);
    CHECK(static_cast<double>(pmf.At(0)) == doctest::Approx(0.12435).epsilon(0.001));
    RequireAllPass(Evaluate(s, pmf));
  }
  TEST_CASE("negative control: without the (-, 0) rejection the zero test fails at b = 4 and 1000") {
    for (const std::uint64_t b : {4ULL, 1000ULL}) {
      CAPTURE(b);
      TestRandom rng(Seed(2000 + b));
      const Sample s = Collect([&] { return LaplaceWithoutZeroRejection(rng, b); });
      const Checks c = Evaluate(s, LaplacePmf(static_cast<Real>(b)));
      INFO(c.summary);
      CHECK_FALSE(c.zero);
    }
  }
}

TEST_SUITE("Discrete Gaussian distribution") {
  TEST_CASE("σ² in {1, 10/3, 50, 10000}: shape, zeros, symmetry, mean and variance, and σ x0.7 and "
            "x1.3 rejected") {
    const struct {
      std::uint64_t p, q;
    } cases[] = {{1, 1}, {10, 3}, {50, 1}, {10000, 1}};
    for (const auto& c : cases) {
      CAPTURE(c.p);
      CAPTURE(c.q);
      TestRandom rng(Seed(3000 + c.p));
      const Sample s = Collect([&] { return DiscreteGaussian(rng, c.p, c.q); });
      const Real sigma2 = static_cast<Real>(c.p) / static_cast<Real>(c.q);
      RequireAllPass(Evaluate(s, GaussianPmf(sigma2)));
      for (const Real f : {0.7L, 1.3L}) {
        CAPTURE(static_cast<double>(f));
        const Checks wrong = Evaluate(s, GaussianPmf(sigma2 * f * f));
        INFO(wrong.summary);
        CHECK_FALSE(wrong.chi2);
        CHECK_FALSE(wrong.variance);
      }
    }
  }
}

}  // namespace
}  // namespace enclave::dp
