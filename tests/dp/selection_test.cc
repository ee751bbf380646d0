// dp::SelectionThreshold and dp::Selected (disclosure-control.md §7.7, cells not public): τ from
// the worked numbers of §7.7 in integers, rounded up, and the release rule raw ≥ k AND noisy > τ.
#include "enclave/dp/selection.h"

#include <doctest/doctest.h>

namespace enclave::dp {
namespace {

std::int64_t Tau(std::int64_t k, std::int64_t l0, std::int64_t eps_micro, std::int64_t d) {
  absl::StatusOr<std::int64_t> tau = SelectionThreshold(k, l0, eps_micro, d);
  REQUIRE_MESSAGE(tau.ok(), tau.status().message());
  return *tau;
}

TEST_SUITE("dp selection threshold") {
  TEST_CASE("the worked numbers of §7.7, rounded up") {
    // k = 10, L0 = 1: ε_sel = 1, δ = 1e-6 → 23.1 → 24; δ = 1e-8 → 27.7 → 28;
    // ε_sel = 0.5, δ = 1e-6 → 36.2 → 37.
    CHECK(Tau(10, 1, 1'000'000, 6) == 24);
    CHECK(Tau(10, 1, 1'000'000, 8) == 28);
    CHECK(Tau(10, 1, 500'000, 6) == 37);
  }

  TEST_CASE("τ grows with L0, with smaller ε_sel and δ, and starts at k") {
    // (2/1)·ln(5e5) = 26.24 → 27; (1/0.25)·ln(5e5) = 52.49 → 53; δ = 1e-12: ln(5e11) = 26.94 → 27.
    CHECK(Tau(10, 2, 1'000'000, 6) == 37);
    CHECK(Tau(10, 1, 250'000, 6) == 63);
    CHECK(Tau(10, 1, 1'000'000, 12) == 37);
    CHECK(Tau(1, 1, 1'000'000, 6) == 15);
    CHECK(Tau(20, 1, 1'000'000, 6) == 34);
    // Largest parameters still fit: L0 = 10⁶ at ε_sel = 10⁻⁶ and δ = 1e-12:
    // 10¹²·ln(5e11) = 26937873935368.60 → 26937873935369.
    CHECK(Tau(1'000'000, 1'000'000, 1, 12) == 1'000'000 + 26'937'873'935'369);
  }

  TEST_CASE("out-of-range parameters are refused") {
    CHECK(SelectionThreshold(0, 1, 1'000'000, 6).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(SelectionThreshold(10, 0, 1'000'000, 6).ok());
    CHECK_FALSE(SelectionThreshold(10, 1, 0, 6).ok());
    CHECK_FALSE(SelectionThreshold(10, 1, 1'000'000, 5).ok());
    CHECK_FALSE(SelectionThreshold(10, 1, 1'000'000, 13).ok());
    CHECK(SelectionThreshold(10, 1, 1'000'000, 12).ok());
  }

  TEST_CASE("release rule: raw below k is never released, however large the noisy count") {
    CHECK_FALSE(Selected(9, 1'000'000'000, 10, 24));
    CHECK_FALSE(Selected(0, INT64_MAX, 10, 24));
    // raw ≥ k but noisy ≤ τ: withheld.
    CHECK_FALSE(Selected(20, 24, 10, 24));
    CHECK_FALSE(Selected(1000, 0, 10, 24));
    // Negative control: both conditions hold.
    CHECK(Selected(10, 25, 10, 24));
    CHECK(Selected(30, 31, 10, 24));
  }
}

}  // namespace
}  // namespace enclave::dp
