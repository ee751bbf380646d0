#include "enclave/core/aggregate.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/base/status_macros.h"
#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/disclosure/comparison.h"
#include "enclave/disclosure/protection.h"
#include "enclave/disclosure/secondary.h"
#include "enclave/disclosure/table_structure.h"
#include "tests/core/fixtures.h"
#include "tests/testing/fake_disclosure.h"

namespace enclave::core {
namespace {

using templates::StatisticKind;
using testing::FakeRow;
using test::AddUnits;

// The full pipeline with fakes: growing unit index over fake record keys, CLP for the audit.
// `integer`: the integer check's solver (none: tables that need it are refused).
absl::StatusOr<FinishedTable> FinishWith(TableBuilder& builder, const disclosure::RuleSetParams& rules,
                                         const disclosure::MagnitudeParams& magnitude,
                                         const std::string& unit_type = "person",
                                         disclosure::IntegerSolver* integer = nullptr) {
  static testing::FakeRecordKeys keys;
  UnitIndex units(unit_type, keys);
  adapters::clp::ClpSolver solver;
  DisclosureTools tools;
  tools.rules = &rules;
  tools.units = &units;
  tools.solver = &solver;
  tools.integer.solver = integer;
  tools.magnitude_key = testing::FakeMagnitudeKey;
  tools.magnitude = magnitude;
  return std::move(builder).Finish(tools, "data-v1");
}

absl::StatusOr<FinishedTable> TryBuild(const templates::Template& t, const std::vector<FakeRow>& rows,
                                       const disclosure::RuleSetParams& rules,
                                       const disclosure::MagnitudeParams& magnitude) {
  templates::BoundQuery q = test::BindAll(t);
  TableBuilder builder(q);
  std::vector<std::string_view> dims;
  for (const FakeRow& r : rows) {
    dims.assign(r.dimensions.begin(), r.dimensions.end());
    RowView view{r.unit, dims, r.measure, r.flags, {}};
    ENCLAVE_RETURN_IF_ERROR(builder.Add(view));
  }
  return FinishWith(builder, rules, magnitude);
}

// Exact values by default (no count perturbation, no magnitude noise): aggregation tests.
Release Build(const templates::Template& t, const std::vector<FakeRow>& rows,
              disclosure::RuleSetParams rules = testing::ExactRules(),
              disclosure::MagnitudeParams magnitude = testing::NoMagnitudeNoise()) {
  absl::StatusOr<FinishedTable> finished = TryBuild(t, rows, rules, magnitude);
  REQUIRE_MESSAGE(finished.ok(), finished.status().ToString());
  return std::move(finished->release);
}

// Index of cell (wijk, sex, statistic) in canonical order; 2 = the total.
std::size_t At(const Release& r, std::uint32_t wijk, std::uint32_t sex, std::uint32_t stat) {
  const std::size_t stats = r.tmpl->statistics.size();
  return (static_cast<std::size_t>(wijk) * 3 + sex) * stats + stat;
}

const ReleasedCell& Cell(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                         std::uint32_t stat = 0) {
  return r.cells.at(At(r, wijk, sex, stat));
}
const std::string& Rule(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                        std::uint32_t stat = 0) {
  return r.provenance.at(At(r, wijk, sex, stat)).rule;
}
std::int64_t Value(const Release& r, std::uint32_t wijk, std::uint32_t sex, std::uint32_t stat = 0) {
  const ReleasedCell& c = Cell(r, wijk, sex, stat);
  REQUIRE(c.status == disclosure::CellStatus::kReleased);
  REQUIRE(c.value.has_value());
  return *c.value;
}

const templates::Template kCountOnly =
    test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount)});

TEST_CASE("the table is the full cube with margins in canonical order") {
  const templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount),
       test::MakeStatistic("zzp", StatisticKind::kCount, "zzp")});
  const Release r = Build(t, {});
  REQUIRE(r.dimensions.size() == 2);
  REQUIRE(r.dimensions[0].codes.size() == 3);
  CHECK(r.dimensions[0].name == "wijk");
  CHECK(r.dimensions[0].codes[0].code == "W1");
  CHECK(r.dimensions[0].codes[1].code == "W2");
  CHECK(r.dimensions[0].codes[2].is_total);
  CHECK(r.dimensions[0].codes[2].label.nl == "Totaal");
  CHECK(r.dimensions[0].codes[2].label.en == "Total");
  CHECK_FALSE(r.dimensions[0].codes[0].is_total);
  REQUIRE(r.cells.size() == 3 * 3 * 2);
  REQUIRE(r.provenance.size() == r.cells.size());
  std::size_t i = 0;
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t s = 0; s < 3; ++s) {
      for (std::uint32_t stat = 0; stat < 2; ++stat, ++i) {
        CHECK(r.cells[i].coordinates == std::vector<std::uint32_t>{w, s});
        CHECK(r.cells[i].statistic == stat);
      }
    }
  }
  CHECK(r.rule_set == "cbs-default@1");
  CHECK(r.treatment == "EXACT");
  CHECK(r.data_version == "data-v1");
  CHECK(r.tmpl == &t);
}

TEST_CASE("a cell of 9 units is confidential with no value and a cell of 10 is released") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 9, "W1", "M");
  AddUnits(rows, "b", 10, "W1", "V");
  const Release r = Build(kCountOnly, rows);
  CHECK(Cell(r, 0, 0).status == disclosure::CellStatus::kConfidential);
  CHECK_FALSE(Cell(r, 0, 0).value.has_value());
  CHECK(Rule(r, 0, 0) == "threshold");
  CHECK(Value(r, 0, 1) == 10);
  CHECK(Rule(r, 0, 1) == "released");
  // 19 - 10 would give the 9: the LP audit adds the margins that would reveal it.
  CHECK(Rule(r, 0, 2) == "secondary");
  CHECK(Rule(r, 2, 2) == "secondary");
  CHECK_FALSE(Cell(r, 0, 2).value.has_value());
  CHECK(Rule(r, 1, 0) == "empty");
  CHECK_FALSE(Cell(r, 1, 2).value.has_value());
  CHECK(r.CountReleased() + r.CountConfidential() == static_cast<std::int64_t>(r.cells.size()));
}

TEST_CASE("margins are computed from units, not from released cells") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 9, "W1", "M");   // confidential
  AddUnits(rows, "b", 10, "W1", "V");
  AddUnits(rows, "c", 10, "W2", "M");
  const Release r = Build(kCountOnly, rows);
  CHECK(Rule(r, 0, 0) == "threshold");
  CHECK(Value(r, 2, 0) == 19);  // total over wijken for M includes the 9
  CHECK(Value(r, 0, 2) == 19);
  CHECK(Value(r, 2, 2) == 29);
  // (W1, V) and (W2, M) are complementary suppressions: (W1, M) lies anywhere in [9, 19].
  CHECK(Rule(r, 0, 1) == "secondary");
  CHECK(Rule(r, 1, 0) == "secondary");
  CHECK(r.CountReleased() == 5);
  CHECK(r.CountConfidential() == 4);
}

TEST_CASE("counts are of distinct units, not rows") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 6, "W1", "M");
  AddUnits(rows, "a", 6, "W1", "M");  // the same six units again
  AddUnits(rows, "b", 10, "W2", "V");
  AddUnits(rows, "b", 10, "W2", "V");
  const Release r = Build(kCountOnly, rows);
  CHECK(Rule(r, 0, 0) == "threshold");  // 6 units from 12 rows
  CHECK(Rule(r, 1, 1) == "secondary");  // its row and column margins would reveal the 6
  CHECK(Value(r, 2, 2) == 16);          // 6 + 10 units, not 32 rows
}

TEST_CASE("a unit with rows in two cells is counted once in their common margins") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                          test::MakeStatistic("sum", StatisticKind::kSum)});
  std::vector<FakeRow> rows;
  AddUnits(rows, "u", 10, "W1", "M", 100);
  AddUnits(rows, "u", 10, "W2", "V", 30);  // the same ten units, in another wijk and sex
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0, 0) == 10);
  CHECK(Value(r, 1, 1, 0) == 10);
  CHECK(Value(r, 0, 2, 0) == 10);
  CHECK(Value(r, 2, 0, 0) == 10);
  CHECK(Value(r, 2, 2, 0) == 10);  // not 20
  CHECK(Rule(r, 0, 1, 0) == "empty");
  // Each unit's measure in the total is the sum of its rows.
  CHECK(Value(r, 2, 2, 1) == 1300);
  CHECK(Value(r, 0, 0, 1) == 1000);
}

TEST_CASE("units sum their rows within a cell and a unit below the threshold stays hidden") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                          test::MakeStatistic("mean", StatisticKind::kMean)});
  std::vector<FakeRow> rows;
  AddUnits(rows, "u", 10, "W1", "M", 100);
  AddUnits(rows, "u", 10, "W1", "M", 50);  // second row per unit, same cell
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0, 0) == 10);
  CHECK(Value(r, 0, 0, 1) == 150);  // per unit 150, not a mean over 20 rows of 75
}

TEST_CASE("the flagged count is what the threshold applies to") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                          test::MakeStatistic("zzp", StatisticKind::kCount, "zzp")});
  std::vector<FakeRow> rows;
  AddUnits(rows, "z", 9, "W1", "M", std::nullopt, 1, 1);
  AddUnits(rows, "o", 41, "W1", "M", std::nullopt, 0, 1);
  AddUnits(rows, "y", 10, "W2", "M", std::nullopt, 1, 1);
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0, 0) == 50);
  CHECK(Rule(r, 0, 0, 1) == "threshold");
  CHECK_FALSE(Cell(r, 0, 0, 1).value.has_value());
  CHECK(Value(r, 1, 0, 1) == 10);
  CHECK(Rule(r, 2, 0, 1) == "secondary");  // 19 - 10 would give the 9
}

TEST_CASE("flags are OR-ed over a unit's rows in a cell") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("zzp", StatisticKind::kCount, "zzp")});
  std::vector<FakeRow> rows;
  AddUnits(rows, "u", 10, "W1", "M", std::nullopt, 0, 0);
  AddUnits(rows, "u", 10, "W1", "M", std::nullopt, 1, 0);
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0) == 10);
}

TEST_CASE("sums and means are rounded once to the statistic's precision") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("sum", StatisticKind::kSum, "", 1000),
                          test::MakeStatistic("mean", StatisticKind::kMean, "", 100)});
  std::vector<FakeRow> rows;
  // 10 units: nine of 1,000 and one of 1,495: sum 10,495 -> 10,000; mean 1,049.5 -> 1,000.
  AddUnits(rows, "a", 9, "W1", "M", 1000);
  rows.push_back({"b", {"W1", "M"}, 1495, {0, 0}});
  // 10 units of 1,050 -> mean 1,050 -> 1,100 (half away from zero); sum 10,500 -> 11,000.
  AddUnits(rows, "c", 10, "W2", "M", 1050);
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0, 0) == 10000);
  CHECK(Value(r, 0, 0, 1) == 1000);
  CHECK(Value(r, 1, 0, 0) == 11000);
  CHECK(Value(r, 1, 0, 1) == 1100);
  // Total: sum 20,995 -> 21,000; mean 1,049.75 -> 1,000.
  CHECK(Value(r, 2, 0, 0) == 21000);
  CHECK(Value(r, 2, 0, 1) == 1000);
}

TEST_CASE("negative means round half away from zero") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("mean", StatisticKind::kMean, "", 100)});
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 10, "W1", "M", -150);
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0) == -200);
}

TEST_CASE("units with a NULL measure do not contribute to sums and means") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                          test::MakeStatistic("mean", StatisticKind::kMean)});
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 10, "W1", "M", 300);
  AddUnits(rows, "b", 5, "W1", "M", std::nullopt);
  AddUnits(rows, "c", 9, "W2", "M", 300);
  AddUnits(rows, "d", 5, "W2", "M", std::nullopt);
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0, 0) == 15);
  CHECK(Value(r, 0, 0, 1) == 300);
  CHECK(Value(r, 1, 0, 0) == 14);
  CHECK(Rule(r, 1, 0, 1) == "threshold");  // only 9 units have a measure
}

TEST_CASE("a median needs 20 contributing units and uses the nearest rank") {
  templates::Statistic median = test::MakeStatistic("median", StatisticKind::kQuantile, "", 100);
  median.quantile_permille = 500;
  templates::Statistic p25 = test::MakeStatistic("p25", StatisticKind::kQuantile);
  p25.quantile_permille = 250;
  const templates::Template t = test::MakeTemplate({median, p25});
  std::vector<FakeRow> rows;
  for (int i = 1; i <= 20; ++i) {  // W1/M: 1,010 .. 20,010 (shuffled order)
    const int v = (i * 7) % 20 + 1;
    rows.push_back({"a" + std::to_string(i), {"W1", "M"}, v * 1000 + 10, {0, 0}});
  }
  AddUnits(rows, "b", 19, "W2", "M", 5000);
  const Release r = Build(t, rows);
  // n = 20: rank ceil(10) = 10 -> 10,010 -> 10,000 at precision 100.
  CHECK(Value(r, 0, 0, 0) == 10000);
  CHECK(Rule(r, 0, 0, 1) == "quantile-n");  // P25 needs 40
  CHECK(Rule(r, 1, 0, 0) == "quantile-n");  // 19 units
  // Total M: 39 units sorted 1,010 .. 4,010, then nineteen of 5,000 (ranks 5..23), then 5,010 ...
  CHECK(Value(r, 2, 0, 0) == 5000);         // median: rank ceil(19.5) = 20
  CHECK(Rule(r, 2, 0, 1) == "quantile-n");  // P25: 39 * 250 < 10 * 1000
}

TEST_CASE("a share applies the denominator, numerator and complement rules") {
  templates::Statistic share = test::MakeStatistic("pct", StatisticKind::kShare, "zzp");
  share.denominator_flag = "werkend";
  const templates::Template t = test::MakeTemplate({share});
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 10, "W1", "M", std::nullopt, 1, 1);  // 10 of 100 -> 10%
  AddUnits(rows, "b", 90, "W1", "M", std::nullopt, 0, 1);
  AddUnits(rows, "x", 50, "W1", "M", std::nullopt, 0, 0);  // not in the denominator
  AddUnits(rows, "c", 10, "W1", "V", std::nullopt, 1, 1);  // 10 of 99
  AddUnits(rows, "d", 89, "W1", "V", std::nullopt, 0, 1);
  AddUnits(rows, "e", 9, "W2", "M", std::nullopt, 1, 1);   // 9 of 100
  AddUnits(rows, "f", 91, "W2", "M", std::nullopt, 0, 1);
  AddUnits(rows, "g", 91, "W2", "V", std::nullopt, 1, 1);  // 91 of 100: complement 9
  AddUnits(rows, "h", 9, "W2", "V", std::nullopt, 0, 1);
  const Release r = Build(t, rows);
  CHECK(Rule(r, 0, 0) == "secondary");  // protects the numerator 9 of (W2, M)
  CHECK(Rule(r, 0, 1) == "share-denominator");
  CHECK(Rule(r, 1, 0) == "share-numerator");
  CHECK(Rule(r, 1, 1) == "share-numerator");
  // W1 total: 20 of 199 = 10.05% -> 10.
  CHECK(Value(r, 0, 2) == 10);
  // Grand total: 120 of 399 = 30.08% -> 30.
  CHECK(Value(r, 2, 2) == 30);
}

TEST_CASE("a ratio needs both parts to pass the threshold") {
  templates::Statistic ratio = test::MakeStatistic("index", StatisticKind::kRatio, "zzp");
  ratio.denominator_flag = "werkend";
  const templates::Template t = test::MakeTemplate({ratio});
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 10, "W1", "M", 150, 1, 0);  // event 1,500
  AddUnits(rows, "b", 10, "W1", "M", 100, 0, 1);  // baseline 1,000 -> 150
  AddUnits(rows, "c", 10, "W1", "V", 150, 1, 0);
  AddUnits(rows, "d", 9, "W1", "V", 100, 0, 1);   // baseline of 9 units
  AddUnits(rows, "e", 10, "W2", "M", 0, 1, 1);    // zero denominator
  const Release r = Build(t, rows);
  CHECK(Value(r, 0, 0) == 150);
  CHECK(Rule(r, 0, 1) == "threshold");
  CHECK(Rule(r, 1, 0) == "undefined");
  CHECK_FALSE(Cell(r, 1, 0).value.has_value());
  // W1 total: 3,000 / 1,900 = 157.9 -> 158.
  CHECK(Value(r, 0, 2) == 158);
}

TEST_CASE("a value outside the code list is internal and is not echoed") {
  templates::BoundQuery q = test::BindAll(kCountOnly);
  TableBuilder builder(q);
  std::vector<std::string_view> dims = {"W1", "SECRET-987654321"};
  std::vector<std::int64_t> flags = {0, 0};
  absl::Status s = builder.Add(RowView{"u1", dims, std::nullopt, flags, {}});
  CHECK(s.code() == absl::StatusCode::kInternal);
  const std::string msg(s.message());
  CHECK(msg.find("sex") != std::string::npos);
  CHECK(msg.find("test_template") != std::string::npos);
  CHECK(msg.find("987654321") == std::string::npos);
  CHECK(msg.find("SECRET") == std::string::npos);
  CHECK(msg.find("u1") == std::string::npos);
}

TEST_CASE("only the chosen dimensions make up the table") {
  const templates::Template t = kCountOnly;
  templates::BoundQuery q;
  q.tmpl = &t;
  q.dimensions = {&t.dimensions[1]};  // sex only
  TableBuilder builder(q);
  std::vector<std::int64_t> flags = {0, 0};
  for (int i = 0; i < 12; ++i) {
    const std::string unit = "u" + std::to_string(i);
    std::vector<std::string_view> dims = {i % 2 == 0 ? "W1" : "W2", "V"};
    REQUIRE(builder.Add(RowView{unit, dims, std::nullopt, flags, {}}).ok());
  }
  absl::StatusOr<FinishedTable> finished =
      FinishWith(builder, testing::ExactRules(), testing::NoMagnitudeNoise());
  REQUIRE(finished.ok());
  const Release& r = finished->release;
  REQUIRE(r.dimensions.size() == 1);
  CHECK(r.dimensions[0].name == "sex");
  REQUIRE(r.cells.size() == 3);
  CHECK(r.cells[1].value == 12);
  CHECK(r.cells[2].value == 12);
  CHECK(r.provenance[0].rule == "empty");
}

TEST_CASE("the rule set's minimum is the threshold used") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 12, "W1", "M");
  disclosure::RuleSetParams strict = testing::ExactRules();
  strict.id = "strict";
  strict.version = 2;
  strict.min_units = 15;
  const Release r = Build(kCountOnly, rows, strict);
  CHECK(Rule(r, 0, 0) == "threshold");
  CHECK(r.rule_set == "strict@2");
}

TEST_CASE("random rows give the same counts and sums as a naive per-unit reference") {
  const templates::Template t =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount),
                          test::MakeStatistic("sum", StatisticKind::kSum),
                          test::MakeStatistic("zzp", StatisticKind::kCount, "zzp")});
  disclosure::RuleSetParams everything = testing::ExactRules();
  everything.min_units = 1;
  // Test data only: a fixed xorshift sequence.
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto rng = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::uint32_t>(state >> 32);
  };
  for (int round = 0; round < 20; ++round) {
    const bool one_row_per_unit = round % 2 == 0;
    std::vector<FakeRow> rows;
    const int n = 200 + round * 37;
    for (int i = 0; i < n; ++i) {
      const std::uint32_t u = one_row_per_unit ? static_cast<std::uint32_t>(i) : rng() % 60;
      rows.push_back({"unit-" + std::to_string(u),
                      {rng() % 2 == 0 ? "W1" : "W2", rng() % 2 == 0 ? "M" : "V"},
                      static_cast<std::int64_t>(rng() % 1000) - 300,
                      {static_cast<std::int64_t>(rng() % 5 == 0), 0}});
    }
    const Release r = Build(t, rows, everything);
    // Reference: per cell of the full cube, the set of units, their summed measure and OR-ed flag.
    std::map<std::pair<int, int>, std::map<std::string, std::pair<std::int64_t, bool>>> cells;
    for (const FakeRow& row : rows) {
      const int w = row.dimensions[0] == "W1" ? 0 : 1;
      const int x = row.dimensions[1] == "M" ? 0 : 1;
      for (int cw : {w, 2}) {
        for (int cx : {x, 2}) {
          auto& unit = cells[{cw, cx}][row.unit];
          unit.first += *row.measure;
          unit.second = unit.second || row.flags[0] != 0;
        }
      }
    }
    for (std::uint32_t w = 0; w < 3; ++w) {
      for (std::uint32_t x = 0; x < 3; ++x) {
        const auto it = cells.find({static_cast<int>(w), static_cast<int>(x)});
        if (it == cells.end()) {
          CHECK(Rule(r, w, x, 0) == "empty");
          continue;
        }
        std::int64_t sum = 0;
        std::int64_t flagged = 0;
        for (const auto& [unit, c] : it->second) {
          sum += c.first;
          flagged += c.second ? 1 : 0;
        }
        CHECK(Value(r, w, x, 0) == static_cast<std::int64_t>(it->second.size()));
        CHECK(Value(r, w, x, 1) == sum);
        if (flagged > 0) CHECK(Value(r, w, x, 2) == flagged);
      }
    }
  }
}

TEST_CASE("100k rows with three dimensions aggregate exactly and fast") {
  templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount),
       test::MakeStatistic("sum", StatisticKind::kSum, "", 1000),
       test::MakeStatistic("mean", StatisticKind::kMean, "zzp", 100)});
  std::vector<std::string> wijken;
  for (int i = 0; i < 13; ++i) wijken.push_back("WK" + std::to_string(i));
  t.dimensions = {test::MakeDimension("wijk", wijken),
                  test::MakeDimension("age", {"A1", "A2", "A3", "A4", "A5"}),
                  test::MakeDimension("sex", {"M", "V"})};
  templates::BoundQuery q = test::BindAll(t);
  constexpr int kRows = 100000;
  std::vector<std::string> units(kRows);
  for (int i = 0; i < kRows; ++i) units[static_cast<std::size_t>(i)] = "pseudonym-" + std::to_string(i * 7919);
  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  TableBuilder builder(q);
  std::vector<std::string_view> dims(3);
  std::vector<std::int64_t> flags(2);
  for (int i = 0; i < kRows; ++i) {
    dims[0] = wijken[static_cast<std::size_t>(i % 13)];
    dims[1] = t.dimensions[1].codes.codes[static_cast<std::size_t>(i % 5)].code;
    dims[2] = i % 2 == 0 ? "M" : "V";
    flags[0] = i % 3 == 0 ? 1 : 0;
    if (!builder.Add(RowView{units[static_cast<std::size_t>(i)], dims, i, flags, {}}).ok()) ++failures;
  }
  const auto added = std::chrono::steady_clock::now();
  absl::StatusOr<FinishedTable> done =
      FinishWith(builder, testing::ExactRules(), testing::NoMagnitudeNoise());
  const auto finished = std::chrono::steady_clock::now();
  REQUIRE(done.ok());
  const Release& r = done->release;
  auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
  MESSAGE("100k rows: Add " << us(added - start) << " us, Finish " << us(finished - added)
                            << " us");
  REQUIRE(failures == 0);
  REQUIRE(r.cells.size() == 14u * 6u * 3u * 3u);
  const ReleasedCell& grand = r.cells[r.cells.size() - 3];
  CHECK(grand.coordinates == std::vector<std::uint32_t>{13, 5, 2});
  CHECK(grand.value == kRows);
  // Sum of 0..99,999 = 4,999,950,000 -> 4,999,950,000 at precision 1,000.
  CHECK(r.cells[r.cells.size() - 2].value == 4999950000);
  // Units with i % 3 == 0: 33,334 units, mean 49,998 -> 50,000.
  CHECK(r.cells[r.cells.size() - 1].value == 50000);
}

// --- Holdings (disclosure-control.md §3.1) -----------------------------------------------------

struct HeldRow {
  std::string unit;
  std::string wijk;
  std::string sex;
  std::int64_t measure = 0;
  std::string holding;  // empty: the template declares no holding column
};

// A SUM over "income" with the template's holding column set to `holding_column` (empty: none).
absl::StatusOr<FinishedTable> TryBuildHeld(const std::vector<HeldRow>& rows,
                                           const std::string& holding_column) {
  templates::Template t = test::MakeTemplate({test::MakeStatistic("sum", StatisticKind::kSum)});
  t.disclosure.holding_column = holding_column;
  templates::BoundQuery q = test::BindAll(t);
  TableBuilder builder(q);
  const std::vector<std::int64_t> flags = {0, 0};
  for (const HeldRow& r : rows) {
    const std::vector<std::string_view> dims = {r.wijk, r.sex};
    ENCLAVE_RETURN_IF_ERROR(builder.Add(RowView{r.unit, dims, r.measure, flags, r.holding}));
  }
  return FinishWith(builder, testing::ExactRules(), testing::NoMagnitudeNoise());
}

// The rule of cell (wijk, sex) of the SUM table, or the error.
std::string HeldRule(const std::vector<HeldRow>& rows, const std::string& holding_column,
                     std::uint32_t wijk, std::uint32_t sex) {
  absl::StatusOr<FinishedTable> done = TryBuildHeld(rows, holding_column);
  if (!done.ok()) return done.status().ToString();
  return Rule(done->release, wijk, sex);
}

// Other cells large and flat, so that secondary suppression has room.
void AddFlatCells(std::vector<HeldRow>& rows, bool holdings) {
  for (const char* wijk : {"W1", "W2"}) {
    for (const char* sex : {"M", "V"}) {
      if (std::string(wijk) == "W1" && std::string(sex) == "M") continue;
      for (int i = 0; i < 12; ++i) {
        const std::string unit = std::string("f") + wijk + sex + std::to_string(i);
        rows.push_back({unit, wijk, sex, 10, holdings ? "H" + unit : ""});
      }
    }
  }
}

TEST_CASE("three branches of one company are one holding: 40% + 30% + 20% is dominance") {
  // disclosure-control.md §3.1: no unit exceeds 50%, the holding has 90%.
  std::vector<HeldRow> held = {{"b0", "W1", "M", 40, "C1"}, {"b1", "W1", "M", 30, "C1"},
                               {"b2", "W1", "M", 20, "C1"}};
  const std::int64_t small[] = {2, 2, 2, 1, 1, 1, 1};
  for (int i = 0; i < 7; ++i) {
    held.push_back({"s" + std::to_string(i), "W1", "M", small[i], "S" + std::to_string(i)});
  }
  std::vector<HeldRow> plain = held;
  for (HeldRow& r : plain) r.holding.clear();
  AddFlatCells(held, true);
  AddFlatCells(plain, false);
  CHECK(HeldRule(held, "be_id", 0, 0) == "dominance-nk");
  // The same units without a holding column: every unit its own holding, 40% passes (1,50).
  CHECK(HeldRule(plain, "", 0, 0) == "released");
}

TEST_CASE("a holding of exactly 50% passes (1,50), one unit more is dominance") {
  auto rows = [](std::int64_t second_branch) {
    std::vector<HeldRow> r = {{"b0", "W1", "M", 30, "C1"}, {"b1", "W1", "M", second_branch, "C1"}};
    const std::int64_t rest[] = {7, 7, 6, 6, 6, 6, 6, 6};  // 50, eight own holdings
    for (int i = 0; i < 8; ++i) {
      r.push_back({"s" + std::to_string(i), "W1", "M", rest[i], "S" + std::to_string(i)});
    }
    AddFlatCells(r, true);
    return r;
  };
  CHECK(HeldRule(rows(20), "be_id", 0, 0) == "released");      // 50 of 100
  CHECK(HeldRule(rows(21), "be_id", 0, 0) == "dominance-nk");  // 51 of 101
  // The same 51 in two holdings of their own: 30 of 101 passes.
  std::vector<HeldRow> split = rows(21);
  split[1].holding = "C2";
  CHECK(HeldRule(split, "be_id", 0, 0) == "released");
}

TEST_CASE("a unit in two holdings or without one fails closed") {
  std::vector<HeldRow> rows;
  AddFlatCells(rows, true);
  std::vector<HeldRow> two = rows;
  two.push_back({two[0].unit, two[0].wijk, two[0].sex, 5, "Hother"});
  absl::StatusOr<FinishedTable> done = TryBuildHeld(two, "be_id");
  CHECK(done.status().code() == absl::StatusCode::kInternal);
  CHECK(done.status().message().find("more than one holding") != std::string_view::npos);
  std::vector<HeldRow> none = rows;
  none[3].holding.clear();
  done = TryBuildHeld(none, "be_id");
  CHECK(done.status().code() == absl::StatusCode::kInternal);
  CHECK(TryBuildHeld(rows, "be_id").ok());
}

// --- Group disclosure and zeros (disclosure-control.md §3.4) -----------------------------------

// COUNT of all units; sex = V declared a sensitive category when `sensitive`.
templates::Template GroupTemplate(bool sensitive) {
  templates::Template t = kCountOnly;
  if (sensitive) t.disclosure.sensitive.push_back({"sex", "V", ""});
  return t;
}

TEST_CASE("a sensitive category holding 90% of its group passes, above 90% is group disclosure") {
  auto rows = [](int v) {
    std::vector<FakeRow> r;
    AddUnits(r, "m", 10, "W1", "M");
    AddUnits(r, "v", v, "W1", "V");
    AddUnits(r, "a", 20, "W2", "M");
    AddUnits(r, "b", 20, "W2", "V");
    return r;
  };
  const templates::Template t = GroupTemplate(true);
  CHECK(Rule(Build(t, rows(90)), 0, 1) == "released");  // 90 of 100
  const Release over = Build(t, rows(91));               // 91 of 101
  CHECK(Rule(over, 0, 1) == "group");
  CHECK_FALSE(Cell(over, 0, 1).value.has_value());
  // Not sensitive: the same 91 of 101 is released; a sensitive M would not be checked either.
  CHECK(Rule(Build(GroupTemplate(false), rows(91)), 0, 1) == "released");
  // The suppressed cell is protected from its margins: W1 total and column V total are withheld
  // or another cell is.
  CHECK(over.CountConfidential() >= 4);
}

TEST_CASE("a zero in a sensitive category is protected, not only withheld") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "m", 20, "W1", "M");
  AddUnits(rows, "v", 20, "W1", "V");
  AddUnits(rows, "a", 20, "W2", "M");  // W2/V empty: W2 total - W2/M would give the 0
  // The templates outlive the releases (a Release points at its template).
  const templates::Template plain_template = GroupTemplate(false);
  const templates::Template sensitive_template = GroupTemplate(true);
  const Release plain = Build(plain_template, rows);
  CHECK(Rule(plain, 1, 1) == "empty");
  CHECK(Value(plain, 1, 0) == 20);  // the zero is derivable: 20 - 20
  CHECK(Value(plain, 1, 2) == 20);
  const Release sensitive = Build(sensitive_template, rows);
  CHECK(Rule(sensitive, 1, 1) == "sensitive-zero");
  // Secondary suppression hides W2/M or the W2 total, so the zero cannot be recomputed.
  CHECK((!Cell(sensitive, 1, 0).value.has_value() || !Cell(sensitive, 1, 2).value.has_value()));
}

TEST_CASE("a declared structural zero is released as 0, a non-empty one is an ordinary cell") {
  templates::Template t = kCountOnly;
  t.disclosure.structural_zeros.push_back({{{"wijk", "W2"}, {"sex", "V"}}});
  std::vector<FakeRow> rows;
  AddUnits(rows, "m", 20, "W1", "M");
  AddUnits(rows, "v", 20, "W1", "V");
  AddUnits(rows, "a", 20, "W2", "M");
  const Release r = Build(t, rows);
  CHECK(Rule(r, 1, 1) == "structural-zero");
  CHECK(Value(r, 1, 1) == 0);
  CHECK(Value(r, 1, 0) == 20);
  // Without the declaration the same zero is withheld.
  CHECK(Rule(Build(kCountOnly, rows), 1, 1) == "empty");
  CHECK_FALSE(Cell(Build(kCountOnly, rows), 1, 1).value.has_value());
  // Only the declared cell: the margins over sex or wijk are not structural.
  CHECK(Rule(r, 2, 1) == "released");
  // A declared combination that holds 3 units falls to the threshold.
  AddUnits(rows, "z", 3, "W2", "V");
  CHECK(Rule(Build(t, rows), 1, 1) == "threshold");
}

TEST_CASE("a sensitive flag is checked against all units of the cell") {
  templates::Template t = test::MakeTemplate({test::MakeStatistic("n_zzp", StatisticKind::kCount, "zzp")});
  auto rows = [](int zzp, int others) {
    std::vector<FakeRow> r;
    AddUnits(r, "z", zzp, "W1", "M", std::nullopt, 1);
    AddUnits(r, "o", others, "W1", "M", std::nullopt, 0);
    for (const char* w : {"W1", "W2"}) {
      for (const char* x : {"M", "V"}) {
        if (std::string(w) == "W1" && std::string(x) == "M") continue;
        AddUnits(r, std::string("f") + w + x, 30, w, x, std::nullopt, 1);
        AddUnits(r, std::string("g") + w + x, 30, w, x, std::nullopt, 0);
      }
    }
    return r;
  };
  t.disclosure.sensitive.push_back({"", "", "zzp"});
  CHECK(Rule(Build(t, rows(18, 2)), 0, 0) == "released");  // 18 of 20: 90%
  CHECK(Rule(Build(t, rows(19, 2)), 0, 0) == "group");     // 19 of 21
  t.disclosure.sensitive.clear();
  CHECK(Rule(Build(t, rows(19, 2)), 0, 0) == "released");
}


// ---------------------------------------------------------------------------------------------
// A breakdown by an attribute of the counted flag (templates::SensitiveDimension with a flag):
// leefvorm of a bijstand spell. Flag zzp stands for op_bijstand here.

templates::Template AttributeTemplate(bool declared) {
  templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount, "zzp"),
       test::MakeStatistic("pct", StatisticKind::kShare, "zzp")});
  t.dimensions = {test::MakeDimension("wijk", {"W1", "W2"}),
                  test::MakeDimension("leefvorm", {"alleen", "paar", "geen"})};
  t.fixed_dimensions = {"wijk", "leefvorm"};
  t.disclosure.sensitive.push_back({"", "", "zzp"});
  t.disclosure.min_share_denominator = 10;
  if (declared) t.disclosure.sensitive_dimensions.push_back({"leefvorm", "zzp", "geen"});
  return t;
}

// Cell (wijk, leefvorm) of statistic `stat`; leefvorm 3 is the total.
const ReleasedCell& CellL(const Release& r, std::uint32_t w, std::uint32_t l, std::uint32_t stat = 0) {
  return r.cells.at((static_cast<std::size_t>(w) * 4 + l) * r.tmpl->statistics.size() + stat);
}
const std::string& RuleL(const Release& r, std::uint32_t w, std::uint32_t l, std::uint32_t stat = 0) {
  return r.provenance.at((static_cast<std::size_t>(w) * 4 + l) * r.tmpl->statistics.size() + stat).rule;
}
std::int64_t ValueL(const Release& r, std::uint32_t w, std::uint32_t l, std::uint32_t stat = 0) {
  const ReleasedCell& c = CellL(r, w, l, stat);
  REQUIRE(c.value.has_value());
  return *c.value;
}

void AddLeefvorm(std::vector<FakeRow>& rows, const std::string& prefix, int count,
                 const std::string& wijk, const std::string& leefvorm) {
  for (int i = 0; i < count; ++i) {
    rows.push_back({prefix + std::to_string(i), {wijk, leefvorm}, std::nullopt,
                    {leefvorm == "geen" ? 0 : 1, 0}});
  }
}

TEST_CASE("a breakdown by an attribute of the flag is not group disclosure, its none code is 0") {
  std::vector<FakeRow> rows;
  AddLeefvorm(rows, "a", 15, "W1", "alleen");
  AddLeefvorm(rows, "p", 12, "W1", "paar");
  AddLeefvorm(rows, "g", 300, "W1", "geen");
  AddLeefvorm(rows, "b", 20, "W2", "alleen");
  AddLeefvorm(rows, "q", 11, "W2", "paar");
  AddLeefvorm(rows, "h", 250, "W2", "geen");
  const templates::Template declared = AttributeTemplate(true);
  const templates::Template plain = AttributeTemplate(false);
  // Undeclared (the behaviour the issue found): every category is 100% bijstand, so the group
  // rule withholds every inner cell of a category.
  const Release before = Build(plain, rows);
  CHECK(RuleL(before, 0, 0) == "group");
  CHECK(RuleL(before, 1, 1) == "group");
  // Declared: the category is checked against the wijk's residents (15 of 327), and released.
  const Release r = Build(declared, rows);
  CHECK(ValueL(r, 0, 0) == 15);
  CHECK(ValueL(r, 1, 1) == 11);
  // The none code holds no bijstand by definition: a structural zero, count and share.
  CHECK(RuleL(r, 0, 2) == "structural-zero");
  CHECK(ValueL(r, 0, 2) == 0);
  CHECK(RuleL(r, 0, 2, 1) == "structural-zero");
  CHECK(ValueL(r, 0, 2, 1) == 0);
  // The share on a category is 100% by definition: withheld (its complement is 0 units), not a
  // group disclosure, and not a reason to withhold the count beside it.
  CHECK(RuleL(r, 0, 0, 1) != "group");
  CHECK_FALSE(CellL(r, 0, 0, 1).value.has_value());
  // The margins are ordinary: W1's bijstand share is 27 of 327.
  CHECK(ValueL(r, 0, 3) == 27);
  CHECK(ValueL(r, 0, 3, 1) == 8);
}

TEST_CASE("group disclosure through an attribute breakdown still fires on the wijk's residents") {
  std::vector<FakeRow> rows;
  AddLeefvorm(rows, "a", 95, "W1", "alleen");  // 95 of W1's 100 residents: group disclosure
  AddLeefvorm(rows, "g", 5, "W1", "geen");
  AddLeefvorm(rows, "b", 20, "W2", "alleen");
  AddLeefvorm(rows, "q", 20, "W2", "paar");
  AddLeefvorm(rows, "h", 250, "W2", "geen");
  const templates::Template t = AttributeTemplate(true);
  const Release r = Build(t, rows);
  CHECK(RuleL(r, 0, 0) == "group");
  CHECK_FALSE(CellL(r, 0, 0).value.has_value());
  // And the wijk's own count (95 of 100) too, so the category cannot be recomputed from it.
  CHECK(RuleL(r, 0, 3) == "group");
  // A zero in a category (nobody in W1 on bijstand as "paar") is a sensitive zero.
  CHECK(RuleL(r, 0, 1) == "sensitive-zero");
}

// ---------------------------------------------------------------------------------------------
// The populations the differencing guard and the decomposition quota see (§6.1, §6.2).

absl::StatusOr<FinishedTable> Finished(const templates::Template& t, const std::vector<FakeRow>& rows) {
  return TryBuild(t, rows, testing::ExactRules(), testing::NoMagnitudeNoise());
}

std::vector<std::string> PartitionsOfSize(const FinishedTable& f, std::size_t size) {
  for (const disclosure::GuardedPopulation& p : f.populations) {
    if (p.units.size() != size) continue;
    std::vector<std::string> sorted = p.partitions;
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
  return {"<none of that size>"};
}

TEST_CASE("the guard sees every cell of the table, margins included, with its partitions") {
  std::vector<FakeRow> rows;
  AddUnits(rows, "a", 11, "W1", "M");
  AddUnits(rows, "b", 12, "W1", "V");
  AddUnits(rows, "c", 14, "W2", "M");
  AddUnits(rows, "d", 18, "W2", "V");
  absl::StatusOr<FinishedTable> f = Finished(kCountOnly, rows);
  REQUIRE(f.ok());
  // 4 inner cells, 2 + 2 margins and the universe: each its own population.
  REQUIRE(f->populations.size() == 9);
  std::set<std::size_t> sizes;
  for (const auto& p : f->populations) sizes.insert(p.units.size());
  CHECK(sizes == std::set<std::size_t>{11, 12, 14, 18, 23, 32, 25, 30, 55});
  // The universe is shown broken down by wijk, by sex and by both; W1 by sex; an inner cell not.
  CHECK(PartitionsOfSize(*f, 55) ==
        std::vector<std::string>{"sex_codes", "sex_codes+wijk_codes", "wijk_codes"});
  CHECK(PartitionsOfSize(*f, 23) == std::vector<std::string>{"sex_codes"});
  CHECK(PartitionsOfSize(*f, 25) == std::vector<std::string>{"wijk_codes"});
  CHECK(PartitionsOfSize(*f, 11).empty());
  // Every population is the exact unit set: W1/M's 11 units lie in W1, M and the universe.
  for (const auto& p : f->populations) {
    CHECK(std::is_sorted(p.units.units().begin(), p.units.units().end()));
  }
}

TEST_CASE("the guard's populations leave out sensitive dimensions") {
  std::vector<FakeRow> rows;
  AddLeefvorm(rows, "a", 15, "W1", "alleen");
  AddLeefvorm(rows, "g", 300, "W1", "geen");
  AddLeefvorm(rows, "b", 20, "W2", "alleen");
  AddLeefvorm(rows, "h", 250, "W2", "geen");
  absl::StatusOr<FinishedTable> f = Finished(AttributeTemplate(true), rows);
  REQUIRE(f.ok());
  // Only W1, W2 and the universe: no population is keyed on who has bijstand.
  REQUIRE(f->populations.size() == 3);
  CHECK(PartitionsOfSize(*f, 315) == std::vector<std::string>{"leefvorm_codes"});
  CHECK(PartitionsOfSize(*f, 585) ==
        std::vector<std::string>{"leefvorm_codes", "leefvorm_codes+wijk_codes", "wijk_codes"});
  // Undeclared, the categories would be populations (and refusals an oracle on bijstand).
  absl::StatusOr<FinishedTable> g = Finished(AttributeTemplate(false), rows);
  REQUIRE(g.ok());
  CHECK(g->populations.size() > 3);
}

// ---------------------------------------------------------------------------------------------
// Linked tables (disclosure-control.md §4.6): one template releases the count by wijk in one
// request and by wijkcluster in another. Wijken W1-W3 lie in K1, W4-W6 in K2.

templates::Template HierarchyTemplate(bool parents) {
  templates::Template t = test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount)});
  templates::Dimension wijk = test::MakeDimension("wijk", {"W1", "W2", "W3", "W4", "W5", "W6"});
  templates::Dimension cluster = test::MakeDimension("wijkcluster", {"K1", "K2"});
  if (parents) {
    wijk.codes.parent_list = cluster.codes.name;
    wijk.codes.parents = {"K1", "K1", "K1", "K2", "K2", "K2"};
  }
  t.dimensions = {wijk, cluster};
  t.fixed_dimensions = {};
  return t;
}

// W1 has 4 units (below the threshold of 10); its cheapest partner alone is W4 (12), in K2.
std::vector<FakeRow> HierarchyRows() {
  std::vector<FakeRow> rows;
  const std::vector<std::pair<std::string, int>> wijken = {{"W1", 4},  {"W2", 50}, {"W3", 60},
                                                           {"W4", 12}, {"W5", 40}, {"W6", 45}};
  for (std::size_t w = 0; w < wijken.size(); ++w) {
    for (int i = 0; i < wijken[w].second; ++i) {
      rows.push_back({wijken[w].first + "-" + std::to_string(i),
                      {wijken[w].first, w < 3 ? "K1" : "K2"}, std::nullopt, {0, 0}});
    }
  }
  return rows;
}

Release BuildLevel(const templates::Template& t, std::size_t level) {
  templates::BoundQuery q;
  q.tmpl = &t;
  q.dimensions = {&t.dimensions[level]};
  TableBuilder builder(q);
  std::vector<std::string_view> dims;
  for (const FakeRow& r : HierarchyRows()) {
    dims.assign(r.dimensions.begin(), r.dimensions.end());
    REQUIRE(builder.Add(RowView{r.unit, dims, r.measure, r.flags, {}}).ok());
  }
  absl::StatusOr<FinishedTable> finished =
      FinishWith(builder, testing::ExactRules(), testing::NoMagnitudeNoise());
  REQUIRE_MESSAGE(finished.ok(), finished.status().ToString());
  return std::move(finished->release);
}

// The attacker holding both releases: the LP over the hierarchy (W1..W6, K1, K2, total) with every
// cell released by either release known. Whether W1 stays outside [1, 9].
bool UnionProtectsW1(const Release& by_wijk, const Release& by_cluster) {
  const std::vector<std::int64_t> truth = {4, 50, 60, 12, 40, 45, 114, 97, 211};
  std::vector<bool> unknown(truth.size(), true);
  REQUIRE(by_wijk.cells.size() == 7);
  REQUIRE(by_cluster.cells.size() == 3);
  for (std::size_t c = 0; c < 7; ++c) {
    if (by_wijk.cells[c].status != disclosure::CellStatus::kReleased) continue;
    REQUIRE(by_wijk.cells[c].value == truth[c == 6 ? 8 : c]);
    unknown[c == 6 ? 8 : c] = false;
  }
  for (std::size_t c = 0; c < 3; ++c) {
    if (by_cluster.cells[c].status != disclosure::CellStatus::kReleased) continue;
    REQUIRE(by_cluster.cells[c].value == truth[6 + c]);
    unknown[6 + c] = false;
  }
  REQUIRE(unknown[0]);  // W1 itself is withheld by the wijk release
  absl::StatusOr<disclosure::TableStructure> cube = disclosure::BuildCube(
      {{.codes = 8, .parent = {6, 6, 6, 7, 7, 7, disclosure::kRoot, disclosure::kRoot}}});
  REQUIRE(cube.ok());
  disclosure::ProtectionRequirement outside;  // not inside [1, 9]
  outside.has_lower = true;
  outside.lower = 0;
  outside.has_upper = true;
  outside.upper = 10;
  adapters::clp::ClpSolver solver;
  absl::StatusOr<disclosure::AuditResult> audit =
      disclosure::AuditTable(*cube, truth, unknown, {{0, outside}}, solver);
  REQUIRE(audit.ok());
  return audit->AllProtected();
}

TEST_CASE("linked tables: without a declared hierarchy the wijkcluster release gives W1 back") {
  const templates::Template t = HierarchyTemplate(false);
  const Release by_wijk = BuildLevel(t, 0);
  const Release by_cluster = BuildLevel(t, 1);
  CHECK(by_cluster.cells[0].status == disclosure::CellStatus::kReleased);  // K1 = 114
  CHECK_FALSE(UnionProtectsW1(by_wijk, by_cluster));
}

TEST_CASE("linked tables: both levels are slices of one pattern on the full hierarchy") {
  const templates::Template t = HierarchyTemplate(true);
  const Release by_wijk = BuildLevel(t, 0);
  const Release by_cluster = BuildLevel(t, 1);
  // Each release has only its own level and the total, in code order.
  REQUIRE(by_wijk.cells.size() == 7);
  REQUIRE(by_cluster.cells.size() == 3);
  for (std::size_t c = 0; c < 7; ++c) CHECK(by_wijk.cells[c].coordinates == std::vector<std::uint32_t>{static_cast<std::uint32_t>(c)});
  for (std::size_t c = 0; c < 3; ++c) CHECK(by_cluster.cells[c].coordinates == std::vector<std::uint32_t>{static_cast<std::uint32_t>(c)});
  REQUIRE(by_wijk.dimensions.size() == 1);
  CHECK(by_wijk.dimensions[0].name == "wijk");
  CHECK(by_cluster.dimensions[0].name == "wijkcluster");
  CHECK(by_cluster.dimensions[0].codes.size() == 3);
  CHECK(UnionProtectsW1(by_wijk, by_cluster));
  // The same pattern whichever level is asked for first: the total is released in both.
  CHECK(by_wijk.cells[6].status == by_cluster.cells[2].status);
}

TEST_CASE("linked tables: a row whose wijkcluster is not its wijk's parent fails closed") {
  const templates::Template t = HierarchyTemplate(true);
  templates::BoundQuery q;
  q.tmpl = &t;
  q.dimensions = {&t.dimensions[1]};
  TableBuilder builder(q);
  std::vector<std::string_view> good = {"W1", "K1"};
  std::vector<std::string_view> bad = {"W1", "K2"};
  const std::vector<std::int64_t> flags = {0, 0};
  CHECK(builder.Add(RowView{"u1", good, std::nullopt, flags, {}}).ok());
  const absl::Status status = builder.Add(RowView{"u2", bad, std::nullopt, flags, {}});
  CHECK(status.code() == absl::StatusCode::kInternal);
  CHECK(std::string(status.message()).find("K2") == std::string::npos);
}


// ---------------------------------------------------------------------------------------------
// The integer check (disclosure-control.md §4.6): three breakdowns, and a multi-valued one.

struct Row3 {
  std::string unit;
  std::vector<std::string> dims;
  std::int64_t flag = 1;
  std::optional<std::int64_t> measure;
};

// Builds the table of `t` (every dimension) from `rows`, with or without the integer solver.
absl::StatusOr<FinishedTable> Build3(const templates::Template& t, const std::vector<Row3>& rows,
                                     bool with_integer_check) {
  templates::BoundQuery q = test::BindAll(t);
  TableBuilder builder(q);
  std::vector<std::string_view> dims;
  for (const Row3& r : rows) {
    dims.assign(r.dims.begin(), r.dims.end());
    const std::vector<std::int64_t> flags = {r.flag, 0};
    ENCLAVE_RETURN_IF_ERROR(builder.Add(RowView{r.unit, dims, r.measure, flags, {}}));
  }
  adapters::cbc::CbcSolver cbc;
  return FinishWith(builder, testing::ExactRules(), testing::NoMagnitudeNoise(), "person",
                    with_integer_check ? &cbc : nullptr);
}

// The cube of a release of one COUNT statistic: released values (nullopt: withheld) and, from
// the rows, the truth; cells in canonical (release) order.
struct Cube {
  disclosure::TableStructure structure;
  std::vector<bool> withheld;
  std::vector<std::int64_t> truth;
};

Cube CountCube(const Release& r, std::uint32_t stat, std::vector<disclosure::DimensionShape> shapes,
               const std::vector<std::int64_t>& truth) {
  Cube c;
  absl::StatusOr<disclosure::TableStructure> cube = disclosure::BuildCube(shapes);
  REQUIRE(cube.ok());
  c.structure = *cube;
  c.truth = truth;
  const std::size_t stats = r.tmpl->statistics.size();
  REQUIRE(r.cells.size() == c.structure.cell_count * stats);
  for (std::size_t cell = 0; cell < c.structure.cell_count; ++cell) {
    const ReleasedCell& x = r.cells[cell * stats + stat];
    c.withheld.push_back(x.status != disclosure::CellStatus::kReleased);
    if (!c.withheld.back()) CHECK(x.value == truth[cell]);  // exact rules: released = true
  }
  return c;
}

// Distinct-unit counts of `rows` (flag set) per cell of the full cube over `codes`.
std::vector<std::int64_t> TrueCounts(const std::vector<Row3>& rows,
                                     const std::vector<std::vector<std::string>>& codes) {
  std::vector<std::size_t> radix;
  std::size_t n = 1;
  for (const auto& c : codes) {
    radix.push_back(c.size() + 1);
    n *= c.size() + 1;
  }
  std::vector<std::set<std::string>> units(n);
  for (const Row3& r : rows) {
    if (r.flag == 0) continue;
    std::vector<std::size_t> code(codes.size());
    for (std::size_t d = 0; d < codes.size(); ++d) {
      code[d] = static_cast<std::size_t>(
          std::find(codes[d].begin(), codes[d].end(), r.dims[d]) - codes[d].begin());
    }
    for (std::size_t mask = 0; mask < (std::size_t{1} << codes.size()); ++mask) {
      std::size_t cell = 0;
      for (std::size_t d = 0; d < codes.size(); ++d) {
        cell = cell * radix[d] + ((mask >> d) & 1U ? codes[d].size() : code[d]);
      }
      units[cell].insert(r.unit);
    }
  }
  std::vector<std::int64_t> out;
  for (const auto& u : units) out.push_back(static_cast<std::int64_t>(u.size()));
  return out;
}

// Whether the integer audit of a release (its withheld pattern, the true counts) finds every
// small withheld cell protected (not narrowed into [1, T-1]).
bool IntegerAuditProtects(const Cube& c) {
  std::vector<disclosure::PrimaryCell> primaries;
  for (std::size_t cell = 0; cell < c.truth.size(); ++cell) {
    if (c.withheld[cell] && c.truth[cell] >= 1 && c.truth[cell] < 10) {
      primaries.push_back({cell, disclosure::ProtectionRequirement{true, 0, true, 10}});
    }
  }
  REQUIRE_FALSE(primaries.empty());
  adapters::clp::ClpSolver clp;
  adapters::cbc::CbcSolver cbc;
  disclosure::AuditOptions options;
  options.integer.solver = &cbc;
  absl::StatusOr<disclosure::AuditResult> a =
      disclosure::AuditTable(c.structure, c.truth, c.withheld, primaries, clp, options);
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return a->AllProtected();
}

TEST_CASE("three breakdowns with withheld cells: released with audited suppression (integer check)") {
  templates::Template t = test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount, "zzp")});
  const std::vector<std::vector<std::string>> codes = {
      {"W1", "W2", "W3"}, {"A1", "A2", "A3"}, {"M", "V"}};
  t.dimensions = {test::MakeDimension("wijk", codes[0]), test::MakeDimension("age", codes[1]),
                  test::MakeDimension("sex", codes[2])};
  t.fixed_dimensions = {"wijk", "age", "sex"};
  std::vector<Row3> rows;
  int next = 0;
  for (std::size_t w = 0; w < 3; ++w) {
    for (std::size_t a = 0; a < 3; ++a) {
      for (std::size_t x = 0; x < 2; ++x) {
        // Small cells on a diagonal; the rest 12 to 40 units.
        const int n = (w == a && x == 0) ? static_cast<int>(3 + w) : static_cast<int>(12 + 7 * ((w + 2 * a + x) % 5));
        for (int i = 0; i < n; ++i) {
          rows.push_back({"p" + std::to_string(next++), {codes[0][w], codes[1][a], codes[2][x]}, 1, std::nullopt});
        }
      }
    }
  }
  // Without the integer solver the table is refused, as before.
  absl::StatusOr<FinishedTable> refused = Build3(t, rows, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(refused.status().message()).find("more than two breakdowns") != std::string::npos);
  // With it: released, the small cells and some complements withheld, audited on whole numbers.
  absl::StatusOr<FinishedTable> done = Build3(t, rows, true);
  REQUIRE_MESSAGE(done.ok(), done.status().message());
  const Release& r = done->release;
  const std::vector<std::int64_t> truth = TrueCounts(rows, codes);
  const Cube c = CountCube(r, 0, {{3, {}}, {3, {}}, {2, {}}}, truth);
  int withheld = 0;
  int secondary = 0;
  for (std::size_t cell = 0; cell < truth.size(); ++cell) {
    if (truth[cell] >= 1 && truth[cell] < 10) CHECK(c.withheld[cell]);
    if (c.withheld[cell]) ++withheld;
    if (r.provenance[cell].rule == "secondary") {
      ++secondary;
      CHECK(r.provenance[cell].params.find("lp-audit+integer") != std::string::npos);
    }
  }
  CHECK(secondary >= 1);
  CHECK(withheld < static_cast<int>(truth.size()));  // not everything
  CHECK(IntegerAuditProtects(c));
  // Negative control: only the small cells withheld, the integer attacker recovers one.
  Cube primary_only = c;
  for (std::size_t cell = 0; cell < truth.size(); ++cell) {
    primary_only.withheld[cell] = truth[cell] >= 1 && truth[cell] < 10;
  }
  CHECK_FALSE(IntegerAuditProtects(primary_only));
  // Deterministic.
  absl::StatusOr<FinishedTable> again = Build3(t, rows, true);
  REQUIRE(again.ok());
  for (std::size_t i = 0; i < r.cells.size(); ++i) CHECK(again->release.cells[i].status == r.cells[i].status);
}

// wijk {W1, W2} x verblijf {met, zonder}: young people with one or two trajectories; COUNT of
// persons (flag jeugdhulp = the first flag) and SUM of trajectories (one per row).
templates::Template VerblijfTemplate(bool multi_valued) {
  templates::Template t = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount, "zzp"),
       test::MakeStatistic("trajecten", StatisticKind::kSum, "zzp")});
  templates::Dimension verblijf = test::MakeDimension("verblijf", {"met", "zonder"});
  verblijf.multi_valued = multi_valued;
  t.dimensions = {test::MakeDimension("wijk", {"W1", "W2"}), verblijf};
  t.fixed_dimensions = {"wijk", "verblijf"};
  return t;
}

// W1: 3 with stay only, 30 without only, 2 with both; W2: 15 with stay only, 20 without only,
// 4 with both. Margins count persons once: W1 total 35 (not 37).
std::vector<Row3> VerblijfRows() {
  std::vector<Row3> rows;
  auto add = [&](const std::string& wijk, const std::string& prefix, int n, bool met, bool zonder) {
    for (int i = 0; i < n; ++i) {
      const std::string unit = prefix + std::to_string(i);
      if (met) rows.push_back({unit, {wijk, "met"}, 1, 1});
      if (zonder) rows.push_back({unit, {wijk, "zonder"}, 1, 1});
    }
  };
  add("W1", "a", 3, true, false);
  add("W1", "b", 30, false, true);
  add("W1", "c", 2, true, true);
  add("W2", "d", 15, true, false);
  add("W2", "e", 20, false, true);
  add("W2", "f", 4, true, true);
  return rows;
}

TEST_CASE("a multi-valued breakdown: released with distinct-unit margins and audited suppression") {
  const std::vector<std::vector<std::string>> codes = {{"W1", "W2"}, {"met", "zonder"}};
  const std::vector<Row3> rows = VerblijfRows();
  const std::vector<std::int64_t> truth = TrueCounts(rows, codes);
  // Rows W1 (5, 32 | 35), W2 (19, 24 | 39), total (24, 56 | 74).
  REQUIRE(truth == std::vector<std::int64_t>{5, 32, 35, 19, 24, 39, 24, 56, 74});
  // Not declared multi-valued: a person in two codes fails the table closed.
  absl::StatusOr<FinishedTable> refused = Build3(VerblijfTemplate(false), rows, true);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(refused.status().message()).find("several categories") != std::string::npos);
  // Declared, but without the integer solver: refused (the union relations need it).
  CHECK(Build3(VerblijfTemplate(true), rows, false).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  const templates::Template t = VerblijfTemplate(true);
  absl::StatusOr<FinishedTable> done = Build3(t, rows, true);
  REQUIRE_MESSAGE(done.ok(), done.status().message());
  const Release& r = done->release;
  // W1 with stay (5 persons) is withheld; the margins are released as distinct persons.
  CHECK(Cell(r, 0, 0, 0).status == disclosure::CellStatus::kConfidential);
  CHECK(Rule(r, 0, 0, 0) == "threshold");
  const Cube c = CountCube(r, 0, {{2, {}}, {2, {}, true}}, truth);
  for (std::size_t cell = 0; cell < truth.size(); ++cell) {
    if (!c.withheld[cell]) CHECK(r.cells[cell * 2].value == truth[cell]);
  }
  CHECK_FALSE(c.withheld[8]);  // the grand total, 74 persons
  CHECK(IntegerAuditProtects(c));
  // Trajectories are a sum over rows and stay additive (W1: 3 + 30 + 2 * 2 = 37): their table
  // is audited as sums, on the LP alone (2-D, exact).
  CHECK(Cell(r, 0, 0, 1).status == disclosure::CellStatus::kConfidential);
  for (std::size_t cell = 0; cell < truth.size(); ++cell) {
    const CellProvenance& count = r.provenance[cell * 2];
    const CellProvenance& sum = r.provenance[cell * 2 + 1];
    if (count.rule == "secondary") CHECK(count.params.find("units/flags=1/lp-audit+integer") == 0);
    if (sum.rule == "secondary") CHECK(sum.params.find("sums/flags=1/lp-audit") == 0);
  }
  if (Cell(r, 0, 2, 1).status == disclosure::CellStatus::kReleased) CHECK(Value(r, 0, 2, 1) == 37);
  // Negative control: with only the small cell withheld, the column (wijk has one code per
  // person, so it is a sum) gives it back: 24 - 19 = 5.
  Cube primary_only = c;
  primary_only.withheld.assign(truth.size(), false);
  primary_only.withheld[0] = true;
  CHECK_FALSE(IntegerAuditProtects(primary_only));
}

TEST_CASE("two multi-valued breakdowns with withheld cells are refused") {
  templates::Template t = VerblijfTemplate(true);
  templates::Dimension verwijzer = test::MakeDimension("verwijzer", {"huisarts", "jeugdarts"});
  verwijzer.multi_valued = true;
  t.dimensions.push_back(verwijzer);
  t.fixed_dimensions.push_back("verwijzer");
  std::vector<Row3> rows;
  for (const Row3& r : VerblijfRows()) {
    Row3 x = r;
    x.dims.push_back(r.unit[0] == 'c' ? "jeugdarts" : "huisarts");
    rows.push_back(x);
  }
  absl::StatusOr<FinishedTable> done = Build3(t, rows, true);
  REQUIRE_FALSE(done.ok());
  CHECK(done.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(done.status().message()).find("several categories") != std::string::npos);
}

}  // namespace
}  // namespace enclave::core

namespace enclave::core {
namespace {

// T6's comparison (disclosure-control.md §3.6a): arm sizes, both arms' shares, the difference and
// its bounds. Flags: deelnemer, deelnemer_uitkomst, controle, controle_uitkomst.
templates::Template ComparisonTemplate() {
  templates::Template t = test::MakeTemplate({});
  t.measure_column.clear();
  t.flag_columns = {"deelnemer", "deelnemer_uitkomst", "controle", "controle_uitkomst"};
  templates::Statistic n_d = test::MakeStatistic("n_deelnemers", StatisticKind::kCount, "deelnemer");
  templates::Statistic n_c = test::MakeStatistic("n_controles", StatisticKind::kCount, "controle");
  templates::Statistic p_d =
      test::MakeStatistic("pct_deelnemers", StatisticKind::kShare, "deelnemer_uitkomst");
  p_d.denominator_flag = "deelnemer";
  templates::Statistic p_c =
      test::MakeStatistic("pct_controles", StatisticKind::kShare, "controle_uitkomst");
  p_c.denominator_flag = "controle";
  templates::Statistic diff = test::MakeStatistic("verschil", StatisticKind::kShareDifference);
  diff.minuend = "pct_deelnemers";
  diff.subtrahend = "pct_controles";
  templates::Statistic lo = diff;
  lo.name = "verschil_laag";
  lo.bound = templates::DifferenceBound::kLower95;
  templates::Statistic hi = diff;
  hi.name = "verschil_hoog";
  hi.bound = templates::DifferenceBound::kUpper95;
  t.statistics = {n_d, n_c, p_d, p_c, diff, lo, hi};
  return t;
}

void AddArm(std::vector<FakeRow>& rows, const std::string& prefix, bool participant, int units,
            int with_outcome, const std::string& wijk, const std::string& sex) {
  for (int i = 0; i < units; ++i) {
    const std::int64_t y = i < with_outcome ? 1 : 0;
    rows.push_back({prefix + std::to_string(i), {wijk, sex}, std::nullopt,
                    participant ? std::vector<std::int64_t>{1, y, 0, 0}
                                : std::vector<std::int64_t>{0, 0, 1, y}});
  }
}

std::optional<std::int64_t> ValueAt(const Release& r, std::uint32_t wijk, std::uint32_t sex,
                                    std::uint32_t stat) {
  const ReleasedCell& c = r.cells.at(At(r, wijk, sex, stat));
  if (c.status != disclosure::CellStatus::kReleased) return std::nullopt;
  return c.value;
}

TEST_CASE("a comparison of two arms releases shares, difference and interval from the same counts") {
  const templates::Template t = ComparisonTemplate();
  std::vector<FakeRow> rows;
  AddArm(rows, "d", true, 120, 40, "W1", "M");   // 33.3%
  AddArm(rows, "c", false, 240, 30, "W1", "M");  // 12.5%
  const Release r = Build(t, rows);
  // Exact rules: 120 and 240 units; 33% and 13% (12.5 rounds half away from zero).
  CHECK(Value(r, 0, 0, 0) == 120);
  CHECK(Value(r, 0, 0, 1) == 240);
  CHECK(Value(r, 0, 0, 2) == 33);
  CHECK(Value(r, 0, 0, 3) == 13);
  const auto expected = disclosure::ShareDifferenceInterval({40, 120}, {30, 240}, 1);
  REQUIRE(expected.has_value());
  CHECK(Value(r, 0, 0, 4) == expected->estimate);
  CHECK(Value(r, 0, 0, 5) == expected->lower);
  CHECK(Value(r, 0, 0, 6) == expected->upper);
  CHECK(Value(r, 0, 0, 4) == 21);
  CHECK(Value(r, 0, 0, 5) == 11);
  CHECK(Value(r, 0, 0, 6) == 31);
}

// Attack: a control arm with 3 units with the outcome (fewer than T = 10) has its percentage
// withheld. Were the difference released anyway, the participants' released percentage minus the
// difference would give the controls' percentage, and with the released arm size their count.
TEST_CASE("attack: the difference and interval never reveal a withheld arm (negative control)") {
  const templates::Template t = ComparisonTemplate();
  std::vector<FakeRow> rows;
  AddArm(rows, "d", true, 120, 40, "W1", "M");
  AddArm(rows, "c", false, 120, 3, "W1", "M");  // numerator 3 < 10: the controls' share fails
  AddArm(rows, "e", true, 150, 60, "W2", "M");
  AddArm(rows, "f", false, 300, 45, "W2", "M");
  const Release r = Build(t, rows);
  CHECK(Rule(r, 0, 0, 3) == "share-numerator");
  // With the protection: the whole comparison of (W1, M) is withheld, arm sizes included.
  for (std::uint32_t s : {0u, 1u, 2u, 4u, 5u, 6u}) {
    CAPTURE(s);
    CHECK_FALSE(ValueAt(r, 0, 0, s).has_value());
  }
  CHECK(Rule(r, 0, 0, 4) == "comparison");
  CHECK(Rule(r, 0, 0, 2) == "comparison");
  // In every cell of the table: a released difference or bound implies both shares and both arm
  // sizes are released.
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (std::uint32_t x = 0; x < 3; ++x) {
      const bool any_difference = ValueAt(r, w, x, 4) || ValueAt(r, w, x, 5) || ValueAt(r, w, x, 6);
      if (!any_difference) continue;
      CHECK(ValueAt(r, w, x, 0).has_value());
      CHECK(ValueAt(r, w, x, 1).has_value());
      CHECK(ValueAt(r, w, x, 2).has_value());
      CHECK(ValueAt(r, w, x, 3).has_value());
    }
  }
  // Negative control, the protection switched off: the difference computed as it would be
  // released, with the participants' 33% and the arm size 120, gives the controls' withheld count.
  const auto leaked = disclosure::ShareDifferenceInterval({40, 120}, {3, 120}, 1);
  REQUIRE(leaked.has_value());
  const std::int64_t pct_participants = 33;
  const double controls_pct = static_cast<double>(pct_participants - leaked->estimate);
  const double recovered = controls_pct * 120 / 100;
  MESSAGE("without the tie: difference " << leaked->estimate << " pp [" << leaked->lower << ", "
                                         << leaked->upper << "], controls' count recovered as "
                                         << recovered);
  CHECK(recovered < 10);  // the withheld fact "1-9 units with the outcome" is disclosed
  CHECK(recovered >= 1);
}

}  // namespace
}  // namespace enclave::core
