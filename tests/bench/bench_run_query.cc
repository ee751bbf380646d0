// Benchmark (not a test): RunQuery latency and throughput over mutual TLS against the real
// enclaved at municipality scale, with the same aggregation done by plain SQLite in the same run
// as the baseline. Prints one line per template:
//   bench=run_query template=T seq_p50_ms=… seq_p99_ms=… conc_p50_ms=… conc_p99_ms=… qps=… sqlite_ms=… ratio=…
// ratio = sequential p50 of RunQuery / median time of the plain-SQLite aggregation.
//
//   bench_run_query [--db PATH] [--persons N] [--queries N] [--clients N] [--templates a,b]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "enclave/adapters/policy_files/loader.h"
#include "enclave/client/client.h"
#include "enclave/templates/binding.h"
#include "tests/bench/bench_stats.h"
#include "tests/integration/process.h"
#include "tests/integration/sqlite_truth.h"

namespace {

using enclave::bench::Ms;
using enclave::bench::Percentile;

using enclave::bench::Clock;
using enclave::testing::ProcessResult;
using enclave::testing::RunProcess;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string persons;
  int queries = 200;
  int clients = 4;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_run_query: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") db = next();
    else if (a == "--persons") persons = next();
    else if (a == "--queries") queries = std::atoi(next().c_str());
    else if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--templates") only = Split(next());
    else {
      std::fprintf(stderr,
                   "usage: bench_run_query [--db PATH] [--persons N] [--queries N] [--clients N] "
                   "[--templates a,b]\n");
      return 2;
    }
  }
  if (queries < 10 || clients < 1) {
    std::fprintf(stderr, "bench_run_query: --queries must be >= 10 and --clients >= 1\n");
    return 2;
  }
  const std::string src = ENCLAVE_SOURCE_DIR;
  enclave::testing::TempDir dir;
  const std::string pki = dir.path().string() + "/pki";
  ProcessResult p = RunProcess({"/bin/bash", src + "/deploy/dev-pki.sh", pki});
  if (p.exit_code != 0) {
    std::fprintf(stderr, "dev-pki.sh failed: %s\n", p.err.c_str());
    return 1;
  }
  if (db.empty()) {
    db = dir.path().string() + "/microdata.db";
    std::vector<std::string> gen = {ENCLAVE_DATAGEN_PATH, "--out", db, "--seed", "42"};
    if (!persons.empty()) gen.insert(gen.end(), {"--persons", persons});
    auto t0 = Clock::now();
    ProcessResult g = RunProcess(gen, std::chrono::seconds(600));
    if (g.exit_code != 0) {
      std::fprintf(stderr, "datagen failed: %s\n", g.err.c_str());
      return 1;
    }
    std::printf("bench=datagen persons=%s seconds=%.1f\n",
                persons.empty() ? "lv" : persons.c_str(), Ms(Clock::now() - t0) / 1000);
  }
  const std::string state = dir.path().string() + "/state";
  std::filesystem::create_directories(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);  // 0700: required
  enclave::testing::ServerProcess server(
      ENCLAVED_PATH,
      {"--database", db, "--policies", src + "/policies", "--state-dir", state, "--client-ca",
       pki + "/ca.pem", "--cert", pki + "/server.pem", "--key", pki + "/server.key"},
      state);
  if (server.port() == 0) {
    std::fprintf(stderr, "enclaved did not start: %s\n", server.stderr_text().c_str());
    return 1;
  }
  auto policies = enclave::adapters::policy_files::LoadPolicies(src + "/policies", nullptr);
  if (!policies.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policies.status().message()).c_str());
    return 1;
  }
  enclave::client::ConnectOptions options;
  options.target = server.target();
  options.ca_file = pki + "/ca.pem";
  options.cert_file = pki + "/analyst1.pem";
  options.key_file = pki + "/analyst1.key";

  for (const auto& tmpl : policies->catalog->templates) {
    if (!only.empty() && std::find(only.begin(), only.end(), tmpl.id) == only.end()) continue;
    auto client = enclave::client::Connect(options);
    if (!client.ok()) return 1;
    for (int i = 0; i < 5; ++i) (void)(*client)->RunQuery(tmpl.id, {});  // warm-up
    std::vector<double> seq;
    for (int i = 0; i < queries; ++i) {
      auto t0 = Clock::now();
      auto r = (*client)->RunQuery(tmpl.id, {});
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", tmpl.id.c_str(), std::string(r.status().message()).c_str());
        return 1;
      }
      seq.push_back(Ms(Clock::now() - t0));
    }
    // Concurrent clients, each on its own channel.
    std::vector<std::vector<double>> per(static_cast<std::size_t>(clients));
    auto c0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        auto cl = enclave::client::Connect(options);
        if (!cl.ok()) return;
        for (int i = 0; i < queries / clients; ++i) {
          auto t0 = Clock::now();
          auto r = (*cl)->RunQuery(tmpl.id, {});
          if (r.ok()) per[static_cast<std::size_t>(c)].push_back(Ms(Clock::now() - t0));
        }
      });
    }
    for (auto& t : threads) t.join();
    const double wall = Ms(Clock::now() - c0);
    std::vector<double> conc;
    for (auto& v : per) conc.insert(conc.end(), v.begin(), v.end());
    // Baseline: the same cube of distinct-unit counts, margins included, in plain SQLite.
    auto bound = enclave::templates::Bind(tmpl, {});
    if (!bound.ok()) return 1;
    std::vector<double> base;
    for (int i = 0; i < 7; ++i) {
      auto t0 = Clock::now();
      auto counts = enclave::testing::IndependentCounts(db, *bound, "");
      if (!counts.ok()) return 1;
      base.push_back(Ms(Clock::now() - t0));
    }
    const double sqlite_ms = Percentile(base, 0.5);
    const double p50 = Percentile(seq, 0.5);
    std::printf(
        "bench=run_query template=%s seq_p50_ms=%.2f seq_p99_ms=%.2f conc_clients=%d "
        "conc_p50_ms=%.2f conc_p99_ms=%.2f qps=%.1f sqlite_ms=%.2f ratio=%.2f\n",
        tmpl.id.c_str(), p50, Percentile(seq, 0.99), clients, Percentile(conc, 0.5),
        Percentile(conc, 0.99), static_cast<double>(conc.size()) * 1000.0 / wall, sqlite_ms,
        sqlite_ms > 0 ? p50 / sqlite_ms : 0.0);
    std::fflush(stdout);
  }
  server.Stop();
  return 0;
}
