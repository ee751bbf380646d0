// Benchmark of the audit log's write path (issue 4): appends per second from 8 concurrent
// appenders with durable group commit (WAL, synchronous=FULL) against the same store with
// synchronous=OFF, in one run, and the ratio.
//
//   bench_audit_log [--seconds S] [--threads T] [--dir DIR] [--work-us U] [--no-commit-sign]
//   bench_audit_log --startup-entries N [--dir DIR] [--opens K]
//
// --no-commit-sign runs both phases without the signed checkpoint per commit (the behaviour
// before issue 11), to measure what signing each commit costs. --startup-entries writes N
// entries (quickly: not synced, unsigned commits, one final checkpoint), then times K start-ups
// of the store as the server opens it: every entry's bytes re-hashed, its head fields decoded and
// compared with its row, the tree rebuilt and checked against every signed checkpoint; then the
// parts alone (the scan, + SHA-256, + head decoding; full decoding for comparison):
//   bench=audit_log_startup entries=N db_bytes=... open_seconds_min=... open_seconds_median=...
//     scan_seconds=... scan_hash_seconds=... scan_hash_head_seconds=... scan_hash_full_decode_seconds=...
//
// DIR (default: the system temp directory) should be on the disk the server would use. With
// --work-us, each appender spins U microseconds of CPU between its accepted and result entries,
// a stand-in for running the query: the ratio then approximates the cost of durable logging to
// query throughput (the real server-level comparison needs a non-syncing server mode).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <sqlite3.h>

#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"

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
bool commit_sign = true;    // the store's default

Result Run(const std::filesystem::path& dir, bool durable, int threads, double seconds,
           int work_us) {
  std::filesystem::create_directories(dir);
  AuditLogOptions options;
  options.state_dir = dir.string();
  options.durable = durable;
  options.group_commit_delay = std::chrono::microseconds(commit_delay_us);
  options.checkpoint_every_commit = commit_sign;
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

// Writes `entries` entries, closes, then opens the store `opens` times as a server would.
int Startup(const std::filesystem::path& dir, std::uint64_t entries, int opens) {
  std::filesystem::create_directories(dir);
  AuditLogOptions fill;
  fill.state_dir = dir.string();
  fill.durable = false;
  fill.checkpoint_every_commit = false;
  fill.checkpoint_every_entries = 0;
  fill.checkpoint_interval = std::chrono::milliseconds(0);
  fill.group_commit_delay = std::chrono::microseconds(0);
  {
    auto store = AuditLogStore::Open(fill);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
      return 1;
    }
    constexpr int kThreads = 32;
    std::atomic<std::uint64_t> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&] {
        for (std::uint64_t i = next.fetch_add(2); i < entries; i = next.fetch_add(2)) {
          const std::string id = "s-" + std::to_string(i);
          if (!(*store)->Append(Entry(id, QueryLogEntry::Type::kAccepted)).ok()) ++failures;
          if (!(*store)->Append(Entry(id, QueryLogEntry::Type::kResult)).ok()) ++failures;
        }
      });
    }
    for (auto& w : workers) w.join();
    if (failures.load() != 0 || !(*store)->Close().ok()) {
      std::fprintf(stderr, "filling the log failed\n");
      return 1;
    }
  }
  AuditLogOptions server;  // as enclaved opens it
  server.state_dir = dir.string();
  std::vector<double> seconds;
  std::uint64_t size = 0;
  for (int k = 0; k < opens; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto store = AuditLogStore::Open(server);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!store.ok()) {
      std::fprintf(stderr, "start-up refused: %s\n", store.status().ToString().c_str());
      return 1;
    }
    size = (*store)->Size();
  }
  std::sort(seconds.begin(), seconds.end());
  // Where the time goes: the same scan of every row alone, with the SHA-256 of each leaf, with the
  // head fields decoded as start-up does, and (for comparison) with the whole leaf decoded
  // strictly instead, each once after the opens warmed the page cache.
  double scan_s[4] = {0, 0, 0, 0};
  for (int level = 0; level < 4; ++level) {
    sqlite3* db = nullptr;
    sqlite3_open_v2((dir / "audit_log.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT seq, type, request_id, hash, time_ms, bytes FROM leaves ORDER BY seq",
                       -1, &stmt, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t sink = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, 5));
      const std::string_view bytes(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt, 5)));
      sink += bytes.size();
      if (level >= 1) sink += enclave::audit::HashLeaf(bytes)[0];
      if (level == 2) sink += enclave::audit::DecodeLeafHead(bytes).ok() ? 1U : 0U;
      if (level == 3) sink += enclave::audit::DecodeLeaf(bytes).ok() ? 1U : 0U;
    }
    scan_s[level] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (sink == 0) return 1;
  }
  std::error_code ec;
  const auto db_bytes = std::filesystem::file_size(dir / "audit_log.db", ec);
  std::printf("bench=audit_log_startup entries=%llu db_bytes=%llu opens=%d open_seconds_min=%.3f "
              "open_seconds_median=%.3f scan_seconds=%.3f scan_hash_seconds=%.3f "
              "scan_hash_head_seconds=%.3f scan_hash_full_decode_seconds=%.3f\n",
              static_cast<unsigned long long>(size), static_cast<unsigned long long>(db_bytes),
              opens, seconds.front(), seconds[seconds.size() / 2], scan_s[0], scan_s[1], scan_s[2],
              scan_s[3]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int threads = 8;
  int work_us = 0;
  std::uint64_t startup_entries = 0;
  int opens = 3;
  std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--no-commit-sign") {
      commit_sign = false;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_audit_log: %s needs a value\n", flag.c_str());
      return 2;
    }
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--startup-entries") startup_entries = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--opens") opens = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--dir") base = argv[i + 1];
    else if (flag == "--work-us") work_us = std::atoi(argv[i + 1]);
    else if (flag == "--commit-delay-us") commit_delay_us = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: bench_audit_log [--seconds S] [--threads T] [--dir DIR] [--work-us U] "
                   "[--commit-delay-us D] [--no-commit-sign]\n"
                   "       bench_audit_log --startup-entries N [--dir DIR] [--opens K]\n");
      return 2;
    }
  }
  const std::filesystem::path dir =
      base / ("bench-audit-log-" + std::to_string(::getpid()));
  if (startup_entries > 0) {
    const int rc = Startup(dir, startup_entries, opens);
    std::filesystem::remove_all(dir);
    return rc;
  }
  const Result off = Run(dir / "off", /*durable=*/false, threads, seconds, work_us);
  const Result full = Run(dir / "full", /*durable=*/true, threads, seconds, work_us);
  std::filesystem::remove_all(dir);
  std::printf("appenders: %d, seconds per run: %.1f, work per query: %d us, commit delay: %d us, "
              "signed checkpoint per commit: %s\n",
              threads, seconds, work_us, commit_delay_us, commit_sign ? "yes" : "no");
  std::printf("synchronous=OFF : %10.0f appends/s (%llu appends, %d failures)\n",
              off.appends_per_s, static_cast<unsigned long long>(off.appends), off.failures);
  std::printf("durable (FULL)  : %10.0f appends/s (%llu appends, %d failures)\n",
              full.appends_per_s, static_cast<unsigned long long>(full.appends), full.failures);
  std::printf("durable / OFF   : %.2f\n", full.appends_per_s / off.appends_per_s);
  std::printf("start-up check  : %.3f s for %llu entries\n", off.reopen_s,
              static_cast<unsigned long long>(off.appends));
  return off.failures + full.failures == 0 ? 0 : 1;
}
