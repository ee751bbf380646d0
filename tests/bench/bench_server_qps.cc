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
//
// With --overload (issue 11 §3): successful throughput at the enclave's concurrency limit
// (--limit, default 8, = limits.max_concurrent_queries) and at --factor times it (default 4: 32
// clients), in the same run, with the admission queue (the default limits.max_queued_queries and
// max_queue_wait_ms) and, as the baseline, without it (max_queued_queries 0: every call beyond
// the limit is refused at once, as before the queue), the latter also with a log that does not
// sync, to see whether the log writes of the refused calls are what costs throughput. Clients
// send the next query as soon as one returns, refused or not. One line per phase and a summary:
//   bench=server_qps_overload round=1 admission=queue log=durable clients=32 ok=… ok_qps=…
//       shed=… other_failures=… queued=… mean_wait_ms=… max_waiting=… p50_ms=… p99_ms=…
//   bench=server_qps_overload_summary limit=8 clients=32 queue_qps_at_limit=…
//       queue_qps_at_factor=… queue_ratio=… shed_qps_at_factor=… shed_unsynced_qps_at_factor=…
//       shed_percent=…
// ok_qps counts answered queries only; p50/p99 are over answered queries.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
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
  int exhausted = 0;  // of failures: RESOURCE_EXHAUSTED (shed by the enclave)
};

// `clients` threads, each with its own channel, run `template_id` back to back for `seconds`.
Phase RunPhase(const enclave::client::ConnectOptions& options, const std::string& template_id,
               int clients, int seconds) {
  std::vector<std::vector<double>> per(static_cast<std::size_t>(clients));
  std::atomic<int> failures{0};
  std::atomic<int> exhausted{0};
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
          if (r.status().code() == absl::StatusCode::kResourceExhausted) ++exhausted;
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
  phase.exhausted = exhausted.load();
  return phase;
}

// One running server for one phase.
struct Started {
  std::unique_ptr<enclave::server::RunningServer> server;
  std::string error;
};

Started Start(const enclave::server::Config& c, enclave::client::ConnectOptions& options,
              const std::string& template_id) {
  Started out;
  auto server = enclave::server::StartServer(c);
  if (!server.ok()) {
    out.error = "StartServer: " + std::string(server.status().message());
    return out;
  }
  options.target = "127.0.0.1:" + std::to_string((*server)->port());
  auto warm = enclave::client::Connect(options);
  if (!warm.ok()) {
    out.error = "Connect: " + std::string(warm.status().message());
    return out;
  }
  for (int i = 0; i < 3; ++i) {
    auto r = (*warm)->RunQuery(template_id, {});
    if (!r.ok()) {
      out.error = template_id + ": " + std::string(r.status().message());
      return out;
    }
  }
  out.server = *std::move(server);
  return out;
}

// --overload: the limit and factor x the limit, with and without the admission queue.
int RunOverload(const enclave::server::Config& config, enclave::client::ConnectOptions options,
                const std::string& template_id, const std::string& state_root, int limit,
                int factor, int seconds, int rounds) {
  struct Kind {
    const char* admission;
    bool queue;
    bool durable;
    int clients;
  };
  const Kind kinds[] = {{"queue", true, true, limit},
                        {"queue", true, true, limit * factor},
                        {"shed", false, true, limit * factor},
                        {"shed", false, false, limit * factor}};
  constexpr std::size_t kKinds = sizeof kinds / sizeof kinds[0];
  double ok[kKinds] = {}, secs[kKinds] = {}, shed[kKinds] = {}, calls[kKinds] = {};
  int phase_number = 0;
  for (int round = 1; round <= rounds; ++round) {
    for (std::size_t k = 0; k < kKinds; ++k) {
      const Kind& kind = kinds[k];
      enclave::server::Config c = config;
      c.max_concurrent_queries = limit;
      c.max_concurrent_streams = std::max(16, kind.clients);
      if (!kind.queue) c.max_queued_queries = 0;
      c.audit_log_durable = kind.durable;
      c.state_dir = state_root + "/state-" + std::to_string(++phase_number);
      Started started = Start(c, options, template_id);
      if (started.server == nullptr) {
        std::fprintf(stderr, "%s\n", started.error.c_str());
        return 1;
      }
      const enclave::core::AdmissionStats before = started.server->admission_stats();
      const Phase phase = RunPhase(options, template_id, kind.clients, seconds);
      const enclave::core::AdmissionStats after = started.server->admission_stats();
      started.server->Shutdown();
      started.server.reset();
      const std::uint64_t queued = after.queued - before.queued;
      const std::uint64_t waited_admitted =
          queued - (after.shed_timeout - before.shed_timeout) - (after.cancelled - before.cancelled);
      const double mean_wait_ms =
          waited_admitted == 0 ? 0.0
                               : static_cast<double>(after.total_wait_us - before.total_wait_us) /
                                     1000.0 / static_cast<double>(waited_admitted);
      const double qps = static_cast<double>(phase.queries) / phase.seconds;
      std::printf(
          "bench=server_qps_overload round=%d admission=%s log=%s template=%s limit=%d clients=%d "
          "ok=%zu ok_qps=%.1f shed=%d other_failures=%d queued=%llu mean_wait_ms=%.1f "
          "max_waiting=%d p50_ms=%.2f p99_ms=%.2f\n",
          round, kind.admission, kind.durable ? "durable" : "unsynced", template_id.c_str(), limit,
          kind.clients, phase.queries, qps, phase.exhausted, phase.failures - phase.exhausted,
          static_cast<unsigned long long>(queued), mean_wait_ms, after.max_waiting,
          Percentile(phase.latencies_ms, 0.5), Percentile(phase.latencies_ms, 0.99));
      std::fflush(stdout);
      ok[k] += static_cast<double>(phase.queries);
      secs[k] += phase.seconds;
      shed[k] += phase.exhausted;
      calls[k] += static_cast<double>(phase.queries) + phase.failures;
    }
  }
  const auto rate = [&](std::size_t k) { return secs[k] > 0 ? ok[k] / secs[k] : 0.0; };
  std::printf(
      "bench=server_qps_overload_summary template=%s limit=%d clients=%d queue_qps_at_limit=%.1f "
      "queue_qps_at_factor=%.1f queue_ratio=%.3f queue_shed=%.0f shed_qps_at_factor=%.1f "
      "shed_ratio=%.3f shed_percent=%.1f shed_unsynced_qps_at_factor=%.1f\n",
      template_id.c_str(), limit, limit * factor, rate(0), rate(1),
      rate(0) > 0 ? rate(1) / rate(0) : 0.0, shed[1], rate(2),
      rate(0) > 0 ? rate(2) / rate(0) : 0.0, calls[2] > 0 ? 100.0 * shed[2] / calls[2] : 0.0,
      rate(3));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::string template_id = "zzp_aantal_per_wijk";
  int clients = 8;
  int seconds = 10;
  int rounds = 2;
  bool unsigned_commits = false;
  bool overload = false;
  int limit = 8;
  int factor = 4;
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
    else if (a == "--overload") overload = true;
    else if (a == "--limit") limit = std::atoi(next().c_str());
    else if (a == "--factor") factor = std::atoi(next().c_str());
    else {
      std::fprintf(stderr,
                   "usage: bench_server_qps [--db PATH] [--template ID] [--clients N] "
                   "[--seconds S] [--rounds R] [--unsigned-commits]\n"
                   "       bench_server_qps --overload [--limit N] [--factor F] [--db PATH] "
                   "[--template ID] [--seconds S] [--rounds R]\n");
      return 2;
    }
  }
  if (overload && (limit < 1 || limit > 64 || factor < 1 || limit * factor > 256)) {
    std::fprintf(stderr, "bench_server_qps: --limit 1..64, --factor >= 1, limit x factor <= 256\n");
    return 2;
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

  if (overload) {
    return RunOverload(config, options, template_id, dir.path().string(), limit, factor, seconds,
                       rounds);
  }

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
