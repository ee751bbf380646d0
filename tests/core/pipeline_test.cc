// The disclosure pipeline through the core (disclosure-control.md §2, issue #3 "Tests that must
// exist"): consistency of released values across templates, parameter orders and margins; one
// value per cell over 1,000 repetitions; perturbation bounds; the differencing guard.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/core/aggregate.h"
#include "enclave/core/query_service.h"
#include "enclave/disclosure/secondary.h"
#include "enclave/disclosure/table_structure.h"
#include "tests/core/fixtures.h"
#include "tests/testing/fake_disclosure.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::core {
namespace {

using templates::StatisticKind;
using testing::FakeRow;

constexpr char kAnalyst[] = "spiffe://lv/analyst";

// Wijk W1: 57 men, 23 women; W2: 31 men, 44 women. Counts with every residue mod 5.
std::vector<FakeRow> Rows() {
  std::vector<FakeRow> rows;
  test::AddUnits(rows, "p", 57, "W1", "M", 1000, 1, 1);
  test::AddUnits(rows, "q", 23, "W1", "V", 2000, 0, 1);
  test::AddUnits(rows, "r", 31, "W2", "M", 1500, 1, 0);
  test::AddUnits(rows, "s", 44, "W2", "V", 2500, 0, 0);
  return rows;
}

Release Run(const templates::Template& t, std::vector<const templates::Dimension*> dims,
            const std::vector<FakeRow>& rows, const disclosure::RuleSetParams& rules) {
  static testing::FakeRecordKeys keys;  // one record-key secret for every release
  templates::BoundQuery q;
  q.tmpl = &t;
  q.dimensions = std::move(dims);
  TableBuilder builder(q);
  std::vector<std::string_view> view_dims;
  for (const FakeRow& r : rows) {
    view_dims.assign(r.dimensions.begin(), r.dimensions.end());
    REQUIRE(builder.Add(RowView{r.unit, view_dims, r.measure, r.flags, {}}).ok());
  }
  UnitIndex units("person", keys);
  adapters::clp::ClpSolver solver;
  DisclosureTools tools;
  tools.rules = &rules;
  tools.units = &units;
  tools.solver = &solver;
  tools.magnitude_key = testing::FakeMagnitudeKey;
  absl::StatusOr<FinishedTable> done = std::move(builder).Finish(tools, "v1");
  REQUIRE_MESSAGE(done.ok(), done.status().ToString());
  return std::move(done->release);
}

std::int64_t ValueAt(const Release& r, const std::vector<std::uint32_t>& coords, std::uint32_t stat) {
  for (const ReleasedCell& c : r.cells) {
    if (c.coordinates == coords && c.statistic == stat) {
      REQUIRE(c.value.has_value());
      return *c.value;
    }
  }
  FAIL("no such cell");
  return 0;
}

TEST_CASE("the same units give the same released value in any template, margin and order") {
  const disclosure::RuleSetParams rules;  // cbs-default: random rounding to base 5 by cell key
  const templates::Template a = test::MakeTemplate(
      {test::MakeStatistic("n", StatisticKind::kCount),
       test::MakeStatistic("income", StatisticKind::kSum, "", 1000)});
  // Another template: statistics in another order, one more statistic, another id and version.
  templates::Template b = test::MakeTemplate(
      {test::MakeStatistic("zzp", StatisticKind::kCount, "zzp"),
       test::MakeStatistic("income", StatisticKind::kSum, "", 1000),
       test::MakeStatistic("n", StatisticKind::kCount)});
  b.id = "other_template";
  b.version = 7;
  const std::vector<FakeRow> rows = Rows();
  std::vector<FakeRow> reversed(rows.rbegin(), rows.rend());

  const Release wijk_sex = Run(a, {&a.dimensions[0], &a.dimensions[1]}, rows, rules);
  const Release wijk_only = Run(b, {&b.dimensions[0]}, reversed, rules);
  const Release sex_wijk = Run(b, {&b.dimensions[1], &b.dimensions[0]}, rows, rules);
  // W1 as a margin of wijk x sex, as a cell of the wijk table, as a margin of sex x wijk.
  for (std::uint32_t w : {0u, 1u, 2u}) {
    const std::int64_t n = ValueAt(wijk_sex, {w, 2}, 0);
    CHECK(ValueAt(wijk_only, {w}, 2) == n);
    CHECK(ValueAt(sex_wijk, {2, w}, 2) == n);
    CHECK(ValueAt(wijk_only, {w}, 1) == ValueAt(wijk_sex, {w, 2}, 1));
  }
  // Inner cells reached with the dimensions in the other order.
  for (std::uint32_t w : {0u, 1u}) {
    for (std::uint32_t s : {0u, 1u}) {
      CHECK(ValueAt(sex_wijk, {s, w}, 2) == ValueAt(wijk_sex, {w, s}, 0));
    }
  }
  // The men with the zzp flag are exactly the men: their count is the men's count.
  CHECK(ValueAt(sex_wijk, {0, 2}, 0) == ValueAt(sex_wijk, {0, 2}, 2));
}

TEST_CASE("released counts are perturbed by random rounding within the base") {
  const disclosure::RuleSetParams rules;
  const templates::Template a =
      test::MakeTemplate({test::MakeStatistic("n", StatisticKind::kCount)});
  const Release r = Run(a, {&a.dimensions[0], &a.dimensions[1]}, Rows(), rules);
  const std::map<std::vector<std::uint32_t>, std::int64_t> truth = {
      {{0, 0}, 57}, {{0, 1}, 23}, {{0, 2}, 80}, {{1, 0}, 31}, {{1, 1}, 44},
      {{1, 2}, 75}, {{2, 0}, 88}, {{2, 1}, 67}, {{2, 2}, 155}};
  int changed = 0;
  for (const auto& [coords, n] : truth) {
    const std::int64_t v = ValueAt(r, coords, 0);
    CHECK(v % 5 == 0);
    CHECK(v - n < 5);
    CHECK(n - v < 5);
    if (v != n) ++changed;
  }
  CHECK(changed >= 5);  // every count not a multiple of 5 moved
  CHECK(r.treatment == "ROUNDED_5");
}

struct Service {
  std::shared_ptr<TemplateCatalog> catalog = std::make_shared<TemplateCatalog>();
  std::shared_ptr<testing::FakeSourceState> state = std::make_shared<testing::FakeSourceState>();
  std::shared_ptr<testing::FakeQueryLog> log = std::make_shared<testing::FakeQueryLog>();
  std::shared_ptr<testing::FakeDisclosure> disclosure = std::make_shared<testing::FakeDisclosure>();
  std::unique_ptr<QueryService> service;

  Service() {
    templates::Template t = test::MakeTemplate(
        {test::MakeStatistic("n", StatisticKind::kCount),
         test::MakeStatistic("income", StatisticKind::kSum, "", 1000),
         test::MakeStatistic("mean", StatisticKind::kMean, "", 100)});
    templates::ParamSpec year;
    year.name = "year";
    year.type = templates::ParamType::kInteger;
    year.min = 2020;
    year.max = 2024;
    year.default_value = "2023";
    templates::ParamSpec sex = year;
    sex.name = "area";
    t.params = {year, sex};
    catalog->templates = {t};
    catalog->rule_sets["cbs-default"] = disclosure::RuleSetParams{};
    policy::Principal p;
    p.id = kAnalyst;
    p.role = templates::Role::kMunicipalAnalyst;
    p.organisation = "lv";
    auto dir = policy::PrincipalDirectory::Create({p});
    REQUIRE(dir.ok());
    state->rows = Rows();
    QueryServiceOptions options;
    options.sha256_hex = [](std::string_view s) { return std::to_string(std::hash<std::string_view>{}(s)); };
    testing::FakeDisclosure::Configure(disclosure, options);
    service = std::make_unique<QueryService>(
        catalog, std::make_shared<policy::PrincipalDirectory>(*std::move(dir)),
        testing::FakeSourceFactory(state), log, options);
  }
  absl::StatusOr<RunResult> Run(std::vector<std::pair<std::string, std::string>> params = {}) {
    return service->RunQuery(kAnalyst, "test_template", params, {});
  }
};

TEST_CASE("1,000 repetitions of one query give one distinct value per cell") {
  Service s;
  std::map<std::size_t, std::set<std::int64_t>> seen;
  std::set<std::string> digests;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<RunResult> r = s.Run();
    REQUIRE(r.ok());
    for (std::size_t c = 0; c < r->release.cells.size(); ++c) {
      if (r->release.cells[c].value.has_value()) seen[c].insert(*r->release.cells[c].value);
    }
    digests.insert(CanonicalReleaseText(r->release));
  }
  CHECK(digests.size() == 1);  // bit for bit the same release
  REQUIRE(!seen.empty());
  for (const auto& [cell, values] : seen) CHECK(values.size() == 1);
}

TEST_CASE("parameter order does not change the release") {
  Service s;
  absl::StatusOr<RunResult> a = s.Run({{"year", "2022"}, {"area", "2021"}});
  absl::StatusOr<RunResult> b = s.Run({{"area", "2021"}, {"year", "2022"}});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(CanonicalReleaseText(a->release) == CanonicalReleaseText(b->release));
}

TEST_CASE("a population differing by one unit from a released one is refused") {
  Service s;
  REQUIRE(s.Run().ok());
  // The "same" query on a population with one person more (e.g. an age band one year wider).
  s.state->rows.push_back({"extra-person", {"W1", "M"}, 1000, {1, 1}});
  absl::StatusOr<RunResult> r = s.Run({{"year", "2022"}});
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  const std::string message(r.status().message());
  CHECK(message.find("extra-person") == std::string::npos);
  const std::vector<QueryLogEntry> entries = s.log->entries();
  REQUIRE(!entries.empty());
  CHECK(entries.back().type == QueryLogEntry::Type::kAborted);
  // Ten more (at least T) is a different population, not a difference attack.
  for (int i = 0; i < 9; ++i) {
    s.state->rows.push_back({"extra-" + std::to_string(i), {"W2", "V"}, 1000, {0, 0}});
  }
  // W1 and M groups still differ by one from the first release: refused as well.
  CHECK(s.Run({{"year", "2021"}}).status().code() == absl::StatusCode::kFailedPrecondition);
  // Without the guard's history (another project), the same population is released.
  Service fresh;
  fresh.state->rows = s.state->rows;
  CHECK(fresh.Run().ok());
}

TEST_CASE("no released pattern lets an attacker's LP narrow a small cell into [1, T-1]") {
  Service s;
  s.state->rows.clear();
  test::AddUnits(s.state->rows, "a", 30, "W1", "M", 1000);
  test::AddUnits(s.state->rows, "c", 25, "W1", "V", 1000);
  test::AddUnits(s.state->rows, "d", 40, "W2", "M", 1000);
  test::AddUnits(s.state->rows, "b", 3, "W2", "V", 1000);
  absl::StatusOr<RunResult> r = s.Run();
  REQUIRE(r.ok());
  // The true count table in core's cell order, and what was withheld.
  const std::vector<std::int64_t> truth = {30, 25, 55, 40, 3, 43, 70, 28, 98};
  std::vector<bool> withheld;
  for (const ReleasedCell& c : r->release.cells) {
    if (c.statistic == 0) withheld.push_back(c.status != disclosure::CellStatus::kReleased);
  }
  REQUIRE(withheld.size() == 9);
  absl::StatusOr<disclosure::TableStructure> cube = disclosure::BuildCube({{.codes = 2, .parent = {}}, {.codes = 2, .parent = {}}});
  REQUIRE(cube.ok());
  disclosure::ProtectionRequirement req;  // not inside [1, 9]
  req.has_lower = true;
  req.lower = 0;
  req.has_upper = true;
  req.upper = 10;
  std::vector<disclosure::PrimaryCell> primaries;
  for (std::size_t c : {4u, 5u, 7u}) primaries.push_back({c, req});  // 3, and 43-40, 28-25
  adapters::clp::ClpSolver solver;
  absl::StatusOr<disclosure::AuditResult> audit =
      disclosure::AuditTable(*cube, truth, withheld, {primaries[0]}, solver);
  REQUIRE(audit.ok());
  CHECK(audit->AllProtected());
  // Negative control: withholding only the primary cells, the margins give the 3 back.
  std::vector<bool> only_primary(9, false);
  only_primary[4] = only_primary[5] = only_primary[7] = true;
  audit = disclosure::AuditTable(*cube, truth, only_primary, {primaries[0]}, solver);
  REQUIRE(audit.ok());
  CHECK_FALSE(audit->AllProtected());
}

}  // namespace
}  // namespace enclave::core
