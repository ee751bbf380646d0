// A rate per 1,000 (a SHARE with per: 1000, disclosure-control.md §3.6): per × the released
// numerator / the released denominator, rounded to the statistic's precision; decided, suppressed
// and withheld exactly as the percentage of the same flags. T3 (bijstand_stand, v5) releases
// bijstand recipients per 1,000 residents of 18 to AOW age with it.
#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/core/aggregate.h"
#include "tests/core/fixtures.h"
#include "tests/testing/fake_disclosure.h"

namespace enclave::core {
namespace {

using templates::StatisticKind;
using test::AddUnits;
using testing::FakeRow;

// Statistics on wijk {W1, W2} × sex {M, V} (fixtures.h): 0 = zzp units, 1 = all units, 2 = the
// percentage, 3 = per 1,000, 4 = per 1,000 rounded to 5.
constexpr std::uint32_t kNum = 0, kDen = 1, kPct = 2, kRate = 3, kRate5 = 4, kStats = 5;

templates::Template RateTemplate(bool sensitive = false) {
  templates::Statistic rate = test::MakeStatistic("per_1000", StatisticKind::kShare, "zzp");
  rate.per = 1000;
  templates::Statistic rate5 = test::MakeStatistic("per_1000_5", StatisticKind::kShare, "zzp", 5);
  rate5.per = 1000;
  templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount, "zzp"),
       test::MakeStatistic("all", StatisticKind::kCount),
       test::MakeStatistic("pct", StatisticKind::kShare, "zzp"), rate, rate5});
  if (sensitive) {
    templates::SensitiveCategory zzp;
    zzp.flag = "zzp";
    t.disclosure.sensitive.push_back(zzp);
  }
  return t;
}

disclosure::RuleSetParams Rounding5() {
  disclosure::RuleSetParams rules = testing::ExactRules();
  rules.count_perturbation = disclosure::CountPerturbation::kRandomRounding;
  rules.rounding_base = 5;
  return rules;
}

Release Build(const templates::Template& t, const std::vector<FakeRow>& rows,
              disclosure::RuleSetParams rules) {
  templates::BoundQuery q = test::BindAll(t);
  TableBuilder builder(q);
  std::vector<std::string_view> dims;
  for (const FakeRow& r : rows) {
    dims.assign(r.dimensions.begin(), r.dimensions.end());
    REQUIRE(builder.Add(RowView{r.unit, dims, r.measure, r.flags, {}}).ok());
  }
  static testing::FakeRecordKeys keys;
  UnitIndex units("person", keys);
  adapters::clp::ClpSolver solver;
  DisclosureTools tools;
  tools.rules = &rules;
  tools.units = &units;
  tools.solver = &solver;
  tools.magnitude_key = testing::FakeMagnitudeKey;
  tools.magnitude = testing::NoMagnitudeNoise();
  absl::StatusOr<FinishedTable> finished = std::move(builder).Finish(tools, "data-v1");
  REQUIRE_MESSAGE(finished.ok(), finished.status().ToString());
  return std::move(finished->release);
}

std::size_t Index(std::uint32_t wijk, std::uint32_t sex, std::uint32_t stat) {
  return (static_cast<std::size_t>(wijk) * 3 + sex) * kStats + stat;
}
const ReleasedCell& Cell(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                         std::uint32_t stat) {
  return r.cells.at(Index(wijk, sex, stat));
}
std::optional<std::int64_t> Value(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                                  std::uint32_t stat) {
  const ReleasedCell& c = Cell(r, wijk, sex, stat);
  if (c.status != disclosure::CellStatus::kReleased) return std::nullopt;
  return c.value;
}

// num × per / den rounded half away from zero to a multiple of `precision` (num, den > 0).
std::int64_t Expected(std::int64_t num, std::int64_t den, std::int64_t per, std::int64_t precision) {
  const std::int64_t scaled_den = den * precision;
  return (2 * num * per + scaled_den) / (2 * scaled_den) * precision;
}

// Rows whose counts are no multiples of 5: W1 M 37 of 412, W1 V 58 of 233, W2 M 121 of 707,
// W2 V 14 of 118 (totals: W1 95 of 645, W2 135 of 825, M 158 of 1,119, V 72 of 351, 230 of 1,470).
std::vector<FakeRow> OddRows() {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 37, "W1", "M", std::nullopt, 1);
  AddUnits(rows, "b", 375, "W1", "M");
  AddUnits(rows, "c", 58, "W1", "V", std::nullopt, 1);
  AddUnits(rows, "d", 175, "W1", "V");
  AddUnits(rows, "e", 121, "W2", "M", std::nullopt, 1);
  AddUnits(rows, "f", 586, "W2", "M");
  AddUnits(rows, "g", 14, "W2", "V", std::nullopt, 1);
  AddUnits(rows, "h", 104, "W2", "V");
  return rows;
}

TEST_CASE("a rate per 1,000 is the released numerator × 1,000 / the released denominator") {
  const Release r = Build(RateTemplate(), OddRows(), Rounding5());
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      const auto num = Value(r, w, s, kNum);
      const auto den = Value(r, w, s, kDen);
      REQUIRE(num.has_value());  // every count here passes the threshold
      REQUIRE(den.has_value());
      CHECK(*num % 5 == 0);  // released counts are rounded to 5
      CHECK(*den % 5 == 0);
      const auto rate = Value(r, w, s, kRate);
      REQUIRE(rate.has_value());
      CHECK(*rate == Expected(*num, *den, 1000, 1));
      CHECK(Value(r, w, s, kRate5) == Expected(*num, *den, 1000, 5));
      CHECK(Value(r, w, s, kPct) == Expected(*num, *den, 100, 1));
    }
  }
  // Exact counts (no perturbation): the same formula on the true counts, 37 of 412 = 89.8 -> 90.
  const Release exact = Build(RateTemplate(), OddRows(), testing::ExactRules());
  CHECK(Value(exact, 0, 0, kRate) == 90);
  CHECK(Value(exact, 0, 0, kRate5) == 90);
  CHECK(Value(exact, 0, 0, kPct) == 9);
  CHECK(Value(exact, 2, 2, kRate) == 156);  // 230 of 1,470: 156.5 -> 156
}

// Generated tables: in every cell the rate per 1,000 has the percentage's status and the rule that
// decided it (threshold on the numerator, the denominator floor, the group rule of a sensitive
// flag, secondary suppression), and each of those rules fires somewhere.
TEST_CASE("a rate per 1,000 is withheld exactly when the percentage is") {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&](int bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % static_cast<std::uint64_t>(bound));
  };
  std::set<std::string> rules_seen;
  int withheld = 0;
  int released = 0;
  for (int table = 0; table < 24; ++table) {
    CAPTURE(table);
    std::vector<FakeRow> rows;
    const char* wijk[] = {"W1", "W2"};
    const char* sex[] = {"M", "V"};
    for (int w = 0; w < 2; ++w) {
      for (int s = 0; s < 2; ++s) {
        const std::string p = "t" + std::to_string(table) + wijk[w] + sex[s];
        const int kind = next(5);
        int den = 0;
        int num = 0;
        switch (kind) {
          case 0: den = 60 + next(40); num = 10 + next(20); break;    // below the floor of 100
          case 1: den = 100 + next(300); num = 1 + next(9); break;    // small numerator
          case 2: den = 200 + next(200); num = den * 93 / 100; break;  // > 90%: group rule
          default: den = 150 + next(900); num = 10 + next(den / 3); break;
        }
        AddUnits(rows, p + "z", num, wijk[w], sex[s], std::nullopt, 1);
        AddUnits(rows, p + "n", den - num, wijk[w], sex[s]);
      }
    }
    const Release r = Build(RateTemplate(/*sensitive=*/table % 2 == 0), rows, Rounding5());
    for (std::uint32_t w = 0; w < 3; ++w) {
      for (std::uint32_t s = 0; s < 3; ++s) {
        CAPTURE(w);
        CAPTURE(s);
        const ReleasedCell& pct = Cell(r, w, s, kPct);
        for (std::uint32_t stat : {kRate, kRate5}) {
          const ReleasedCell& rate = Cell(r, w, s, stat);
          CHECK(rate.status == pct.status);
          CHECK(rate.value.has_value() == pct.value.has_value());
          CHECK(r.provenance.at(Index(w, s, stat)).rule == r.provenance.at(Index(w, s, kPct)).rule);
        }
        if (pct.status == disclosure::CellStatus::kReleased) {
          ++released;
        } else {
          ++withheld;
          rules_seen.insert(r.provenance.at(Index(w, s, kPct)).rule);
        }
      }
    }
  }
  CHECK(released > 0);
  CHECK(withheld > 0);
  for (const char* rule : {"share-numerator", "share-denominator", "group", "secondary"}) {
    CAPTURE(rule);
    CAPTURE(std::accumulate(rules_seen.begin(), rules_seen.end(), std::string(),
                            [](std::string a, const std::string& b) { return a + b + " "; }));
    CHECK(rules_seen.count(rule) == 1);
  }
}

// Attack: a rate per 1,000 has one more digit than a percentage, so with the denominator in hand
// (here the released count of all units beside it) rate × denominator / 1,000 recovers the
// numerator the rate was computed from wherever the denominator is below 1,000. The rate is
// computed from the released (rounded) numerator, so this gives back a multiple of 5, the count
// that is released anyway, and never the true numerator. Negative control: under a rule set
// without perturbation (the counts themselves are exact) the same reconstruction recovers the
// true numerator of each such cell, so it would recover it here too had the rate been computed
// from the unprotected counts.
TEST_CASE("attack: a rate per 1,000 never reveals the unprotected numerator") {
  auto reconstruct = [](const Release& r, std::uint32_t w, std::uint32_t s)
      -> std::optional<std::int64_t> {
    const auto rate = Value(r, w, s, kRate);
    const auto den = Value(r, w, s, kDen);
    if (!rate.has_value() || !den.has_value() || *den >= 1000) return std::nullopt;
    return (*rate * *den + 500) / 1000;
  };
  const std::int64_t truth[3][3] = {{37, 58, 95}, {121, 14, 135}, {158, 72, 230}};
  const Release r = Build(RateTemplate(), OddRows(), Rounding5());
  int attacked = 0;
  int hidden = 0;
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      const auto guess = reconstruct(r, w, s);
      if (!guess.has_value()) continue;
      ++attacked;
      CHECK(*guess == Value(r, w, s, kNum));  // the released count, nothing more
      if (truth[w][s] % 5 != 0) {  // 37, 58, 121, 14, 72: the rounding hides them
        CHECK(*guess != truth[w][s]);
        ++hidden;
      }
    }
  }
  CHECK(attacked == 7);  // every cell but the M total and the grand total
  CHECK(hidden == 5);

  // Negative control: the unprotected counts give every true numerator back.
  const Release exact = Build(RateTemplate(), OddRows(), testing::ExactRules());
  int recovered = 0;
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      const auto guess = reconstruct(exact, w, s);
      if (!guess.has_value()) continue;
      CHECK(*guess == truth[w][s]);
      ++recovered;
    }
  }
  CHECK(recovered == 7);
}

}  // namespace
}  // namespace enclave::core
