// Benchmark of the audit log's write path (issue 4): appends per second from 8 concurrent
// appenders with durable group commit (WAL, synchronous=FULL) against the same store with
// synchronous=OFF, in one run, and the ratio.
//
//   bench_audit_log [--seconds S] [--threads T] [--dir DIR] [--work-us U]
//
// DIR (default: the system temp directory) should be on the disk the server would use. With
// --work-us, each appender spins U microseconds of CPU between its accepted and result entries,
// a stand-in for running the query: the ratio then approximates the cost of durable logging to
// query throughput (the real server-level comparison needs a non-syncing server mode).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "enclave/adapters/sqlite/audit_log_store.h"

namespace {

using enclave::adapters::sqlite::AuditLogOptions;
using enclave::adapters::sqlite::AuditLogStore;
using enclave::core::QueryLogEntry;

QueryLogEntry Entry(const std::string& id, QueryLogEntry::Type type) {
  QueryLogEntry e;
  e.type = type;
  e.request_id = id;
  e.caller = "spiffe://lv/analyst";
  e.role = "municipal_analyst";
  e.rpc = "RunQuery";
  e.template_id = "zzp_aantal_per_wijk";
  e.template_version = 2;
  e.template_sha256 = std::string(64, 'b');
  e.canonical_params = "{\"jaar\":2024,\"wijk\":\"*\"}";
  e.decision = "allowed";
  e.rule_set = "cbs-default@2";
  e.data_version = "lv-2026-11";
  if (type == QueryLogEntry::Type::kResult) {
    e.cells_released = 120;
    e.cells_confidential = 14;
    e.cell_rules = std::string(400, 'r');
    e.result_sha256 = std::string(64, 'c');
  }
  return e;
}

struct Result {
  double appends_per_s = 0;
  std::uint64_t appends = 0;
  int failures = 0;
  double reopen_s = 0;  // start-up check of the written log (rebuilds the tree from the leaves)
};

void Spin(int micros) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  while (std::chrono::steady_clock::now() < end) {
  }
}

int commit_delay_us = 500;  // the store's default

Result Run(const std::filesystem::path& dir, bool durable, int threads, double seconds,
           int work_us) {
  std::filesystem::create_directories(dir);
  AuditLogOptions options;
  options.state_dir = dir.string();
  options.durable = durable;
  options.group_commit_delay = std::chrono::microseconds(commit_delay_us);
  auto store = AuditLogStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> appends{0};
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string id = "b" + std::to_string(t) + "-" + std::to_string(i);
        for (auto type : {QueryLogEntry::Type::kAccepted, QueryLogEntry::Type::kResult}) {
          if (type == QueryLogEntry::Type::kResult && work_us > 0) Spin(work_us);
          if ((*store)->Append(Entry(id, type)).ok()) {
            appends.fetch_add(1, std::memory_order_relaxed);
          } else {
            failures.fetch_add(1);
          }
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Result r;
  r.appends = appends.load();
  r.failures = failures.load();
  r.appends_per_s = static_cast<double>(r.appends) / elapsed;
  if (!(*store)->Close().ok()) r.failures++;
  store->reset();
  const auto reopen_start = std::chrono::steady_clock::now();
  auto reopened = AuditLogStore::Open(options);
  r.reopen_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reopen_start).count();
  if (!reopened.ok()) r.failures++;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int threads = 8;
  int work_us = 0;
  std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--dir") base = argv[i + 1];
    else if (flag == "--work-us") work_us = std::atoi(argv[i + 1]);
    else if (flag == "--commit-delay-us") commit_delay_us = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: bench_audit_log [--seconds S] [--threads T] [--dir DIR] [--work-us U] "
                   "[--commit-delay-us D]\n");
      return 2;
    }
  }
  const std::filesystem::path dir =
      base / ("bench-audit-log-" + std::to_string(::getpid()));
  const Result off = Run(dir / "off", /*durable=*/false, threads, seconds, work_us);
  const Result full = Run(dir / "full", /*durable=*/true, threads, seconds, work_us);
  std::filesystem::remove_all(dir);
  std::printf("appenders: %d, seconds per run: %.1f, work per query: %d us, commit delay: %d us\n",
              threads, seconds, work_us, commit_delay_us);
  std::printf("synchronous=OFF : %10.0f appends/s (%llu appends, %d failures)\n",
              off.appends_per_s, static_cast<unsigned long long>(off.appends), off.failures);
  std::printf("durable (FULL)  : %10.0f appends/s (%llu appends, %d failures)\n",
              full.appends_per_s, static_cast<unsigned long long>(full.appends), full.failures);
  std::printf("durable / OFF   : %.2f\n", full.appends_per_s / off.appends_per_s);
  std::printf("start-up check  : %.3f s for %llu entries\n", off.reopen_s,
              static_cast<unsigned long long>(off.appends));
  return off.failures + full.failures == 0 ? 0 : 1;
}
