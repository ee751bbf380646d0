// Benchmark (not a test): queries per second of the whole server with the durable query log
// (WAL, synchronous=FULL, group commit, a signed checkpoint per commit) against the same server
// whose log does not sync (synchronous=OFF), in one run (issue 4, "Performance"); with
// --unsigned-commits also a third server whose durable log signs checkpoints only every 1,000
// entries / 60 s, as before issue 11, to isolate the cost of signing each commit. All are started
// in-process by server::StartServer from the same configuration (real policies/, a
// municipality-scale database from enclave-datagen, mutual TLS on loopback); only
// Config::audit_log_durable / audit_log_checkpoint_every_commit differ. Each phase runs
// `--clients` concurrent clients (each its own channel) for `--seconds`; phases alternate between
// the servers for `--rounds` rounds so that load from other processes hits all alike. Prints one
// line per phase and a summary:
//   bench=server_qps log=durable round=1 clients=8 queries=… qps=… p50_ms=… p99_ms=…
//   bench=server_qps_summary template=T clients=8 durable_qps=… unsynced_qps=… cost_percent=…
//     [unsigned_commits_qps=… signing_cost_percent=…]
// cost_percent = 100 * (1 - durable_qps / unsynced_qps), signing_cost_percent = 100 * (1 -
// durable_qps / unsigned_commits_qps), over all rounds.
//
//   bench_server_qps [--db PATH] [--template ID] [--clients N] [--seconds S] [--rounds R]
//                    [--unsigned-commits]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "enclave/client/client.h"
#include "enclave/server/server.h"
#include "tests/bench/bench_stats.h"
#include "tests/integration/process.h"
#include "tests/testing/temp_dir.h"

namespace {

using enclave::bench::Ms;
using enclave::bench::Percentile;

using enclave::bench::Clock;
using enclave::testing::ProcessResult;
using enclave::testing::RunProcess;

struct Phase {
  std::size_t queries = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
  int failures = 0;
};

// `clients` threads, each with its own channel, run `template_id` back to back for `seconds`.
Phase RunPhase(const enclave::client::ConnectOptions& options, const std::string& template_id,
               int clients, int seconds) {
  std::vector<std::vector<double>> per(static_cast<std::size_t>(clients));
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  const auto stop = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = enclave::client::Connect(options);
      if (!client.ok()) {
        ++failures;
        return;
      }
      while (Clock::now() < stop) {
        const auto t0 = Clock::now();
        auto r = (*client)->RunQuery(template_id, {});
        if (!r.ok()) {
          ++failures;
          continue;
        }
        per[static_cast<std::size_t>(c)].push_back(Ms(Clock::now() - t0));
      }
    });
  }
  for (auto& t : threads) t.join();
  Phase phase;
  phase.seconds = Ms(Clock::now() - start) / 1000.0;
  for (auto& v : per) phase.latencies_ms.insert(phase.latencies_ms.end(), v.begin(), v.end());
  phase.queries = phase.latencies_ms.size();
  phase.failures = failures.load();
  return phase;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string template_id = "zzp_aantal_per_wijk";
  int clients = 8;
  int seconds = 10;
  int rounds = 2;
  bool unsigned_commits = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--unsigned-commits") {
      unsigned_commits = true;
      continue;
    }
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_server_qps: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") db = next();
    else if (a == "--template") template_id = next();
    else if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atoi(next().c_str());
    else if (a == "--rounds") rounds = std::atoi(next().c_str());
    else {
      std::fprintf(stderr,
                   "usage: bench_server_qps [--db PATH] [--template ID] [--clients N] "
                   "[--seconds S] [--rounds R] [--unsigned-commits]\n");
      return 2;
    }
  }
  if (clients < 1 || clients > 256 || seconds < 1 || rounds < 1) {
    std::fprintf(stderr, "bench_server_qps: --clients 1..256, --seconds >= 1, --rounds >= 1\n");
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
    ProcessResult g = RunProcess({ENCLAVE_DATAGEN_PATH, "--out", db, "--seed", "42"},
                                 std::chrono::seconds(900));
    if (g.exit_code != 0) {
      std::fprintf(stderr, "datagen failed: %s\n", g.err.c_str());
      return 1;
    }
  }

  enclave::server::Config config;
  config.listen_address = "127.0.0.1:0";
  config.client_ca_file = pki + "/ca.pem";
  config.server_cert_file = pki + "/server.pem";
  config.server_key_file = pki + "/server.key";
  config.database_path = db;
  config.policies_dir = src + "/policies";
  config.max_concurrent_queries = std::max(8, clients);
  config.max_concurrent_streams = std::max(16, clients);
  config.shutdown_grace_ms = 1000;
  // Every template runs only under a privacy officer's approval: officer1 signs them all.
  const enclave::testing::TestApprovals approvals =
      enclave::testing::SignAllTemplates(config.policies_dir, dir.path().string() + "/approvals");
  if (!approvals.error.empty()) {
    std::fprintf(stderr, "SignAllTemplates: %s\n", approvals.error.c_str());
    return 1;
  }
  config.approvers_file = approvals.approvers_file;
  config.approvals_dir = approvals.approvals_dir;

  enclave::client::ConnectOptions options;
  options.ca_file = pki + "/ca.pem";
  options.cert_file = pki + "/analyst1.pem";
  options.key_file = pki + "/analyst1.key";
  options.deadline = std::chrono::seconds(60);

  enum Mode { kDurable, kUnsynced, kUnsignedCommits };
  const char* const kModeNames[] = {"durable", "unsynced", "durable-unsigned-commits"};
  std::vector<Mode> modes = {kDurable, kUnsynced};
  if (unsigned_commits) modes.push_back(kUnsignedCommits);
  double queries_by_mode[3] = {0, 0, 0}, seconds_by_mode[3] = {0, 0, 0};
  for (int round = 1; round <= rounds; ++round) {
    for (const Mode mode : modes) {
      enclave::server::Config c = config;
      c.audit_log_durable = mode != kUnsynced;
      c.audit_log_checkpoint_every_commit = mode != kUnsignedCommits;
      c.state_dir = dir.path().string() + "/state-" + kModeNames[mode];
      auto server = enclave::server::StartServer(c);
      if (!server.ok()) {
        std::fprintf(stderr, "StartServer: %s\n", std::string(server.status().message()).c_str());
        return 1;
      }
      options.target = "127.0.0.1:" + std::to_string((*server)->port());
      {
        auto warm = enclave::client::Connect(options);
        if (!warm.ok()) return 1;
        for (int i = 0; i < 3; ++i) {
          auto r = (*warm)->RunQuery(template_id, {});
          if (!r.ok()) {
            std::fprintf(stderr, "%s: %s\n", template_id.c_str(),
                         std::string(r.status().message()).c_str());
            return 1;
          }
        }
      }
      const Phase phase = RunPhase(options, template_id, clients, seconds);
      (*server)->Shutdown();
      server->reset();
      const double qps = static_cast<double>(phase.queries) / phase.seconds;
      std::printf(
          "bench=server_qps log=%s round=%d template=%s clients=%d queries=%zu failures=%d "
          "qps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
          kModeNames[mode], round, template_id.c_str(), clients, phase.queries,
          phase.failures, qps, Percentile(phase.latencies_ms, 0.5),
          Percentile(phase.latencies_ms, 0.99));
      std::fflush(stdout);
      queries_by_mode[mode] += static_cast<double>(phase.queries);
      seconds_by_mode[mode] += phase.seconds;
    }
  }
  const double dq = queries_by_mode[kDurable] / seconds_by_mode[kDurable];
  const double uq = queries_by_mode[kUnsynced] / seconds_by_mode[kUnsynced];
  std::printf(
      "bench=server_qps_summary template=%s clients=%d durable_qps=%.1f unsynced_qps=%.1f "
      "cost_percent=%.1f",
      template_id.c_str(), clients, dq, uq, uq > 0 ? 100.0 * (1.0 - dq / uq) : 0.0);
  if (unsigned_commits) {
    const double sq = queries_by_mode[kUnsignedCommits] / seconds_by_mode[kUnsignedCommits];
    std::printf(" unsigned_commits_qps=%.1f signing_cost_percent=%.1f", sq,
                sq > 0 ? 100.0 * (1.0 - dq / sq) : 0.0);
  }
  std::printf("\n");
  return 0;
}
