// Dataset versions, validated loads, pseudonymisation and linkage in one SQLite transaction.
#include "enclave/steward/steward.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/base/status_macros.h"
#include "enclave/core/query_log.h"
#include "enclave/crypto/sha256.h"
#include "enclave/delivery/csv_reader.h"
#include "enclave/server/lock_file.h"
#include "enclave/steward/description_file.h"
#include "enclave/steward/pseudonymiser.h"
#include "enclave/steward/sql_embed.h"

namespace enclave::steward {
namespace {

constexpr char kServerRunning[] = "enclaved is running";
// Files of an initialised query log in the state directory (audit_log_store.h).
constexpr char kLogDatabase[] = "audit_log.db";
constexpr char kLogCheckpoint[] = "checkpoint";
constexpr char kLogSigningKey[] = "log_signing.key";

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

struct Prepared {
  DeliveryDescription description;
  std::string csv;  // the file's bytes
  DeliveryOutcome outcome;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return absl::NotFoundError("cannot read " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    return absl::UnavailableError("error reading " + path);
  }
  return text;
}

// Byte counts of all deliveries of an operation, for the time estimate of its one pass.
struct PassProgress {
  PhaseReporter* reporter = nullptr;
  std::uint64_t bytes_total = 0;
  std::uint64_t bytes_before = 0;  // of the deliveries already read
  std::size_t step = 0;
  std::size_t steps = 0;

  void Tick(const std::string& dataset, std::uint64_t rows, std::uint64_t offset, bool done) {
    if (!done && !reporter->Due()) return;
    Progress p;
    p.subject = dataset;
    p.step = step;
    p.steps = steps;
    p.rows = rows;
    p.done = done;
    const double elapsed = reporter->Elapsed();
    const double read = static_cast<double>(bytes_before + offset);
    const double total = static_cast<double>(bytes_total);
    p.eta_s = read >= total ? 0 : read > 0 ? elapsed * (total - read) / read : -1;
    reporter->Report(p);
  }
};

// The validation of a delivery without a database (the `validate` command).
void ValidateDelivery(Prepared* p, PassProgress* progress) {
  Validator validator(p->description);
  CsvReader reader(p->csv);
  CsvRecord record;
  CsvProblem problem;
  ParsedRow row;
  bool header = true;
  std::uint64_t n = 0;
  for (;;) {
    const CsvReader::Result r = reader.Next(&record, &problem);
    if (r == CsvReader::Result::kEnd) break;
    if (r == CsvReader::Result::kError) {
      validator.CsvError(problem);
    } else if (header) {
      validator.Header(record);
    } else {
      validator.Row(record, &row);
    }
    header = false;
    if ((++n & 0x3FFF) == 0) progress->Tick(p->description.dataset, n, reader.offset(), false);
  }
  validator.Finish();
  p->outcome.report = validator.report();
  progress->Tick(p->description.dataset, p->outcome.report.records, p->csv.size(), true);
}

// The one pass over a delivery, inside the load's transaction: every record is validated (the
// report counts every error), and while `*inserting` (no error so far in any delivery of the
// load) each valid record is pseudonymised, linked and inserted into `physical`. The first
// error clears `*inserting`: the remaining records are only validated, and the caller rolls
// the transaction back.
absl::Status LoadPass(sqlite3* db, const Pseudonymiser& pseudonymiser,
                      const std::string& physical, Prepared* p, bool* inserting,
                      PassProgress* progress) {
  const DeliveryDescription& d = p->description;
  // Target columns: each column's target, and the kind column after a BSN with target_kind.
  std::vector<std::string> targets;
  for (const delivery::ColumnSpec& c : d.columns) {
    targets.push_back(c.Target());
    if (!c.target_kind.empty()) targets.push_back(c.target_kind);
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
  std::string sql = absl::StrCat("INSERT INTO ", physical, " (");
  for (std::size_t i = 0; i < targets.size(); ++i) absl::StrAppend(&sql, i ? ", " : "", targets[i]);
  sql += ") VALUES (";
  for (std::size_t i = 0; i < targets.size(); ++i) sql += i ? ", ?" : "?";
  sql += ")";
  ENCLAVE_ASSIGN_OR_RETURN(StmtPtr insert, Prepare(db, sql));
  // Linkage against the population register as it stands in this transaction (a register in
  // the same load is inserted first).
  StmtPtr lookup;
  if (!d.population_register && HasTable(db, "gbapersoontab")) {
    ENCLAVE_ASSIGN_OR_RETURN(lookup,
                             Prepare(db, "SELECT 1 FROM gbapersoontab WHERE rinpersoon = ?"));
  }
  std::vector<LinkageCounts>& linkage = p->outcome.linkage;
  std::vector<std::size_t> bsn_slot(d.columns.size(), SIZE_MAX);
  for (std::size_t i = 0; i < d.columns.size(); ++i) {
    if (d.columns[i].type == ColumnType::kBsn) {
      bsn_slot[i] = linkage.size();
      linkage.push_back(LinkageCounts{d.columns[i].name});
    }
  }

  Validator validator(d);
  CsvReader reader(p->csv);
  CsvRecord record;
  CsvProblem problem;
  ParsedRow row;
  std::string pseudonym;
  bool header = true;
  std::uint64_t records = 0;
  for (;;) {
    const CsvReader::Result r = reader.Next(&record, &problem);
    if (r == CsvReader::Result::kEnd) break;
    if ((++records & 0x3FFF) == 0) {
      progress->Tick(d.dataset, p->outcome.rows_loaded, reader.offset(), false);
    }
    if (r == CsvReader::Result::kError) {
      validator.CsvError(problem);
      *inserting = false;
      continue;
    }
    if (header) {
      header = false;
      if (!validator.Header(record)) *inserting = false;
      continue;
    }
    if (!validator.Row(record, &row)) {
      *inserting = false;
      continue;
    }
    if (!*inserting) continue;
    int param = 1;
    for (std::size_t i = 0; i < d.columns.size(); ++i) {
      const delivery::ColumnSpec& c = d.columns[i];
      Value& v = row.values[i];
      if (c.type == ColumnType::kBsn) {
        LinkageCounts& counts = linkage[bsn_slot[i]];
        if (v.kind == Value::Kind::kNull) {
          ++counts.missing;
          sqlite3_bind_null(insert.get(), param++);
          if (!c.target_kind.empty()) sqlite3_bind_null(insert.get(), param++);
          continue;
        }
        pseudonymiser.Pseudonym(v.text, &pseudonym);
        std::fill(v.text.begin(), v.text.end(), '0');  // no BSN lingers in the buffer
        bool linked = d.population_register;
        if (lookup) {
          sqlite3_reset(lookup.get());
          sqlite3_bind_text(lookup.get(), 1, pseudonym.data(), 32, SQLITE_STATIC);
          const int rc = sqlite3_step(lookup.get());
          if (rc != SQLITE_ROW && rc != SQLITE_DONE) return DbError(db, "register lookup failed");
          linked = rc == SQLITE_ROW;
        }
        ++(linked ? counts.linked : counts.not_in_register);
        sqlite3_bind_text(insert.get(), param++, pseudonym.data(), 32, SQLITE_TRANSIENT);
        if (!c.target_kind.empty()) {
          sqlite3_bind_text(insert.get(), param++, linked ? "R" : "S", 1, SQLITE_STATIC);
        }
        continue;
      }
      switch (v.kind) {
        case Value::Kind::kNull:
          sqlite3_bind_null(insert.get(), param++);
          break;
        case Value::Kind::kInteger:
          sqlite3_bind_int64(insert.get(), param++, v.integer);
          break;
        case Value::Kind::kReal:
          sqlite3_bind_double(insert.get(), param++, v.real);
          break;
        case Value::Kind::kText:
          sqlite3_bind_text(insert.get(), param++, v.text.data(), static_cast<int>(v.text.size()),
                            SQLITE_STATIC);
          break;
      }
    }
    if (sqlite3_step(insert.get()) != SQLITE_DONE) {
      return DbError(db, absl::StrCat("dataset ", d.dataset, ": insert failed at line ",
                                      record.line));
    }
    sqlite3_reset(insert.get());
    ++p->outcome.rows_loaded;
  }
  validator.Finish();
  p->outcome.report = validator.report();
  if (!p->outcome.report.ok()) *inserting = false;
  progress->Tick(d.dataset, p->outcome.rows_loaded, p->csv.size(), true);
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
    ENCLAVE_ASSIGN_OR_RETURN(p.csv, ReadFile(files[i].csv_path));
    p.outcome.dataset = p.description.dataset;
    p.outcome.sha256 = crypto::Sha256Hex(p.csv);
    pass.bytes_total += p.csv.size();
  }
  // The register first, so the other deliveries link against the new one.
  std::stable_sort(prepared.begin(), prepared.end(), [](const Prepared& a, const Prepared& b) {
    return a.description.population_register && !b.description.population_register;
  });

  LoadOutcome outcome;
  sqlite3* db = session.db.get();
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "begin"));
  // Approximate statistics (at most 1000 rows per index) are enough for the planner.
  ENCLAVE_RETURN_IF_ERROR(Exec(db, "PRAGMA analysis_limit=1000", "settings"));
  std::int64_t current = 0;
  std::int64_t version = 0;
  bool inserting = true;
  std::vector<std::vector<std::string>> indexes(prepared.size());
  std::vector<std::string> physical(prepared.size());
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
      ENCLAVE_RETURN_IF_ERROR(LoadPass(db, *pseudonymiser, physical[i], &p, &inserting, &pass));
      pass.bytes_before += p.csv.size();
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
    ENCLAVE_ASSIGN_OR_RETURN(prepared[i].csv, ReadFile(files[i].csv_path));
    pass.bytes_total += prepared[i].csv.size();
  }
  std::vector<DeliveryOutcome> out;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    Prepared& p = prepared[i];
    p.outcome.dataset = p.description.dataset;
    p.outcome.sha256 = crypto::Sha256Hex(p.csv);
    pass.step = i + 1;
    ValidateDelivery(&p, &pass);
    pass.bytes_before += p.csv.size();
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
