// SqliteMicrodataSource: template SQL over a read-only SQLite file, fenced by an authorizer.
#include "enclave/adapters/sqlite/microdata_source.h"

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "enclave/base/status_macros.h"

namespace enclave::adapters::sqlite {
namespace {

// VM steps between cancellation checks.
constexpr int kProgressInterval = 1000;

// Only what a SELECT needs: reading tables, calling functions, recursive CTEs. Everything else
// (writes, ATTACH, PRAGMA, transactions, schema changes) is refused at prepare time.
int Authorizer(void* /*user*/, int action, const char* /*a*/, const char* /*b*/,
               const char* /*db*/, const char* /*trigger*/) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

struct ProgressState {
  const core::Cancellation* cancel = nullptr;
  bool interrupted = false;
};

int OnProgress(void* user) {
  auto* state = static_cast<ProgressState*>(user);
  if (state->cancel != nullptr && state->cancel->Expired()) {
    state->interrupted = true;
    return 1;
  }
  return 0;
}

absl::Status InterruptedStatus(const core::Cancellation& cancel, const std::string& id) {
  if (cancel.cancelled && cancel.cancelled()) {
    return absl::CancelledError("template '" + id + "': query cancelled by the caller");
  }
  return absl::DeadlineExceededError("template '" + id + "': query stopped at its deadline");
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Resets a statement when a scan ends, however it ends.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* s) : s_(s) {}
  ~ResetOnExit() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* s_;
};

std::string Quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

struct SqliteMicrodataSource::Impl {
  sqlite3* db = nullptr;
  std::string data_version;
  struct Cached {
    std::string sql;
    StmtPtr stmt;
  };
  std::map<std::string, Cached> statements;  // by template id

  ~Impl() {
    statements.clear();  // finalize before closing
    if (db != nullptr) sqlite3_close_v2(db);
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(const templates::Template& tmpl);
};

absl::StatusOr<sqlite3_stmt*> SqliteMicrodataSource::Impl::Prepare(
    const templates::Template& tmpl) {
  if (auto it = statements.find(tmpl.id); it != statements.end() && it->second.sql == tmpl.sql) {
    return it->second.stmt.get();
  }
  const std::string who = "template " + Quote(tmpl.id) + ": ";
  if (tmpl.sql.size() > 1024 * 1024) return absl::InvalidArgumentError(who + "SQL is too long");
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db, tmpl.sql.data(), static_cast<int>(tmpl.sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) {
    // The operator sees this at start-up; SQLite's message names the syntax or authorisation
    // problem, never data values.
    return absl::InvalidArgumentError(who + "SQL does not prepare: " + sqlite3_errmsg(db));
  }
  if (stmt == nullptr) return absl::InvalidArgumentError(who + "SQL holds no statement");
  // Anything after the first statement other than whitespace and comments is a second statement.
  if (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* extra = nullptr;
    const char* end = tmpl.sql.data() + tmpl.sql.size();
    int rc2 = sqlite3_prepare_v3(db, tail, static_cast<int>(end - tail), 0, &extra, nullptr);
    StmtPtr extra_owner(extra);
    if (rc2 != SQLITE_OK || extra != nullptr) {
      return absl::InvalidArgumentError(who + "SQL must be exactly one statement");
    }
  }
  if (sqlite3_stmt_readonly(stmt.get()) == 0) {
    return absl::InvalidArgumentError(who + "SQL must be a read-only SELECT");
  }
  if (sqlite3_column_count(stmt.get()) == 0) {
    return absl::InvalidArgumentError(who + "SQL must be a SELECT returning columns");
  }
  const std::vector<std::string> expected = tmpl.ExpectedColumns();
  const int count = sqlite3_column_count(stmt.get());
  if (static_cast<std::size_t>(count) != expected.size()) {
    std::string list;
    for (const std::string& c : expected) list += (list.empty() ? "" : ", ") + c;
    return absl::InvalidArgumentError(who + "SQL returns " + std::to_string(count) +
                                      " columns; expected " + std::to_string(expected.size()) +
                                      " (" + list + ")");
  }
  for (int i = 0; i < count; ++i) {
    const char* name = sqlite3_column_name(stmt.get(), i);
    const std::string& want = expected[static_cast<std::size_t>(i)];
    if (name == nullptr || want != name) {
      return absl::InvalidArgumentError(who + "result column " + std::to_string(i + 1) + " is " +
                                        Quote(name == nullptr ? "" : name) + "; expected " +
                                        Quote(want) +
                                        " (order: unit, dimensions, measure, flags)");
    }
  }
  const int params = sqlite3_bind_parameter_count(stmt.get());
  for (int i = 1; i <= params; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt.get(), i);
    if (name == nullptr || name[0] != ':') {
      return absl::InvalidArgumentError(who + "SQL parameters must be written :name");
    }
    if (tmpl.FindParam(name + 1) == nullptr) {
      return absl::InvalidArgumentError(who + "SQL uses parameter " + Quote(name) +
                                        ", which the template does not declare");
    }
  }
  sqlite3_stmt* result = stmt.get();
  statements[tmpl.id] = Cached{tmpl.sql, std::move(stmt)};
  return result;
}

SqliteMicrodataSource::SqliteMicrodataSource(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

SqliteMicrodataSource::~SqliteMicrodataSource() = default;

absl::StatusOr<std::unique_ptr<SqliteMicrodataSource>> SqliteMicrodataSource::Open(
    const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::UnavailableError("microdata database: file not found");
  }
  auto impl = std::make_unique<Impl>();
  int rc = sqlite3_open_v2(path.c_str(), &impl->db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
                           nullptr);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(std::string("microdata database: cannot open: ") +
                                  sqlite3_errstr(rc));
  }
  sqlite3* db = impl->db;
  sqlite3_extended_result_codes(db, 1);
  // https://www.sqlite.org/security.html: defensive mode, no extensions, untrusted schema.
  int ok = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &ok) != SQLITE_OK || ok != 1 ||
      sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &ok) != SQLITE_OK ||
      ok != 0 || sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ok) != SQLITE_OK ||
      ok != 0) {
    return absl::UnavailableError("microdata database: cannot apply security settings");
  }
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1000000);
  if (sqlite3_exec(db, "PRAGMA query_only=1", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return absl::UnavailableError("microdata database: cannot set query_only");
  }
  {
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'data_version'", -1, &raw,
                            nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) {
      return absl::UnavailableError(
          "microdata database: not a SQLite database with a meta table");
    }
    rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW || sqlite3_column_type(stmt.get(), 0) != SQLITE_TEXT) {
      return absl::UnavailableError("microdata database: meta table lacks data_version");
    }
    const auto* text = sqlite3_column_text(stmt.get(), 0);
    impl->data_version.assign(reinterpret_cast<const char*>(text),
                              static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), 0)));
  }
  if (sqlite3_set_authorizer(db, &Authorizer, nullptr) != SQLITE_OK) {
    return absl::UnavailableError("microdata database: cannot install the authorizer");
  }
  return std::unique_ptr<SqliteMicrodataSource>(new SqliteMicrodataSource(std::move(impl)));
}

absl::Status SqliteMicrodataSource::CheckTemplate(const templates::Template& tmpl) {
  impl_->statements.erase(tmpl.id);  // always re-check
  ENCLAVE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Prepare(tmpl));
  (void)stmt;
  return absl::OkStatus();
}

absl::Status SqliteMicrodataSource::Scan(const templates::BoundQuery& query,
                                         const core::Cancellation& cancel,
                                         const core::RowVisitor& visit) {
  if (query.tmpl == nullptr) return absl::InvalidArgumentError("bound query has no template");
  const templates::Template& tmpl = *query.tmpl;
  const std::string who = "template " + Quote(tmpl.id) + ": ";
  if (cancel.Expired()) return InterruptedStatus(cancel, tmpl.id);
  ENCLAVE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Prepare(tmpl));
  ResetOnExit reset(stmt);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);

  for (const templates::BoundParam& p : query.params) {
    const std::string name = ":" + p.name;
    const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
    if (index == 0) continue;  // e.g. a BREAKDOWN parameter the SQL does not read
    int rc = SQLITE_OK;
    if (const auto* i = std::get_if<std::int64_t>(&p.value)) {
      rc = sqlite3_bind_int64(stmt, index, static_cast<sqlite3_int64>(*i));
    } else {
      const std::string& s = std::get<std::string>(p.value);
      rc = sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) {
      return absl::InternalError(who + "cannot bind parameter " + Quote(p.name));
    }
  }

  const int n_dims = static_cast<int>(tmpl.dimensions.size());
  const bool has_measure = !tmpl.measure_column.empty();
  const int measure_col = 1 + n_dims;
  const int first_flag = measure_col + (has_measure ? 1 : 0);
  const int n_flags = static_cast<int>(tmpl.flag_columns.size());
  std::vector<std::string_view> dims(static_cast<std::size_t>(n_dims));
  std::vector<std::int64_t> flags(static_cast<std::size_t>(n_flags));

  ProgressState progress{&cancel, false};
  sqlite3_progress_handler(impl_->db, kProgressInterval, &OnProgress, &progress);
  struct ClearHandler {
    sqlite3* db;
    ~ClearHandler() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  } clear_handler{impl_->db};

  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      if (progress.interrupted || (rc & 0xff) == SQLITE_INTERRUPT) {
        return InterruptedStatus(cancel, tmpl.id);
      }
      // sqlite3_errstr names the error class only; errmsg could quote values.
      return absl::InternalError(who + "query failed: " + sqlite3_errstr(rc));
    }
    core::RowView row;
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
      return absl::InternalError(who + "a row has no unit (NULL in " + Quote(tmpl.unit_column) +
                                 ")");
    }
    const auto* unit = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    row.unit = std::string_view(unit, static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    for (int d = 0; d < n_dims; ++d) {
      const int col = 1 + d;
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      dims[static_cast<std::size_t>(d)] =
          text == nullptr
              ? std::string_view()
              : std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
    }
    row.dimensions = dims;
    if (has_measure) {
      switch (sqlite3_column_type(stmt, measure_col)) {
        case SQLITE_NULL:
          row.measure = std::nullopt;
          break;
        case SQLITE_INTEGER:
          row.measure = static_cast<std::int64_t>(sqlite3_column_int64(stmt, measure_col));
          break;
        default:
          return absl::InternalError(who + "measure column " + Quote(tmpl.measure_column) +
                                     " holds a value that is not an integer");
      }
    }
    for (int f = 0; f < n_flags; ++f) {
      const int col = first_flag + f;
      std::int64_t value = 0;
      switch (sqlite3_column_type(stmt, col)) {
        case SQLITE_NULL:
          value = 0;
          break;
        case SQLITE_INTEGER:
          value = static_cast<std::int64_t>(sqlite3_column_int64(stmt, col));
          break;
        default:
          return absl::InternalError(who + "flag column " +
                                     Quote(tmpl.flag_columns[static_cast<std::size_t>(f)]) +
                                     " holds a value that is not an integer");
      }
      flags[static_cast<std::size_t>(f)] = value;
    }
    row.flags = flags;
    if (!tmpl.disclosure.holding_column.empty()) {
      const int col = first_flag + n_flags;
      if (sqlite3_column_type(stmt, col) == SQLITE_NULL) {
        return absl::InternalError(who + "a row has no holding (NULL in " +
                                   Quote(tmpl.disclosure.holding_column) + ")");
      }
      const auto* holding = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      row.holding =
          std::string_view(holding, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
    }
    ENCLAVE_RETURN_IF_ERROR(visit(row));
  }
  if (progress.interrupted) return InterruptedStatus(cancel, tmpl.id);
  return absl::OkStatus();
}

std::string SqliteMicrodataSource::DataVersion() const { return impl_->data_version; }

// Persons: the derived layer's pnr (what the v2 templates return as their unit) with the
// rinpersoon pseudonym the record key is derived from; without the derived layer, rinpersoon for
// both. Establishments: T10's units, every vestiging in each of its two periods
// ("<vestiging_id>@window", "<vestiging_id>@baseline"), keyed by that name itself (as a first-seen
// index would key them); the universe makes T10's populations persistable like persons' (the
// fixed panel of T10 v3 is a subset of it). Enterprises: the be_id of every vestiging, the entity
// T10's thresholds and differencing guard count (disclosure.threshold_entity). Other unit types,
// or a database without the table, cannot be enumerated (kNotFound).
absl::StatusOr<std::vector<core::MicrodataSource::UnitKey>> SqliteMicrodataSource::ListUnits(
    const std::string& unit_type) {
  std::vector<const char*> queries;  // the first that prepares is used
  if (unit_type == "person") {
    queries = {"SELECT pnr, rinpersoon FROM d_persoon ORDER BY pnr",
               "SELECT rinpersoon, rinpersoon FROM gbapersoontab"};
  } else if (unit_type == "establishment") {
    queries = {
        "SELECT vestiging_id || '@window', vestiging_id || '@window' FROM vestiging "
        "UNION ALL SELECT vestiging_id || '@baseline', vestiging_id || '@baseline' FROM vestiging"};
  } else if (unit_type == "enterprise") {
    queries = {"SELECT DISTINCT be_id, be_id FROM vestiging"};
  } else {
    return absl::NotFoundError("the microdata store cannot list units of type " + unit_type);
  }
  sqlite3* db = impl_->db;
  sqlite3_stmt* raw = nullptr;
  int rc = SQLITE_ERROR;
  for (const char* sql : queries) {
    rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    if (rc == SQLITE_OK) break;
    sqlite3_finalize(raw);
    raw = nullptr;
  }
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) {
    // No such table: a store without these registers (e.g. a test database).
    return absl::NotFoundError("microdata database: no table to list units of type " + unit_type +
                               " from");
  }
  std::vector<core::MicrodataSource::UnitKey> out;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    auto text = [&](int col) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), col));
      return std::string(t != nullptr ? t : "",
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), col)));
    };
    out.push_back({text(0), text(1)});
  }
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError("microdata database: cannot list units of type " + unit_type);
  }
  return out;
}

}  // namespace enclave::adapters::sqlite
