// RELATIVE_RISK (disclosure-control.md §3.6): the share of a cell divided by the share of its
// reference cell (the reference dimensions at their total), as an index (100 = as often as in the
// reference group), from the perturbed counts; decided and protected as its share; withheld when
// either share is. T8 (jeugdhulp_gezinscontext) releases youth care by family context with it.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
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

// Dimensions wijk {W1, W2} (the geography) and sex {M, V} (the context, the reference dimension);
// flag zzp is the numerator. Statistics: 0 = the share, 1 = the relative risk.
templates::Template RiskTemplate() {
  templates::Statistic rr = test::MakeStatistic("rr", StatisticKind::kRelativeRisk, "zzp");
  rr.reference_dimensions = {"sex"};
  return test::MakeTemplate({test::MakeStatistic("pct", StatisticKind::kShare, "zzp"), rr});
}

Release Build(const templates::Template& t, const std::vector<FakeRow>& rows,
              disclosure::RuleSetParams rules = testing::ExactRules()) {
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
  const disclosure::MagnitudeParams magnitude = testing::NoMagnitudeNoise();
  DisclosureTools tools;
  tools.rules = &rules;
  tools.units = &units;
  tools.solver = &solver;
  tools.magnitude_key = testing::FakeMagnitudeKey;
  tools.magnitude = magnitude;
  absl::StatusOr<FinishedTable> finished = std::move(builder).Finish(tools, "data-v1");
  REQUIRE_MESSAGE(finished.ok(), finished.status().ToString());
  return std::move(finished->release);
}

// wijk, sex: 0, 1 = the codes, 2 = the total; stat 0 = share, 1 = relative risk.
const ReleasedCell& Cell(const Release& r, std::uint32_t wijk, std::uint32_t sex, std::uint32_t stat) {
  return r.cells.at((static_cast<std::size_t>(wijk) * 3 + sex) * 2 + stat);
}
const std::string& Rule(const Release& r, std::uint32_t wijk, std::uint32_t sex, std::uint32_t stat) {
  return r.provenance.at((static_cast<std::size_t>(wijk) * 3 + sex) * 2 + stat).rule;
}
std::optional<std::int64_t> Value(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                                  std::uint32_t stat) {
  const ReleasedCell& c = Cell(r, wijk, sex, stat);
  if (c.status != disclosure::CellStatus::kReleased) return std::nullopt;
  return c.value;
}

// The attacker's reconstruction of a numerator from a relative risk: the reference share
// (released as a percentage) times the relative risk times the cell's denominator, which the
// attacker is assumed to know (a population count from another template).
std::optional<double> Reconstruct(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                                  std::int64_t denominator) {
  const auto rr = Value(r, wijk, sex, 1);
  const auto ref_pct = Value(r, wijk, 2, 0);
  if (!rr.has_value() || !ref_pct.has_value()) return std::nullopt;
  return static_cast<double>(*rr) / 100.0 * static_cast<double>(*ref_pct) / 100.0 *
         static_cast<double>(denominator);
}

TEST_CASE("a relative risk is the cell's share over its reference share, as an index") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 30, "W1", "M", std::nullopt, 1);  // W1 M: 30 of 100
  AddUnits(rows, "b", 70, "W1", "M");
  AddUnits(rows, "c", 10, "W1", "V", std::nullopt, 1);  // W1 V: 10 of 100
  AddUnits(rows, "d", 90, "W1", "V");
  AddUnits(rows, "e", 20, "W2", "M", std::nullopt, 1);  // W2 M: 20 of 100
  AddUnits(rows, "f", 80, "W2", "M");
  AddUnits(rows, "g", 20, "W2", "V", std::nullopt, 1);  // W2 V: 20 of 100
  AddUnits(rows, "h", 80, "W2", "V");
  const Release r = Build(RiskTemplate(), rows);
  CHECK(Value(r, 0, 0, 1) == 150);  // 30% against W1's 20%
  CHECK(Value(r, 0, 1, 1) == 50);   // 10% against 20%
  CHECK(Value(r, 0, 2, 1) == 100);  // the reference itself
  CHECK(Value(r, 1, 0, 1) == 100);
  CHECK(Value(r, 2, 0, 1) == 125);  // 50 of 200 (25%) against 80 of 400 (20%)
  CHECK(Value(r, 2, 2, 1) == 100);
  // The share beside it is unchanged: whole percent.
  CHECK(Value(r, 0, 0, 0) == 30);
  CHECK(Value(r, 2, 0, 0) == 25);
}

TEST_CASE("a relative risk comes from the perturbed counts its shares are derived from") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 31, "W1", "M", std::nullopt, 1);
  AddUnits(rows, "b", 72, "W1", "M");
  AddUnits(rows, "c", 12, "W1", "V", std::nullopt, 1);
  AddUnits(rows, "d", 93, "W1", "V");
  AddUnits(rows, "e", 23, "W2", "M", std::nullopt, 1);
  AddUnits(rows, "f", 81, "W2", "M");
  AddUnits(rows, "g", 17, "W2", "V", std::nullopt, 1);
  AddUnits(rows, "h", 88, "W2", "V");
  disclosure::RuleSetParams rounding = testing::ExactRules();
  rounding.count_perturbation = disclosure::CountPerturbation::kRandomRounding;
  rounding.rounding_base = 5;
  const Release r = Build(RiskTemplate(), rows, rounding);
  // Every count is a multiple of 5 after random rounding, so (num / den) / (num_ref / den_ref)
  // is a ratio of multiples of 5; the exact truth 31/103 / (43/208) = 145.6 need not appear.
  // The released index lies within the rounding's reach of the truth and is not the truth's own
  // rounding in every cell (checked over the four inner cells: at least one differs).
  const double truth[2][2] = {{31.0 / 103 / (43.0 / 208) * 100, 12.0 / 105 / (43.0 / 208) * 100},
                              {23.0 / 104 / (40.0 / 209) * 100, 17.0 / 105 / (40.0 / 209) * 100}};
  int differs = 0;
  for (std::uint32_t w = 0; w < 2; ++w) {
    for (std::uint32_t s = 0; s < 2; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      const auto v = Value(r, w, s, 1);
      REQUIRE(v.has_value());
      CHECK(std::abs(static_cast<double>(*v) - truth[w][s]) < 0.5 * truth[w][s]);
      differs += static_cast<std::int64_t>(std::llround(truth[w][s])) != *v ? 1 : 0;
    }
  }
  CHECK(differs > 0);
}

// Attack: a withheld share's numerator recovered as relative risk x reference share x
// denominator. The relative risk is withheld exactly where its share is, so the attack finds no
// input. Negative control: the same reconstruction recovers a released numerator exactly, so it
// would recover the withheld one had its relative risk been released.
TEST_CASE("attack: a relative risk does not reveal a withheld share's numerator") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 30, "W1", "M", std::nullopt, 1);
  AddUnits(rows, "b", 70, "W1", "M");
  AddUnits(rows, "c", 10, "W1", "V", std::nullopt, 1);
  AddUnits(rows, "d", 90, "W1", "V");
  AddUnits(rows, "e", 5, "W2", "M", std::nullopt, 1);  // W2 M: 5 of 100, below the threshold
  AddUnits(rows, "f", 95, "W2", "M");
  AddUnits(rows, "g", 40, "W2", "V", std::nullopt, 1);
  AddUnits(rows, "h", 60, "W2", "V");
  const Release r = Build(RiskTemplate(), rows);
  CHECK(Rule(r, 1, 0, 0) == "share-numerator");
  CHECK(Cell(r, 1, 0, 1).status != disclosure::CellStatus::kReleased);
  CHECK_FALSE(Cell(r, 1, 0, 1).value.has_value());
  CHECK_FALSE(Reconstruct(r, 1, 0, 100).has_value());
  // Through the margin: W2's numerator minus W2 V's. The complementary suppression of the share
  // withholds W2 V's relative risk too (the same additive table), or the W2 total.
  const bool margin_open = Reconstruct(r, 1, 1, 100).has_value() && Value(r, 1, 2, 0).has_value();
  CHECK_FALSE(margin_open);
  // Every withheld share has a withheld relative risk.
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      if (Cell(r, w, s, 0).status != disclosure::CellStatus::kReleased) {
        CHECK(Cell(r, w, s, 1).status != disclosure::CellStatus::kReleased);
      }
    }
  }

  // Negative control: with 15 instead of 5 the share and its relative risk are released, and the
  // reconstruction gives the numerator back exactly.
  std::vector<FakeRow> open;
  AddUnits(open, "a", 30, "W1", "M", std::nullopt, 1);
  AddUnits(open, "b", 70, "W1", "M");
  AddUnits(open, "c", 10, "W1", "V", std::nullopt, 1);
  AddUnits(open, "d", 90, "W1", "V");
  AddUnits(open, "e", 15, "W2", "M", std::nullopt, 1);
  AddUnits(open, "f", 85, "W2", "M");
  AddUnits(open, "g", 35, "W2", "V", std::nullopt, 1);
  AddUnits(open, "h", 65, "W2", "V");
  const Release o = Build(RiskTemplate(), open);
  REQUIRE(Value(o, 1, 0, 1).has_value());
  CHECK(Value(o, 1, 0, 1) == 60);  // 15% against 25%
  const auto recovered = Reconstruct(o, 1, 0, 100);
  REQUIRE(recovered.has_value());
  CHECK(std::llround(*recovered) == 15);
}

// Attack: a released cell share over a withheld reference share. Had the relative risk been
// released, share / (relative risk / 100) would give the withheld reference share. The reference
// share is withheld here by the group rule (youth care is a sensitive flag, disclosure-control.md
// §3.4): W2's total is 94.5% zzp. Negative control: without the sensitive flag the reference is
// released, and so is the relative risk, which then yields the reference share.
TEST_CASE("attack: a relative risk is withheld when its reference share is withheld") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 60, "W1", "M", std::nullopt, 1);  // W1: 60 of 100, 50 of 100
  AddUnits(rows, "b", 40, "W1", "M");
  AddUnits(rows, "c", 50, "W1", "V", std::nullopt, 1);
  AddUnits(rows, "d", 50, "W1", "V");
  AddUnits(rows, "e", 50, "W2", "M", std::nullopt, 1);   // W2 M: 50 of 100
  AddUnits(rows, "f", 50, "W2", "M");
  AddUnits(rows, "g", 990, "W2", "V", std::nullopt, 1);  // W2 V: 990 of 1,000
  AddUnits(rows, "h", 10, "W2", "V");
  templates::Template sensitive = RiskTemplate();
  templates::SensitiveCategory zzp;
  zzp.flag = "zzp";
  sensitive.disclosure.sensitive.push_back(zzp);
  const Release r = Build(sensitive, rows);
  REQUIRE(Cell(r, 1, 2, 0).status != disclosure::CellStatus::kReleased);  // the reference share
  // W2 M's own share passes the rules; its relative risk would give the reference away.
  if (Cell(r, 1, 0, 0).status == disclosure::CellStatus::kReleased) {
    CHECK(Rule(r, 1, 0, 1) == "relative-risk-reference");
  }
  CHECK(Cell(r, 1, 0, 1).status != disclosure::CellStatus::kReleased);
  CHECK_FALSE(Cell(r, 1, 0, 1).value.has_value());
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      if (Cell(r, w, 2, 0).status != disclosure::CellStatus::kReleased) {
        CHECK(Cell(r, w, s, 1).status != disclosure::CellStatus::kReleased);
      }
    }
  }

  // Negative control: not sensitive, the reference (1,040 of 1,100 = 94.5%) is released, and the
  // relative risk with it: 50% / 94.5% = 52.9 -> 53, from which 50 / 0.53 = 94.3% recovers it.
  const Release o = Build(RiskTemplate(), rows);
  REQUIRE(Value(o, 1, 2, 0).has_value());
  const auto rr = Value(o, 1, 0, 1);
  REQUIRE(rr.has_value());
  CHECK(*rr == 53);
  CHECK(std::abs(50.0 / (static_cast<double>(*rr) / 100.0) - 94.5) < 1.0);
}

TEST_CASE("a relative risk without a reference dimension is refused when the table is built") {
  templates::Template t = RiskTemplate();
  t.statistics[1].reference_dimensions.clear();
  templates::BoundQuery q = test::BindAll(t);
  TableBuilder builder(q);
  std::vector<std::string_view> dims = {"W1", "M"};
  std::vector<std::int64_t> flags = {1, 0};
  const absl::Status s = builder.Add(RowView{"u1", dims, std::nullopt, flags, {}});
  CHECK_FALSE(s.ok());
  CHECK(std::string(s.message()).find("reference dimension") != std::string::npos);
}

}  // namespace
}  // namespace enclave::core
