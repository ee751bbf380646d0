// Attack tests (issue 3) against the real enclaved process through the real client library: an
// attacker who recomputes suppressed cells from the released margins with an LP, one who averages
// repeated answers, and one who differences two requests whose populations differ by one person.
// Each attack is shown to fail against the enclave, and (where it can be) to succeed against a
// table or request the enclave's protection would have let through without it.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "enclave/adapters/policy_files/access_files.h"
#include "enclave/adapters/sqlite/budget_ledger_store.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/core/dp_release.h"
#include "enclave/core/query_service.h"
#include "enclave/crypto/private_random.h"
#include "enclave/policy/access.h"
#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/audit/leaf.h"
#include "enclave/client/client.h"
#include "enclave/disclosure/integer_solver.h"
#include "enclave/disclosure/lp_solver.h"
#include "enclave/disclosure/secondary.h"
#include "enclave/disclosure/table_structure.h"
#include "enclave/templates/binding.h"
#include "tests/integration/process.h"
#include "tests/integration/sqlite_truth.h"
#include "tests/integration/world.h"
#include "tests/testing/fake_disclosure.h"
#include "tests/testing/fake_query_log.h"

namespace enclave::testing {
namespace {

const std::string kSourceDir = ENCLAVE_SOURCE_DIR;
constexpr std::int64_t kThreshold = 10;  // cbs-default T, the shipped templates' min_units
constexpr std::int64_t kRoundingBase = 5;  // cbs-default random rounding base

// The shared PKI and standard dataset, and one running server for the margins and averaging
// attacks; the differencing attack starts its own server (own policies, own release history).
struct World : TestWorld {
  std::unique_ptr<ServerProcess> server;

  World() : TestWorld(kStandardData) {
    server = StartServer(kSourceDir + "/policies", "state");
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
  }

  // enclaved on `policies` with the state directory dir/<state_name> (0700).
  std::unique_ptr<ServerProcess> StartServer(const std::string& policies,
                                             const std::string& state_name) const {
    return StartEnclaved(policies, StateDir(state_name));
  }

  std::unique_ptr<client::EnclaveClient> Client(const ServerProcess& s,
                                                const std::string& who) const {
    return Connect(s.target(), who, std::chrono::milliseconds(120000));
  }
};

World& TheWorld() {
  static World world;
  return world;
}

const templates::Template& ShippedTemplate(const std::string& id) {
  static auto loaded = adapters::policy_files::LoadPolicies(kSourceDir + "/policies", nullptr);
  REQUIRE(loaded.ok());
  for (const auto& t : loaded->catalog->templates) {
    if (t.id == id) return t;
  }
  FAIL("no shipped template " << id);
  std::abort();  // unreachable: FAIL throws
}

using Params = std::vector<std::pair<std::string, std::string>>;

// One COUNT statistic of one released table, laid out as the cube of BuildCube.
struct CountTable {
  disclosure::TableStructure cube;
  std::vector<std::optional<std::int64_t>> released;  // per cube cell; nullopt: withheld
  std::vector<std::int64_t> truth;                     // per cube cell, from plain SQLite
};

// The cube's relations as rows over one variable per cell: x_total = Σ x_parts, or for a
// multi-valued dimension's distinct-unit margins x_part <= x_total <= Σ x_parts.
void AddRelations(const disclosure::TableStructure& cube, disclosure::LpProblem& p) {
  for (const auto& r : cube.relations) {
    disclosure::LpRow row;
    row.variables.push_back(r.total);
    row.coefficients.push_back(1.0);
    for (std::size_t part : r.parts) {
      row.variables.push_back(part);
      row.coefficients.push_back(-1.0);
    }
    if (r.kind == disclosure::RelationKind::kUnion) {
      row.sense = disclosure::LpRowSense::kLessEqual;
      for (std::size_t part : r.parts) {
        p.rows.push_back(disclosure::LpRow{{part, r.total}, {1.0, -1.0}, 0.0,
                                           disclosure::LpRowSense::kLessEqual});
      }
    }
    p.rows.push_back(std::move(row));
  }
}

// The attacker's feasible interval of each cell: x_c >= 0; released cells within `slack` of the
// released value; every margin relation of the cube holds (the true table satisfies them, so the
// truth is always feasible). Returns [lo, hi] per cell, computed for `cells` only.
std::map<std::size_t, std::pair<double, double>> AttackerIntervals(
    const disclosure::TableStructure& cube,
    const std::vector<std::optional<std::int64_t>>& released,
    std::int64_t slack, const std::vector<std::size_t>& cells) {
  double big = 0;
  for (const auto& v : released) {
    if (v.has_value()) big = std::max(big, static_cast<double>(*v));
  }
  big = 10 * (big + 1000);  // a bound no cell can reach; keeps the LP bounded
  disclosure::LpProblem p;
  for (const auto& v : released) {
    if (v.has_value()) {
      p.lower.push_back(static_cast<double>(std::max<std::int64_t>(0, *v - slack)));
      p.upper.push_back(static_cast<double>(*v + slack));
    } else {
      p.lower.push_back(0);
      p.upper.push_back(big);
    }
  }
  AddRelations(cube, p);
  adapters::clp::ClpSolver solver;
  REQUIRE(solver.Load(p).ok());
  std::map<std::size_t, std::pair<double, double>> out;
  for (std::size_t c : cells) {
    const disclosure::LpResult lo = solver.Optimize(c, disclosure::LpSense::kMinimize);
    const disclosure::LpResult hi = solver.Optimize(c, disclosure::LpSense::kMaximize);
    REQUIRE(lo.status == disclosure::LpStatus::kOptimal);
    REQUIRE(hi.status == disclosure::LpStatus::kOptimal);
    out[c] = {lo.value, hi.value};
  }
  return out;
}

// Runs `id` with `params` as `who` and returns its COUNT tables (one per COUNT statistic).
// nullopt when the enclave refused the whole request by the differencing guard (an earlier query
// of this test binary may share a population); any other error fails the test. `server`: the
// world's shared server unless given.
std::optional<std::vector<CountTable>> RunCountTables(const std::string& id, const Params& params,
                                                      const std::string& who,
                                                      const ServerProcess* server = nullptr) {
  World& w = TheWorld();
  const templates::Template& tmpl = ShippedTemplate(id);
  auto bound = templates::Bind(tmpl, params);
  REQUIRE(bound.ok());
  auto c = w.Client(server != nullptr ? *server : *w.server, who);
  auto result = c->RunQuery(id, params);
  if (!result.ok() && absl::IsFailedPrecondition(result.status())) {
    MESSAGE("refused by the differencing guard: " << id << " " << bound->CanonicalParams());
    return std::nullopt;
  }
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  std::vector<disclosure::DimensionShape> shapes;
  for (const auto& d : result->dimensions) {
    disclosure::DimensionShape s;
    s.codes = static_cast<std::size_t>(
        std::count_if(d.codes.begin(), d.codes.end(),
                      [](const client::Code& k) { return !k.is_total; }));
    // A multi-valued dimension's margins count distinct units (the template says so, publicly).
    for (const auto& td : tmpl.dimensions) {
      if (td.name == d.name) s.multi_valued = td.multi_valued;
    }
    shapes.push_back(s);
  }
  auto cube = disclosure::BuildCube(shapes);
  REQUIRE(cube.ok());
  std::vector<CountTable> out;
  for (std::uint32_t s = 0; s < tmpl.statistics.size(); ++s) {
    const auto& stat = tmpl.statistics[s];
    if (stat.kind != templates::StatisticKind::kCount) continue;
    CountTable t;
    t.cube = *cube;
    t.released.assign(cube->cell_count, std::nullopt);
    t.truth.assign(cube->cell_count, 0);
    auto truth = IndependentCounts(w.db, *bound, stat.flag);
    REQUIRE(truth.ok());
    std::size_t seen = 0;
    for (const auto& cell : result->cells) {
      if (cell.statistic != s) continue;
      std::vector<std::size_t> coords(cell.coordinates.begin(), cell.coordinates.end());
      REQUIRE(coords.size() == shapes.size());
      const std::size_t index = cube->CellIndex(coords);
      t.released[index] = cell.value;
      auto it = truth->find(cell.coordinates);
      t.truth[index] = it == truth->end() ? 0 : it->second;
      ++seen;
    }
    REQUIRE(seen == cube->cell_count);
    out.push_back(std::move(t));
  }
  return out;
}

struct AttackOutcome {
  std::size_t small_withheld = 0;  // withheld cells with a true count in [1, T-1]
  std::size_t recovered = 0;       // of those, cells whose interval lies inside [1, T-1]
};

// The margins attack on one table: every withheld cell with a true count in [1, T-1] is attacked.
AttackOutcome MarginsAttack(const CountTable& t, std::int64_t slack) {
  std::vector<std::size_t> targets;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    if (!t.released[c].has_value() && t.truth[c] >= 1 && t.truth[c] < kThreshold) {
      targets.push_back(c);
    }
  }
  AttackOutcome o;
  o.small_withheld = targets.size();
  if (targets.empty()) return o;
  const auto intervals = AttackerIntervals(t.cube, t.released, slack, targets);
  for (std::size_t c : targets) {
    const auto [lo, hi] = intervals.at(c);
    CAPTURE(c);
    CAPTURE(t.truth[c]);
    // The truth is feasible, so the interval must contain it (a sanity check of the LP).
    CHECK(lo <= static_cast<double>(t.truth[c]) + 1e-6);
    CHECK(hi >= static_cast<double>(t.truth[c]) - 1e-6);
    // Disclosed: the attacker learns the cell is a small, non-zero group (§4: lo > 0 and hi < T).
    if (lo > 0.5 && hi < static_cast<double>(kThreshold) - 0.5) ++o.recovered;
  }
  return o;
}

struct Combination {
  std::string id;
  Params params;
};

std::vector<Combination> SmallCellCombinations() {
  return {
      {"zzp_aantal_per_wijk",
       {{"age_group", "15-34"}, {"geo", "wijkcluster"}, {"breakdown", "geslacht"}}},
      {"zzp_aantal_per_wijk", {{"age_group", "55-74"}, {"geo", "wijk"}, {"breakdown", "geslacht"}}},
      {"zzp_aantal_per_wijk", {{"age_group", "15-34"}, {"geo", "wijk"}, {"year", "2019"}}},
      {"jongeren_neet_werkloos", {{"breakdown", "herkomst"}, {"geo", "wijk"}}},
      {"jongeren_neet_werkloos",
       {{"indicator", "uwv_werkzoekend_16_22"}, {"breakdown", "geslacht"}, {"geo", "wijkcluster"}}},
      {"bijstand_stand", {{"breakdown1", "herkomst"}}},
  };
}

}  // namespace

TEST_CASE("margins attack: an LP over the released margins cannot pin down a withheld small cell") {
  std::size_t tables = 0;
  std::size_t small_withheld = 0;
  std::size_t control_recovered = 0;
  for (const auto& combo : SmallCellCombinations()) {
    CAPTURE(combo.id);
    auto counts = RunCountTables(combo.id, combo.params, "analyst1");
    if (!counts.has_value()) continue;
    for (const auto& t : *counts) {
      ++tables;
      // The attacker knows released counts are rounded to base 5: each is within 4 of the truth.
      const AttackOutcome attack = MarginsAttack(t, kRoundingBase - 1);
      CHECK(attack.recovered == 0);
      small_withheld += attack.small_withheld;

      // Negative control: the same attacker against the table the primary rule alone would give
      // (only cells below T withheld, everything else released exactly). Without secondary
      // suppression the margins give some small cells away.
      CountTable primary_only = t;
      for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
        const bool unsafe = t.truth[c] >= 1 && t.truth[c] < kThreshold;
        primary_only.released[c] = unsafe ? std::nullopt : std::optional<std::int64_t>(t.truth[c]);
      }
      control_recovered += MarginsAttack(primary_only, 0).recovered;
    }
  }
  MESSAGE("margins attack: " << tables << " tables, " << small_withheld
          << " small withheld cells attacked, " << control_recovered
          << " recovered in the primary-only control");
  CHECK(tables >= 4);
  // Not vacuous: small non-zero cells were withheld and attacked ...
  CHECK(small_withheld >= 5);
  // ... and the attack itself works when only primary suppression is applied.
  CHECK(control_recovered >= 1);
}

TEST_CASE("averaging attack: repeating a query returns the same perturbed answer every time") {
  World& w = TheWorld();
  const std::string id = "zzp_aantal_per_wijk";
  const Params params = {{"age_group", "35-54"}, {"geo", "wijk"}};
  const templates::Template& tmpl = ShippedTemplate(id);
  auto bound = templates::Bind(tmpl, params);
  REQUIRE(bound.ok());
  auto truth = IndependentCounts(w.db, *bound, tmpl.statistics[0].flag);
  REQUIRE(truth.ok());
  REQUIRE(tmpl.statistics[0].kind == templates::StatisticKind::kCount);
  auto c = w.Client(*w.server, "researcher1");
  constexpr int kRepeats = 50;
  // (coordinates, statistic) -> every value seen, -1 standing for "confidential".
  std::map<std::pair<std::vector<std::uint32_t>, std::uint32_t>, std::vector<std::int64_t>> seen;
  for (int i = 0; i < kRepeats; ++i) {
    auto r = c->RunQuery(id, params);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    for (const auto& cell : r->cells) {
      seen[{cell.coordinates, cell.statistic}].push_back(cell.value.value_or(-1));
    }
  }
  REQUIRE_FALSE(seen.empty());
  std::size_t noisy = 0;
  std::size_t released_counts = 0;
  for (const auto& [key, values] : seen) {
    REQUIRE(values.size() == static_cast<std::size_t>(kRepeats));
    const std::set<std::int64_t> distinct(values.begin(), values.end());
    CHECK(distinct.size() == 1);  // one answer, however often asked
    if (key.second != 0 || values.front() < 0) continue;
    ++released_counts;
    auto it = truth->find(key.first);
    const std::int64_t n = it == truth->end() ? 0 : it->second;
    // The attacker's estimate: the mean of the repeats. Exact integer arithmetic: the sum over
    // the repeats against kRepeats times the truth.
    const std::int64_t sum = std::accumulate(values.begin(), values.end(), std::int64_t{0});
    CHECK(sum == values.front() * kRepeats);  // the mean is the single value
    if (values.front() != n) {
      ++noisy;
      CHECK(sum != n * kRepeats);  // averaging does not converge to the truth
    }
  }
  MESSAGE("averaging attack: " << released_counts << " released counts, " << noisy
          << " differ from the truth");
  CHECK(released_counts >= 5);
  CHECK(noisy >= 1);  // the noise is real: some released count is not the true count
}

namespace {

// A test-only template: persons born before a month (months since January 1900), optionally by
// sex. Adjacent parameter values select populations that differ by the persons born in one month.
constexpr const char* kCohortTemplate = R"pb(# proto-file: proto/enclave/v1/policy.proto
# proto-message: enclave.v1.policy.TemplateFile
# Test-only (tests/integration/attack_test.cc): persons born before a month, for the differencing
# attack. Adjacent values of born_before_month differ by the persons born in one month.
id: "test_geboren_voor"
version: 1
author: "spiffe://udc-lv.local/data_steward/steward1"
theme: "test"
title {
  nl: "Personen geboren voor een maand"
  en: "Persons born before a month"
}
description {
  nl: "Aantal personen geboren voor de gekozen maand (maanden sinds januari 1900)."
  en: "Number of persons born before the chosen month (months since January 1900)."
}
roles: MUNICIPAL_ANALYST
roles: RESEARCHER
unit: "person"
parameter {
  name: "born_before_month"
  type: INTEGER
  description {
    nl: "Maanden sinds januari 1900."
    en: "Months since January 1900."
  }
  min: 0
  max: 1500
  default_value: "600"
}
parameter {
  name: "breakdown"
  type: BREAKDOWN
  description {
    nl: "Extra uitsplitsing naar geslacht."
    en: "Additional breakdown by sex."
  }
  allowed { code: "geen" label { nl: "Geen" en: "None" } }
  allowed { code: "geslacht" label { nl: "Geslacht" en: "Sex" } }
  default_value: "geen"
}
dimension {
  name: "geslacht"
  label {
    nl: "Geslacht"
    en: "Sex"
  }
  column: "geslacht"
  code_list: "geslacht"
}
sql:
  "SELECT p.pnr AS person, p.geslacht AS geslacht\n"
  "FROM d_persoon p\n"
  "WHERE (p.geboortejaar - 1900) * 12 + p.geboortemaand - 1 < :born_before_month\n"
unit_column: "person"
statistic {
  name: "n"
  kind: COUNT
  label {
    nl: "Aantal personen"
    en: "Number of persons"
  }
}
disclosure {
  rule_set: "cbs-default"
  min_units: 10
}
)pb";

// Persons per birth month (months since January 1900), straight from the database.
std::map<std::int64_t, std::int64_t> BirthsPerMonth(const std::string& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT (geboortejaar - 1900) * 12 + geboortemaand - 1, count(*) "
                             "FROM d_persoon GROUP BY 1",
                             -1, &stmt, nullptr) == SQLITE_OK);
  std::map<std::int64_t, std::int64_t> out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out[sqlite3_column_int64(stmt, 0)] = sqlite3_column_int64(stmt, 1);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

}  // namespace

TEST_CASE("differencing attack: two requests whose populations differ by one person") {
  World& w = TheWorld();
  const std::string policies = w.dir.path().string() + "/test-policies";
  std::filesystem::copy(kSourceDir + "/policies", policies,
                        std::filesystem::copy_options::recursive);
  {
    std::ofstream f(policies + "/templates/t99_test_geboren_voor.textproto");
    f << kCohortTemplate;
    REQUIRE(f.good());
  }
  {
    // researcher1's agreement in the copy covers the test-only template too (the shipped
    // agreement does not name it).
    const std::string path = policies + "/access/agreements.textproto";
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string anchor = "  template: \"zzp_aantal_per_wijk\"\n";
    const std::size_t at = text.find(anchor);
    REQUIRE(at != std::string::npos);
    text.insert(at + anchor.size(), "  template: \"test_geboren_voor\"\n");
    std::ofstream out(path, std::ios::trunc);
    out << text;
    REQUIRE(out.good());
  }
  auto server = w.StartServer(policies, "state-differencing");
  INFO(server->stderr_text());
  REQUIRE(server->port() > 0);

  // Populations: P(m) = persons born before month m. Find m with |P(m)| >= T and
  // 1 <= |P(m+1)| - |P(m)| <= T-1 (a few persons born in month m), then the first m' with
  // |P(m')| - |P(m)| >= T.
  const auto births = BirthsPerMonth(w.db);
  auto before = [&](std::int64_t m) {
    std::int64_t n = 0;
    for (const auto& [month, count] : births) {
      if (month < m) n += count;
    }
    return n;
  };
  std::int64_t m = -1;
  for (std::int64_t cand = 0; cand < 1500; ++cand) {
    const std::int64_t diff = before(cand + 1) - before(cand);
    if (before(cand) >= kThreshold && diff >= 1 && diff < kThreshold) {
      m = cand;
      break;
    }
  }
  REQUIRE(m >= 0);
  std::int64_t far = m + 1;
  while (before(far) - before(m) < kThreshold) ++far;
  REQUIRE(far <= 1500);
  MESSAGE("differencing attack: P(" << m << ") has " << before(m) << " persons, P(" << m + 1
          << ") " << before(m + 1) << ", P(" << far << ") " << before(far));

  auto c = w.Client(*server, "analyst1");
  auto run = [&](std::int64_t month) {
    return c->RunQuery("test_geboren_voor", {{"born_before_month", std::to_string(month)}});
  };

  // The first request is released, with its (rounded) total.
  auto first = run(m);
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->cells.empty());
  CHECK(first->cells.front().value.has_value());

  // The second differs from it by 1..T-1 persons: subtracting the two would describe them.
  auto second = run(m + 1);
  REQUIRE_FALSE(second.ok());
  CHECK(absl::IsFailedPrecondition(second.status()));
  CHECK(second.status().message().find("population") != std::string::npos);
  CHECK(second.status().message().find("differs") != std::string::npos);
  // Asking again does not wear the guard down.
  auto again = run(m + 1);
  CHECK(absl::IsFailedPrecondition(again.status()));

  // The same population again is the same release, and one differing by >= T is released.
  auto repeat = run(m);
  INFO(repeat.status().ToString());
  CHECK(repeat.ok());
  auto broader = run(far);
  INFO(broader.status().ToString());
  CHECK(broader.ok());

  // Another principal (researcher1, another project) shares the history: SDC releases are
  // publishable, so analyst1's release is public and P(m+1) is refused to everyone.
  auto other = w.Client(*server, "researcher1");
  auto other_first =
      other->RunQuery("test_geboren_voor", {{"born_before_month", std::to_string(m + 1)}});
  CHECK(absl::IsFailedPrecondition(other_first.status()));
  CHECK(server->Stop() == 0);

  // Control: an enclave whose history does not hold analyst1's release (as when each project had
  // its own) answers P(m+1), and the two answers together describe the persons born in month m.
  auto control = w.StartServer(policies, "state-differencing-control");
  REQUIRE(control->port() > 0);
  auto control_client = w.Client(*control, "researcher1");
  auto leaked =
      control_client->RunQuery("test_geboren_voor", {{"born_before_month", std::to_string(m + 1)}});
  INFO(leaked.status().ToString());
  CHECK(leaked.ok());
  CHECK(control->Stop() == 0);
}

// Differencing through cross-classified cells (issue 10 §1): bijstand_stand by wijk and a second
// breakdown at adjacent reference dates. A wijk's and a category's populations change by many
// residents a quarter, but a (wijk, category) cell's by a handful: the old guard, which compared
// only the universe and one-dimensional groups, released both tables, and the difference of the
// two released counts described the few residents who moved in or out of the cell. The guard now
// compares every cell of every dimension combination, for every caller alike.
namespace {

templates::BoundQuery BindT3(const std::string& date, const std::string& breakdown) {
  auto bound = templates::Bind(ShippedTemplate("bijstand_stand"),
                               {{"peildatum", date}, {"geo", "wijk"}, {"breakdown1", breakdown}});
  REQUIRE(bound.ok());
  return *std::move(bound);
}

std::size_t SymmetricDifference(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out.size();
}

}  // namespace

TEST_CASE("differencing attack through cross-classified cells: adjacent dates, two principals") {
  World& w = TheWorld();
  const std::vector<std::string> dates = {"20190331", "20190630", "20190930", "20191231",
                                          "20200331", "20200630"};
  const std::vector<std::string> breakdowns = {"herkomst", "opleidingsniveau"};
  const std::string policies = w.dir.path().string() + "/test-policies-cross";
  std::filesystem::copy(kSourceDir + "/policies", policies,
                        std::filesystem::copy_options::recursive);
  auto guarded = w.StartServer(policies, "state-cross-guarded");
  INFO(guarded->stderr_text());
  REQUIRE(guarded->port() > 0);
  auto analyst = w.Client(*guarded, "analyst1");
  auto researcher = w.Client(*guarded, "researcher1");

  // The truth per (breakdown, date): every cell's population, from plain SQLite.
  std::map<std::pair<std::string, std::string>, testing::CellUnitSets> truth;
  for (const std::string& b : breakdowns) {
    for (const std::string& d : dates) {
      auto cells = testing::IndependentCellUnits(w.db, BindT3(d, b), "op_bijstand");
      REQUIRE(cells.ok());
      truth[{b, d}] = *std::move(cells);
    }
  }
  // Which cells of a table sit on a wijk and a category (inner cells), and which are margins.
  const templates::BoundQuery shape = BindT3(dates[0], breakdowns[0]);
  REQUIRE(shape.dimensions.size() == 2);
  auto inner = [&](const std::vector<std::uint32_t>& c) {
    return c.size() == 2 && c[0] < shape.dimensions[0]->codes.codes.size() &&
           c[1] < shape.dimensions[1]->codes.codes.size();
  };

  std::size_t vulnerable_pairs = 0;      // adjacent-date pairs with a cell differing by 1..T-1
  std::size_t missed_by_one_dim = 0;     // ... whose one-dimensional groups all differ by >= T
  std::size_t both_released = 0;         // vulnerable pairs the guarded enclave released both of
  std::size_t refusals = 0;
  std::optional<std::pair<std::string, std::size_t>> control_pair;  // (breakdown, date index)
  for (const std::string& b : breakdowns) {
    std::optional<std::size_t> last_released;
    for (std::size_t i = 0; i < dates.size(); ++i) {
      // Alternate principals: the history is one for everyone.
      auto& who = i % 2 == 0 ? analyst : researcher;
      auto r = who->RunQuery("bijstand_stand",
                             {{"peildatum", dates[i]}, {"geo", "wijk"}, {"breakdown1", b}});
      if (!r.ok()) {
        INFO(r.status().ToString());
        REQUIRE(absl::IsFailedPrecondition(r.status()));
        CHECK(r.status().message().find("differs") != std::string::npos);
        ++refusals;
      }
      if (i > 0) {
        const auto& before = truth[{b, dates[i - 1]}];
        const auto& now = truth[{b, dates[i]}];
        std::size_t close_inner = 0;
        bool one_dim_close = false;
        for (const auto& [coords, cell] : now) {
          auto old = before.find(coords);
          if (old == before.end() || cell.units.size() < 10 || old->second.units.size() < 10) {
            continue;
          }
          const std::size_t d = SymmetricDifference(cell.units, old->second.units);
          if (d == 0 || d >= 10) continue;
          if (inner(coords)) {
            ++close_inner;
          } else {
            one_dim_close = true;
          }
        }
        if (close_inner > 0) {
          ++vulnerable_pairs;
          if (!one_dim_close) {
            ++missed_by_one_dim;
            if (!control_pair.has_value()) control_pair = {b, i};
          }
          if (r.ok() && last_released == i - 1) ++both_released;
        }
      }
      if (r.ok()) last_released = i;
    }
  }
  MESSAGE("cross-classified differencing: " << vulnerable_pairs << " adjacent pairs with a cell "
          << "differing by 1..9 persons, " << missed_by_one_dim
          << " of them invisible to one-dimensional groups; " << refusals << " refusals, "
          << both_released << " vulnerable pairs released");
  CHECK(vulnerable_pairs >= 1);  // the attack surface exists in this data
  CHECK(missed_by_one_dim >= 1);  // ... where the old guard saw nothing
  CHECK(both_released == 0);     // the guard released no vulnerable pair, to anyone
  CHECK(guarded->Stop() == 0);

  // Control, with the protection switched off: two enclaves without a shared history (as two
  // projects had before) each release one date of a pair the old guard missed, and the attacker
  // holds two released counts of cells whose populations differ by 1..9 persons.
  REQUIRE(control_pair.has_value());
  const auto& [b, i] = *control_pair;
  auto first_server = w.StartServer(policies, "state-cross-control-a");
  auto second_server = w.StartServer(policies, "state-cross-control-b");
  REQUIRE(first_server->port() > 0);
  REQUIRE(second_server->port() > 0);
  auto first = w.Client(*first_server, "analyst1")
                   ->RunQuery("bijstand_stand", {{"peildatum", dates[i - 1]}, {"geo", "wijk"},
                                                 {"breakdown1", b}});
  auto second = w.Client(*second_server, "researcher1")
                    ->RunQuery("bijstand_stand",
                               {{"peildatum", dates[i]}, {"geo", "wijk"}, {"breakdown1", b}});
  INFO(first.status().ToString());
  INFO(second.status().ToString());
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  // The textbook attacker: a cell pair differing by 1..9 persons, both counts released; the
  // persons who differ carry bijstand iff the released values differ.
  const auto& before = truth[{b, dates[i - 1]}];
  const auto& now = truth[{b, dates[i]}];
  std::size_t described = 0;
  std::size_t right = 0;
  for (const auto& c1 : first->cells) {
    if (c1.statistic != 0 || !c1.value.has_value() || !inner(c1.coordinates)) continue;
    for (const auto& c2 : second->cells) {
      if (c2.statistic != 0 || c2.coordinates != c1.coordinates || !c2.value.has_value()) continue;
      std::vector<std::uint32_t> key(c1.coordinates.begin(), c1.coordinates.end());
      auto a = before.find(key);
      auto z = now.find(key);
      if (a == before.end() || z == now.end()) continue;
      const std::size_t d = SymmetricDifference(a->second.units, z->second.units);
      if (d == 0 || d >= 10) continue;
      ++described;
      const bool changed = a->second.flagged != z->second.flagged;
      if (changed == (*c1.value != *c2.value)) ++right;
    }
  }
  MESSAGE("control: " << described << " released cell pairs describe 1..9 persons; the textbook "
          "attacker is right on " << right);
  CHECK(described >= 1);
  CHECK(first_server->Stop() == 0);
  CHECK(second_server->Stop() == 0);
}

// A refusal is no oracle about a sensitive fact: bijstand_stand by leefvorm (an attribute of
// bijstand) is guarded on the wijk populations only. Its categories' populations (who is on
// bijstand in what household situation) change by a handful a quarter; the decision follows the
// non-sensitive populations exactly.
TEST_CASE("differencing guard: a refusal is decided on non-sensitive populations only") {
  World& w = TheWorld();
  // Where leefvorm sits among the table's dimensions, and its total's coordinate.
  const templates::BoundQuery shape = BindT3("20190331", "leefvorm");
  std::size_t at = 0;
  while (at < shape.dimensions.size() && shape.dimensions[at]->name != "leefvorm") ++at;
  REQUIRE(at < shape.dimensions.size());
  const auto leefvorm_total = static_cast<std::uint32_t>(shape.dimensions[at]->codes.codes.size());
  // Adjacent dates where no wijk population (nor the universe) changes by 1..T-1 persons, but a
  // (wijk, leefvorm) category of bijstand recipients does.
  const std::vector<std::string> dates = {"20190331", "20190630", "20190930", "20191231",
                                          "20200331", "20200630", "20200930", "20201231",
                                          "20210331", "20210630", "20210930", "20211231"};
  std::optional<std::size_t> pick;
  for (std::size_t i = 1; i < dates.size() && !pick.has_value(); ++i) {
    auto a = testing::IndependentCellUnits(w.db, BindT3(dates[i - 1], "leefvorm"), "op_bijstand");
    auto b = testing::IndependentCellUnits(w.db, BindT3(dates[i], "leefvorm"), "op_bijstand");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    bool wijk_close = false;
    bool category_close = false;
    for (const auto& [coords, cell] : *b) {
      auto old = a->find(coords);
      if (old == a->end() || cell.units.size() < 10 || old->second.units.size() < 10) continue;
      const std::size_t d = SymmetricDifference(cell.units, old->second.units);
      if (d == 0 || d >= 10) continue;
      (coords[at] == leefvorm_total ? wijk_close : category_close) = true;
    }
    if (!wijk_close && category_close) pick = i;
  }
  REQUIRE(pick.has_value());
  const std::string d0 = dates[*pick - 1];
  const std::string d1 = dates[*pick];
  MESSAGE("leefvorm: " << d0 << " -> " << d1 << ": wijken differ by 0 or >= 10, a bijstand "
          "category by 1..9");
  auto ask = [&](const std::string& policies, const std::string& state) {
    auto server = w.StartServer(policies, state);
    REQUIRE(server->port() > 0);
    auto c = w.Client(*server, "analyst1");
    auto first = c->RunQuery("bijstand_stand",
                             {{"peildatum", d0}, {"geo", "wijk"}, {"breakdown1", "leefvorm"}});
    REQUIRE(first.ok());
    auto second = c->RunQuery("bijstand_stand",
                              {{"peildatum", d1}, {"geo", "wijk"}, {"breakdown1", "leefvorm"}});
    CHECK(server->Stop() == 0);
    return second.status();
  };
  // The shipped template: the categories are no populations of the guard, so the second date is
  // answered; its refusal could only have said something about who is on bijstand.
  const std::string policies = w.dir.path().string() + "/test-policies-oracle";
  std::filesystem::copy(kSourceDir + "/policies", policies,
                        std::filesystem::copy_options::recursive);
  const absl::Status shipped = ask(policies, "state-oracle");
  INFO(shipped.ToString());
  CHECK(shipped.ok());
  // Control: the same template without its sensitive_dimension declarations is refused, keyed on
  // a population of bijstand recipients.
  const std::string undeclared = w.dir.path().string() + "/test-policies-oracle-undeclared";
  std::filesystem::copy(kSourceDir + "/policies", undeclared,
                        std::filesystem::copy_options::recursive);
  {
    const std::string path = undeclared + "/templates/t03_bijstand_stand.textproto";
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string kept;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("sensitive_dimension") == std::string::npos) kept += line + "\n";
    }
    REQUIRE(kept.size() < text.size());
    std::ofstream out(path, std::ios::trunc);
    out << kept;
    REQUIRE(out.good());
  }
  const absl::Status control = ask(undeclared, "state-oracle-undeclared");
  CHECK(absl::IsFailedPrecondition(control));
}

// The decomposition quota (disclosure-control.md §6.2): averaging the sums of many partitions of
// one population recovers its exact count (Asghar and Kaafar). The enclave shows a population in
// at most 10 distinct partitions (rule set cbs-default), counted across templates, parameters and
// principals, durably.
TEST_CASE("decomposition quota: an eleventh partition of one population is refused, also after a restart") {
  World& w = TheWorld();
  const std::string policies = w.dir.path().string() + "/test-policies-quota";
  std::filesystem::copy(kSourceDir + "/policies", policies,
                        std::filesystem::copy_options::recursive);
  auto server = w.StartServer(policies, "state-quota");
  REQUIRE(server->port() > 0);
  auto analyst = w.Client(*server, "analyst1");
  auto researcher = w.Client(*server, "researcher1");
  const std::string date = "20220630";
  auto run = [&](client::EnclaveClient& who, const std::string& b1, const std::string& b2) {
    return who.RunQuery("bijstand_stand", {{"peildatum", date}, {"geo", "geen"},
                                           {"breakdown1", b1}, {"breakdown2", b2}});
  };
  // Six one-way breakdowns of the gemeente's residents: six partitions of that population.
  const std::vector<std::string> ways = {"leeftijdsgroep", "geslacht", "herkomst",
                                         "opleidingsniveau", "leefvorm", "duurklasse"};
  for (const std::string& b : ways) {
    auto r = run(*analyst, b, "geen");
    INFO(b << ": " << r.status().ToString());
    REQUIRE(r.ok());
  }
  // Two-way breakdowns add one partition each of the whole population: the 7th to 10th pass.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"leeftijdsgroep", "geslacht"}, {"leeftijdsgroep", "herkomst"},
      {"geslacht", "herkomst"},       {"geslacht", "opleidingsniveau"},
      {"leeftijdsgroep", "opleidingsniveau"}};
  std::size_t answered = 0;
  std::optional<std::pair<std::string, std::string>> refused;
  for (const auto& [b1, b2] : pairs) {
    auto r = run(*researcher, b1, b2);
    if (r.ok()) {
      ++answered;
      continue;
    }
    INFO(r.status().ToString());
    REQUIRE(absl::IsFailedPrecondition(r.status()));
    CHECK(r.status().message().find("different ways") != std::string::npos);
    refused = {b1, b2};
    break;
  }
  MESSAGE("quota: " << answered << " two-way breakdowns answered after the six one-way ones");
  REQUIRE(refused.has_value());
  CHECK(answered == 4);  // partitions 7-10
  // Asked again, by the other principal: still refused; a breakdown shown before is free.
  CHECK(absl::IsFailedPrecondition(run(*analyst, refused->first, refused->second).status()));
  CHECK(run(*analyst, "geslacht", "geen").ok());
  CHECK(run(*researcher, "geslacht", "leeftijdsgroep").ok());  // the same partition as (age, sex)

  // The refusal is in the query log with its reason, for the privacy officer.
  {
    auto audit = client::ConnectAudit(w.ClientOptions(server->target(), "officer1"));
    REQUIRE(audit.ok());
    client::AuditFilter filter;
    filter.template_id = "bijstand_stand";
    auto page = (*audit)->ListEntries(0, 0, filter, 1000, 0);
    REQUIRE(page.ok());
    std::size_t quota_entries = 0;
    for (const auto& e : page->entries) {
      auto leaf = audit::DecodeLeaf(e.leaf);
      REQUIRE(leaf.ok());
      if (leaf->reason.find("decomposition quota") != std::string::npos) ++quota_entries;
    }
    CHECK(quota_entries >= 2);
  }

  // The quota survives a restart of the enclave.
  CHECK(server->Stop() == 0);
  auto restarted = w.StartServer(policies, "state-quota");
  REQUIRE(restarted->port() > 0);
  auto again = w.Client(*restarted, "analyst1");
  CHECK(absl::IsFailedPrecondition(run(*again, refused->first, refused->second).status()));
  CHECK(restarted->Stop() == 0);

  // Control: an enclave without that history answers the same breakdown.
  auto control = w.StartServer(policies, "state-quota-control");
  REQUIRE(control->port() > 0);
  auto fresh = w.Client(*control, "analyst1");
  CHECK(run(*fresh, refused->first, refused->second).ok());
  CHECK(control->Stop() == 0);
}

// Linked tables (disclosure-control.md §4.6): the attacker asks T1 by wijk and by wijkcluster with
// the same other parameters and attacks the union of both releases with the LP over the whole
// hierarchy (wijk cells, wijkcluster subtotals, gemeente total). The releases are slices of one
// protected table, so no withheld small cell of either level is narrowed into [1, T-1]. Control:
// the same attacker against the two tables each protected alone (here, with ProtectTable on the
// true counts) recovers small cells.
namespace {

// The hierarchical cube of a wijk release: dimension 0 becomes the 13 wijken, then the 3
// wijkclusters (in their code list's order), then the total; the other dimensions as released.
disclosure::TableStructure HierarchyCube(const disclosure::TableStructure& by_wijk) {
  const templates::Template& t1 = ShippedTemplate("zzp_aantal_per_wijk");
  const templates::Dimension* wijk = nullptr;
  const templates::Dimension* cluster = nullptr;
  for (const auto& d : t1.dimensions) {
    if (d.name == "wijk") wijk = &d;
    if (d.name == "wijkcluster") cluster = &d;
  }
  REQUIRE(wijk != nullptr);
  REQUIRE(cluster != nullptr);
  REQUIRE(wijk->codes.parents.size() == wijk->codes.codes.size());
  disclosure::DimensionShape geo;
  geo.codes = wijk->codes.codes.size() + cluster->codes.codes.size();
  for (const std::string& parent : wijk->codes.parents) {
    int index = -1;
    for (std::size_t k = 0; k < cluster->codes.codes.size(); ++k) {
      if (cluster->codes.codes[k].code == parent) index = static_cast<int>(k);
    }
    REQUIRE(index >= 0);
    geo.parent.push_back(static_cast<int>(wijk->codes.codes.size()) + index);
  }
  geo.parent.resize(geo.codes, disclosure::kRoot);
  std::vector<disclosure::DimensionShape> shapes = {geo};
  for (std::size_t d = 1; d < by_wijk.dimensions.size(); ++d) {
    shapes.push_back({by_wijk.dimensions[d].codes, {}});
  }
  auto cube = disclosure::BuildCube(shapes);
  REQUIRE(cube.ok());
  return *std::move(cube);
}

// Cell of `h` for cell `cell` of a one-level release (first dimension: `offset` + code, or the
// total).
std::size_t HierarchyCell(const disclosure::TableStructure& h, const disclosure::TableStructure& level,
                          std::size_t cell, std::size_t offset) {
  std::vector<std::size_t> coords = level.Coordinates(cell);
  coords[0] = coords[0] == level.dimensions[0].codes ? h.dimensions[0].codes : offset + coords[0];
  return h.CellIndex(coords);
}

// Withheld cells of a table protected alone: primary cells (true count in [1, T-1]) and
// ProtectTable's secondaries. Empty when it refuses.
std::optional<std::vector<bool>> ProtectedAlone(const CountTable& t) {
  std::vector<disclosure::PrimaryCell> primaries;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    if (t.truth[c] >= 1 && t.truth[c] < kThreshold) {
      primaries.push_back({c, disclosure::ProtectionRequirement{true, 0, true, kThreshold}});
    }
  }
  if (primaries.empty()) return std::vector<bool>(t.cube.cell_count, false);
  adapters::clp::ClpSolver solver;
  auto p = disclosure::ProtectTable(t.cube, t.truth, primaries, solver);
  if (!p.ok()) return std::nullopt;
  return p->suppressed;
}

}  // namespace

TEST_CASE("linked tables attack: wijk and wijkcluster releases") {
  const std::vector<Params> variants = {
      {{"age_group", "55-74"}, {"breakdown", "geslacht"}},
      {{"age_group", "15-34"}, {"breakdown", "geslacht"}, {"year", "2019"}},
      {{"age_group", "15-34"}, {"year", "2020"}},
      {{"age_group", "35-54"}, {"sex", "vrouw"}, {"breakdown", "geslacht"}},
      {{"age_group", "15-34"}, {"sex", "man"}, {"year", "2018"}},
      {{"age_group", "15-34"}, {"sex", "vrouw"}, {"year", "2021"}},
      {{"age_group", "55-74"}, {"sex", "vrouw"}, {"year", "2022"}},
      {{"age_group", "55-74"}, {"sex", "man"}, {"year", "2019"}},
  };
  std::size_t pairs = 0;
  std::size_t small_withheld = 0;
  std::size_t control_recovered = 0;
  for (const Params& base : variants) {
    Params wijk_params = base;
    wijk_params.emplace_back("geo", "wijk");
    Params cluster_params = base;
    cluster_params.emplace_back("geo", "wijkcluster");
    auto by_wijk = RunCountTables("zzp_aantal_per_wijk", wijk_params, "researcher1");
    auto by_cluster = RunCountTables("zzp_aantal_per_wijk", cluster_params, "researcher1");
    if (!by_wijk.has_value() || !by_cluster.has_value()) continue;
    REQUIRE(by_wijk->size() == by_cluster->size());
    for (std::size_t k = 0; k < by_wijk->size(); ++k) {
      ++pairs;
      const CountTable& w = (*by_wijk)[k];
      const CountTable& c = (*by_cluster)[k];
      CountTable h;
      h.cube = HierarchyCube(w.cube);
      h.released.assign(h.cube.cell_count, std::nullopt);
      h.truth.assign(h.cube.cell_count, 0);
      std::vector<int> releases(h.cube.cell_count, 0);
      std::vector<int> withheld_alone(h.cube.cell_count, 0);
      const std::optional<std::vector<bool>> w_alone = ProtectedAlone(w);
      const std::optional<std::vector<bool>> c_alone = ProtectedAlone(c);
      auto merge = [&](const CountTable& level, std::size_t offset,
                       const std::optional<std::vector<bool>>& alone) {
        for (std::size_t cell = 0; cell < level.cube.cell_count; ++cell) {
          const std::size_t at = HierarchyCell(h.cube, level.cube, cell, offset);
          h.truth[at] = level.truth[cell];
          ++releases[at];
          if (alone.has_value() && (*alone)[cell]) ++withheld_alone[at];
          if (!level.released[cell].has_value()) continue;
          // The same units give the same value in both releases (the cell key method).
          if (h.released[at].has_value()) CHECK(*h.released[at] == *level.released[cell]);
          h.released[at] = level.released[cell];
        }
      };
      merge(w, 0, w_alone);
      merge(c, 13, c_alone);
      const AttackOutcome attack = MarginsAttack(h, kRoundingBase - 1);
      CHECK(attack.recovered == 0);
      small_withheld += attack.small_withheld;

      // Control: each level protected alone, everything else released exactly.
      if (w_alone.has_value() && c_alone.has_value()) {
        CountTable alone = h;
        for (std::size_t cell = 0; cell < h.cube.cell_count; ++cell) {
          const bool unknown = withheld_alone[cell] == releases[cell];
          alone.released[cell] = unknown ? std::nullopt : std::optional<std::int64_t>(h.truth[cell]);
        }
        control_recovered += MarginsAttack(alone, 0).recovered;
      }
    }
  }
  MESSAGE("linked tables attack: " << pairs << " wijk/wijkcluster pairs, " << small_withheld
          << " small withheld cells attacked, " << control_recovered
          << " recovered when each level is protected alone");
  CHECK(pairs >= 6);
  CHECK(small_withheld >= 10);
  // Not vacuous: with seed 7, 55-74 men in 2019 leak a small cell when each level is protected
  // alone (the LP over the union pins it inside [1, T-1]).
  CHECK(control_recovered >= 1);
}


// Events (issue 10 §4): T10 must answer every event of the code list, in any order, on one
// enclave whose differencing guard sees every release. Version 3 gives every cell the same fixed
// panel of vestigingen whatever the event, window, baseline or measure. Negative control: version
// 2's SQL (areas relative to the event, only the vestigingen with PIN rows on the days asked),
// kept here as a test-only template, walked the same way on a server of its own, is refused by
// the guard for many events.
namespace {

constexpr const char* kEventAreaCodeList = R"pb(# proto-file: proto/enclave/v1/policy.proto
# proto-message: enclave.v1.policy.CodeListFile
# Test-only (tests/integration/attack_test.cc): T10 version 2's areas, relative to the event.
code_list {
  name: "test_event_area"
  code { code: "event_area" label { nl: "Evenementgebied" en: "Event area" } }
  code { code: "adjacent_areas" label { nl: "Aangrenzende winkelgebieden" en: "Adjacent shopping areas" } }
  code { code: "rest_LV" label { nl: "Rest van Leidschendam-Voorburg" en: "Rest of Leidschendam-Voorburg" } }
}
)pb";

constexpr const char* kEventImpactV2Template = R"pb(# proto-file: proto/enclave/v1/policy.proto
# proto-message: enclave.v1.policy.TemplateFile
# Test-only (tests/integration/attack_test.cc): T10 version 2, whose populations depend on the event.
id: "test_event_impact_pin_v2"
version: 1
author: "spiffe://udc-lv.local/data_steward/steward1"
theme: "test"
title {
  nl: "Effect van evenementen (versie 2)"
  en: "Did the event boost shops and horeca? (version 2)"
}
description {
  nl: "T10 versie 2, voor de negatieve controle."
  en: "T10 version 2, for the negative control."
}
roles: MUNICIPAL_ANALYST
unit: "establishment"
parameter {
  name: "event_id"
  type: CODE
  description { nl: "Het evenement." en: "The event." }
  allowed_code_list: "evenement"
  default_value: "EV2023-001"
}
parameter {
  name: "window"
  type: CODE
  description { nl: "Periode." en: "Period." }
  allowed { code: "event_days" label { nl: "Evenementdagen" en: "Event days" } }
  allowed { code: "event_week" label { nl: "Week" en: "Week" } }
  allowed { code: "week_after" label { nl: "Week erna" en: "Week after" } }
  default_value: "event_days"
}
parameter {
  name: "baseline"
  type: CODE
  description { nl: "Vergelijkingsperiode." en: "Baseline." }
  allowed { code: "same_weekdays_prev_4_weeks" label { nl: "Vier weken" en: "Four weeks" } }
  allowed { code: "same_week_prev_year" label { nl: "Jaar eerder" en: "Year before" } }
  default_value: "same_weekdays_prev_4_weeks"
}
parameter {
  name: "measure"
  type: CODE
  description { nl: "Maat." en: "Measure." }
  allowed { code: "omzet" label { nl: "Omzet" en: "Turnover" } }
  allowed { code: "transacties" label { nl: "Transacties" en: "Transactions" } }
  default_value: "omzet"
}
dimension {
  name: "area"
  label { nl: "Gebied" en: "Area" }
  column: "area"
  code_list: "test_event_area"
}
dimension {
  name: "sector_group"
  label { nl: "Sectorgroep" en: "Sector group" }
  column: "sector_group"
  code_list: "sector_group"
}
fixed_dimension: "area"
fixed_dimension: "sector_group"
sql:
  "WITH RECURSIVE\n"
  "ev AS (\n"
  "  SELECT e.winkelgebied AS gebied, (substr(e.start, 1, 4) || '-' || substr(e.start, 5, 2) || '-' || substr(e.start, 7, 2)) AS s, (substr(e.eind, 1, 4) || '-' || substr(e.eind, 5, 2) || '-' || substr(e.eind, 7, 2)) AS e\n"
  "  FROM evenement e WHERE e.event_id = :event_id\n"
  "),\n"
  "win AS (\n"
  "  SELECT ev.gebied AS gebied,\n"
  "         CASE :window WHEN 'event_week' THEN date(ev.s, 'weekday 0', '-6 days')\n"
  "                      WHEN 'week_after' THEN date(ev.e, '+1 day') ELSE ev.s END AS ws,\n"
  "         CASE :window WHEN 'event_week' THEN date(ev.s, 'weekday 0')\n"
  "                      WHEN 'week_after' THEN date(ev.e, '+7 days') ELSE ev.e END AS we\n"
  "  FROM ev\n"
  "),\n"
  "wdays(d) AS (\n"
  "  SELECT ws FROM win\n"
  "  UNION ALL\n"
  "  SELECT date(wdays.d, '+1 day') FROM wdays, win WHERE wdays.d < win.we\n"
  "),\n"
  "weeks(k) AS (VALUES (1), (2), (3), (4)),\n"
  "periods(datum, in_window, weight) AS (\n"
  "  SELECT strftime('%Y%m%d', d), 1,\n"
  "         CASE WHEN :baseline = 'same_week_prev_year' THEN 1 ELSE 4 END\n"
  "  FROM wdays\n"
  "  UNION ALL\n"
  "  SELECT strftime('%Y%m%d', d, '-' || (7 * k) || ' days'), 0, 1\n"
  "  FROM wdays, weeks WHERE :baseline = 'same_weekdays_prev_4_weeks'\n"
  "  UNION ALL\n"
  "  SELECT strftime('%Y%m%d', d, '-364 days'), 0, 1\n"
  "  FROM wdays WHERE :baseline = 'same_week_prev_year'\n"
  "),\n"
  "adjacent(a, b) AS (VALUES\n"
  "  ('huygenskwartier', 'julianabaan'), ('julianabaan', 'huygenskwartier'),\n"
  "  ('damcentrum', 'mall_leidsenhage'), ('mall_leidsenhage', 'damcentrum'),\n"
  "  ('mall_leidsenhage', 'prinsenhof'), ('prinsenhof', 'mall_leidsenhage'),\n"
  "  ('damcentrum', 'prinsenhof'), ('prinsenhof', 'damcentrum'),\n"
  "  ('stompwijk', 'damcentrum'), ('damcentrum', 'stompwijk'))\n"
  "SELECT v.vestiging_id || CASE WHEN p.in_window = 1 THEN '@window' ELSE '@baseline' END AS establishment,\n"
  "       CASE WHEN v.winkelgebied = win.gebied THEN 'event_area'\n"
  "            WHEN EXISTS (SELECT 1 FROM adjacent WHERE adjacent.a = win.gebied\n"
  "                                                  AND adjacent.b = v.winkelgebied)\n"
  "              THEN 'adjacent_areas'\n"
  "            ELSE 'rest_LV' END AS area,\n"
  "       r.sector_group AS sector_group,\n"
  "       (CASE :measure WHEN 'transacties' THEN pd.n_transacties ELSE pd.omzet_cent END) * p.weight\n"
  "         AS pin,\n"
  "       p.in_window AS in_window,\n"
  "       1 - p.in_window AS in_baseline,\n"
  "       v.be_id AS be_id\n"
  "FROM win\n"
  "CROSS JOIN periods p\n"
  "JOIN pin_dag pd ON pd.datum = p.datum\n"
  "JOIN vestiging v ON v.vestiging_id = pd.vestiging_id\n"
  "JOIN ref_sbi r ON r.sbi_code = v.sbi_code\n"
  "WHERE r.sector_group IN ('horeca_restaurant', 'horeca_cafe', 'retail_food', 'retail_nonfood')\n"
unit_column: "establishment"
measure_column: "pin"
flag_column: "in_window"
flag_column: "in_baseline"
statistic {
  name: "index"
  kind: RATIO
  label { nl: "Index" en: "Index" }
  flag: "in_window"
  denominator_flag: "in_baseline"
}
statistic {
  name: "n_vestigingen"
  kind: COUNT
  label { nl: "Vestigingen" en: "Establishments" }
  flag: "in_window"
}
disclosure {
  rule_set: "cbs-business"
  min_units: 10
  min_share_denominator: 100
  holding_column: "be_id"
  threshold_entity: "enterprise"
}
)pb";

// The other parameters vary with the position in the walk, so that every window, baseline and
// measure meets many events.
Params EventParams(const std::string& event, std::size_t i) {
  static const char* kWindows[] = {"event_days", "event_week", "week_after"};
  static const char* kBaselines[] = {"same_weekdays_prev_4_weeks", "same_week_prev_year"};
  static const char* kMeasures[] = {"omzet", "transacties"};
  return {{"event_id", event},
          {"window", kWindows[i % 3]},
          {"baseline", kBaselines[(i / 3) % 2]},
          {"measure", kMeasures[(i / 6) % 2]}};
}

struct EventWalk {
  std::size_t asked = 0;
  std::size_t answered = 0;
  std::size_t with_inner = 0;        // at least one released inner cell (any statistic)
  std::size_t with_inner_index = 0;  // at least one released inner index cell
  std::size_t guard_refused = 0;
  std::vector<std::string> other_errors;
};

// Asks `id` for each event in turn (parameters EventParams(event, offset + position)).
void WalkEvents(client::EnclaveClient& c, const std::string& id,
                const std::vector<std::string>& events, std::size_t offset, EventWalk& walk) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    ++walk.asked;
    auto r = c.RunQuery(id, EventParams(events[i], offset + i));
    if (!r.ok()) {
      const std::string m(r.status().message());
      if (absl::IsFailedPrecondition(r.status()) && m.find("population") != std::string::npos &&
          m.find("decomposition quota") == std::string::npos) {
        ++walk.guard_refused;
      } else {
        walk.other_errors.push_back(events[i] + ": " + r.status().ToString());
      }
      continue;
    }
    ++walk.answered;
    bool inner = false;
    bool inner_index = false;
    for (const auto& cell : r->cells) {
      bool is_inner = cell.value.has_value();
      for (std::size_t d = 0; d < cell.coordinates.size() && is_inner; ++d) {
        is_inner = !r->dimensions[d].codes[cell.coordinates[d]].is_total;
      }
      inner = inner || is_inner;
      inner_index = inner_index || (is_inner && r->statistics[cell.statistic].name == "index");
    }
    if (inner) ++walk.with_inner;
    if (inner_index) ++walk.with_inner_index;
  }
}

}  // namespace

TEST_CASE("events: every event of the code list is answered on one enclave, in any order") {
  World& w = TheWorld();
  const templates::Template& t10 = ShippedTemplate("event_impact_pin");
  std::vector<std::string> events;
  for (const auto& p : t10.params) {
    if (p.name != "event_id") continue;
    for (const auto& code : p.allowed) events.push_back(code.code);
  }
  REQUIRE(events.size() >= 100);

  // The design property itself, straight from the data: every unit lies in the same cell for
  // every event and every other parameter, so every cell and margin of every dimension
  // combination has one population (what a guard comparing all of them needs).
  std::optional<UnitCodes> first;
  for (std::size_t i = 0; i < events.size(); i += 7) {
    auto bound = templates::Bind(t10, EventParams(events[i], i));
    REQUIRE(bound.ok());
    auto units = UnitDimensionCodes(w.db, *bound);
    REQUIRE(units.ok());
    if (!first.has_value()) {
      first = *units;
      CHECK(first->size() >= 100);
    }
    CHECK(*units == *first);
  }

  const std::string policies = w.dir.path().string() + "/event-policies";
  std::filesystem::copy(kSourceDir + "/policies", policies,
                        std::filesystem::copy_options::recursive);
  for (const auto& [path, text] :
       {std::pair<std::string, const char*>{"/codelists/test_event_area.textproto",
                                             kEventAreaCodeList},
        {"/templates/t98_test_event_impact_pin_v2.textproto", kEventImpactV2Template}}) {
    std::ofstream f(policies + path);
    f << text;
    REQUIRE(f.good());
  }

  // Version 3 on one enclave: the events in code-list order, then again in reverse order with
  // the other parameters shifted; nothing is refused and each table has a released inner cell.
  {
    auto server = w.StartServer(policies, "state-events");
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
    auto c = w.Client(*server, "analyst1");
    EventWalk walk;
    WalkEvents(*c, "event_impact_pin", events, 0, walk);
    std::vector<std::string> reversed(events.rbegin(), events.rend());
    WalkEvents(*c, "event_impact_pin", reversed, 1, walk);
    MESSAGE("events, T10 v3: " << walk.asked << " asked, " << walk.answered << " answered, "
            << walk.with_inner << " with a released inner cell, " << walk.with_inner_index
            << " with a released inner index cell, " << walk.guard_refused
            << " refused by the guard");
    for (const auto& e : walk.other_errors) MESSAGE(e);
    CHECK(walk.other_errors.empty());
    CHECK(walk.guard_refused == 0);
    CHECK(walk.answered == walk.asked);
    CHECK(walk.with_inner == walk.asked);
    // The index itself is there for most events (a few windows or year-earlier baselines of the
    // test data have too few vestigingen with PIN, or none at all before 2020).
    CHECK(walk.with_inner_index * 2 >= walk.asked);
    CHECK(server->Stop() == 0);
  }

  // Negative control: version 2 walked the same way on a server of its own.
  {
    auto server = w.StartServer(policies, "state-events-v2");
    INFO(server->stderr_text());
    REQUIRE(server->port() > 0);
    auto c = w.Client(*server, "analyst1");
    EventWalk walk;
    WalkEvents(*c, "test_event_impact_pin_v2", events, 0, walk);
    MESSAGE("events, T10 v2 (control): " << walk.asked << " asked, " << walk.answered
            << " answered, " << walk.guard_refused << " refused by the guard");
    for (const auto& e : walk.other_errors) MESSAGE(e);
    CHECK(walk.other_errors.empty());
    CHECK(walk.guard_refused * 4 >= walk.asked);  // many events unanswerable
    CHECK(server->Stop() == 0);
  }
}


// DP budget bypass (issue 10 §2, disclosure-control.md §7.1): the DP template T11 and the cell-key
// template T3 count the same persons; T3 by wijk x leeftijdsgroep answers T11's 39 cells rounded
// to 5 (within 4 of the truth, against T11's noise SD of 5.7) and charges no budget. The attacker
// holds a researcher certificate and wants T11's cells without spending ε.
namespace {

const char kDpTemplate[] = "bijstand_dp_wijk_leeftijd";
const char kSdcTemplate[] = "bijstand_stand";
const Params kSdcBypass = {{"geo", "wijk"}, {"breakdown1", "leeftijdsgroep"},
                           {"peildatum", "20231231"}};

// A mixing agreement in a policy copy: researcher2's DP agreement also lists T3.
std::string MixingPolicies(const std::string& dir) {
  std::filesystem::copy(kSourceDir + "/policies", dir, std::filesystem::copy_options::recursive);
  const std::string path = dir + "/access/agreements.textproto";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string anchor = "  template: \"bijstand_dp_wijk_leeftijd\"\n";
  const std::size_t at = text.find(anchor);
  REQUIRE(at != std::string::npos);
  text.insert(at + anchor.size(), "  template: \"bijstand_stand\"\n");
  std::ofstream out(path, std::ios::trunc);
  out << text;
  REQUIRE(out.good());
  return dir;
}

// The released value of each (wijk, leeftijdsgroep) cell of the first COUNT statistic, margins
// included (a total's code is "*"), by codes, whatever the order of the release's dimensions.
std::map<std::pair<std::string, std::string>, std::optional<std::int64_t>> CellsByCode(
    const core::Release& r) {
  std::map<std::pair<std::string, std::string>, std::optional<std::int64_t>> out;
  REQUIRE(r.dimensions.size() == 2);
  const std::size_t w = r.dimensions[0].name == "wijk" ? 0 : 1;
  for (const core::ReleasedCell& c : r.cells) {
    if (c.statistic != 0) continue;
    const auto& wc = r.dimensions[w].codes[c.coordinates[w]];
    const auto& ac = r.dimensions[1 - w].codes[c.coordinates[1 - w]];
    out[{wc.is_total ? "*" : wc.code, ac.is_total ? "*" : ac.code}] = c.value;
  }
  return out;
}

}  // namespace

TEST_CASE("DP budget bypass: no researcher gets the DP template's cells through a cell-key template") {
  World& w = TheWorld();
  auto shipped = adapters::policy_files::LoadPolicies(kSourceDir + "/policies", nullptr);
  REQUIRE(shipped.ok());

  // 1. Under the shipped policies no researcher holds, through all their agreements, a DP template
  // and a cell-key template over the same unit type (checked here independently of the loader).
  std::size_t researchers = 0;
  for (const policy::Principal* p : shipped->principals->All()) {
    if (p->role != templates::Role::kResearcher) continue;
    ++researchers;
    std::set<std::string> dp_units;
    std::set<std::string> sdc_units;
    for (const policy::Agreement* a : shipped->agreements->AgreementsOf(*p)) {
      for (const std::string& id : a->templates) {
        const templates::Template* t = shipped->catalog->Find(id);
        if (t != nullptr) (t->dp.has_value() ? dp_units : sdc_units).insert(t->unit);
      }
    }
    CAPTURE(p->id);
    for (const std::string& unit : dp_units) CHECK_FALSE(sdc_units.contains(unit));
  }
  CHECK(researchers >= 2);

  // 2. On the running server: the DP researcher is refused T3, the SDC researcher T11, and the
  // refused bypass moves no budget.
  auto dp_researcher = w.Client(*w.server, "researcher2");
  auto before = dp_researcher->GetBudget();
  REQUIRE(before.ok());
  auto bypass = dp_researcher->RunQuery(kSdcTemplate, kSdcBypass);
  CHECK(absl::IsPermissionDenied(bypass.status()));
  CHECK(bypass.status().message().find("outside the scope of your agreement") != std::string::npos);
  auto after = dp_researcher->GetBudget();
  REQUIRE(after.ok());
  REQUIRE(after->size() == before->size());
  for (std::size_t i = 0; i < after->size(); ++i) {
    CHECK((*after)[i].spent_micro == (*before)[i].spent_micro);
  }
  auto sdc_researcher = w.Client(*w.server, "researcher1");
  CHECK(absl::IsPermissionDenied(sdc_researcher->RunQuery(kDpTemplate, {}).status()));

  // 3. The mixing agreement does not load: enclaved --check and the start both refuse it, naming
  // the agreement and both templates.
  const std::string mixed = MixingPolicies(w.dir.path().string() + "/mixing-policies");
  auto refused = adapters::policy_files::LoadPolicies(mixed, nullptr);
  REQUIRE_FALSE(refused.ok());
  for (const std::string& needle :
       {std::string("agreement OVK-2026-002 covers"), std::string("'bijstand_dp_wijk_leeftijd'"),
        std::string("'bijstand_stand'"), std::string("§7.1")}) {
    CAPTURE(needle);
    CHECK(std::string(refused.status().message()).find(needle) != std::string::npos);
  }
  {
    const std::string state = w.StateDir("state-mixing");
    TestApprovals approvals = SignAllTemplates(mixed, w.dir.path().string() + "/mixing-approvals");
    REQUIRE(approvals.error.empty());
    std::vector<std::string> argv = {EnclavedPath(), "--check"};
    for (const std::string& f : w.ServerFlags(mixed, state)) argv.push_back(f);
    for (const std::string& f : approvals.Flags()) argv.push_back(f);
    ProcessResult check = RunProcess(argv);
    CHECK(check.exit_code != 0);
    CHECK(check.err.find("agreement OVK-2026-002 covers the differentially private template "
                         "'bijstand_dp_wijk_leeftijd' and the cell-key (SDC) template "
                         "'bijstand_stand'") != std::string::npos);
    auto server = w.StartServer(mixed, "state-mixing-start");
    CHECK(server->port() == 0);
    CHECK(server->stderr_text().find("'bijstand_stand'") != std::string::npos);
  }

  // 4. Negative control: the same mixing agreement with the loader's check left out (an
  // AgreementBook built directly, in process, over the same database). The SDC request returns
  // T11's cells, closer to the truth than T11's noise, and charges nothing.
  policy::Agreement mixing;
  for (const policy::Agreement* a : shipped->agreements->All()) {
    if (a->id == "OVK-2026-002") mixing = *a;
  }
  REQUIRE(mixing.id == "OVK-2026-002");
  mixing.templates.push_back(kSdcTemplate);
  auto book = policy::AgreementBook::Create({mixing}, {{mixing.project, 6'000'000}},
                                            policy::kDefaultDataVersionCapMicro);
  REQUIRE(book.ok());
  auto agreements = std::make_shared<const policy::AgreementBook>(*std::move(book));
  CHECK_FALSE(adapters::policy_files::CheckDpSeparation(shipped->catalog->templates,
                                                        *shipped->principals, *agreements)
                  .ok());  // what the loader would have said

  auto ledger = adapters::sqlite::SqliteBudgetLedger::Open(w.dir.path().string() +
                                                           "/negative-control-budget.db");
  REQUIRE(ledger.ok());
  std::shared_ptr<core::BudgetLedger> budget(*std::move(ledger));
  auto log = std::make_shared<FakeQueryLog>();
  auto disclosure = std::make_shared<FakeDisclosure>();
  core::QueryServiceOptions options;
  options.sha256_hex = [](std::string_view bytes) { return std::to_string(bytes.size()); };
  FakeDisclosure::Configure(disclosure, options);
  options.agreements = agreements;
  options.now = [] { return absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone()); };
  options.dp_releaser = std::make_shared<core::DpReleaser>(
      budget, std::make_shared<crypto::PrivateRandom>(), log);
  const std::string db = w.db;
  core::QueryService service(
      shipped->catalog, shipped->principals,
      [db]() -> absl::StatusOr<std::unique_ptr<core::MicrodataSource>> {
        auto s = adapters::sqlite::SqliteMicrodataSource::Open(db);
        if (!s.ok()) return s.status();
        return std::unique_ptr<core::MicrodataSource>(*std::move(s));
      },
      log, options);
  policy::CallerIdentity caller =
      policy::CallerIdentity::FromUri("spiffe://udc-lv.local/researcher/researcher2");
  caller.not_after = absl::FromCivil(absl::CivilDay(2026, 7, 1), absl::UTCTimeZone());

  auto dp_run = service.RunQuery(caller, kDpTemplate, {{"peildatum", "20231231"}}, {});
  INFO(dp_run.status().ToString());
  REQUIRE(dp_run.ok());
  REQUIRE(dp_run->dp_charge.has_value());
  CHECK(dp_run->dp_charge->charged_micro == 250'000);
  const std::vector<core::LedgerBalance> charged = dp_run->dp_charge->balances;
  REQUIRE_FALSE(charged.empty());

  auto sdc_run = service.RunQuery(caller, kSdcTemplate, kSdcBypass, {});
  INFO(sdc_run.status().ToString());
  REQUIRE(sdc_run.ok());
  CHECK_FALSE(sdc_run->dp_charge.has_value());
  std::vector<core::LedgerLimit> limits;
  for (const core::LedgerBalance& b : charged) limits.push_back({b.ledger, b.cap_micro});
  auto unmoved = budget->Balances(limits);
  REQUIRE(unmoved.ok());
  for (std::size_t i = 0; i < charged.size(); ++i) {
    CAPTURE(charged[i].ledger);
    CHECK((*unmoved)[i].spent_micro == charged[i].spent_micro);  // the budget did not move
  }

  // The SDC release holds T11's cells: the same (wijk, leeftijdsgroep) cells and margins, each
  // within 4 of the truth where released (T11's noise has SD 5.7 per inner cell).
  const templates::Template& t11 = ShippedTemplate(kDpTemplate);
  auto bound = templates::Bind(t11, {{"peildatum", "20231231"}});
  REQUIRE(bound.ok());
  auto truth = IndependentCounts(w.db, *bound, "");
  REQUIRE(truth.ok());
  const auto dp_cells = CellsByCode(dp_run->release);
  const auto sdc_cells = CellsByCode(sdc_run->release);
  CHECK(dp_cells.size() == 14 * 4);  // 13 wijken x 3 age bands, with margins
  std::size_t same = 0;
  std::int64_t sdc_error = 0;
  std::int64_t dp_error = 0;
  for (const auto& [key, sdc_value] : sdc_cells) {
    REQUIRE(dp_cells.contains(key));
    if (!sdc_value.has_value()) continue;
    // Truth coordinates: a dimension's total is its number of codes.
    auto index = [&](std::size_t d, const std::string& code) {
      const auto& codes = bound->dimensions[d]->codes.codes;
      auto k = static_cast<std::uint32_t>(codes.size());
      for (std::uint32_t i = 0; i < codes.size(); ++i) {
        if (codes[i].code == code) k = i;
      }
      return k;
    };
    const std::uint32_t wi = index(0, key.first);
    const std::uint32_t ai = index(1, key.second);
    auto it = truth->find({wi, ai});
    const std::int64_t n = it == truth->end() ? 0 : it->second;
    CHECK(std::abs(*sdc_value - n) <= kRoundingBase - 1);
    sdc_error += std::abs(*sdc_value - n);
    if (const auto& dp_value = dp_cells.at(key); dp_value.has_value()) {
      dp_error += std::abs(*dp_value - n);
    }
    ++same;
  }
  MESSAGE("DP bypass control: " << same << " of T11's 56 cells (margins included) released by "
          "T3 at no charge; summed error T3 " << sdc_error << ", T11 " << dp_error);
  CHECK(same >= 10);  // the bypass works when the check is off
}

// ---------------------------------------------------------------------------------------------
// The integer attacker (issue 10 §4, disclosure-control.md §4.6): three-dimensional tables and
// multi-valued breakdowns are now released with secondary suppression audited on whole numbers.
// This attacker knows that every cell is a whole number (CBC over the same relations), that each
// released count is within 4 of the truth (base-5 rounding), and the template's public facts: a
// multi-valued dimension's margins count distinct units, and `known_zero` cells are 0.
namespace {

AttackOutcome IntegerAttack(const CountTable& t, std::int64_t slack,
                            const std::vector<bool>& known_zero = {}) {
  std::vector<std::size_t> targets;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    if (!t.released[c].has_value() && t.truth[c] >= 1 && t.truth[c] < kThreshold) {
      targets.push_back(c);
    }
  }
  AttackOutcome o;
  o.small_withheld = targets.size();
  if (targets.empty()) return o;
  std::int64_t big = 0;
  for (const auto& v : t.released) big = std::max(big, v.value_or(0));
  big = 2 * (big + slack + 10);
  disclosure::LpProblem p;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    const bool zero = !known_zero.empty() && known_zero[c];
    if (zero) {
      p.lower.push_back(0);
      p.upper.push_back(0);
    } else if (t.released[c].has_value()) {
      p.lower.push_back(static_cast<double>(std::max<std::int64_t>(0, *t.released[c] - slack)));
      p.upper.push_back(static_cast<double>(*t.released[c] + slack));
    } else {
      p.lower.push_back(0);
      p.upper.push_back(static_cast<double>(big));
    }
  }
  AddRelations(t.cube, p);
  adapters::cbc::CbcSolver solver;
  REQUIRE(solver.Load(p).ok());
  for (std::size_t c : targets) {
    CAPTURE(c);
    CAPTURE(t.truth[c]);
    const disclosure::IntegerResult lo =
        solver.Optimize(c, disclosure::LpSense::kMinimize, absl::Seconds(60));
    const disclosure::IntegerResult hi =
        solver.Optimize(c, disclosure::LpSense::kMaximize, absl::Seconds(60));
    REQUIRE(lo.status == disclosure::IntegerStatus::kOptimal);
    REQUIRE(hi.status == disclosure::IntegerStatus::kOptimal);
    const double lo_v = lo.solution[c];
    const double hi_v = hi.solution[c];
    // The truth is feasible, so the interval must contain it.
    CHECK(lo_v <= static_cast<double>(t.truth[c]) + 1e-6);
    CHECK(hi_v >= static_cast<double>(t.truth[c]) - 1e-6);
    if (lo_v > 0.5 && hi_v < static_cast<double>(kThreshold) - 0.5) ++o.recovered;
  }
  return o;
}

// Against the table the primary rule alone would give: cells in [1, T-1] withheld, every other
// cell released exactly.
CountTable PrimaryOnly(const CountTable& t) {
  CountTable out = t;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    const bool unsafe = t.truth[c] >= 1 && t.truth[c] < kThreshold;
    out.released[c] = unsafe ? std::nullopt : std::optional<std::int64_t>(t.truth[c]);
  }
  return out;
}

// Inner cells (no coordinate a total) with a released value.
std::size_t ReleasedInner(const CountTable& t) {
  std::size_t n = 0;
  for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
    if (!t.released[c].has_value()) continue;
    const std::vector<std::size_t> coords = t.cube.Coordinates(c);
    bool inner = true;
    for (std::size_t d = 0; d < coords.size(); ++d) {
      inner = inner && coords[d] < t.cube.dimensions[d].codes;
    }
    if (inner) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("integer attack: a 3-D bijstand_stand table by wijk recovers no withheld small cell") {
  // By wijk (the full wijk -> wijkcluster hierarchy is protected, the wijk slice released) and,
  // for more released cells at this test's 20,000 persons, by wijkcluster.
  const std::vector<Params> variants = {
      {{"geo", "wijk"}, {"breakdown1", "leeftijdsgroep"}, {"breakdown2", "geslacht"}},
      {{"geo", "wijk"}, {"breakdown1", "geslacht"}, {"breakdown2", "opleidingsniveau"}},
      {{"geo", "wijkcluster"}, {"breakdown1", "leeftijdsgroep"}, {"breakdown2", "geslacht"}},
  };
  std::size_t tables = 0;
  std::size_t small_withheld = 0;
  std::size_t released_inner = 0;
  std::size_t control_recovered = 0;
  World& w = TheWorld();
  int run = 0;
  for (const Params& params : variants) {
    // A fresh enclave per table: the differencing guard compares every release of the data
    // version, and a 3-D table's cells are near-duplicates of earlier 2-D releases of this binary.
    auto server = w.StartServer(kSourceDir + "/policies", "state-integer-3d-" + std::to_string(run++));
    REQUIRE(server->port() > 0);
    auto counts = RunCountTables("bijstand_stand", params, "analyst1", server.get());
    if (!counts.has_value()) continue;
    for (const auto& t : *counts) {
      REQUIRE(t.cube.dimensions.size() == 3);
      ++tables;
      released_inner += ReleasedInner(t);
      const AttackOutcome attack = IntegerAttack(t, kRoundingBase - 1);
      CHECK(attack.recovered == 0);
      small_withheld += attack.small_withheld;
      control_recovered += IntegerAttack(PrimaryOnly(t), 0).recovered;
    }
  }
  MESSAGE("integer attack, 3-D: " << tables << " tables, " << released_inner
          << " released inner cells, " << small_withheld << " small withheld cells attacked, "
          << control_recovered << " recovered in the primary-only control");
  CHECK(tables >= 3);
  CHECK(small_withheld >= 10);
  CHECK(released_inner >= 1);  // released, not refused or all withheld
  CHECK(control_recovered >= 1);
}

TEST_CASE("integer attack: a multi-valued jeugdhulp_gebruik table recovers no withheld small cell") {
  const std::vector<Params> variants = {
      {{"geo", "wijk"}, {"breakdown1", "verblijf"}},
      {{"geo", "wijkcluster"}, {"breakdown1", "verblijf"}},
      {{"geo", "wijkcluster"}, {"breakdown1", "verwijzer"}, {"period", "2022"}},
      {{"geo", "wijkcluster"}, {"breakdown1", "verblijf"}, {"breakdown2", "leeftijdsgroep"}},
  };
  const templates::Template& t7 = ShippedTemplate("jeugdhulp_gebruik");
  std::size_t tables = 0;
  std::size_t small_withheld = 0;
  std::size_t released_inner = 0;
  std::size_t control_recovered = 0;
  std::size_t informed_recovered = 0;
  std::size_t released_distinct_margins = 0;  // released cells at the multi-valued total
  World& w = TheWorld();
  int run = 0;
  for (const Params& params : variants) {
    auto server = w.StartServer(kSourceDir + "/policies", "state-integer-mv-" + std::to_string(run++));
    REQUIRE(server->port() > 0);
    auto counts = RunCountTables("jeugdhulp_gebruik", params, "analyst1", server.get());
    if (!counts.has_value()) continue;
    auto bound = templates::Bind(t7, params);
    REQUIRE(bound.ok());
    for (const auto& t : *counts) {
      ++tables;
      bool multi = false;
      for (const auto& r : t.cube.relations) multi = multi || r.kind == disclosure::RelationKind::kUnion;
      REQUIRE(multi);  // the attacker models the distinct-unit margins
      released_inner += ReleasedInner(t);
      for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
        const std::vector<std::size_t> coords = t.cube.Coordinates(c);
        for (std::size_t d = 0; d < coords.size(); ++d) {
          if (t.released[c].has_value() && bound->dimensions[d]->multi_valued &&
              coords[d] == t.cube.dimensions[d].codes) {
            ++released_distinct_margins;
          }
        }
      }
      const AttackOutcome attack = IntegerAttack(t, kRoundingBase - 1);
      CHECK(attack.recovered == 0);
      small_withheld += attack.small_withheld;
      control_recovered += IntegerAttack(PrimaryOnly(t), 0).recovered;
      // A better-informed attacker also knows that nobody in "geen_jeugdhulp" has youth care.
      std::vector<bool> zero(t.cube.cell_count, false);
      for (std::size_t c = 0; c < t.cube.cell_count; ++c) {
        const std::vector<std::size_t> coords = t.cube.Coordinates(c);
        for (std::size_t d = 0; d < coords.size(); ++d) {
          const auto& codes = bound->dimensions[d]->codes.codes;
          if (coords[d] < codes.size() && codes[coords[d]].code == "geen_jeugdhulp") zero[c] = true;
        }
      }
      informed_recovered += IntegerAttack(t, kRoundingBase - 1, zero).recovered;
    }
  }
  MESSAGE("integer attack, multi-valued: " << tables << " tables, " << released_inner
          << " released inner cells, " << released_distinct_margins
          << " released distinct-unit margins, " << small_withheld << " small withheld cells attacked, "
          << control_recovered << " recovered in the primary-only control, " << informed_recovered
          << " by the attacker who knows the geen_jeugdhulp zeros");
  CHECK(tables >= 3);  // released, no longer refused ("units fall in several cells")
  CHECK(small_withheld >= 5);
  // The margins over verblijf / verwijzer are released as distinct-unit counts. (Inner counts by
  // verblijf are withheld by the group rule today: in a "with youth care" code every person has
  // youth care; that rule is the subject of issue 10's other bullet.)
  CHECK(released_distinct_margins >= 1);
  CHECK(control_recovered >= 1);
  // Not asserted (the attack tests above hold without it): an attacker who also uses that the
  // geen_jeugdhulp code holds nobody with youth care; counted for the record.
}

}  // namespace enclave::testing
