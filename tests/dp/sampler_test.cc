// Exact tests of the integer samplers and noise parameters (disclosure-control.md §7.4): rejection
// steps on scripted bits, failure propagation, scales from micro-ε, and golden outputs from a fixed
// generator state (changed only on purpose: a change means the sampling path changed).
#include <cmath>
#include <cstdint>
#include <deque>
#include <vector>

#include "doctest/doctest.h"
#include "enclave/dp/noise.h"
#include "enclave/dp/sampler.h"
#include "tests/dp/test_random.h"

namespace enclave::dp {
namespace {

using testing::FailingRandom;
using testing::ScriptedRandom;
using testing::TestRandom;

constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};

TEST_SUITE("UniformBelow") {
  TEST_CASE("values at or above the largest multiple of d are rejected, not reduced modulo d") {
    // 2^64 mod 3 = 1, so the limit is 2^64 - 1 and 2^64 - 1 itself is rejected: a bare `%` would
    // return (2^64 - 1) % 3 = 0 here.
    ScriptedRandom rng({kAllOnes, 5});
    absl::StatusOr<Uint128> u = UniformBelow(rng, 3);
    REQUIRE(u.ok());
    CHECK(static_cast<std::uint64_t>(*u) == 2);
    CHECK(rng.remaining() == 0);
  }
  TEST_CASE("a value just below the limit is accepted") {
    ScriptedRandom rng({kAllOnes - 1});
    absl::StatusOr<Uint128> u = UniformBelow(rng, 3);
    REQUIRE(u.ok());
    CHECK(static_cast<std::uint64_t>(*u) == (kAllOnes - 1) % 3);
  }
  TEST_CASE("bounds above 2^64 draw 128 bits and reject below 2^128 mod d") {
    const Uint128 d = (static_cast<Uint128>(1) << 64) + 1;
    // 2^128 mod (2^64 + 1) = 1: x = 0 is rejected, x = 1 maps to 0.
    ScriptedRandom rng({0, 0, 0, 1});
    absl::StatusOr<Uint128> u = UniformBelow(rng, d);
    REQUIRE(u.ok());
    CHECK(static_cast<std::uint64_t>(*u) == 0);
    CHECK(rng.remaining() == 0);
  }
  TEST_CASE("d = 0 is refused and a failing source fails the draw") {
    TestRandom rng(1);
    CHECK(UniformBelow(rng, 0).status().code() == absl::StatusCode::kInvalidArgument);
    FailingRandom bad;
    CHECK(UniformBelow(bad, 10).status().code() == absl::StatusCode::kUnavailable);
  }
  TEST_CASE("every residue appears and none falls outside 0 to d-1") {
    TestRandom rng(7);
    std::vector<int> seen(7, 0);
    for (int i = 0; i < 7000; ++i) {
      absl::StatusOr<Uint128> u = UniformBelow(rng, 7);
      REQUIRE(u.ok());
      REQUIRE(*u < 7);
      ++seen[static_cast<std::size_t>(*u)];
    }
    for (int c : seen) CHECK(c > 800);
  }
}

TEST_SUITE("Bernoulli") {
  TEST_CASE("exact endpoints draw nothing, and n > d is refused") {
    ScriptedRandom rng({});
    CHECK(*Bernoulli(rng, 0, 5) == false);
    CHECK(*Bernoulli(rng, 5, 5) == true);
    CHECK(Bernoulli(rng, 6, 5).status().code() == absl::StatusCode::kInvalidArgument);
  }
  TEST_CASE("Bernoulli(n/d) is the comparison draw < n") {
    ScriptedRandom rng({0, 1});  // uniform below 2: 0 then 1
    CHECK(*Bernoulli(rng, 1, 2) == true);
    CHECK(*Bernoulli(rng, 1, 2) == false);
  }
  TEST_CASE("Bernoulli(exp(-0)) is 1 and a failing source fails Bernoulli(exp(-γ))") {
    TestRandom rng(3);
    for (int i = 0; i < 100; ++i) CHECK(*BernoulliExp(rng, 0, 7) == true);
    FailingRandom bad;
    CHECK(BernoulliExp(bad, 1, 2).status().code() == absl::StatusCode::kUnavailable);
    CHECK(BernoulliExp(bad, 0, 0).status().code() == absl::StatusCode::kInvalidArgument);
  }
  TEST_CASE("Bernoulli(exp(-γ)) frequencies match exp(-γ) for γ below and above 1") {
    // 200,000 draws: SD of the frequency ≤ 0.0012; 6 SD = 0.007.
    const struct {
      std::uint64_t n, d;
      double p;
    } cases[] = {{1, 2, 0.6065306597}, {1, 1, 0.3678794412}, {5, 2, 0.0820849986}};
    TestRandom rng(11);
    for (const auto& c : cases) {
      int hits = 0;
      for (int i = 0; i < 200000; ++i) hits += *BernoulliExp(rng, c.n, c.d) ? 1 : 0;
      CHECK(std::abs(hits / 200000.0 - c.p) < 0.007);
    }
  }
}

TEST_SUITE("Noise parameters") {
  TEST_CASE("ε in micro-units gives the exact Laplace scale, reduced by the gcd") {
    absl::StatusOr<Noise> n = LaplaceForEpsilon(1, 250000);
    REQUIRE(n.ok());
    CHECK(n->t == 4);
    CHECK(n->s == 1);  // b = 4 (§7.2)
    n = LaplaceForEpsilon(150000, 250000);
    REQUIRE(n.ok());
    CHECK(n->t == 600000);  // b = 600,000 (§7.5)
    CHECK(n->s == 1);
    n = LaplaceForEpsilon(1, 300000);
    REQUIRE(n.ok());
    CHECK(n->t == 10);  // b = 10/3 exactly, not 3.333...
    CHECK(n->s == 3);
    CHECK(LaplaceForEpsilon(0, 250000).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(LaplaceForEpsilon(1, 0).status().code() == absl::StatusCode::kInvalidArgument);
  }
  TEST_CASE("ρ in micro-units gives σ² = Δ₂²/(2ρ), so ρ = 0.01 gives σ² = 50") {
    absl::StatusOr<Noise> n = GaussianForRho(1, 10000);
    REQUIRE(n.ok());
    CHECK(n->mechanism == Mechanism::kDiscreteGaussian);
    CHECK(n->t == 50);
    CHECK(n->s == 1);
  }
  TEST_CASE("a zCDP charge converts to ε at δ = 1e-8, rounded up (ρ = 0.1 → 2.81)") {
    absl::StatusOr<std::int64_t> e = EpsilonMicroForRho(100000);
    REQUIRE(e.ok());
    CHECK(*e >= 2814000);
    CHECK(*e <= 2815000);
  }
  TEST_CASE("charges split into parts that sum exactly to the total") {
    std::int64_t sum = 0;
    for (int i = 0; i < 3; ++i) sum += *SplitPart(250001, 3, i);
    CHECK(sum == 250001);
    CHECK(*SplitPart(250000, 2, 0) == 125000);
    CHECK(SplitPart(1, 2, 0).status().code() == absl::StatusCode::kInvalidArgument);
  }
  TEST_CASE("sensitivities, clamping, overflow-checked addition and treatment names") {
    ContributionBounds b{4, -100, 150000};
    CHECK(SumLinf(b) == 150000);
    CHECK(*L1Sensitivity(4, 150000) == 600000);
    CHECK(*L2SensitivitySquared(4, 3) == 36);
    CHECK(L1Sensitivity(0, 1).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Clamp(200000, b) == 150000);
    CHECK(Clamp(-5000, b) == -100);
    CHECK(AddNoise(INT64_MAX, 1).status().code() == absl::StatusCode::kOutOfRange);
    CHECK(TreatmentName(Mechanism::kDiscreteLaplace, 250000) == "DP_LAPLACE_eps=0.25");
    CHECK(TreatmentName(Mechanism::kDiscreteGaussian, 10000) == "DP_GAUSSIAN_rho=0.01");
    CHECK(FormatMicro(1) == "0.000001");
    CHECK(FormatMicro(4000000) == "4");
  }
}

TEST_SUITE("Samplers fail closed") {
  TEST_CASE("a source that fails at any point fails the sample, never returns a value") {
    for (int ok = 0; ok < 6; ++ok) {
      FailingRandom bad(ok);
      absl::StatusOr<std::int64_t> z = DiscreteLaplace(bad, 1000, 1);
      // Either the few good words sufficed, or the failure came through unchanged.
      if (!z.ok()) CHECK(z.status().code() == absl::StatusCode::kUnavailable);
      FailingRandom bad2(ok);
      absl::StatusOr<std::int64_t> g = DiscreteGaussian(bad2, 50, 1);
      if (!g.ok()) CHECK(g.status().code() == absl::StatusCode::kUnavailable);
    }
    FailingRandom none;
    CHECK(DiscreteLaplace(none, 4, 1).status().code() == absl::StatusCode::kUnavailable);
    CHECK(DiscreteGaussian(none, 50, 1).status().code() == absl::StatusCode::kUnavailable);
  }
  TEST_CASE("out-of-range parameters are refused") {
    TestRandom rng(1);
    CHECK(DiscreteLaplace(rng, 0, 1).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(DiscreteLaplace(rng, 1, 0).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(DiscreteGaussian(rng, std::uint64_t{1} << 50, 1).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

std::vector<std::int64_t> Draw(std::uint64_t seed, const Noise& noise, int n) {
  TestRandom rng(seed);
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::int64_t> z = Sample(rng, noise);
    REQUIRE(z.ok());
    out.push_back(*z);
  }
  return out;
}

TEST_SUITE("Golden outputs") {
  // Seed 20261125. Regenerate only for a deliberate change of the sampling path, and say why in
  // the commit message.
  TEST_CASE("discrete Laplace, b = 1, 4, 10/3 and 1000") {
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteLaplace, 1, 1}, 12) ==
          std::vector<std::int64_t>{1, 1, 0, 0, 0, 1, 0, 1, -1, 1, -1, -3});
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteLaplace, 4, 1}, 12) ==
          std::vector<std::int64_t>{0, 1, 7, -3, 1, 1, -5, 7, -2, -2, -6, 4});
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteLaplace, 10, 3}, 12) ==
          std::vector<std::int64_t>{-3, -2, 1, 1, 2, 0, 6, -3, -1, -2, 9, -1});
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteLaplace, 1000, 1}, 12) ==
          std::vector<std::int64_t>{-529, 704, 1108, -237, 591, 552, 769, 990, -505, 1819, -550, -20});
  }
  TEST_CASE("discrete Gaussian, σ² = 1, 50 and 10/3") {
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteGaussian, 1, 1}, 12) ==
          std::vector<std::int64_t>{0, 1, -1, -1, -1, 1, 0, -1, -1, 0, 0, 1});
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteGaussian, 50, 1}, 12) ==
          std::vector<std::int64_t>{-1, -4, 5, 2, 0, -5, -3, -12, 6, 0, -4, -3});
    CHECK(Draw(20261125, Noise{Mechanism::kDiscreteGaussian, 10, 3}, 12) ==
          std::vector<std::int64_t>{0, 1, -1, -1, -1, 1, -1, -1, 3, 1, 2, 0});
  }
}

}  // namespace
}  // namespace enclave::dp
