// core::DpReleaser (disclosure-control.md §7): noise on every inner cell from a fixed generator
// (replayed here to know each cell's exact expected value), contribution bounding (L0 cells per
// unit, clamped measures), margins derived from noisy cells, display threshold as post-processing,
// the budget flow (reserve before data, refund only before data, charge before release, free
// identical repeats) and fail-closed behaviour when randomness, ledger or log fail.
#include "enclave/core/dp_release.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "enclave/crypto/private_random.h"
#include "enclave/dp/noise.h"
#include "enclave/dp/selection.h"
#include "tests/core/fixtures.h"
#include "tests/dp/test_random.h"
#include "tests/testing/fake_budget_ledger.h"
#include "tests/testing/fake_microdata_source.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::core {
namespace {

using Type = QueryLogEntry::Type;
using templates::StatisticKind;
using testing::FakeMicrodataSource;
using testing::FakeQueryLog;
using testing::FakeSourceState;
using testing::TestRandom;

constexpr std::uint64_t kSeed = 4242;

using FakeLedger = testing::FakeBudgetLedger;

templates::Template DpTemplate(std::vector<templates::Statistic> stats,
                               templates::DpSettings dp = {}) {
  templates::Template t = test::MakeTemplate(std::move(stats));
  t.id = "dp_template";
  t.roles = {templates::Role::kResearcher};
  if (dp.epsilon_micro == 0 && dp.rho_micro == 0) dp.epsilon_micro = 250000;
  t.dp = dp;
  return t;
}

struct Env {
  explicit Env(const templates::Template& t, std::int64_t cap = 4'000'000) : tmpl(t) {
    query = test::BindAll(tmpl);
    request.query = &query;
    request.request_id = "q-1";
    request.caller = "spiffe://lv/researcher";
    request.role = "researcher";
    request.project = "p1";
    request.agreement = "A-1";
    request.limits = {{"agreement:A-1", cap}, {"project:p1", 6'000'000},
                      {"data-version:fake-data-v1", 12'000'000}};
    request.data_version = "fake-data-v1";
  }
  absl::StatusOr<DpOutcome> Run(std::shared_ptr<dp::RandomSource> random = nullptr) {
    if (random == nullptr) random = std::make_shared<TestRandom>(kSeed);
    DpReleaser releaser(ledger, random, log, sampler);
    FakeMicrodataSource source(state);
    return releaser.Run(request, source, Cancellation{});
  }
  LedgerBalance Balance(std::size_t i = 0) {
    auto b = ledger->Balances(std::vector<LedgerLimit>{request.limits[i]});
    REQUIRE(b.ok());
    return (*b)[0];
  }
  templates::Template tmpl;
  templates::BoundQuery query;
  DpRequest request;
  std::shared_ptr<FakeSourceState> state = std::make_shared<FakeSourceState>();
  std::shared_ptr<FakeQueryLog> log = std::make_shared<FakeQueryLog>();
  std::shared_ptr<FakeLedger> ledger = std::make_shared<FakeLedger>();
  DpReleaser::NoiseSampler sampler;  // unset: dp::Sample
};

// The noise the releaser draws: inner cells in canonical order, per cell the statistics' components
// in order, from a fresh generator with the same seed.
std::vector<std::int64_t> ReplayNoise(std::size_t inner_cells, const std::vector<dp::Noise>& per_cell) {
  TestRandom rng(kSeed);
  std::vector<std::int64_t> out;
  for (std::size_t c = 0; c < inner_cells; ++c) {
    for (const dp::Noise& n : per_cell) {
      absl::StatusOr<std::int64_t> z = dp::Sample(rng, n);
      REQUIRE(z.ok());
      out.push_back(*z);
    }
  }
  return out;
}

dp::Noise Laplace(std::int64_t l1, std::int64_t eps) {
  absl::StatusOr<dp::Noise> n = dp::LaplaceForEpsilon(l1, eps);
  REQUIRE(n.ok());
  return *n;
}

const ReleasedCell& CellAt(const Release& r, std::vector<std::uint32_t> coords, std::uint32_t s = 0) {
  for (const ReleasedCell& c : r.cells) {
    if (c.coordinates == coords && c.statistic == s) return c;
  }
  FAIL("no such cell");
  return r.cells.front();
}

// Rows: W1/M 100 units, W1/V 50, W2/M 30, W2/V 3 (inner cells 0..3 in canonical order).
void StandardRows(FakeSourceState& state) {
  test::AddUnits(state.rows, "a", 100, "W1", "M", 40000, 1);
  test::AddUnits(state.rows, "b", 50, "W1", "V", 30000);
  test::AddUnits(state.rows, "c", 30, "W2", "M", 20000, 1);
  test::AddUnits(state.rows, "d", 3, "W2", "V", 10000);
}

// Cells not public (§7.7) at k = 10, L0 = 1, ε_sel = 1, δ = 1e-6: τ = 24.
templates::DpSettings NotPublic() {
  templates::DpSettings dp;
  dp.cells_public = false;
  dp.min_units = 10;
  dp.selection_epsilon_micro = 1'000'000;
  dp.delta_exponent = 6;
  return dp;
}

// Forces the noise: value noise (Laplace scale 4, ε = 0.25) is 0, selection noise (scale 1,
// ε_sel = 1) comes from `selection` in draw order (inner cells in canonical order).
DpReleaser::NoiseSampler Forced(std::vector<std::int64_t> selection) {
  auto next = std::make_shared<std::size_t>(0);
  return [selection, next](dp::RandomSource&, const dp::Noise& n) -> absl::StatusOr<std::int64_t> {
    if (n.t == 4 && n.s == 1) return 0;
    REQUIRE((n.t == 1 && n.s == 1));
    REQUIRE(*next < selection.size());
    return selection[(*next)++];
  };
}

TEST_SUITE("DpReleaser") {
  TEST_CASE("cells not public: a cell below k is withheld however large its noise, and ε_sel is charged") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, NotPublic()));
    StandardRows(*env.state);  // raw units 100, 50, 30, 3
    env.sampler = Forced({1'000'000'000, 1'000'000'000, 1'000'000'000, 1'000'000'000});
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    CHECK(out->charged_micro == 250000 + 1'000'000);
    CHECK(env.Balance().spent_micro == 1'250'000);
    CHECK(env.log->OfType(Type::kBudget).back().detail.find("charge_micro=1250000") !=
          std::string::npos);
    const Release& r = out->release;
    CHECK(r.rule_set_text.find("cells_public=0") != std::string::npos);
    CHECK(r.rule_set_text.find("tau=24") != std::string::npos);
    CHECK(CellAt(r, {0, 0}).value == 100);
    CHECK(CellAt(r, {0, 1}).value == 50);
    CHECK(CellAt(r, {1, 0}).value == 30);
    const ReleasedCell& small = CellAt(r, {1, 1});
    CHECK(small.status == disclosure::CellStatus::kConfidential);
    CHECK_FALSE(small.value.has_value());
    // Margins over the withheld cell are withheld too; the others are sums of noisy cells.
    CHECK(CellAt(r, {0, 2}).value == 150);
    CHECK(CellAt(r, {2, 0}).value == 130);
    for (const std::vector<std::uint32_t>& m :
         {std::vector<std::uint32_t>{1, 2}, {2, 1}, {2, 2}}) {
      CHECK(CellAt(r, m).status == disclosure::CellStatus::kConfidential);
      CHECK_FALSE(CellAt(r, m).value.has_value());
    }
    CHECK(r.provenance[4].rule == "dp-not-selected");            // {1, 1}
    CHECK(r.provenance[8].rule == "dp-margin-of-unselected");    // {2, 2}
    CHECK(r.provenance[0].rule == "dp-noisy");
  }

  TEST_CASE("cells not public: raw ≥ k but noisy count ≤ τ is confidential, τ + 1 is released") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                        test::MakeStatistic("m", StatisticKind::kMean)},
                       [] {
                         templates::DpSettings dp = NotPublic();
                         dp.clamp_max = 100000;
                         return dp;
                       }()));
    StandardRows(*env.state);
    // Value noise: forced 0 for the count (scale 4); the mean's components have other scales.
    auto next = std::make_shared<std::size_t>(0);
    const std::vector<std::int64_t> selection = {-76, -26, -5, 1'000'000};
    env.sampler = [selection, next](dp::RandomSource&,
                                    const dp::Noise& n) -> absl::StatusOr<std::int64_t> {
      if (n.t == 1 && n.s == 1) return selection[(*next)++];
      return 0;
    };
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    CHECK(*next == 4);
    const Release& r = out->release;
    // 100 − 76 = 24 = τ and 50 − 26 = 24: withheld, for every statistic of the cell.
    for (std::uint32_t stat : {0u, 1u}) {
      CHECK(CellAt(r, {0, 0}, stat).status == disclosure::CellStatus::kConfidential);
      CHECK_FALSE(CellAt(r, {0, 0}, stat).value.has_value());
      CHECK(CellAt(r, {0, 1}, stat).status == disclosure::CellStatus::kConfidential);
    }
    // 30 − 5 = 25 > τ: released; 3 + 10⁶: raw below k, withheld.
    CHECK(CellAt(r, {1, 0}, 0).value == 30);
    CHECK(CellAt(r, {1, 0}, 1).value == 20000);
    CHECK(CellAt(r, {1, 1}, 0).status == disclosure::CellStatus::kConfidential);
    CHECK(CellAt(r, {2, 0}, 0).status == disclosure::CellStatus::kConfidential);
    // The stored answer for repeats keeps the withheld cells withheld.
    absl::StatusOr<DpOutcome> again = env.Run();
    REQUIRE(again.ok());
    CHECK(again->repeat);
    CHECK(CellAt(again->release, {0, 0}).status == disclosure::CellStatus::kConfidential);
    CHECK(CellAt(again->release, {1, 0}).value == 30);
  }

  TEST_CASE("negative control: with public cells the same forced run releases every cell, charging ε only") {
    templates::DpSettings dp;
    dp.display_threshold = -1000;
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, dp));
    StandardRows(*env.state);
    env.sampler = Forced({});  // no selection noise may be drawn
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    CHECK(out->charged_micro == 250000);
    CHECK(CellAt(out->release, {1, 1}).value == 3);
    CHECK(CellAt(out->release, {2, 2}).value == 183);
    CHECK(out->release.rule_set_text.find("cells_public") == std::string::npos);
  }

  TEST_CASE("cells not public with the real sampler: selection noise is drawn after the value noise") {
    templates::DpSettings dp = NotPublic();
    dp.display_threshold = -1000;
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, dp));
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    TestRandom rng(kSeed);
    const dp::Noise value = Laplace(1, 250000);
    const dp::Noise sel = Laplace(1, 1'000'000);
    std::vector<std::int64_t> z, zs;
    for (int i = 0; i < 4; ++i) z.push_back(*dp::Sample(rng, value));
    for (int i = 0; i < 4; ++i) zs.push_back(*dp::Sample(rng, sel));
    const std::int64_t raw[4] = {100, 50, 30, 3};
    const std::vector<std::vector<std::uint32_t>> at = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    int shown = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      if (dp::Selected(raw[i], raw[i] + zs[i], 10, 24)) {
        ++shown;
        CHECK(CellAt(out->release, at[i]).value == raw[i] + z[i]);
      } else {
        CHECK_FALSE(CellAt(out->release, at[i]).value.has_value());
      }
    }
    CHECK(shown == 3);  // 100, 50 and 30 are far above τ; 3 is below k
  }

  TEST_CASE("cells not public: a randomness failure in the selection draws refunds everything") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, NotPublic()));
    StandardRows(*env.state);
    env.sampler = [](dp::RandomSource&, const dp::Noise& n) -> absl::StatusOr<std::int64_t> {
      if (n.t == 1 && n.s == 1) return absl::UnavailableError("forced");
      return 0;
    };
    CHECK(env.Run().status().code() == absl::StatusCode::kUnavailable);
    CHECK(env.state->scans == 0);
    CHECK(env.ledger->refunds == 1);
    CHECK(env.Balance().spent_micro == 0);
    CHECK(env.Balance().reserved_micro == 0);
  }

  TEST_CASE("counts: every inner cell is truth plus its drawn noise, and margins are sums of noisy cells") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}));
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    CHECK_FALSE(out->repeat);
    CHECK(out->charged_micro == 250000);
    const Release& r = out->release;
    CHECK(r.treatment == "DP_LAPLACE_eps=0.25");
    CHECK(r.data_version == "fake-data-v1");
    REQUIRE(r.cells.size() == 9);  // (2 + total) x (2 + total)
    REQUIRE(r.provenance.size() == 9);
    const std::vector<std::int64_t> z = ReplayNoise(4, {Laplace(1, 250000)});
    const std::int64_t noisy[4] = {100 + z[0], 50 + z[1], 30 + z[2], 3 + z[3]};
    const auto expect = [&](const ReleasedCell& c, std::int64_t v) {
      if (v < 10) {
        CHECK(c.status == disclosure::CellStatus::kConfidential);
        CHECK_FALSE(c.value.has_value());
      } else {
        CHECK(c.status == disclosure::CellStatus::kReleased);
        CHECK(c.value == v);
      }
    };
    expect(CellAt(r, {0, 0}), noisy[0]);
    expect(CellAt(r, {0, 1}), noisy[1]);
    expect(CellAt(r, {1, 0}), noisy[2]);
    expect(CellAt(r, {1, 1}), noisy[3]);
    expect(CellAt(r, {0, 2}), noisy[0] + noisy[1]);
    expect(CellAt(r, {2, 0}), noisy[0] + noisy[2]);
    expect(CellAt(r, {2, 2}), noisy[0] + noisy[1] + noisy[2] + noisy[3]);
    // Noise was added: not every released inner value equals the truth.
    CHECK((z[0] != 0 || z[1] != 0 || z[2] != 0));
    CHECK(r.provenance[0].rule == "dp-noisy");
    CHECK(r.provenance[8].rule == "dp-derived");
  }

  TEST_CASE("a noisy count below the display threshold is confidential (post-processing)") {
    templates::DpSettings dp;
    dp.display_threshold = 1'000'000;  // every cell below it
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, dp));
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    for (std::size_t i = 0; i < out->release.cells.size(); ++i) {
      CHECK(out->release.cells[i].status == disclosure::CellStatus::kConfidential);
      CHECK_FALSE(out->release.cells[i].value.has_value());
      CHECK(out->release.provenance[i].rule == "dp-below-display-threshold");
    }
  }

  TEST_CASE("contribution bounding: a unit in four cells counts only in its first L0 cells") {
    for (const std::int64_t l0 : {1, 2}) {
      CAPTURE(l0);
      templates::DpSettings dp;
      dp.max_cells_per_unit = l0;
      dp.display_threshold = -1000;  // show everything, to see each inner value
      Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, dp));
      StandardRows(*env.state);
      for (const char* w : {"W1", "W2"}) {
        for (const char* s : {"M", "V"}) env.state->rows.push_back({"everywhere", {w, s}, 1, {0, 0}});
      }
      absl::StatusOr<DpOutcome> out = env.Run();
      REQUIRE(out.ok());
      // Δ₁ = L0: the scale grows with the cells a unit may touch.
      const std::vector<std::int64_t> z = ReplayNoise(4, {Laplace(l0, 250000)});
      const Release& r = out->release;
      CHECK(CellAt(r, {0, 0}).value == 101 + z[0]);
      CHECK(CellAt(r, {0, 1}).value == 50 + (l0 >= 2 ? 1 : 0) + z[1]);
      CHECK(CellAt(r, {1, 0}).value == 30 + z[2]);
      CHECK(CellAt(r, {1, 1}).value == 3 + z[3]);
    }
  }

  TEST_CASE("sums clamp each unit's per-cell total, and means are noisy sum over noisy count with ε split") {
    templates::DpSettings dp;
    dp.clamp_min = 0;
    dp.clamp_max = 150000;
    dp.display_threshold = 10;
    Env env(DpTemplate({test::MakeStatistic("income", StatisticKind::kSum),
                        test::MakeStatistic("mean", StatisticKind::kMean)},
                       dp));
    StandardRows(*env.state);
    // One unit with two rows in W1/M whose total (2,000,000) is clamped to 150,000.
    env.state->rows.push_back({"rich", {"W1", "M"}, 1'000'000, {0, 0}});
    env.state->rows.push_back({"rich", {"W1", "M"}, 1'000'000, {0, 0}});
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    // Three components (sum; mean's sum and count), ε = 250000 split 83333 + 83333 + 83334.
    const std::vector<std::int64_t> z = ReplayNoise(
        4, {Laplace(150000, 83333), Laplace(150000, 83333), Laplace(1, 83334)});
    const Release& r = out->release;
    const std::int64_t sum00 = 100 * 40000 + 150000;
    CHECK(CellAt(r, {0, 0}, 0).value == sum00 + z[0]);
    const std::int64_t ms = sum00 + z[1];
    const std::int64_t mc = 101 + z[2];
    REQUIRE(mc >= 10);
    const double mean = static_cast<double>(ms) / static_cast<double>(mc);
    REQUIRE(CellAt(r, {0, 0}, 1).value.has_value());
    CHECK(std::abs(static_cast<double>(*CellAt(r, {0, 0}, 1).value) - mean) <= 0.5);
    CHECK(r.treatment == "DP_LAPLACE_eps=0.25");
  }

  TEST_CASE("an identical repeat returns the stored answer at no cost, while another phrasing is charged") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}));
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> first = env.Run();
    REQUIRE(first.ok());
    CHECK(env.Balance().spent_micro == 250000);
    // A different generator state would give different noise: the repeat must not re-draw.
    absl::StatusOr<DpOutcome> again = env.Run(std::make_shared<TestRandom>(kSeed + 1));
    REQUIRE(again.ok());
    CHECK(again->repeat);
    CHECK(again->charged_micro == 0);
    CHECK(env.Balance().spent_micro == 250000);
    REQUIRE(again->release.cells.size() == first->release.cells.size());
    for (std::size_t i = 0; i < first->release.cells.size(); ++i) {
      CHECK(again->release.cells[i].status == first->release.cells[i].status);
      CHECK(again->release.cells[i].value == first->release.cells[i].value);
    }
    CHECK(env.state->scans == 1);  // the repeat read no data
    CHECK(env.log->OfType(Type::kBudget).back().decision == "repeat");
    // The same query under another agreement is another release, charged.
    env.request.agreement = "A-2";
    env.request.limits[0].ledger = "agreement:A-2";
    absl::StatusOr<DpOutcome> other = env.Run();
    REQUIRE(other.ok());
    CHECK_FALSE(other->repeat);
    CHECK(other->charged_micro == 250000);
    CHECK(env.Balance(1).spent_micro == 500000);  // the project ledger saw both
  }

  TEST_CASE("budget exhausted: refused before any data is read, nothing charged") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}), /*cap=*/249999);
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> out = env.Run();
    CHECK(out.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(env.state->scans == 0);
    CHECK(env.Balance().spent_micro == 0);
    CHECK(env.Balance().reserved_micro == 0);
  }

  TEST_CASE("randomness failure: nothing released, no data read, the budget is refunded") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}));
    StandardRows(*env.state);
    SUBCASE("test source failing after a few words") {
      absl::StatusOr<DpOutcome> out = env.Run(std::make_shared<testing::FailingRandom>(3));
      CHECK(out.status().code() == absl::StatusCode::kUnavailable);
    }
    SUBCASE("PrivateRandom over a failing RAND_priv_bytes") {
      auto random = std::make_shared<crypto::PrivateRandom>(
          crypto::PrivateRandom::WithGeneratorForTest([](unsigned char*, int) { return 0; }));
      absl::StatusOr<DpOutcome> out = env.Run(random);
      CHECK(out.status().code() == absl::StatusCode::kUnavailable);
    }
    CHECK(env.state->scans == 0);
    CHECK(env.ledger->refunds == 1);
    CHECK(env.Balance().spent_micro == 0);
    CHECK(env.Balance().reserved_micro == 0);
    CHECK(env.ledger->answers.empty());
    const auto budget = env.log->OfType(Type::kBudget);
    REQUIRE(budget.size() == 2);
    CHECK(budget[0].decision == "reserved");
    CHECK(budget[1].decision == "refunded");
  }

  TEST_CASE("a scan failure after rows were read keeps the charge and stores no answer") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}));
    StandardRows(*env.state);
    env.state->scan_failure = absl::DeadlineExceededError("deadline");
    env.state->fail_after_rows = 10;
    absl::StatusOr<DpOutcome> out = env.Run();
    CHECK(out.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(env.Balance().spent_micro == 250000);
    CHECK(env.Balance().reserved_micro == 0);
    CHECK(env.ledger->refunds == 0);
    CHECK(env.ledger->answers.empty());
    CHECK(env.log->OfType(Type::kBudget).back().decision == "charged");
  }

  TEST_CASE("ledger or log failures release nothing") {
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}));
    StandardRows(*env.state);
    SUBCASE("the charge fails") {
      env.ledger->fail_charge = true;
      CHECK(env.Run().status().code() == absl::StatusCode::kUnavailable);
    }
    SUBCASE("the reservation fails") {
      env.ledger->fail_reserve = true;
      CHECK(env.Run().status().code() == absl::StatusCode::kUnavailable);
      CHECK(env.state->scans == 0);
    }
    SUBCASE("the reservation's log entry fails: refunded before data is read") {
      env.log->FailOn(Type::kBudget);
      CHECK(env.Run().status().code() == absl::StatusCode::kUnavailable);
      CHECK(env.state->scans == 0);
      CHECK(env.ledger->refunds == 1);
      CHECK(env.Balance().spent_micro == 0);
    }
    SUBCASE("the charge's log entry fails: charged, nothing released") {
      env.log->FailWhen([](const QueryLogEntry& e) { return e.decision == "charged"; });
      CHECK(env.Run().status().code() == absl::StatusCode::kUnavailable);
      CHECK(env.Balance().spent_micro == 250000);
    }
  }

  TEST_CASE("budget log entries name ledgers and amounts, never units or values") {
    templates::DpSettings dp;
    dp.clamp_max = 987654321;
    Env env(DpTemplate({test::MakeStatistic("income", StatisticKind::kSum)}, dp));
    env.state->rows.push_back({"canary-unit-77", {"W1", "M"}, 987654321, {0, 0}});
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    const auto budget = env.log->OfType(Type::kBudget);
    REQUIRE(budget.size() == 2);
    CHECK(budget[0].decision == "reserved");
    CHECK(budget[1].decision == "charged");
    CHECK(budget[1].detail.find("agreement:A-1") != std::string::npos);
    CHECK(budget[1].detail.find("project:p1") != std::string::npos);
    CHECK(budget[1].detail.find("charge_micro=250000") != std::string::npos);
    CHECK(budget[1].project == "p1/A-1");
    for (const QueryLogEntry& e : env.log->entries()) {
      for (const std::string& field : {e.detail, e.reason, e.canonical_params, e.cell_rules}) {
        CHECK(field.find("canary") == std::string::npos);
        CHECK(field.find("987654321") == std::string::npos);
      }
    }
  }

  TEST_CASE("the Gaussian option charges its ε-equivalent at δ = 1e-8") {
    templates::DpSettings dp;
    dp.mechanism = templates::DpSettings::Mechanism::kDiscreteGaussian;
    dp.rho_micro = 10000;
    dp.display_threshold = -1000;
    Env env(DpTemplate({test::MakeStatistic("n", StatisticKind::kCount)}, dp));
    StandardRows(*env.state);
    absl::StatusOr<DpOutcome> out = env.Run();
    REQUIRE(out.ok());
    CHECK(out->release.treatment == "DP_GAUSSIAN_rho=0.01");
    CHECK(out->charged_micro == *dp::EpsilonMicroForRho(10000));
    absl::StatusOr<dp::Noise> g = dp::GaussianForRho(1, 10000);
    REQUIRE(g.ok());
    const std::vector<std::int64_t> z = ReplayNoise(4, {*g});
    CHECK(CellAt(out->release, {0, 0}).value == 100 + z[0]);
  }
}

}  // namespace
}  // namespace enclave::core
