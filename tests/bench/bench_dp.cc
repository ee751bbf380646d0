// Benchmark (not a test) of differential privacy (issue 5): sampler throughput per scale with the
// production randomness (crypto::PrivateRandom), the budget ledger's cost per query (reserve +
// charge, durable SQLite), and the researcher template T11 run through core::DpReleaser against
// the same scan and per-cell aggregation without DP, in one run on one database.
//
//   bench_dp [--db PATH] [--persons N] [--runs N] [--samples N]
//
// Without --db, a synthetic Leidschendam-Voorburg database is generated (enclave-datagen, seed 42).
// Prints, per line:
//   bench=dp_sampler mechanism=… scale=… samples_per_s=…
//   bench=dp_ledger reserve_charge_p50_ms=… reserve_charge_p90_ms=…
//   bench=dp_query template=… baseline_ms=… candidate_ms=… ratio=… noise_us=… ledger_ms=…
// Times are medians over --runs runs (default 21).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"
#include "enclave/adapters/sqlite/budget_ledger_store.h"
#include "enclave/adapters/sqlite/microdata_source.h"
#include "enclave/core/dp_release.h"
#include "enclave/crypto/private_random.h"
#include "enclave/dp/noise.h"
#include "enclave/templates/binding.h"
#include "tests/bench/bench_stats.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace {

using enclave::bench::Ms;
using enclave::bench::Median;

using enclave::bench::Clock;
using enclave::core::LedgerLimit;

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// A query log that keeps nothing (the audit log's own cost is bench_audit_log's subject).
class NullLog final : public enclave::core::QueryLog {
 public:
  absl::Status Append(const enclave::core::QueryLogEntry&) override { return absl::OkStatus(); }
};

void BenchSamplers(enclave::dp::RandomSource& rng, int samples) {
  using enclave::dp::Mechanism;
  using enclave::dp::Noise;
  struct Case {
    const char* mechanism;
    const char* scale;
    Noise noise;
  };
  const Case cases[] = {
      {"laplace", "b=1", {Mechanism::kDiscreteLaplace, 1, 1}},
      {"laplace", "b=4", {Mechanism::kDiscreteLaplace, 4, 1}},
      {"laplace", "b=10", {Mechanism::kDiscreteLaplace, 10, 1}},
      {"laplace", "b=100", {Mechanism::kDiscreteLaplace, 100, 1}},
      {"laplace", "b=1000", {Mechanism::kDiscreteLaplace, 1000, 1}},
      {"laplace", "b=600000", {Mechanism::kDiscreteLaplace, 600000, 1}},
      {"gaussian", "sigma2=50", {Mechanism::kDiscreteGaussian, 50, 1}},
      {"gaussian", "sigma2=1000000", {Mechanism::kDiscreteGaussian, 1000000, 1}},
  };
  for (const Case& c : cases) {
    std::vector<double> rates;
    for (int run = 0; run < 5; ++run) {
      const auto t0 = Clock::now();
      std::int64_t sink = 0;
      for (int i = 0; i < samples; ++i) {
        absl::StatusOr<std::int64_t> z = enclave::dp::Sample(rng, c.noise);
        if (!z.ok()) {
          std::fprintf(stderr, "sampler failed\n");
          std::exit(1);
        }
        sink += *z;
      }
      const double s = Ms(Clock::now() - t0) / 1000;
      rates.push_back(samples / s);
      if (sink == 42424242) std::printf(" ");  // keep the loop
    }
    std::printf("bench=dp_sampler mechanism=%s scale=%s samples_per_s=%.0f\n", c.mechanism,
                c.scale, Median(rates));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string persons;
  int runs = 21;
  int samples = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_dp: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") {
      db = next();
    } else if (a == "--persons") {
      persons = next();
    } else if (a == "--runs") {
      runs = std::atoi(next().c_str());
    } else if (a == "--samples") {
      samples = std::atoi(next().c_str());
    } else {
      std::fprintf(stderr, "usage: bench_dp [--db PATH] [--persons N] [--runs N] [--samples N]\n");
      return 2;
    }
  }
  if (runs < 3 || samples < 1000) {
    std::fprintf(stderr, "bench_dp: --runs must be >= 3 and --samples >= 1000\n");
    return 2;
  }
  enclave::testing::TempDir dir;
  const std::string src = ENCLAVE_SOURCE_DIR;
  if (db.empty()) {
    db = dir.File("microdata.db");
    std::vector<std::string> gen = {ENCLAVE_DATAGEN_PATH, "--out", db, "--seed", "42"};
    if (!persons.empty()) gen.insert(gen.end(), {"--persons", persons});
    const auto t0 = Clock::now();
    enclave::testing::ProcessResult g =
        enclave::testing::RunProcess(gen, std::chrono::seconds(600));
    if (g.exit_code != 0) {
      std::fprintf(stderr, "datagen failed: %s\n", g.err.c_str());
      return 1;
    }
    std::printf("bench=datagen persons=%s seconds=%.1f\n",
                persons.empty() ? "lv" : persons.c_str(), Ms(Clock::now() - t0) / 1000);
  }

  auto random = std::make_shared<enclave::crypto::PrivateRandom>();
  BenchSamplers(*random, samples);

  // The ledger alone: one reservation and its charge per query, on three ledgers, durable.
  auto opened = enclave::adapters::sqlite::SqliteBudgetLedger::Open(dir.File("budget_ledger.db"));
  if (!opened.ok()) {
    std::fprintf(stderr, "ledger: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  std::shared_ptr<enclave::core::BudgetLedger> ledger = *std::move(opened);
  constexpr std::int64_t kHuge = std::int64_t{1} << 60;
  {
    std::vector<double> times;
    for (int i = 0; i < runs * 3; ++i) {
      const std::vector<LedgerLimit> limits = {{"agreement:bench-" + std::to_string(i), kHuge},
                                               {"project:bench", kHuge},
                                               {"data-version:bench", kHuge}};
      const auto t0 = Clock::now();
      absl::StatusOr<std::int64_t> r = ledger->Reserve(limits, 250000, "q");
      if (!r.ok() || !ledger->Charge(*r, "key-" + std::to_string(i), "answer").ok()) {
        std::fprintf(stderr, "ledger failed\n");
        return 1;
      }
      times.push_back(Ms(Clock::now() - t0));
    }
    std::printf("bench=dp_ledger reserve_charge_p50_ms=%.2f reserve_charge_p90_ms=%.2f\n",
                Median(times), Quantile(times, 0.9));
  }

  // T11 through the DP releaser against the same scan and aggregation without DP.
  auto source = enclave::adapters::sqlite::SqliteMicrodataSource::Open(db);
  if (!source.ok()) {
    std::fprintf(stderr, "source: %s\n", std::string(source.status().message()).c_str());
    return 1;
  }
  auto loaded = enclave::adapters::policy_files::LoadPolicies(src + "/policies", source->get());
  if (!loaded.ok()) {
    std::fprintf(stderr, "policies: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  for (const enclave::templates::Template& t : loaded->catalog->templates) {
    if (!t.dp.has_value()) continue;
    absl::StatusOr<enclave::templates::BoundQuery> q = enclave::templates::Bind(t, {});
    if (!q.ok()) return 1;
    std::vector<double> base_ms, dp_ms, noise_us;
    enclave::core::DpReleaser releaser(ledger, random, std::make_shared<NullLog>());
    for (int run = 0; run < runs; ++run) {
      // Baseline: the same rows, each unit counted once per cell (no noise, no ledger).
      {
        const auto t0 = Clock::now();
        std::map<std::string, std::map<std::string, int>> seen;
        std::int64_t rows = 0;
        absl::Status s = (*source)->Scan(*q, {}, [&](const enclave::core::RowView& row) {
          std::string cell;
          for (std::string_view d : row.dimensions) cell.append(d).push_back('|');
          seen[cell][std::string(row.unit)] = 1;
          ++rows;
          return absl::OkStatus();
        });
        if (!s.ok()) return 1;
        base_ms.push_back(Ms(Clock::now() - t0));
      }
      // Candidate: DpReleaser::Run (a new agreement per run, so no run is a free repeat).
      {
        enclave::core::DpRequest request;
        request.query = &*q;
        request.request_id = "bench-" + std::to_string(run);
        request.caller = "spiffe://bench/researcher";
        request.role = "researcher";
        request.project = "bench";
        request.agreement = "bench-" + std::to_string(run) + "-" + std::to_string(Clock::now().time_since_epoch().count());
        request.limits = {{"agreement:" + request.agreement, kHuge}, {"project:bench", kHuge},
                          {"data-version:bench", kHuge}};
        const auto t0 = Clock::now();
        absl::StatusOr<enclave::core::DpOutcome> out =
            releaser.Run(request, **source, enclave::core::Cancellation{});
        if (!out.ok() || out->repeat) {
          std::fprintf(stderr, "dp run failed: %s\n", std::string(out.status().message()).c_str());
          return 1;
        }
        dp_ms.push_back(Ms(Clock::now() - t0));
      }
      // The noise alone: one draw per inner cell at the template's scale.
      {
        std::size_t cells = 1;
        for (const auto* d : q->dimensions) cells *= d->codes.codes.size();
        absl::StatusOr<enclave::dp::Noise> n = enclave::dp::LaplaceForEpsilon(
            t.dp->max_cells_per_unit, t.dp->epsilon_micro > 0 ? t.dp->epsilon_micro : 250000);
        if (!n.ok()) return 1;
        const auto t0 = Clock::now();
        for (std::size_t c = 0; c < cells; ++c) {
          if (!enclave::dp::Sample(*random, *n).ok()) return 1;
        }
        noise_us.push_back(Ms(Clock::now() - t0) * 1000);
      }
    }
    const double b = Median(base_ms);
    const double c = Median(dp_ms);
    std::printf(
        "bench=dp_query template=%s baseline_ms=%.2f candidate_ms=%.2f ratio=%.3f noise_us=%.1f\n",
        t.id.c_str(), b, c, c / b, Median(noise_us));
  }
  return 0;
}
