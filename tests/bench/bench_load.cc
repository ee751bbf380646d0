// Benchmark of a delivery load (issue 6, issue 13): rows per second for a one-million-row bijstand
// delivery through enclave-steward's LoadDeliveries (in one pass per delivery inside the load's
// transaction: strict CSV, validation against the description, BSN canonicalisation and
// 11-check, HMAC-SHA256 pseudonyms, linkage lookup, insert into a new versioned table; then its
// indexes, the derived tables the delivery feeds, the query-log entry and a synchronous=FULL
// commit) against SQLite's own import of the same file in the same run:
//   baseline "import": the sqlite3 shell's `.import --csv` into a new plain table (all TEXT),
//                      when `sqlite3` is on PATH;
//   baseline "capi":   the sqlite3 C API, a prepared INSERT of 9 TEXT values per line in one
//                      transaction (fields split on commas, no quoting, no checks).
// Median of --runs runs each; ratio = candidate seconds / baseline seconds (>1: the load is
// slower; the aim is ratio_import <= 2, i.e. at least half the speed of .import).
// validate_only_s: ValidateDeliveries alone (the `validate` command); the phases of the load,
// from its progress events: insert_s (reading the file, its SHA-256, the one pass), index_s
// (indexes and ANALYZE), derive_s (derived tables), commit_s (the durable commit); the rest of
// candidate_s is opening the database and the query log and recording the version.
// ratio_import_paired: the median of each run's candidate / import (the two run back to back, so
// a change in the machine's load between runs counts less); candidate_cpu_s and
// baseline_import_cpu_s: CPU seconds (user + system, all threads) of the load and of the sqlite3
// child, which depend less on other work on the machine than wall-clock time does.
//
//   bench_load [--rows N (1000000)] [--runs R (3)] [--dir DIR]
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "enclave/delivery/bsn.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/steward/steward.h"
#include "tests/bench/bench_stats.h"

namespace {

using enclave::bench::Median;

namespace fs = std::filesystem;
using enclave::bench::Clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds (user + system) of this process (all its threads) or of its waited-for children.
double CpuSeconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// `rows` bijstand records with valid, mostly distinct BSNs (some persons twice, other benefit).
std::string MakeCsv(std::size_t rows) {
  std::mt19937_64 rng(42);
  std::string csv =
      "bsn,uitkering_id,rol,statistiekcode,aanvang,einde,leefvorm,inkomsten_naast_uitkering,"
      "uitstroomreden\n";
  csv.reserve(rows * 90);
  static const char* kCodes[] = {"ALG", "IOAW", "IOAZ", "BBZ", "TOZO"};
  static const char* kLeef[] = {"alleenstaand", "alleenstaande_ouder", "gehuwd_samenwonend"};
  static const char* kUit[] = {"", "werk", "ander_inkomen", "verhuizing", "partner", "aow", "overig"};
  char bsn[16];
  for (std::size_t i = 0; i < rows;) {
    std::snprintf(bsn, sizeof(bsn), "%09llu", static_cast<unsigned long long>(rng() % 700000000ULL));
    if (!enclave::delivery::IsCanonicalBsn(bsn)) continue;
    const int year = 2015 + static_cast<int>(rng() % 9);
    csv += bsn;
    csv += ",UK" + std::to_string(10000000 + i) + (rng() % 5 == 0 ? ",persoon2," : ",persoon1,");
    csv += kCodes[rng() % 5];
    csv += "," + std::to_string(year) + "0101," + std::to_string(year + 1) + "1231,";
    csv += kLeef[rng() % 3];
    csv += rng() % 2 ? ",1," : ",0,";
    csv += kUit[rng() % 7];
    csv += "\n";
    ++i;
  }
  return csv;
}

double CapiImport(const std::string& db_path, const std::string& csv_path) {
  fs::remove(db_path);
  const auto start = Clock::now();
  std::ifstream in(csv_path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string data = buf.str();
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA synchronous=FULL; CREATE TABLE plain (a TEXT, b TEXT, c TEXT, d TEXT, e "
               "TEXT, f TEXT, g TEXT, h TEXT, i TEXT); BEGIN",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO plain VALUES (?,?,?,?,?,?,?,?,?)", -1, &stmt, nullptr);
  std::size_t pos = data.find('\n') + 1;  // skip the header
  while (pos < data.size()) {
    const std::size_t end = data.find('\n', pos);
    int col = 1;
    std::size_t field = pos;
    for (std::size_t p = pos; p <= end; ++p) {
      if (p == end || data[p] == ',') {
        sqlite3_bind_text(stmt, col++, data.data() + field, static_cast<int>(p - field),
                          SQLITE_STATIC);
        field = p + 1;
      }
    }
    sqlite3_step(stmt);
    sqlite3_reset(stmt);
    pos = end + 1;
  }
  sqlite3_finalize(stmt);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return Seconds(start);
}

double ShellImport(const std::string& db_path, const std::string& csv_path, double* cpu_s) {
  fs::remove(db_path);
  const std::string cmd = "sqlite3 " + db_path + " '.import --csv " + csv_path + " plain'";
  const double cpu = CpuSeconds(RUSAGE_CHILDREN);
  const auto start = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double s = Seconds(start);
  *cpu_s = CpuSeconds(RUSAGE_CHILDREN) - cpu;
  return rc == 0 ? s : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t rows = 1000000;
  int runs = 3;
  std::string dir = fs::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rows") rows = static_cast<std::size_t>(std::atoll(argv[i + 1]));
    if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--dir") dir = argv[i + 1];
  }
  const fs::path work = fs::path(dir) / ("bench_load-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const std::string csv_path = (work / "bijstand.csv").string();
  {
    const std::string csv = MakeCsv(rows);
    std::ofstream(csv_path, std::ios::binary) << csv;
    std::fprintf(stderr, "delivery: %zu rows, %.1f MB\n", rows, static_cast<double>(csv.size()) / 1e6);
  }
  const std::string key = (work / "key").string();
  if (!enclave::crypto::CreateKeyFile(key).ok()) return 1;
  const bool have_shell = std::system("command -v sqlite3 > /dev/null 2>&1") == 0;

  std::vector<double> candidate, validate_only, capi, shell;
  std::vector<double> candidate_cpu, shell_cpu, paired;  // paired: candidate / import per run
  std::map<std::string, std::vector<double>> phase_seconds;
  for (int r = 0; r < runs; ++r) {
    if (have_shell) {
      double cpu = 0;
      shell.push_back(ShellImport((work / "shell.db").string(), csv_path, &cpu));
      shell_cpu.push_back(cpu);
    }
    capi.push_back(CapiImport((work / "capi.db").string(), csv_path));

    const std::string desc = std::string(ENCLAVE_SOURCE_DIR) + "/policies/deliveries/bijstandpersoonbus.textproto";
    auto start = Clock::now();
    auto v = enclave::steward::ValidateDeliveries({{desc, csv_path}});
    validate_only.push_back(Seconds(start));
    if (!v.ok() || !v->at(0).report.ok()) {
      std::fprintf(stderr, "validation failed\n");
      return 1;
    }

    const std::string db = (work / "micro.db").string();
    fs::remove(db);
    fs::remove_all(work / "state");
    if (!enclave::steward::InitDatabase(db).ok()) return 1;
    if (!enclave::steward::InitStateDir((work / "state").string(), "").ok()) return 1;
    enclave::steward::StewardOptions options;
    options.database_path = db;
    options.state_dir = (work / "state").string();
    options.key_path = key;
    options.steward = "unix:bench";
    std::map<std::string, double> phase_end;  // elapsed at each phase's last event
    options.progress = [&phase_end](const enclave::steward::Progress& p) {
      phase_end[p.phase] = p.elapsed_s;
    };
    const double cpu = CpuSeconds(RUSAGE_SELF);
    start = Clock::now();
    auto out = enclave::steward::LoadDeliveries(options, {{desc, csv_path}});
    candidate.push_back(Seconds(start));
    candidate_cpu.push_back(CpuSeconds(RUSAGE_SELF) - cpu);
    if (have_shell && shell.back() > 0) paired.push_back(candidate.back() / shell.back());
    for (const char* phase : {"insert", "index", "derive", "commit"}) {
      phase_seconds[phase].push_back(phase_end[phase]);
    }
    if (!out.ok() || !out->loaded) {
      std::fprintf(stderr, "load failed: %s\n",
                   out.ok() ? "refused" : std::string(out.status().message()).c_str());
      return 1;
    }
  }
  const double n = static_cast<double>(rows);
  const double cand = Median(candidate);
  const double base_capi = Median(capi);
  std::printf("bench=load rows=%zu runs=%d candidate_s=%.3f candidate_rows_per_s=%.0f "
              "validate_only_s=%.3f insert_s=%.3f index_s=%.3f derive_s=%.3f commit_s=%.3f "
              "baseline_capi_s=%.3f baseline_capi_rows_per_s=%.0f ratio_capi=%.2f",
              rows, runs, cand, n / cand, Median(validate_only), Median(phase_seconds["insert"]),
              Median(phase_seconds["index"]), Median(phase_seconds["derive"]),
              Median(phase_seconds["commit"]), base_capi, n / base_capi, cand / base_capi);
  if (have_shell && Median(shell) > 0) {
    const double base_shell = Median(shell);
    std::printf(" baseline_import_s=%.3f baseline_import_rows_per_s=%.0f ratio_import=%.2f"
                " ratio_import_paired=%.2f candidate_cpu_s=%.3f baseline_import_cpu_s=%.3f"
                " ratio_import_cpu=%.2f",
                base_shell, n / base_shell, cand / base_shell, Median(paired),
                Median(candidate_cpu), Median(shell_cpu),
                Median(candidate_cpu) / Median(shell_cpu));
  } else {
    std::printf(" baseline_import=unavailable(no sqlite3 shell)");
  }
  std::printf("\n");
  fs::remove_all(work);
  return 0;
}
