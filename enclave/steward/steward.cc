// Dataset versions, validated loads, pseudonymisation and linkage in one SQLite transaction.
#include "enclave/steward/steward.h"

#include <sqlite3.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/base/check.h"
#include "enclave/base/status_macros.h"
#include "enclave/core/query_log.h"
#include "enclave/crypto/sha256.h"
#include "enclave/delivery/csv_reader.h"
#include "enclave/server/lock_file.h"
#include "enclave/steward/description_file.h"
#include "enclave/crypto/pseudonymiser.h"
#include "enclave/steward/sql_embed.h"

namespace enclave::steward {
namespace {

constexpr char kServerRunning[] = "enclaved is running";
// Files of an initialised query log in the state directory (audit_log_store.h).
constexpr char kLogDatabase[] = "audit_log.db";
constexpr char kLogCheckpoint[] = "checkpoint";
constexpr char kLogSigningKey[] = "log_signing.key";

using crypto::Pseudonymiser;
using delivery::ColumnType;
using delivery::CsvProblem;
using delivery::CsvReader;
using delivery::CsvRecord;
using delivery::DeliveryDescription;
using delivery::ParsedRow;
using delivery::Validator;
using delivery::Value;

// --- SQLite helpers -------------------------------------------------------------------------

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

absl::Status DbError(sqlite3* db, const std::string& what) {
  // errmsg names the statement problem (table, column, constraint), never row values.
  return absl::UnavailableError(absl::StrCat("microdata database: ", what, ": ",
                                             sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return absl::UnavailableError(absl::StrCat("microdata database: ", what, ": ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<StmtPtr> Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(raw);
    return DbError(db, "cannot prepare a statement");
  }
  return StmtPtr(raw);
}

std::string ColumnText(sqlite3_stmt* s, int col) {
  const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return t == nullptr ? std::string()
                      : std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

// Runs `sql` with text parameters and returns the first column of every row.
absl::StatusOr<std::vector<std::string>> QueryStrings(sqlite3* db, const std::string& sql,
                                                     const std::vector<std::string>& params = {}) {
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db, sql));
  for (std::size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), params[i].data(),
                      static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
  }
  std::vector<std::string> out;
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) out.push_back(ColumnText(stmt.get(), 0));
  if (rc != SQLITE_DONE) return DbError(db, "query failed");
  return out;
}

absl::StatusOr<DbPtr> OpenReadWrite(const std::string& path, bool create) {
  std::error_code ec;
  if (!create && !std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError("microdata database " + path +
                               " does not exist (create one with `enclave-steward init`)");
  }
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("microdata database: cannot open: ",
                                               sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // https://www.sqlite.org/security.html, as for the server's read-only connection.
  int ok = 0;
  if (sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, &ok) != SQLITE_OK || ok != 1 ||
      sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &ok) != SQLITE_OK ||
      ok != 0 || sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ok) != SQLITE_OK ||
      ok != 0) {
    return absl::UnavailableError("microdata database: cannot apply security settings");
  }
  // A rollback journal with full syncs: a killed load is rolled back on the next open, and a
  // commit is durable. Only pages that existed before a transaction are journalled, so the new
  // version's tables (appended pages) cost no journal writes. Temporary sorts (index builds, the
  // derived layer) stay in memory (security.md §4: no plaintext temporary files); the page cache
  // is large enough that a million-row delivery and its indexes are built without spilling.
  ENCLAVE_RETURN_IF_ERROR(Exec(db.get(),
                               "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; "
                               "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-400000; "
                               "PRAGMA busy_timeout=0;",
                               "settings"));
  // Touch the schema so that a hot journal left by a killed load is rolled back now.
  ENCLAVE_RETURN_IF_ERROR(Exec(db.get(), "SELECT count(*) FROM sqlite_master", "schema read"));
  return db;
}

constexpr char kVersionTables[] = R"sql(
CREATE TABLE IF NOT EXISTS steward_version (
  version INTEGER PRIMARY KEY,
  parent INTEGER,
  kind TEXT NOT NULL,
  data_version TEXT NOT NULL,
  created_utc TEXT NOT NULL,
  datasets TEXT NOT NULL,
  delivery_sha256 TEXT NOT NULL,
  records INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steward_table (
  version INTEGER NOT NULL,
  dataset TEXT NOT NULL,
  physical TEXT NOT NULL,
  PRIMARY KEY (version, dataset)
);
CREATE TABLE IF NOT EXISTS steward_current (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS steward_derive_timing (
  tbl TEXT PRIMARY KEY,
  seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool HasTable(sqlite3* db, const std::string& name) {
  absl::StatusOr<std::vector<std::string>> rows =
      QueryStrings(db, "SELECT type FROM sqlite_master WHERE name = ?", {name});
  return rows.ok() && !rows->empty();
}

absl::StatusOr<std::string> MetaDataVersion(sqlite3* db) {
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> rows,
                           QueryStrings(db, "SELECT value FROM meta WHERE key = 'data_version'"));
  return rows.empty() ? std::string("unversioned") : rows[0];
}

absl::StatusOr<std::optional<std::int64_t>> CurrentVersion(sqlite3* db) {
  if (!HasTable(db, "steward_current")) return std::optional<std::int64_t>();
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> rows,
                           QueryStrings(db, "SELECT version FROM steward_current WHERE id = 1"));
  if (rows.empty()) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(std::stoll(rows[0]));
}

// Inside the transaction: the version tables exist and a current version is recorded (a database
// never changed by the steward is adopted as version 1). Returns the current version.
absl::StatusOr<std::int64_t> EnsureVersioned(sqlite3* db) {
  ENCLAVE_RETURN_IF_ERROR(Exec(db, kVersionTables, "creating the version tables"));
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::int64_t> current, CurrentVersion(db));
  if (current) return *current;
  ENCLAVE_ASSIGN_OR_RETURN(std::string data_version, MetaDataVersion(db));
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt,
                           Prepare(db, "INSERT INTO steward_version VALUES (1, NULL, 'adopted', ?, "
                                       "?, '', '', 0, 'database as found')"));
  const std::string now = UtcNow();
  sqlite3_bind_text(stmt.get(), 1, data_version.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt.get(), 2, now.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) return DbError(db, "cannot record version 1");
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "INSERT INTO steward_current VALUES (1, 1)", "current version"));
  return 1;
}

// The physical table holding `dataset` in `version`, or "" when the dataset is not versioned.
absl::StatusOr<std::string> Physical(sqlite3* db, std::int64_t version, const std::string& dataset) {
  ENCLAVE_ASSIGN_OR_RETURN(
      std::vector<std::string> rows,
      QueryStrings(db, "SELECT physical FROM steward_table WHERE version = ? AND dataset = ?",
                   {std::to_string(version), dataset}));
  return rows.empty() ? std::string() : rows[0];
}

absl::Status SetPhysical(sqlite3* db, std::int64_t version, const std::string& dataset,
                         const std::string& physical) {
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt,
                           Prepare(db, "INSERT OR REPLACE INTO steward_table VALUES (?, ?, ?)"));
  sqlite3_bind_int64(stmt.get(), 1, version);
  sqlite3_bind_text(stmt.get(), 2, dataset.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt.get(), 3, physical.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) return DbError(db, "cannot record a table");
  return absl::OkStatus();
}

absl::Status PointView(sqlite3* db, const std::string& dataset, const std::string& physical) {
  return Exec(db,
              absl::StrCat("DROP VIEW IF EXISTS ", dataset, "; CREATE VIEW ", dataset,
                           " AS SELECT * FROM ", physical, ";"),
              "switching view " + dataset);
}

absl::Status SetDataVersion(sqlite3* db, const std::string& data_version) {
  ENCLAVE_ASSIGN_OR_RETURN(
      StmtPtr stmt, Prepare(db, "INSERT OR REPLACE INTO meta VALUES ('data_version', ?)"));
  sqlite3_bind_text(stmt.get(), 1, data_version.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) return DbError(db, "cannot set data_version");
  return absl::OkStatus();
}

absl::Status SetCurrent(sqlite3* db, std::int64_t version) {
  return Exec(db, absl::StrCat("UPDATE steward_current SET version = ", version, " WHERE id = 1"),
              "current version");
}

// Creates `to` like `from` (columns and constraints) and returns the SQL of `from`'s explicit
// indexes renamed for `to`, to be run after the insert.
absl::Status CloneTable(sqlite3* db, const std::string& from, const std::string& to,
                        std::vector<std::string>* index_sql) {
  ENCLAVE_ASSIGN_OR_RETURN(
      std::vector<std::string> table,
      QueryStrings(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", {from}));
  if (table.empty() || table[0].find('(') == std::string::npos) {
    return absl::FailedPreconditionError("microdata database: no table " + from);
  }
  ENCLAVE_RETURN_IF_ERROR(
      Exec(db, "CREATE TABLE " + to + " " + table[0].substr(table[0].find('(')), "new table " + to));
  ENCLAVE_ASSIGN_OR_RETURN(
      std::vector<std::string> indexes,
      QueryStrings(db,
                   "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND "
                   "sql IS NOT NULL ORDER BY name",
                   {from}));
  int n = 0;
  for (const std::string& sql : indexes) {
    const std::size_t on = sql.find(" ON ");
    const std::size_t paren = on == std::string::npos ? on : sql.find('(', on);
    if (paren == std::string::npos) continue;
    const bool unique = sql.rfind("CREATE UNIQUE", 0) == 0;
    index_sql->push_back(absl::StrCat(unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ", to, "_i",
                                      ++n, " ON ", to, " ", sql.substr(paren)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TableColumns(sqlite3* db, const std::string& table) {
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db, "SELECT name FROM pragma_table_info(?)"));
  sqlite3_bind_text(stmt.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> out;
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) out.push_back(ColumnText(stmt.get(), 0));
  if (rc != SQLITE_DONE) return DbError(db, "cannot read columns of " + table);
  return out;
}

// --- Progress -------------------------------------------------------------------------------

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One phase of an operation: its start time, and events to the caller's progress function.
class PhaseReporter {
 public:
  PhaseReporter(const ProgressFn& fn, std::string phase)
      : fn_(fn), phase_(std::move(phase)), start_(MonotonicSeconds()) {}

  double Elapsed() const { return MonotonicSeconds() - start_; }
  // True at most ten times a second: whether a running event is worth sending now.
  bool Due() {
    if (!fn_) return false;
    const double now = MonotonicSeconds();
    if (now - last_ < 0.1) return false;
    last_ = now;
    return true;
  }
  void Report(Progress p) const {
    if (!fn_) return;
    p.phase = phase_;
    p.elapsed_s = Elapsed();
    fn_(p);
  }

 private:
  const ProgressFn& fn_;
  std::string phase_;
  double start_;
  double last_ = -1e9;
};

// Time left of a phase made of steps: each step's duration on the last run on this database
// (`seconds`, when known for every step) or its cost from derived.sql (relative units), scaled
// by how long the finished steps took. Durations from the last run are used while this run
// keeps within a factor of 3 of them; when the data changed that much, the costs are.
class StepEstimate {
 public:
  StepEstimate(std::vector<double> costs, std::optional<std::vector<double>> seconds)
      : costs_(std::move(costs)), seconds_(std::move(seconds)) {}

  void StartStep(std::size_t i, double elapsed) {
    current_ = i;
    step_start_ = elapsed;
  }
  void FinishStep(double elapsed) {
    done_elapsed_ += elapsed - step_start_;
    done_cost_ += costs_[current_];
    if (seconds_) done_seconds_ += (*seconds_)[current_];
    current_ += 1;
    step_start_ = elapsed;
  }
  // Seconds left, or -1 while there is nothing to go by.
  double SecondsLeft(double elapsed) const {
    if (current_ >= costs_.size()) return 0;
    const double in_step = elapsed - step_start_;
    auto left = [&](const std::vector<double>& expected, double scale) {
      double later = 0;
      for (std::size_t j = current_ + 1; j < expected.size(); ++j) later += expected[j];
      return std::max(0.0, expected[current_] * scale - in_step) + later * scale;
    };
    const bool measured = done_elapsed_ > 0.05;
    double history_scale = 1;
    if (seconds_) {
      if (measured && done_seconds_ > 0.05) history_scale = done_elapsed_ / done_seconds_;
      if (history_scale >= 1.0 / 3 && history_scale <= 3) return left(*seconds_, history_scale);
    }
    if (measured && done_cost_ > 0) return left(costs_, done_elapsed_ / done_cost_);
    if (seconds_) return left(*seconds_, history_scale);
    return -1;
  }

 private:
  std::vector<double> costs_;
  std::optional<std::vector<double>> seconds_;
  std::size_t current_ = 0;
  double step_start_ = 0;
  double done_elapsed_ = 0;
  double done_cost_ = 0;
  double done_seconds_ = 0;
};

// --- The derived layer ----------------------------------------------------------------------

// The first keyword of a statement, after white space and comments (upper case).
std::string FirstKeyword(const char* sql) {
  std::string_view s(sql == nullptr ? "" : sql);
  for (;;) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' ||
                          s.front() == '\r')) {
      s.remove_prefix(1);
    }
    if (s.substr(0, 2) != "--") break;
    const std::size_t nl = s.find('\n');
    s.remove_prefix(nl == std::string_view::npos ? s.size() : nl + 1);
  }
  std::string word;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') break;
    word.push_back(c);
  }
  return word;
}

// Runs the statements of `sql` one by one; returns the rows their INSERTs wrote.
absl::StatusOr<std::uint64_t> ExecCountingInserts(sqlite3* db, const std::string& sql,
                                                  const std::string& what) {
  std::uint64_t rows = 0;
  const char* tail = sql.c_str();
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* raw = nullptr;
    const char* next = nullptr;
    if (sqlite3_prepare_v2(db, tail, -1, &raw, &next) != SQLITE_OK) {
      sqlite3_finalize(raw);
      return DbError(db, what);
    }
    StmtPtr stmt(raw);
    tail = next;
    if (raw == nullptr) continue;  // only white space or comments left
    int rc = 0;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return DbError(db, what);
    const std::string keyword = FirstKeyword(sqlite3_sql(raw));
    if (keyword == "INSERT" || keyword == "WITH") {
      rows += static_cast<std::uint64_t>(sqlite3_changes64(db));
    }
  }
  return rows;
}

struct DeriveTicker {
  PhaseReporter* reporter = nullptr;
  StepEstimate* estimate = nullptr;
  Progress event;
};

int DeriveProgressHandler(void* context) {
  auto* t = static_cast<DeriveTicker*>(context);
  if (t->reporter->Due()) {
    t->event.eta_s = t->estimate->SecondsLeft(t->reporter->Elapsed());
    t->reporter->Report(t->event);
  }
  return 0;  // never interrupts
}

struct DerivedResult {
  std::vector<std::string> rebuilt;
  std::vector<std::string> unchanged;
};

// Rebuilds the derived tables fed by `changed` datasets (and any derived table missing from the
// database), inside the caller's transaction; the others stay as they are.
absl::StatusOr<DerivedResult> RebuildDerived(sqlite3* db, const std::set<std::string>& changed,
                                             const ProgressFn& progress) {
  ENCLAVE_ASSIGN_OR_RETURN(DerivedLayer layer, EmbeddedDerivedLayer());
  std::set<std::string> dirty = changed;
  for (const std::string& table : layer.Tables()) {
    if (!HasTable(db, table)) dirty.insert(table);
  }
  DerivedResult result;
  result.rebuilt = layer.Affected(dirty);
  for (const std::string& table : layer.Tables()) {
    if (std::find(result.rebuilt.begin(), result.rebuilt.end(), table) == result.rebuilt.end()) {
      result.unchanged.push_back(table);
    }
  }
  PhaseReporter reporter(progress, "derive");
  const std::vector<std::size_t> plan = layer.StepsFor(result.rebuilt);
  if (plan.empty()) {
    Progress p;
    p.eta_s = 0;
    p.done = true;
    reporter.Report(p);
    return result;
  }

  // How long each step took last time on this database, if every planned step has a record.
  std::map<std::string, double> history;
  if (HasTable(db, "steward_derive_timing")) {
    ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt,
                             Prepare(db, "SELECT tbl, seconds FROM steward_derive_timing"));
    while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
      history[ColumnText(stmt.get(), 0)] = sqlite3_column_double(stmt.get(), 1);
    }
  }
  std::vector<double> costs;
  std::optional<std::vector<double>> seconds_before(std::in_place);
  for (std::size_t i : plan) {
    const DerivedStep& s = layer.steps()[i];
    costs.push_back(s.cost);
    auto h = history.find(s.table);
    if (h == history.end()) {
      seconds_before.reset();
    } else if (seconds_before) {
      seconds_before->push_back(h->second);
    }
  }
  StepEstimate estimate(costs, seconds_before);
  DeriveTicker ticker{&reporter, &estimate, {}};
  sqlite3_progress_handler(db, 200000, DeriveProgressHandler, &ticker);
  struct HandlerReset {
    sqlite3* db;
    ~HandlerReset() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  } reset{db};

  std::map<std::string, double> seconds;
  for (std::size_t k = 0; k < plan.size(); ++k) {
    const DerivedStep& step = layer.steps()[plan[k]];
    Progress& e = ticker.event;
    e = Progress();
    e.subject = step.table;
    e.step = k + 1;
    e.steps = plan.size();
    const double start = reporter.Elapsed();
    estimate.StartStep(k, start);
    e.eta_s = estimate.SecondsLeft(start);
    reporter.Report(e);
    ENCLAVE_RETURN_IF_ERROR(Exec(
        db, absl::StrCat("DROP TABLE IF EXISTS ", step.temporary ? "temp." : "main.", step.table),
        "dropping " + step.table));
    ENCLAVE_ASSIGN_OR_RETURN(
        std::uint64_t rows,
        ExecCountingInserts(db, step.sql, "rebuilding " + step.table + " (derived.sql)"));
    const double end = reporter.Elapsed();
    seconds[step.table] = end - start;
    estimate.FinishStep(end);
    e.rows = rows;
    e.done = true;
    e.eta_s = estimate.SecondsLeft(end);
    reporter.Report(e);
  }
  for (std::size_t i : plan) {
    if (layer.steps()[i].temporary) {
      ENCLAVE_RETURN_IF_ERROR(Exec(db, "DROP TABLE IF EXISTS temp." + layer.steps()[i].table,
                                   "dropping a helper table"));
    }
  }
  ENCLAVE_RETURN_IF_ERROR(Exec(db, kVersionTables, "creating the version tables"));
  ENCLAVE_ASSIGN_OR_RETURN(
      StmtPtr save, Prepare(db, "INSERT OR REPLACE INTO steward_derive_timing VALUES (?, ?)"));
  for (const auto& [table, s] : seconds) {
    sqlite3_reset(save.get());
    sqlite3_bind_text(save.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(save.get(), 2, s);
    if (sqlite3_step(save.get()) != SQLITE_DONE) return DbError(db, "cannot record step times");
  }
  return result;
}

std::string NamesOrNone(const std::vector<std::string>& names) {
  return names.empty() ? std::string("none") : absl::StrJoin(names, ",");
}

// --- Deliveries -----------------------------------------------------------------------------

// Anonymous memory for large buffers: reserved, not committed, until written (so a generous
// size costs nothing), in transparent huge pages where the kernel allows (2 MB pages: a few
// hundred page faults instead of tens of thousands for a large delivery). Grows by mremap.
class BigBuffer {
 public:
  BigBuffer() = default;
  explicit BigBuffer(std::size_t capacity) { Grow(capacity); }
  BigBuffer(BigBuffer&& o) noexcept { *this = std::move(o); }
  BigBuffer& operator=(BigBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(capacity_, o.capacity_);
    return *this;
  }
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;
  ~BigBuffer() {
    if (data_ != nullptr) ::munmap(data_, capacity_);
  }
  char* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }
  // Makes room for at least `capacity` bytes (the contents are kept); aborts when out of memory.
  void Grow(std::size_t capacity) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    capacity = std::max(kHuge, (capacity + kHuge - 1) / kHuge * kHuge);
    if (capacity <= capacity_) return;
    void* p = data_ == nullptr
                  ? ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                  : ::mremap(data_, capacity_, capacity, MREMAP_MAYMOVE);
    ENCLAVE_CHECK(p != MAP_FAILED);
    ::madvise(p, capacity, MADV_HUGEPAGE);  // advice only: fine if the kernel declines
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
  }

 private:
  char* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// A file's bytes, read in one go into a BigBuffer (not zero-filled first, no stream copies).
struct FileBytes {
  BigBuffer buffer;
  std::size_t size = 0;
  std::string_view view() const { return std::string_view(buffer.data(), size); }
};

struct Prepared {
  DeliveryDescription description;
  FileBytes file;
  std::string_view csv;  // file.view()
  DeliveryOutcome outcome;
};

absl::StatusOr<FileBytes> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError("cannot read " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError("cannot read " + path + " (not a regular file)");
  }
  FileBytes bytes;
  bytes.size = static_cast<std::size_t>(st.st_size);
  bytes.buffer.Grow(bytes.size + 1);
  std::size_t got = 0;
  while (got < bytes.size) {
    const ssize_t n = ::read(fd, bytes.buffer.data() + got, bytes.size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError("error reading " + path);
    got += static_cast<std::size_t>(n);
  }
  return bytes;
}

// Valid records of (part of) a delivery as they will be bound to the INSERT, packed in one
// BigBuffer: a tag byte per value ('N' null, 'I' 64-bit integer, 'R' double, 'T' text: its
// length as a base-128 varint, then its bytes).
class RowStore {
 public:
  explicit RowStore(std::size_t expected_bytes = 0) : data_(expected_bytes) {}
  void Null() { Put('N', nullptr, 0); }
  void Integer(std::int64_t v) { Put('I', &v, sizeof(v)); }
  void Real(double v) { Put('R', &v, sizeof(v)); }
  void Text(std::string_view t) {
    char len[10];
    std::size_t n = 0;
    for (std::uint64_t v = t.size();; v >>= 7) {
      len[n++] = static_cast<char>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
      if (v < 0x80) break;
    }
    Put('T', len, n);
    Append(t.data(), t.size());
  }
  // Where the next record starts.
  std::size_t end() const { return used_; }
  const char* at(std::size_t offset) const { return data_.data() + offset; }

  // Binds the `columns` values of the record at `offset` to parameters first_param... of
  // `stmt`; the text stays in the store (SQLITE_STATIC) until the store is destroyed.
  void Bind(std::size_t offset, sqlite3_stmt* stmt, int first_param, int columns) const {
    const char* at = data_.data() + offset;
    for (int param = first_param; param < first_param + columns; ++param) {
      const char tag = *at++;
      if (tag == 'N') {
        sqlite3_bind_null(stmt, param);
      } else if (tag == 'I') {
        std::int64_t v = 0;
        std::memcpy(&v, at, sizeof(v));
        at += sizeof(v);
        sqlite3_bind_int64(stmt, param, v);
      } else if (tag == 'R') {
        double v = 0;
        std::memcpy(&v, at, sizeof(v));
        at += sizeof(v);
        sqlite3_bind_double(stmt, param, v);
      } else {
        std::uint64_t len = 0;
        for (int shift = 0;; shift += 7) {
          const auto byte = static_cast<unsigned char>(*at++);
          len |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
          if ((byte & 0x80) == 0) break;
        }
        sqlite3_bind_text(stmt, param, at, static_cast<int>(len), SQLITE_STATIC);
        at += len;
      }
    }
  }

  // Adds the stored size of each of the `columns` values of the record at `offset` to
  // `(*bytes)[0..columns)` (text: its length; integer and real: 8; null: 0).
  void AddWidths(std::size_t offset, int columns, std::vector<std::uint64_t>* bytes) const {
    const char* at = data_.data() + offset;
    for (int c = 0; c < columns; ++c) {
      const char tag = *at++;
      if (tag == 'I' || tag == 'R') {
        at += 8;
        (*bytes)[static_cast<std::size_t>(c)] += 8;
      } else if (tag == 'T') {
        std::uint64_t len = 0;
        for (int shift = 0;; shift += 7) {
          const auto byte = static_cast<unsigned char>(*at++);
          len |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
          if ((byte & 0x80) == 0) break;
        }
        at += len;
        (*bytes)[static_cast<std::size_t>(c)] += len;
      }
    }
  }

 private:
  void Append(const char* bytes, std::size_t n) {
    if (used_ + n > data_.capacity()) data_.Grow(2 * (used_ + n));
    std::memcpy(data_.data() + used_, bytes, n);
    used_ += n;
  }
  void Put(char tag, const void* bytes, std::size_t n) {
    Append(&tag, 1);
    if (n > 0) Append(static_cast<const char*>(bytes), n);
  }
  BigBuffer data_;
  std::size_t used_ = 0;
};

// A record in a RowStore, with the person it belongs to (its first pseudonym as a 128-bit
// number: the order of the numbers is the order of the 32-hex texts).
struct RowRef {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::uint32_t part = 0;    // which part of the delivery (RowStore)
  std::uint64_t offset = 0;  // in that store; increases with the line number
};

// Person order; the delivery's order within a person (parts are consecutive ranges of lines).
bool PersonOrder(const RowRef& a, const RowRef& b) {
  if (a.hi != b.hi) return a.hi < b.hi;
  if (a.lo != b.lo) return a.lo < b.lo;
  return a.part != b.part ? a.part < b.part : a.offset < b.offset;
}

// 32 lower-case hex characters as two 64-bit numbers; false for anything else.
bool HexId(std::string_view hex, std::uint64_t* hi, std::uint64_t* lo) {
  if (hex.size() != 32) return false;
  std::uint64_t v[2] = {0, 0};
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    std::uint64_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<std::uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    v[i / 16] = (v[i / 16] << 4) | d;
  }
  *hi = v[0];
  *lo = v[1];
  return true;
}

// The population register's pseudonyms in memory, for linkage: one hash lookup per BSN instead
// of a query. Read once per load, after a register delivered in the same load is inserted.
class Register {
 public:
  static absl::StatusOr<Register> Read(sqlite3* db) {
    Register r;
    ENCLAVE_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db, "SELECT rinpersoon FROM gbapersoontab"));
    int rc = 0;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      const std::string id = ColumnText(stmt.get(), 0);
      std::uint64_t hi = 0;
      std::uint64_t lo = 0;
      if (HexId(id, &hi, &lo)) {
        r.ids_.insert({hi, lo});
      } else {
        r.other_.insert(id);
      }
    }
    if (rc != SQLITE_DONE) return DbError(db, "cannot read the population register");
    return r;
  }
  bool Contains(std::string_view pseudonym) const {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    if (HexId(pseudonym, &hi, &lo)) return ids_.contains(std::make_pair(hi, lo));
    return other_.contains(std::string(pseudonym));
  }

 private:
  absl::flat_hash_set<std::pair<std::uint64_t, std::uint64_t>> ids_;
  absl::flat_hash_set<std::string> other_;
};

// Work done over all deliveries of an operation, for its time estimate: each delivery counts
// its bytes once for reading them and, in a load, once more for inserting its records.
struct PassProgress {
  PhaseReporter* reporter = nullptr;
  std::uint64_t units_total = 0;
  std::uint64_t units_before = 0;  // of the deliveries already done
  std::size_t step = 0;
  std::size_t steps = 0;

  void Tick(const std::string& dataset, std::uint64_t rows, std::uint64_t units, bool done) {
    if (!done && !reporter->Due()) return;
    Progress p;
    p.subject = dataset;
    p.step = step;
    p.steps = steps;
    p.rows = rows;
    p.done = done;
    const double elapsed = reporter->Elapsed();
    const double read = static_cast<double>(units_before + units);
    const double total = static_cast<double>(units_total);
    p.eta_s = read >= total ? 0 : read > 0 ? elapsed * (total - read) / read : -1;
    reporter->Report(p);
  }
};

// An upper bound on the records of a CSV file (for reserving room).
std::size_t LineCount(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

// The validation of a delivery without a database (the `validate` command).
void ValidateDelivery(Prepared* p, PassProgress* progress) {
  p->outcome.report = delivery::ValidateCsv(
      p->description, p->csv, [&](std::uint64_t records, std::size_t bytes) {
        progress->Tick(p->description.dataset, records, bytes, false);
      });
  progress->Tick(p->description.dataset, p->outcome.report.records, p->csv.size(), true);
}


// One part of a delivery (a range of whole lines), read by one thread: every record validated,
// each valid record pseudonymised, linked and packed into `rows`, with counts for progress.
struct Part {
  std::string_view text;
  bool has_header = false;
  std::unique_ptr<Validator> validator;
  std::unique_ptr<Pseudonymiser> pseudonymiser;
  RowStore rows;
  std::vector<RowRef> refs;
  std::vector<LinkageCounts> linkage;
  std::atomic<std::uint64_t> records{0};  // read so far (for progress)
  std::atomic<std::uint64_t> bytes{0};
};

void ReadPart(const DeliveryDescription& d, const Register* register_ids, std::uint32_t index,
              Part* part) {
  Validator& validator = *part->validator;
  if (!part->has_header) {
    CsvRecord header;
    for (const delivery::ColumnSpec& c : d.columns) header.fields.push_back(c.name);
    validator.Header(header);
  }
  std::vector<std::size_t> bsn_slot(d.columns.size(), SIZE_MAX);
  for (std::size_t i = 0; i < d.columns.size(); ++i) {
    if (d.columns[i].type == ColumnType::kBsn) {
      bsn_slot[i] = part->linkage.size();
      part->linkage.push_back(LinkageCounts{d.columns[i].name});
    }
  }
  CsvReader reader(part->text);
  CsvRecord record;
  CsvProblem problem;
  ParsedRow row;
  std::string pseudonym;
  bool header = part->has_header;
  bool keep = true;  // until the first error: afterwards records are only validated
  std::uint64_t records = 0;
  for (;;) {
    const CsvReader::Result r = reader.Next(&record, &problem);
    if (r == CsvReader::Result::kEnd) break;
    if ((++records & 0x3FFF) == 0) {
      part->records.store(records, std::memory_order_relaxed);
      part->bytes.store(reader.offset(), std::memory_order_relaxed);
    }
    if (r == CsvReader::Result::kError) {
      validator.CsvError(problem);
      keep = false;
      continue;
    }
    if (header) {
      header = false;
      keep = validator.Header(record) && keep;
      continue;
    }
    if (!validator.Row(record, &row)) {
      keep = false;
      continue;
    }
    if (!keep) continue;
    RowRef ref;
    ref.part = index;
    ref.offset = part->rows.end();
    bool person = false;
    for (std::size_t i = 0; i < d.columns.size(); ++i) {
      const delivery::ColumnSpec& c = d.columns[i];
      Value& v = row.values[i];
      if (c.type == ColumnType::kBsn) {
        LinkageCounts& counts = part->linkage[bsn_slot[i]];
        if (v.kind == Value::Kind::kNull) {
          ++counts.missing;
          part->rows.Null();
          if (!c.target_kind.empty()) part->rows.Null();
          continue;
        }
        part->pseudonymiser->Pseudonym(v.text, &pseudonym);
        std::fill(v.text.begin(), v.text.end(), '0');  // no BSN lingers in the buffer
        const bool linked = d.population_register ||
                            (register_ids != nullptr && register_ids->Contains(pseudonym));
        ++(linked ? counts.linked : counts.not_in_register);
        part->rows.Text(pseudonym);
        if (!person) person = HexId(pseudonym, &ref.hi, &ref.lo);
        if (!c.target_kind.empty()) part->rows.Text(linked ? "R" : "S");
        continue;
      }
      switch (v.kind) {
        case Value::Kind::kNull:
          part->rows.Null();
          break;
        case Value::Kind::kInteger:
          part->rows.Integer(v.integer);
          break;
        case Value::Kind::kReal:
          part->rows.Real(v.real);
          break;
        case Value::Kind::kText:
          part->rows.Text(v.text);
          break;
      }
    }
    part->refs.push_back(ref);
  }
  part->records.store(records, std::memory_order_relaxed);
  part->bytes.store(part->text.size(), std::memory_order_relaxed);
}

// Where to cut `csv` into `n` parts of whole records: after a line break outside quotes (an even
// number of quotes before it; a doubled quote inside a field counts twice). The cuts are right
// for a well-formed file; a file with any error is read again in one part.
std::vector<std::size_t> Cuts(std::string_view csv, std::size_t n) {
  std::vector<std::size_t> cuts = {0};
  std::size_t pos = 0;
  std::size_t quotes = 0;  // before `pos`
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t target = csv.size() * k / n;
    if (target <= pos) continue;
    quotes += static_cast<std::size_t>(std::count(csv.begin() + static_cast<std::ptrdiff_t>(pos),
                                                  csv.begin() + static_cast<std::ptrdiff_t>(target),
                                                  '"'));
    pos = target;
    while (pos < csv.size()) {
      const char c = csv[pos++];
      if (c == '"') ++quotes;
      if (c == '\n' && quotes % 2 == 0) break;
    }
    if (pos >= csv.size()) break;
    cuts.push_back(pos);
  }
  cuts.push_back(csv.size());
  return cuts;
}

// Validates, pseudonymises and links all records of a delivery, in parts read by `threads`
// threads when the file is large. The report is exactly that of one reading from the first line
// to the last: when any part finds an error, or two parts share a key, or there is no record,
// the delivery is read again in one part, which reports every error with its line.
struct ReadResult {
  std::vector<std::unique_ptr<Part>> parts;
  delivery::ValidationReport report;
  std::vector<LinkageCounts> linkage;
};

ReadResult ReadDelivery(const DeliveryDescription& d, std::string_view csv,
                        const Pseudonymiser& pseudonymiser, const Register* register_ids,
                        std::size_t threads, std::size_t part_min_bytes,
                        PassProgress* progress) {
  const std::size_t lines = LineCount(csv);
  for (;;) {
    ReadResult result;
    const std::vector<std::size_t> cuts = Cuts(csv, csv.size() < part_min_bytes ? 1 : threads);
    const std::size_t n = cuts.size() - 1;
    for (std::size_t k = 0; k < n; ++k) {
      auto part = std::make_unique<Part>();
      part->text = csv.substr(cuts[k], cuts[k + 1] - cuts[k]);
      part->has_header = k == 0;
      part->validator = std::make_unique<Validator>(d);
      part->validator->ReserveKeys(lines / n + lines / 8 + 16);
      part->pseudonymiser = pseudonymiser.Clone();
      part->rows = RowStore(2 * part->text.size() + 4096);
      part->refs.reserve(lines / n + lines / 8 + 16);
      result.parts.push_back(std::move(part));
    }
    std::vector<std::thread> workers;
    for (std::size_t k = 1; k < n; ++k) {
      workers.emplace_back(ReadPart, std::cref(d), register_ids, static_cast<std::uint32_t>(k),
                           result.parts[k].get());
    }
    std::thread first(ReadPart, std::cref(d), register_ids, 0u, result.parts[0].get());
    // Progress from this thread while the parts are read.
    for (;;) {
      std::uint64_t records = 0;
      std::uint64_t bytes = 0;
      bool all = true;
      for (const auto& part : result.parts) {
        records += part->records.load(std::memory_order_relaxed);
        const std::uint64_t b = part->bytes.load(std::memory_order_relaxed);
        bytes += b;
        all = all && b == part->text.size();
      }
      if (all) break;
      progress->Tick(d.dataset, records, bytes, false);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    first.join();
    for (std::thread& w : workers) w.join();

    bool clean = true;
    std::uint64_t valid = 0;
    for (const auto& part : result.parts) {
      clean = clean && part->validator->report().ok();
      valid += part->validator->report().valid_records;
    }
    // Keys shared across parts (each part against the earlier ones).
    if (clean && n > 1) {
      std::vector<char> shared(n, 0);
      std::vector<std::thread> checks;
      for (std::size_t k = 1; k < n; ++k) {
        checks.emplace_back([&, k] {
          for (std::size_t j = 0; j < k && !shared[k]; ++j) {
            shared[k] = result.parts[k]->validator->SharesKeyWith(*result.parts[j]->validator) ? 1 : 0;
          }
        });
      }
      for (std::thread& t : checks) t.join();
      clean = std::find(shared.begin(), shared.end(), 1) == shared.end();
    }
    if (n > 1 && (!clean || valid == 0)) {
      threads = 1;  // read again in one part for the exact report
      continue;
    }
    if (n == 1) {
      result.parts[0]->validator->Finish();
      result.report = result.parts[0]->validator->report();
      result.linkage = result.parts[0]->linkage;
    } else {
      result.report = result.parts[0]->validator->report();
      result.linkage = result.parts[0]->linkage;
      for (std::size_t k = 1; k < n; ++k) {
        const delivery::ValidationReport& r = result.parts[k]->validator->report();
        result.report.records += r.records;
        result.report.valid_records += r.valid_records;
        for (std::size_t l = 0; l < result.linkage.size(); ++l) {
          result.linkage[l].linked += result.parts[k]->linkage[l].linked;
          result.linkage[l].not_in_register += result.parts[k]->linkage[l].not_in_register;
          result.linkage[l].missing += result.parts[k]->linkage[l].missing;
        }
      }
    }
    return result;
  }
}

// The first column of an index's SQL ("CREATE INDEX x ON t (a, b)" -> "a").
std::string LeadingColumn(const std::string& index_sql) {
  const std::size_t paren = index_sql.rfind('(');
  if (paren == std::string::npos) return "";
  std::size_t i = paren + 1;
  while (i < index_sql.size() && index_sql[i] == ' ') ++i;
  std::size_t j = i;
  while (j < index_sql.size() && index_sql[j] != ',' && index_sql[j] != ')' && index_sql[j] != ' ') {
    ++j;
  }
  return index_sql.substr(i, j - i);
}

// The columns of an index's SQL ("CREATE INDEX x ON t (a, b DESC)" -> {"a", "b"}).
std::vector<std::string> IndexColumns(const std::string& index_sql) {
  std::vector<std::string> columns;
  const std::size_t paren = index_sql.rfind('(');
  if (paren == std::string::npos) return columns;
  std::size_t i = paren + 1;
  while (i < index_sql.size()) {
    while (i < index_sql.size() && index_sql[i] == ' ') ++i;
    std::size_t j = i;
    while (j < index_sql.size() && index_sql[j] != ',' && index_sql[j] != ')' &&
           index_sql[j] != ' ') {
      ++j;
    }
    if (j > i) columns.push_back(index_sql.substr(i, j - i));
    while (j < index_sql.size() && index_sql[j] != ',' && index_sql[j] != ')') ++j;
    if (j >= index_sql.size() || index_sql[j] == ')') break;
    i = j + 1;
  }
  return columns;
}

// The page cache of the load's connection while records are inserted (KiB; see LoadDeliveries
// and StewardOptions::index_in_place_max_bytes, half of it).
constexpr std::int64_t kInsertCacheKiB = 65536;

// One delivery, inside the load's transaction: read in one pass (ReadDelivery); if it has an
// error, `*inserting` becomes false (nothing of it is inserted; the caller rolls back).
// Otherwise its records are inserted into `physical` in person order (pseudonym order), with
// the indexes that start with the person column already in place: they are then filled in
// their own order, at their right edge. An index on other columns is also put in place before
// the insert when its entries (estimated from the widths of its columns in the first records)
// take at most half of the insert's page cache (options.index_in_place_max_bytes): its pages
// then stay in the cache while the records are inserted, which costs less than building it
// afterwards (a scan of the whole new table and a sort). The other indexes are left in
// `*indexes` for after the insert (docs/performance.md, "Delivery loads").
absl::Status LoadDelivery(sqlite3* db, const StewardOptions& options,
                          const Pseudonymiser& pseudonymiser, const Register* register_ids,
                          const std::string& physical, Prepared* p,
                          std::vector<std::string>* indexes, bool* inserting,
                          PassProgress* progress) {
  const DeliveryDescription& d = p->description;
  // Target columns: each column's target, and the kind column after a BSN with target_kind.
  std::vector<std::string> targets;
  std::string person;
  for (const delivery::ColumnSpec& c : d.columns) {
    targets.push_back(c.Target());
    if (!c.target_kind.empty()) targets.push_back(c.target_kind);
    if (c.type == ColumnType::kBsn && person.empty()) person = c.Target();
  }
  ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> table_columns, TableColumns(db, physical));
  const std::set<std::string> want(targets.begin(), targets.end());
  const std::set<std::string> have(table_columns.begin(), table_columns.end());
  for (const std::string& c : table_columns) {
    if (want.count(c) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dataset ", d.dataset, ": table column '", c, "' is not filled by the description"));
    }
  }
  for (const std::string& c : targets) {
    if (have.count(c) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("dataset ", d.dataset, ": the table has no column '", c, "'"));
    }
  }
  const std::size_t threads =
      options.read_threads > 0
          ? options.read_threads
          : std::max<std::size_t>(1, std::min<std::size_t>(4, std::thread::hardware_concurrency()));
  ReadResult read = ReadDelivery(d, p->csv, pseudonymiser, register_ids, threads,
                                 options.part_min_bytes, progress);
  p->outcome.report = read.report;
  p->outcome.linkage = read.linkage;
  if (!read.report.ok()) *inserting = false;
  if (!*inserting) {
    progress->Tick(d.dataset, 0, 2 * p->csv.size(), true);
    return absl::OkStatus();
  }

  std::size_t total = 0;
  for (const auto& part : read.parts) total += part->refs.size();
  // Average stored width of each target column, from the first 1000 records (in part order).
  const int columns = static_cast<int>(targets.size());
  std::vector<std::uint64_t> width_sum(targets.size(), 0);
  std::uint64_t sampled = 0;
  for (const auto& part : read.parts) {
    for (std::size_t k = 0; k < part->refs.size() && sampled < 1000; ++k, ++sampled) {
      part->rows.AddWidths(part->refs[k].offset, columns, &width_sum);
    }
  }
  auto entry_bytes = [&](const std::string& index) -> double {
    double bytes = 16;  // rowid, record header, cell pointer and size
    for (const std::string& column : IndexColumns(index)) {
      const auto at = std::find(targets.begin(), targets.end(), column);
      if (at == targets.end()) return -1;  // an expression or unknown column: not estimated
      bytes += static_cast<double>(width_sum[static_cast<std::size_t>(at - targets.begin())]) /
               static_cast<double>(std::max<std::uint64_t>(sampled, 1));
    }
    return bytes;
  };
  std::vector<std::string> after;
  for (const std::string& index : *indexes) {
    const double entry = entry_bytes(index);
    const bool fits = entry > 0 && entry * static_cast<double>(total) <=
                                       static_cast<double>(options.index_in_place_max_bytes);
    if ((!person.empty() && LeadingColumn(index) == person) || fits) {
      ENCLAVE_RETURN_IF_ERROR(Exec(db, index, "index on " + physical));
    } else {
      after.push_back(index);
    }
  }
  *indexes = std::move(after);
  std::vector<RowRef> order;
  order.reserve(total);
  for (const auto& part : read.parts) {
    order.insert(order.end(), part->refs.begin(), part->refs.end());
    std::vector<RowRef>().swap(part->refs);
  }
  std::sort(order.begin(), order.end(), PersonOrder);

  // One INSERT of kBatch records at a time (the statement's start and end cost once per batch),
  // and a one-record INSERT for the rest.
  constexpr std::size_t kBatch = 64;
  std::string sql = absl::StrCat("INSERT INTO ", physical, " (");
  for (std::size_t i = 0; i < targets.size(); ++i) absl::StrAppend(&sql, i ? ", " : "", targets[i]);
  sql += ") VALUES ";
  std::string values = "(";
  for (std::size_t i = 0; i < targets.size(); ++i) values += i ? ", ?" : "?";
  values += ")";
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr insert, Prepare(db, sql + values));
  std::string batch_sql = sql;
  for (std::size_t i = 0; i < kBatch; ++i) absl::StrAppend(&batch_sql, i ? ", " : "", values);
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr insert_batch, Prepare(db, batch_sql));
  const double bytes_per_row =
      static_cast<double>(p->csv.size()) / static_cast<double>(order.size() + 1);
  for (std::size_t i = 0; i < order.size();) {
    const bool batch = order.size() - i >= kBatch;
    sqlite3_stmt* stmt = batch ? insert_batch.get() : insert.get();
    const std::size_t n = batch ? kBatch : 1;
    for (std::size_t k = 0; k < n; ++k) {
      if (i + k + 16 < order.size()) {
        const RowRef& ahead = order[i + k + 16];
        __builtin_prefetch(read.parts[ahead.part]->rows.at(ahead.offset));
      }
      const RowRef& ref = order[i + k];
      read.parts[ref.part]->rows.Bind(ref.offset, stmt, 1 + static_cast<int>(k) * columns,
                                      columns);
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      return DbError(db, absl::StrCat("dataset ", d.dataset, ": insert failed"));
    }
    sqlite3_reset(stmt);
    i += n;
    p->outcome.rows_loaded += n;
    if ((i & 0x3FFF) < n) {
      progress->Tick(d.dataset, p->outcome.rows_loaded,
                     p->csv.size() + static_cast<std::uint64_t>(bytes_per_row * static_cast<double>(i)),
                     false);
    }
  }
  progress->Tick(d.dataset, p->outcome.rows_loaded, 2 * p->csv.size(), true);
  return absl::OkStatus();
}

std::string LinkageDetail(const DeliveryOutcome& o) {
  std::string out;
  for (const LinkageCounts& l : o.linkage) {
    absl::StrAppend(&out, " linkage.", l.column, ".linked=", l.linked, " linkage.", l.column,
                    ".not_in_register=", l.not_in_register, " linkage.", l.column,
                    ".missing=", l.missing);
  }
  return out;
}

core::QueryLogEntry StewardEntry(core::QueryLogEntry::Type type, const StewardOptions& options,
                                 const std::string& rpc, std::int64_t version,
                                 const std::string& data_version, std::string detail) {
  core::QueryLogEntry entry;
  entry.type = type;
  entry.request_id = absl::StrCat("steward-v", version);
  entry.caller = options.steward;
  entry.role = "data_steward";
  entry.rpc = rpc;
  entry.decision = "allowed";
  entry.data_version = data_version;
  entry.detail = std::move(detail);
  return entry;
}

// --- The state directory --------------------------------------------------------------------

bool IsFile(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

// The state directory holds an initialised query log the steward may append to. Checked before
// anything is created in it: a mistyped --state-dir must not get a lock file, a log or a key.
absl::Status CheckStateDir(const StewardOptions& options) {
  const std::filesystem::path dir(options.state_dir);
  const std::string init = " (a new state directory is made by enclaved's first start or by "
                           "`enclave-steward init --state-dir DIR`)";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError("state directory " + options.state_dir +
                               " does not exist: give enclaved's state_dir" + init);
  }
  if (!IsFile(dir / kLogDatabase) || !IsFile(dir / kLogCheckpoint)) {
    return absl::NotFoundError(
        "state directory " + options.state_dir + " holds no query log (" + kLogDatabase +
        " and " + kLogCheckpoint +
        "): is it enclaved's state_dir? The steward writes every load and rollback to the "
        "server's query log and never starts a new one" + init);
  }
  if (options.log_signing_key_file.empty() && !IsFile(dir / kLogSigningKey)) {
    return absl::NotFoundError(
        "state directory " + options.state_dir + " has no " + kLogSigningKey +
        ": the query log's signing key is kept elsewhere (audit_log.signing_key_file in "
        "enclaved.textproto); give it with --log-signing-key FILE");
  }
  return absl::OkStatus();
}

struct Session {
  server::LockFile lock;
  DbPtr db;
  std::unique_ptr<adapters::sqlite::AuditLogStore> log;
};

absl::StatusOr<server::LockFile> AcquireServerLock(const std::string& state_dir) {
  absl::StatusOr<server::LockFile> lock =
      server::LockFile::Acquire((std::filesystem::path(state_dir) / "enclaved.lock").string());
  if (!lock.ok() && lock.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(
        std::string(kServerRunning) +
        " on this state directory (it holds enclaved.lock); stop it first: deliveries are "
        "loaded with the server stopped");
  }
  return lock;
}

absl::StatusOr<std::unique_ptr<adapters::sqlite::AuditLogStore>> OpenLog(
    const std::string& state_dir, const std::string& signing_key_file) {
  adapters::sqlite::AuditLogOptions log_options;
  log_options.state_dir = state_dir;
  log_options.signing_key_file = signing_key_file;
  log_options.checkpoint_interval = std::chrono::milliseconds(0);
  absl::StatusOr<std::unique_ptr<adapters::sqlite::AuditLogStore>> log =
      adapters::sqlite::AuditLogStore::Open(log_options);
  if (!log.ok()) {
    return absl::Status(log.status().code(),
                        "query log in the state directory: " + std::string(log.status().message()));
  }
  return log;
}

// The state directory's check, then the server's lock, the database and the query log.
absl::StatusOr<Session> OpenSession(const StewardOptions& options) {
  ENCLAVE_RETURN_IF_ERROR(CheckStateDir(options));
  ENCLAVE_ASSIGN_OR_RETURN(server::LockFile lock, AcquireServerLock(options.state_dir));
  ENCLAVE_ASSIGN_OR_RETURN(DbPtr db, OpenReadWrite(options.database_path, false));
  ENCLAVE_ASSIGN_OR_RETURN(auto log, OpenLog(options.state_dir, options.log_signing_key_file));
  return Session{std::move(lock), std::move(db), std::move(log)};
}

// Commits, or rolls back and returns the first error.
absl::Status Finish(sqlite3* db, absl::Status status, const StewardOptions& options) {
  if (status.ok() && options.before_commit_for_test) {
    // Write every dirty page to the database file first (the journal becomes hot), so that a
    // test killing the process here leaves a half-written database to be rolled back.
    if (sqlite3_db_cacheflush(db) != SQLITE_OK) status = DbError(db, "cache flush");
    options.before_commit_for_test();
  }
  PhaseReporter reporter(options.progress, "commit");
  if (status.ok()) status = Exec(db, "COMMIT", "commit");
  if (!status.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  Progress p;
  p.eta_s = 0;
  p.done = true;
  reporter.Report(p);
  return status;
}

}  // namespace

bool IsServerRunning(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.message().rfind(kServerRunning, 0) == 0;
}

absl::StatusOr<DerivedLayer> EmbeddedDerivedLayer() {
  absl::StatusOr<DerivedLayer> layer =
      ParseDerivedLayer(internal::kDerivedSql, SchemaTables(internal::kSchemaSql));
  if (!layer.ok()) {
    return absl::InternalError(absl::StrCat("the built-in derived layer is inconsistent: ",
                                            layer.status().message()));
  }
  return layer;
}

absl::StatusOr<LoadOutcome> LoadDeliveries(const StewardOptions& options,
                                           const std::vector<DeliveryFiles>& files) {
  if (files.empty()) return absl::InvalidArgumentError("no delivery given");
  ENCLAVE_RETURN_IF_ERROR(EmbeddedDerivedLayer().status());
  // The lock first: nothing is read while a server may be starting on this state directory.
  ENCLAVE_ASSIGN_OR_RETURN(Session session, OpenSession(options));
  ENCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<Pseudonymiser> pseudonymiser,
                           Pseudonymiser::FromKeyFile(options.key_path));
  std::vector<Prepared> prepared(files.size());
  std::set<std::string> datasets;
  PhaseReporter insert_reporter(options.progress, "insert");
  PassProgress pass{&insert_reporter, 0, 0, 0, files.size()};
  for (std::size_t i = 0; i < files.size(); ++i) {
    Prepared& p = prepared[i];
    ENCLAVE_ASSIGN_OR_RETURN(p.description, LoadDescription(files[i].description_path));
    if (!datasets.insert(p.description.dataset).second) {
      return absl::FailedPreconditionError("two deliveries fill dataset " + p.description.dataset);
    }
    ENCLAVE_ASSIGN_OR_RETURN(p.file, ReadFile(files[i].csv_path));
    p.csv = p.file.view();
    p.outcome.dataset = p.description.dataset;
    p.outcome.sha256 = crypto::Sha256Hex(p.csv);
    pass.units_total += 2 * p.csv.size();
  }
  // The register first, so the other deliveries link against the new one.
  std::stable_sort(prepared.begin(), prepared.end(), [](const Prepared& a, const Prepared& b) {
    return a.description.population_register && !b.description.population_register;
  });

  LoadOutcome outcome;
  sqlite3* db = session.db.get();
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "begin"));
  // Approximate statistics (at most 1000 rows per index) are enough for the planner. The
  // records go in in person order with the indexes in place: the pages written are the right
  // edge of the table and of the person index and a few places in each other index, so a
  // small page cache suffices; the pages it lets go of are written to the database file (only
  // pages that existed before the transaction go to the journal) and reused, instead of
  // hundreds of megabytes held to the commit. The derived layer gets a large cache back.
  ENCLAVE_RETURN_IF_ERROR(
      Exec(db, absl::StrCat("PRAGMA analysis_limit=1000; PRAGMA cache_size=-", kInsertCacheKiB),
           "settings"));
  std::int64_t current = 0;
  std::int64_t version = 0;
  bool inserting = true;
  std::vector<std::vector<std::string>> indexes(prepared.size());
  std::vector<std::string> physical(prepared.size());
  std::unique_ptr<Register> register_ids;  // read once, after a register in this load
  // One pass per delivery: validate, pseudonymise, link, insert.
  auto pass_all = [&]() -> absl::Status {
    ENCLAVE_ASSIGN_OR_RETURN(current, EnsureVersioned(db));
    ENCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> max,
                             QueryStrings(db, "SELECT max(version) FROM steward_version"));
    version = std::stoll(max.at(0)) + 1;
    ENCLAVE_RETURN_IF_ERROR(Exec(db,
                                 absl::StrCat("INSERT INTO steward_table SELECT ", version,
                                              ", dataset, physical FROM steward_table WHERE "
                                              "version = ",
                                              current),
                                 "copying the table map"));
    for (std::size_t i = 0; i < prepared.size(); ++i) {
      Prepared& p = prepared[i];
      const std::string& dataset = p.description.dataset;
      ENCLAVE_ASSIGN_OR_RETURN(std::string source, Physical(db, version, dataset));
      if (source.empty()) {
        // Not yet versioned: the plain table becomes the current version's physical table.
        ENCLAVE_ASSIGN_OR_RETURN(
            std::vector<std::string> type,
            QueryStrings(db, "SELECT type FROM sqlite_master WHERE name = ?", {dataset}));
        if (type.empty() || type[0] != "table") {
          return absl::FailedPreconditionError("dataset " + dataset +
                                               " is not a table of the microdata database");
        }
        source = absl::StrCat(dataset, "__v", current);
        ENCLAVE_RETURN_IF_ERROR(Exec(db, absl::StrCat("ALTER TABLE ", dataset, " RENAME TO ", source),
                                     "adopting " + dataset));
        ENCLAVE_RETURN_IF_ERROR(SetPhysical(db, current, dataset, source));
        ENCLAVE_RETURN_IF_ERROR(PointView(db, dataset, source));
      }
      physical[i] = absl::StrCat(dataset, "__v", version);
      ENCLAVE_RETURN_IF_ERROR(CloneTable(db, source, physical[i], &indexes[i]));
      pass.step = i + 1;
      if (!p.description.population_register && !register_ids &&
          HasTable(db, "gbapersoontab")) {
        ENCLAVE_ASSIGN_OR_RETURN(Register r, Register::Read(db));
        register_ids = std::make_unique<Register>(std::move(r));
      }
      ENCLAVE_RETURN_IF_ERROR(LoadDelivery(db, options, *pseudonymiser, register_ids.get(),
                                           physical[i], &p, &indexes[i], &inserting, &pass));
      pass.units_before += 2 * p.csv.size();
      // The view now shows the new table: a register loaded here is what later deliveries of
      // this load link against.
      ENCLAVE_RETURN_IF_ERROR(SetPhysical(db, version, dataset, physical[i]));
      ENCLAVE_RETURN_IF_ERROR(PointView(db, dataset, physical[i]));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = pass_all(); !s.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  if (!inserting) {
    // Refused as a whole: the transaction is rolled back, the database is as it was. The
    // refusal is on record, counts only.
    if (absl::Status s = Exec(db, "ROLLBACK", "rollback"); !s.ok()) return s;
    std::string detail = "refused";
    for (const Prepared& p : prepared) {
      absl::StrAppend(&detail, " dataset=", p.description.dataset, " sha256=", p.outcome.sha256,
                      " ", p.outcome.report.ToKeyValue());
    }
    ENCLAVE_ASSIGN_OR_RETURN(std::string current_dv, MetaDataVersion(db));
    core::QueryLogEntry entry = StewardEntry(core::QueryLogEntry::Type::kDataLoad, options, "load",
                                             0, current_dv, detail);
    entry.request_id = "steward-refused";
    entry.decision = "refused";
    ENCLAVE_RETURN_IF_ERROR(session.log->Append(entry));
    ENCLAVE_RETURN_IF_ERROR(session.log->Close());
    for (Prepared& p : prepared) outcome.deliveries.push_back(std::move(p.outcome));
    return outcome;
  }

  auto finish_load = [&]() -> absl::Status {
    PhaseReporter index_reporter(options.progress, "index");
    std::string shas;
    std::string names;
    std::string detail = absl::StrCat("version=", version, " parent=", current);
    std::uint64_t records = 0;
    for (std::size_t i = 0; i < prepared.size(); ++i) {
      Prepared& p = prepared[i];
      const std::string& dataset = p.description.dataset;
      for (const std::string& sql : indexes[i]) {
        ENCLAVE_RETURN_IF_ERROR(Exec(db, sql, "index on " + physical[i]));
      }
      ENCLAVE_RETURN_IF_ERROR(Exec(db, "ANALYZE " + physical[i], "analyze " + physical[i]));
      Progress e;
      e.subject = dataset;
      e.step = i + 1;
      e.steps = prepared.size();
      e.rows = p.outcome.rows_loaded;
      e.done = true;
      const double elapsed = index_reporter.Elapsed();
      e.eta_s = elapsed * static_cast<double>(prepared.size() - i - 1) / static_cast<double>(i + 1);
      index_reporter.Report(e);
      absl::StrAppend(&shas, p.outcome.sha256);
      absl::StrAppend(&names, names.empty() ? "" : ",", dataset);
      records += p.outcome.rows_loaded;
      std::string holder = p.description.holder;
      std::replace(holder.begin(), holder.end(), ' ', '_');
      absl::StrAppend(&detail, " dataset=", dataset, " holder=", holder, " sha256=",
                      p.outcome.sha256, " records=", p.outcome.report.records,
                      " loaded=", p.outcome.rows_loaded, LinkageDetail(p.outcome));
    }
    ENCLAVE_RETURN_IF_ERROR(Exec(db, "PRAGMA cache_size=-400000", "settings"));
    ENCLAVE_ASSIGN_OR_RETURN(DerivedResult derived,
                             RebuildDerived(db, datasets, options.progress));
    absl::StrAppend(&detail, " derived_rebuilt=", NamesOrNone(derived.rebuilt));
    outcome.derived_rebuilt = derived.rebuilt;
    outcome.derived_unchanged = derived.unchanged;
    const std::string combined = prepared.size() == 1 ? shas : crypto::Sha256Hex(shas);
    const std::string data_version =
        absl::StrCat("delivery-v", version, "-", combined.substr(0, 12));
    ENCLAVE_RETURN_IF_ERROR(SetDataVersion(db, data_version));
    ENCLAVE_ASSIGN_OR_RETURN(
        StmtPtr stmt,
        Prepare(db, "INSERT INTO steward_version VALUES (?, ?, 'load', ?, ?, ?, ?, ?, ?)"));
    const std::string now = UtcNow();
    sqlite3_bind_int64(stmt.get(), 1, version);
    sqlite3_bind_int64(stmt.get(), 2, current);
    sqlite3_bind_text(stmt.get(), 3, data_version.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 4, now.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 5, names.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 6, combined.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt.get(), 7, static_cast<sqlite3_int64>(records));
    sqlite3_bind_text(stmt.get(), 8, detail.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt.get()) != SQLITE_DONE) return DbError(db, "cannot record the version");
    ENCLAVE_RETURN_IF_ERROR(SetCurrent(db, version));
    // Logged before the commit: no data change is ever unlogged. (Should the commit then fail,
    // the log holds a load that did not take effect; `versions` shows what is current.)
    ENCLAVE_RETURN_IF_ERROR(session.log->Append(StewardEntry(
        core::QueryLogEntry::Type::kDataLoad, options, "load", version, data_version, detail)));
    outcome.version = version;
    outcome.data_version = data_version;
    return absl::OkStatus();
  };
  ENCLAVE_RETURN_IF_ERROR(Finish(db, finish_load(), options));
  ENCLAVE_RETURN_IF_ERROR(session.log->Close());
  outcome.loaded = true;
  for (Prepared& p : prepared) outcome.deliveries.push_back(std::move(p.outcome));
  return outcome;
}

absl::StatusOr<std::vector<DeliveryOutcome>> ValidateDeliveries(
    const std::vector<DeliveryFiles>& files, const ProgressFn& progress) {
  std::vector<Prepared> prepared(files.size());
  PhaseReporter reporter(progress, "validate");
  PassProgress pass{&reporter, 0, 0, 0, files.size()};
  for (std::size_t i = 0; i < files.size(); ++i) {
    ENCLAVE_ASSIGN_OR_RETURN(prepared[i].description, LoadDescription(files[i].description_path));
    ENCLAVE_ASSIGN_OR_RETURN(prepared[i].file, ReadFile(files[i].csv_path));
    prepared[i].csv = prepared[i].file.view();
    pass.units_total += prepared[i].csv.size();
  }
  std::vector<DeliveryOutcome> out;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    Prepared& p = prepared[i];
    p.outcome.dataset = p.description.dataset;
    p.outcome.sha256 = crypto::Sha256Hex(p.csv);
    pass.step = i + 1;
    ValidateDelivery(&p, &pass);
    pass.units_before += p.csv.size();
    out.push_back(std::move(p.outcome));
  }
  return out;
}

absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& database_path) {
  ENCLAVE_ASSIGN_OR_RETURN(DbPtr db, OpenReadWrite(database_path, false));
  std::vector<VersionInfo> out;
  if (!HasTable(db.get(), "steward_version")) return out;
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::int64_t> current, CurrentVersion(db.get()));
  ENCLAVE_ASSIGN_OR_RETURN(
      StmtPtr stmt, Prepare(db.get(),
                            "SELECT version, parent, kind, data_version, created_utc, datasets, "
                            "records FROM steward_version ORDER BY version"));
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    VersionInfo v;
    v.version = sqlite3_column_int64(stmt.get(), 0);
    if (sqlite3_column_type(stmt.get(), 1) != SQLITE_NULL) v.parent = sqlite3_column_int64(stmt.get(), 1);
    v.kind = ColumnText(stmt.get(), 2);
    v.data_version = ColumnText(stmt.get(), 3);
    v.created_utc = ColumnText(stmt.get(), 4);
    v.datasets = ColumnText(stmt.get(), 5);
    v.records = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 6));
    v.current = current && *current == v.version;
    out.push_back(std::move(v));
  }
  if (rc != SQLITE_DONE) return DbError(db.get(), "cannot list versions");
  return out;
}

absl::StatusOr<VersionInfo> RollbackVersion(const StewardOptions& options) {
  ENCLAVE_RETURN_IF_ERROR(EmbeddedDerivedLayer().status());
  ENCLAVE_ASSIGN_OR_RETURN(Session session, OpenSession(options));
  sqlite3* db = session.db.get();
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "begin"));
  VersionInfo result;
  auto rollback = [&]() -> absl::Status {
    PhaseReporter switch_reporter(options.progress, "switch");
    ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::int64_t> current, CurrentVersion(db));
    if (!current) {
      return absl::FailedPreconditionError("no version to roll back: nothing was ever loaded");
    }
    ENCLAVE_ASSIGN_OR_RETURN(
        std::vector<std::string> parent,
        QueryStrings(db, "SELECT parent FROM steward_version WHERE version = ? AND "
                         "parent IS NOT NULL",
                     {std::to_string(*current)}));
    if (parent.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("version ", *current, " has no previous version to roll back to"));
    }
    const std::int64_t target = std::stoll(parent[0]);
    ENCLAVE_ASSIGN_OR_RETURN(std::string from_data_version, MetaDataVersion(db));
    ENCLAVE_ASSIGN_OR_RETURN(
        std::vector<std::string> datasets,
        QueryStrings(db, "SELECT DISTINCT dataset FROM steward_table WHERE version = ?",
                     {std::to_string(*current)}));
    std::set<std::string> changed;
    for (const std::string& dataset : datasets) {
      ENCLAVE_ASSIGN_OR_RETURN(std::string physical, Physical(db, target, dataset));
      ENCLAVE_ASSIGN_OR_RETURN(std::string now, Physical(db, *current, dataset));
      // A dataset adopted after `target` was unchanged from `target` up to its adoption.
      if (physical.empty() || physical == now) continue;
      ENCLAVE_RETURN_IF_ERROR(PointView(db, dataset, physical));
      changed.insert(dataset);
    }
    Progress switched;
    switched.eta_s = 0;
    switched.done = true;
    switch_reporter.Report(switched);
    ENCLAVE_ASSIGN_OR_RETURN(DerivedResult derived, RebuildDerived(db, changed, options.progress));
    ENCLAVE_ASSIGN_OR_RETURN(
        std::vector<std::string> dv,
        QueryStrings(db, "SELECT data_version FROM steward_version WHERE version = ?",
                     {std::to_string(target)}));
    ENCLAVE_RETURN_IF_ERROR(SetDataVersion(db, dv.at(0)));
    ENCLAVE_RETURN_IF_ERROR(SetCurrent(db, target));
    ENCLAVE_RETURN_IF_ERROR(session.log->Append(StewardEntry(
        core::QueryLogEntry::Type::kDatasetRollback, options, "rollback", target, dv.at(0),
        absl::StrCat("from_version=", *current, " to_version=", target,
                     " from_data_version=", from_data_version,
                     " derived_rebuilt=", NamesOrNone(derived.rebuilt)))));
    result.version = target;
    result.data_version = dv.at(0);
    result.current = true;
    result.derived_rebuilt = derived.rebuilt;
    result.derived_unchanged = derived.unchanged;
    return absl::OkStatus();
  };
  ENCLAVE_RETURN_IF_ERROR(Finish(db, rollback(), options));
  ENCLAVE_RETURN_IF_ERROR(session.log->Close());
  return result;
}

absl::Status InitDatabase(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return absl::AlreadyExistsError("microdata database " + path + " exists");
  }
  ENCLAVE_ASSIGN_OR_RETURN(DbPtr db, OpenReadWrite(path, true));
  absl::Status status = Exec(db.get(), "BEGIN", "begin");
  if (status.ok()) status = Exec(db.get(), internal::kSchemaSql, "schema.sql");
  if (status.ok()) status = Exec(db.get(), internal::kIndexesSql, "indexes.sql");
  if (status.ok()) status = Exec(db.get(), internal::kDerivedSql, "derived.sql");
  if (status.ok()) status = SetDataVersion(db.get(), "empty");
  if (status.ok()) status = Exec(db.get(), "COMMIT", "commit");
  if (!status.ok()) {
    db.reset();
    std::filesystem::remove(path, ec);
  }
  return status;
}

absl::Status InitStateDir(const std::string& state_dir, const std::string& log_signing_key_file) {
  if (state_dir.empty()) return absl::InvalidArgumentError("the state directory is empty");
  const std::filesystem::path dir(state_dir);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return absl::AlreadyExistsError(state_dir + " exists and is not a directory");
  }
  for (const char* name : {kLogDatabase, kLogCheckpoint, kLogSigningKey}) {
    if (std::filesystem::exists(dir / name, ec)) {
      return absl::AlreadyExistsError("state directory " + state_dir + " already holds " + name +
                                      ": it is initialised (nothing was changed)");
    }
  }
  if (!log_signing_key_file.empty() && !IsFile(log_signing_key_file)) {
    return absl::NotFoundError("the log signing key " + log_signing_key_file + " does not exist");
  }
  if (!std::filesystem::exists(dir, ec)) {
    if (!std::filesystem::create_directories(dir, ec) || ec) {
      return absl::UnavailableError("cannot create the state directory " + state_dir);
    }
    if (::chmod(state_dir.c_str(), 0700) != 0) {
      return absl::UnavailableError("cannot set the mode of " + state_dir);
    }
  }
  ENCLAVE_ASSIGN_OR_RETURN(server::LockFile lock, AcquireServerLock(state_dir));
  ENCLAVE_ASSIGN_OR_RETURN(auto log, OpenLog(state_dir, log_signing_key_file));
  return log->Close();
}

}  // namespace enclave::steward
