// Benchmark (not a test): the disclosure step alone (primary rules, secondary suppression with the
// CLP LP audit, cell keys and perturbation: FinishedTable::disclosure_micros, the figure the query
// log records as disclosure_us) against the whole in-process query (SQLite scan, aggregation,
// disclosure), issue 3 "Performance". In process, no gRPC, TLS or audit log: those only add to the
// query time, so the fraction printed is an upper bound of the disclosure step's share of a
// RunQuery. Three workloads:
//   1. every shipped template at municipality scale (DP templates excepted: they run through
//      core::DpReleaser) with its default parameters, and with each BREAKDOWN parameter set to
//      "wijk" where it allows it;
//   2. three-dimensional tables, which need the integer check (COIN-OR CBC, disclosure-control.md
//      §4.6): bijstand_stand by wijk with every ordered pair of two different breakdowns (30
//      tables), and jeugdhulp_gebruik by wijk and the multi-valued verblijf or verwijzer, alone
//      and with a second breakdown; one line per table with released_inner (inner cells with a
//      released value) and a summary line with how many tables have at least one;
//   3. a synthetic 13 x 50 two-dimensional table with margins (14 x 51 = 714 cells per statistic,
//      COUNT and SUM), units spread unevenly so that many cells are primary-unsafe.
// One line per workload:
//   bench=disclosure case=T cells=… withheld=… query_p50_ms=… disclosure_p50_ms=… fraction=…
//
//   bench_disclosure [--db PATH] [--persons N] [--repeats N] [--units N] [--only-3d]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "enclave/adapters/cbc/cbc_solver.h"
#include "enclave/adapters/clp/clp_solver.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/core/aggregate.h"
#include "enclave/core/query_service.h"
#include "enclave/core/record_keys.h"
#include "enclave/crypto/hmac.h"
#include "enclave/crypto/record_key_source.h"
#include "enclave/crypto/secret.h"
#include "enclave/templates/binding.h"
#include "tests/bench/bench_stats.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace {

using enclave::bench::Ms;
using enclave::bench::Median;

using enclave::bench::Clock;
using enclave::core::FinishedTable;
using enclave::core::TableBuilder;

struct Sample {
  double query_ms = 0;
  double disclosure_ms = 0;
  std::size_t cells = 0;
  std::int64_t withheld = 0;
  std::int64_t released_inner = 0;  // inner cells (no coordinate a total) with a released value
  int ip_solves = 0;                // CBC solves of the integer check
  double ip_ms = 0;
};

// CBC as the server wires it, counting its solves and their time (the integer check's share of the
// disclosure step).
class CountingCbc final : public enclave::disclosure::IntegerSolver {
 public:
  absl::Status Load(const enclave::disclosure::LpProblem& problem) override {
    return real_.Load(problem);
  }
  enclave::disclosure::IntegerResult Optimize(std::size_t variable,
                                              enclave::disclosure::LpSense sense,
                                              absl::Duration limit) override {
    const auto t0 = Clock::now();
    enclave::disclosure::IntegerResult r = real_.Optimize(variable, sense, limit);
    ms += Ms(Clock::now() - t0);
    ++solves;
    return r;
  }
  int solves = 0;
  double ms = 0;

 private:
  enclave::adapters::cbc::CbcSolver real_;
};

// Everything the disclosure step needs, as the server sets it up (server.cc StartDisclosure), with
// a fresh random record-key secret and growing unit indices.
struct Tools {
  int ip_solves = 0;     // of the last Finish
  double ip_ms = 0;
  std::unique_ptr<enclave::crypto::Secret> secret;
  std::unique_ptr<enclave::crypto::RecordKeyer> keyer;
  std::unique_ptr<enclave::crypto::RecordKeyerSource> keys;
  std::vector<std::unique_ptr<enclave::core::UnitIndex>> indices;

  Tools() {
    std::array<std::uint8_t, enclave::crypto::Secret::kSize> bytes{};
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rd());
    secret = std::make_unique<enclave::crypto::Secret>(bytes);
    keyer = std::make_unique<enclave::crypto::RecordKeyer>(*secret);
    keys = std::make_unique<enclave::crypto::RecordKeyerSource>(*keyer);
  }

  enclave::core::UnitIndex* Index(const std::string& type) {
    for (auto& i : indices) {
      if (i->unit_type() == type) return i.get();
    }
    indices.push_back(std::make_unique<enclave::core::UnitIndex>(type, *keys));
    return indices.back().get();
  }

  // Runs Finish with the effective rule set (template floors applied, as QueryService does).
  absl::StatusOr<FinishedTable> Finish(TableBuilder& builder, const enclave::templates::Template& t,
                                       enclave::disclosure::RuleSetParams rules) {
    rules.min_units = std::max(rules.min_units, t.disclosure.min_units);
    rules.min_share_denominator =
        std::max(rules.min_share_denominator, t.disclosure.min_share_denominator);
    enclave::adapters::clp::ClpSolver solver;
    CountingCbc integer;  // as the server wires it (server.cc)
    enclave::core::DisclosureTools tools;
    tools.rules = &rules;
    tools.units = Index(t.unit);
    tools.solver = &solver;
    tools.integer.solver = &integer;
    tools.magnitude_key = [this](std::string_view variable, std::uint32_t j, std::uint32_t ck) {
      return keyer->MagnitudeKey(variable, j, ck);
    };
    absl::StatusOr<FinishedTable> done = std::move(builder).Finish(tools, "bench");
    ip_solves = integer.solves;
    ip_ms = integer.ms;
    return done;
  }
};

void Print(const std::string& name, const std::vector<Sample>& samples, bool inner = false) {
  std::vector<double> query;
  std::vector<double> disclosure;
  std::vector<double> fraction;
  for (const Sample& s : samples) {
    query.push_back(s.query_ms);
    disclosure.push_back(s.disclosure_ms);
    fraction.push_back(s.query_ms > 0 ? s.disclosure_ms / s.query_ms : 0);
  }
  std::printf(
      "bench=disclosure case=%s cells=%zu withheld=%lld query_p50_ms=%.2f disclosure_p50_ms=%.2f "
      "fraction=%.3f",
      name.c_str(), samples.empty() ? 0 : samples.front().cells,
      static_cast<long long>(samples.empty() ? 0 : samples.front().withheld), Median(query),
      Median(disclosure), Median(fraction));
  if (inner) {
    std::vector<double> d = disclosure;
    std::sort(d.begin(), d.end());
    std::printf(" disclosure_max_ms=%.2f released_inner=%lld ip_solves=%d ip_ms=%.2f",
                d.empty() ? 0.0 : d.back(),
                static_cast<long long>(samples.empty() ? 0 : samples.front().released_inner),
                samples.empty() ? 0 : samples.front().ip_solves,
                samples.empty() ? 0.0 : samples.front().ip_ms);
  }
  std::printf("\n");
  std::fflush(stdout);
}

Sample Measure(const FinishedTable& done, Clock::duration whole) {
  Sample s;
  s.query_ms = Ms(whole);
  s.disclosure_ms = static_cast<double>(done.disclosure_micros) / 1000.0;
  s.cells = done.release.cells.size();
  s.withheld = done.release.CountConfidential();
  for (const enclave::core::ReleasedCell& cell : done.release.cells) {
    bool inner = cell.status == enclave::disclosure::CellStatus::kReleased;
    for (std::size_t d = 0; d < cell.coordinates.size() && inner; ++d) {
      inner = !done.release.dimensions[d].codes[cell.coordinates[d]].is_total;
    }
    if (inner) ++s.released_inner;
  }
  return s;
}

// The synthetic 13 x 50 table: wijk (13 codes) by category (50 codes), COUNT and SUM. Category
// sizes fall off geometrically, so the tail categories are small in every wijk.
int RunSynthetic(Tools& tools, const enclave::disclosure::RuleSetParams& rules, int units,
                 int repeats) {
  namespace t = enclave::templates;
  t::Template tmpl;
  tmpl.id = "bench_13x50";
  tmpl.version = 1;
  tmpl.unit = "person";
  tmpl.unit_column = "unit";
  tmpl.measure_column = "amount";
  auto dimension = [](const std::string& name, int codes) {
    t::Dimension d;
    d.name = name;
    d.column = name;
    d.codes.name = name;
    for (int i = 0; i < codes; ++i) d.codes.codes.push_back({name + std::to_string(i), {}});
    return d;
  };
  tmpl.dimensions = {dimension("wijk", 13), dimension("cat", 50)};
  tmpl.fixed_dimensions = {"wijk", "cat"};
  t::Statistic n;
  n.name = "n";
  n.kind = t::StatisticKind::kCount;
  t::Statistic sum;
  sum.name = "sum";
  sum.kind = t::StatisticKind::kSum;
  tmpl.statistics = {n, sum};
  t::BoundQuery q;
  q.tmpl = &tmpl;
  for (const t::Dimension& d : tmpl.dimensions) q.dimensions.push_back(&d);

  std::mt19937_64 rng(42);
  std::geometric_distribution<int> category(0.08);
  std::uniform_int_distribution<int> wijk(0, 12);
  std::lognormal_distribution<double> amount(10.0, 1.0);
  struct Row {
    std::string unit;
    int wijk;
    int cat;
    std::int64_t amount;
  };
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(units));
  for (int i = 0; i < units; ++i) {
    rows.push_back({"p" + std::to_string(i), wijk(rng), std::min(category(rng), 49),
                    static_cast<std::int64_t>(amount(rng))});
  }
  std::vector<Sample> samples;
  for (int r = 0; r < repeats + 1; ++r) {
    const auto t0 = Clock::now();
    TableBuilder builder(q);
    std::vector<std::string_view> dims(2);
    const std::vector<std::int64_t> flags;
    for (const Row& row : rows) {
      dims[0] = tmpl.dimensions[0].codes.codes[static_cast<std::size_t>(row.wijk)].code;
      dims[1] = tmpl.dimensions[1].codes.codes[static_cast<std::size_t>(row.cat)].code;
      absl::Status added =
          builder.Add(enclave::core::RowView{row.unit, dims, row.amount, flags, {}});
      if (!added.ok()) {
        std::fprintf(stderr, "13x50: %s\n", std::string(added.message()).c_str());
        return 1;
      }
    }
    absl::StatusOr<FinishedTable> done = tools.Finish(builder, tmpl, rules);
    if (!done.ok()) {
      std::fprintf(stderr, "13x50: %s\n", std::string(done.status().message()).c_str());
      return 1;
    }
    if (r > 0) samples.push_back(Measure(*done, Clock::now() - t0));  // the first warms up
  }
  Print("13x50/" + std::to_string(units), samples);
  return 0;
}

// One template with the given parameters, `repeats` timed runs after a warm-up. Returns the
// samples (empty when the table was refused: printed as such).
std::vector<Sample> RunTemplate(Tools& tools, enclave::adapters::sqlite::SqliteMicrodataSource& source,
                                const enclave::core::TemplateCatalog& catalog,
                                const enclave::templates::Template& tmpl,
                                const std::vector<std::pair<std::string, std::string>>& raw,
                                const std::string& name, int repeats, bool* failed) {
  std::vector<Sample> samples;
  auto rules = catalog.rule_sets.find(tmpl.disclosure.rule_set);
  auto bound = enclave::templates::Bind(tmpl, raw);
  if (rules == catalog.rule_sets.end() || !bound.ok()) {
    std::fprintf(stderr, "%s: cannot bind\n", name.c_str());
    *failed = true;
    return samples;
  }
  for (int r = 0; r < repeats + 1; ++r) {
    const auto t0 = Clock::now();
    TableBuilder builder(*bound);
    absl::Status scanned = source.Scan(
        *bound, enclave::core::Cancellation{},
        [&](const enclave::core::RowView& row) { return builder.Add(row); });
    if (!scanned.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), std::string(scanned.message()).c_str());
      *failed = true;
      return {};
    }
    const auto d0 = Clock::now();
    absl::StatusOr<FinishedTable> done = tools.Finish(builder, tmpl, rules->second);
    if (!done.ok()) {
      std::printf("bench=disclosure case=%s refused=\"%s\" disclosure_ms=%.2f\n", name.c_str(),
                  std::string(done.status().message()).c_str(), Ms(Clock::now() - d0));
      std::fflush(stdout);
      return {};
    }
    if (r > 0) {
      samples.push_back(Measure(*done, Clock::now() - t0));
      samples.back().ip_solves = tools.ip_solves;
      samples.back().ip_ms = tools.ip_ms;
    }
  }
  return samples;
}

// Workload 2: the three-dimensional tables (integer check).
int RunThreeD(Tools& tools, enclave::adapters::sqlite::SqliteMicrodataSource& source,
              const enclave::core::TemplateCatalog& catalog, int repeats) {
  bool failed = false;
  const enclave::templates::Template* t3 = catalog.Find("bijstand_stand");
  const enclave::templates::Template* t7 = catalog.Find("jeugdhulp_gebruik");
  if (t3 == nullptr || t7 == nullptr) return 1;
  const std::vector<std::string> breakdowns = {"leeftijdsgroep", "geslacht", "leefvorm",
                                               "herkomst", "opleidingsniveau", "duurklasse"};
  int tables = 0;
  int with_inner = 0;
  std::vector<double> disclosure;
  for (const std::string& b1 : breakdowns) {
    for (const std::string& b2 : breakdowns) {
      if (b1 == b2) continue;
      ++tables;
      const std::string name = "bijstand_stand/wijk/" + b1 + "x" + b2;
      const std::vector<Sample> samples = RunTemplate(
          tools, source, catalog, *t3, {{"geo", "wijk"}, {"breakdown1", b1}, {"breakdown2", b2}},
          name, repeats, &failed);
      if (failed) return 1;
      if (samples.empty()) continue;
      Print(name, samples, true);
      if (samples.front().released_inner > 0) ++with_inner;
      for (const Sample& s : samples) disclosure.push_back(s.disclosure_ms);
    }
  }
  std::sort(disclosure.begin(), disclosure.end());
  std::printf("bench=disclosure3d template=bijstand_stand geo=wijk tables=%d "
              "with_released_inner_cell=%d disclosure_p50_ms=%.2f disclosure_max_ms=%.2f\n",
              tables, with_inner, Median(disclosure), disclosure.empty() ? 0.0 : disclosure.back());
  const std::vector<std::vector<std::pair<std::string, std::string>>> t7_variants = {
      {{"geo", "wijk"}, {"breakdown1", "verblijf"}},
      {{"geo", "wijk"}, {"breakdown1", "verwijzer"}},
      {{"geo", "wijk"}, {"breakdown1", "verblijf"}, {"breakdown2", "leeftijdsgroep"}},
      {{"geo", "wijk"}, {"breakdown1", "verwijzer"}, {"breakdown2", "geslacht"}},
      {{"geo", "wijkcluster"}, {"breakdown1", "verblijf"}, {"breakdown2", "verwijzer"}},
  };
  for (const auto& raw : t7_variants) {
    std::string name = "jeugdhulp_gebruik";
    for (const auto& [k, v] : raw) name += "/" + v;
    const std::vector<Sample> samples = RunTemplate(tools, source, catalog, *t7, raw, name, repeats,
                                                    &failed);
    if (failed) return 1;
    if (!samples.empty()) Print(name, samples, true);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string persons;
  int repeats = 5;
  int units = 75000;
  bool only_3d = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_disclosure: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") db = next();
    else if (a == "--persons") persons = next();
    else if (a == "--repeats") repeats = std::atoi(next().c_str());
    else if (a == "--units") units = std::atoi(next().c_str());
    else if (a == "--only-3d") only_3d = true;
    else {
      std::fprintf(stderr, "usage: bench_disclosure [--db PATH] [--persons N] [--repeats N] "
                           "[--units N] [--only-3d]\n");
      return 2;
    }
  }
  if (repeats < 1 || units < 1) {
    std::fprintf(stderr, "bench_disclosure: --repeats and --units must be >= 1\n");
    return 2;
  }
  const std::string src = ENCLAVE_SOURCE_DIR;
  enclave::testing::TempDir dir;
  if (db.empty()) {
    db = dir.path().string() + "/microdata.db";
    std::vector<std::string> gen = {ENCLAVE_DATAGEN_PATH, "--out", db, "--seed", "42"};
    if (!persons.empty()) gen.insert(gen.end(), {"--persons", persons});
    enclave::testing::ProcessResult g = enclave::testing::RunProcess(gen, std::chrono::seconds(600));
    if (g.exit_code != 0) {
      std::fprintf(stderr, "datagen failed: %s\n", g.err.c_str());
      return 1;
    }
  }
  auto source = enclave::adapters::sqlite::SqliteMicrodataSource::Open(db);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", std::string(source.status().message()).c_str());
    return 1;
  }
  auto policies = enclave::adapters::policy_files::LoadPolicies(src + "/policies", source->get());
  if (!policies.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policies.status().message()).c_str());
    return 1;
  }
  Tools tools;
  const enclave::core::TemplateCatalog& catalog = *policies->catalog;
  if (only_3d) return RunThreeD(tools, **source, catalog, repeats);
  for (const enclave::templates::Template& tmpl : catalog.templates) {
    // Researcher templates under differential privacy run through core::DpReleaser, not this step.
    if (tmpl.dp.has_value()) continue;
    auto rules = catalog.rule_sets.find(tmpl.disclosure.rule_set);
    if (rules == catalog.rule_sets.end()) return 1;
    // Defaults, then each BREAKDOWN parameter that allows "wijk" set to it.
    std::vector<std::vector<std::pair<std::string, std::string>>> variants = {{}};
    for (const enclave::templates::ParamSpec& p : tmpl.params) {
      if (p.type != enclave::templates::ParamType::kBreakdown) continue;
      for (const enclave::templates::Code& c : p.allowed) {
        if (c.code == "wijk" && p.default_value != "wijk") variants.push_back({{p.name, "wijk"}});
      }
    }
    for (const auto& raw : variants) {
      auto bound = enclave::templates::Bind(tmpl, raw);
      if (!bound.ok()) {
        std::fprintf(stderr, "%s: %s\n", tmpl.id.c_str(), std::string(bound.status().message()).c_str());
        return 1;
      }
      std::vector<Sample> samples;
      for (int r = 0; r < repeats + 1; ++r) {
        const auto t0 = Clock::now();
        TableBuilder builder(*bound);
        absl::Status scanned = (*source)->Scan(
            *bound, enclave::core::Cancellation{},
            [&](const enclave::core::RowView& row) { return builder.Add(row); });
        if (!scanned.ok()) {
          std::fprintf(stderr, "%s: %s\n", tmpl.id.c_str(), std::string(scanned.message()).c_str());
          return 1;
        }
        absl::StatusOr<FinishedTable> done = tools.Finish(builder, tmpl, rules->second);
        if (!done.ok()) {
          // A refused table (cannot be protected) is a result too: reported, not timed.
          std::printf("bench=disclosure case=%s refused=\"%s\"\n", tmpl.id.c_str(),
                      std::string(done.status().message()).c_str());
          break;
        }
        if (r > 0) samples.push_back(Measure(*done, Clock::now() - t0));
      }
      if (!samples.empty()) Print(tmpl.id + (raw.empty() ? "" : "/wijk"), samples);
    }
  }
  if (int rc = RunThreeD(tools, **source, catalog, repeats); rc != 0) return rc;
  return RunSynthetic(tools, catalog.rule_sets.at("cbs-default"), units, repeats);
}
