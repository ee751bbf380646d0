#include "enclave/adapters/sqlite/query_log_store.h"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "enclave/base/log.h"
#include "enclave/crypto/sha256.h"

// Layout and hashing of the append-only query log.
//
// One row per entry. entry_hash = SHA-256(prev_hash || Encode(fields)), hex, where prev_hash is the
// previous row's entry_hash (64 '0' for the first row) and Encode is:
//   "enclave-query-log/1", then every field in column order (seq, ts, type, request_id, caller,
//   role, rpc, template_id, template_version, template_sha256, canonical_params, decision, reason,
//   rule_set, data_version, cells_released, cells_confidential, cell_rules, result_sha256):
//   integers as 8 bytes big-endian, strings as an 8-byte big-endian length followed by the bytes.
// The chain detects an edited or removed row anywhere but at the tail; issue 4 replaces it with an
// RFC 9162 Merkle tree and signed checkpoints.
namespace enclave::adapters::sqlite {
namespace {

constexpr char kGenesis[] = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr int kBusyTimeoutMs = 5000;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS query_log (
  seq INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT NOT NULL,
  caller TEXT NOT NULL,
  role TEXT NOT NULL,
  rpc TEXT NOT NULL,
  template_id TEXT NOT NULL,
  template_version INTEGER NOT NULL,
  template_sha256 TEXT NOT NULL,
  canonical_params TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  rule_set TEXT NOT NULL,
  data_version TEXT NOT NULL,
  cells_released INTEGER NOT NULL,
  cells_confidential INTEGER NOT NULL,
  cell_rules TEXT NOT NULL,
  result_sha256 TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  entry_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS query_log_no_update BEFORE UPDATE ON query_log
BEGIN SELECT RAISE(ABORT, 'query_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS query_log_no_delete BEFORE DELETE ON query_log
BEGIN SELECT RAISE(ABORT, 'query_log is append-only'); END;
)sql";

constexpr char kInsert[] = R"sql(
INSERT INTO query_log (seq, ts, type, request_id, caller, role, rpc, template_id,
  template_version, template_sha256, canonical_params, decision, reason, rule_set, data_version,
  cells_released, cells_confidential, cell_rules, result_sha256, prev_hash, entry_hash)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
)sql";

constexpr char kLast[] = "SELECT seq, entry_hash FROM query_log ORDER BY seq DESC LIMIT 1";

constexpr char kAll[] = R"sql(
SELECT seq, ts, type, request_id, caller, role, rpc, template_id, template_version,
  template_sha256, canonical_params, decision, reason, rule_set, data_version, cells_released,
  cells_confidential, cell_rules, result_sha256, prev_hash, entry_hash
FROM query_log ORDER BY seq
)sql";

// The hashed fields of one row, as stored.
struct StoredEntry {
  std::int64_t seq = 0;
  std::string ts;
  std::string type;
  std::string request_id;
  std::string caller;
  std::string role;
  std::string rpc;
  std::string template_id;
  std::int64_t template_version = 0;
  std::string template_sha256;
  std::string canonical_params;
  std::string decision;
  std::string reason;
  std::string rule_set;
  std::string data_version;
  std::int64_t cells_released = 0;
  std::int64_t cells_confidential = 0;
  std::string cell_rules;
  std::string result_sha256;
};

void PutInt(std::string& out, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((u >> shift) & 0xffU));
  }
}

void PutString(std::string& out, std::string_view s) {
  PutInt(out, static_cast<std::int64_t>(s.size()));
  out.append(s.data(), s.size());
}

std::string EntryHash(std::string_view prev_hash, const StoredEntry& e) {
  std::string buf(prev_hash);
  PutString(buf, "enclave-query-log/1");
  PutInt(buf, e.seq);
  PutString(buf, e.ts);
  PutString(buf, e.type);
  PutString(buf, e.request_id);
  PutString(buf, e.caller);
  PutString(buf, e.role);
  PutString(buf, e.rpc);
  PutString(buf, e.template_id);
  PutInt(buf, e.template_version);
  PutString(buf, e.template_sha256);
  PutString(buf, e.canonical_params);
  PutString(buf, e.decision);
  PutString(buf, e.reason);
  PutString(buf, e.rule_set);
  PutString(buf, e.data_version);
  PutInt(buf, e.cells_released);
  PutInt(buf, e.cells_confidential);
  PutString(buf, e.cell_rules);
  PutString(buf, e.result_sha256);
  return crypto::Sha256Hex(buf);
}

std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 40> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf.data(), n);
  std::array<char, 8> frac{};
  std::snprintf(frac.data(), frac.size(), ".%03dZ", static_cast<int>(millis));
  out += frac.data();
  return out;
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* text = sqlite3_column_text(stmt, col);
  const int bytes = sqlite3_column_bytes(stmt, col);
  if (text == nullptr || bytes <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(bytes));
}

absl::Status Unavailable(std::string_view what, int rc) {
  return absl::UnavailableError(std::string("query log: ") + std::string(what) + " (" +
                                sqlite3_errstr(rc) + ")");
}

}  // namespace

struct SqliteQueryLog::Impl {
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* last = nullptr;
  std::mutex mu;

  ~Impl() {
    sqlite3_finalize(insert);
    sqlite3_finalize(last);
    if (db != nullptr) sqlite3_close_v2(db);
  }

  int Exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

  absl::Status AppendLocked(const core::QueryLogEntry& entry);
};

absl::StatusOr<std::unique_ptr<SqliteQueryLog>> SqliteQueryLog::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  int rc = sqlite3_open_v2(path.c_str(), &impl->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return Unavailable("cannot open the log database", rc);
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(impl->db, 1);

  // journal_mode answers with the mode in force; anything but WAL is a failure.
  {
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v2(impl->db, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return Unavailable("cannot set journal_mode", rc);
    rc = sqlite3_step(stmt);
    const std::string mode = rc == SQLITE_ROW ? ColumnText(stmt, 0) : std::string();
    sqlite3_finalize(stmt);
    if (mode != "wal") {
      return absl::UnavailableError("query log: the database does not support WAL journaling");
    }
  }
  if ((rc = impl->Exec("PRAGMA synchronous=FULL")) != SQLITE_OK) {
    return Unavailable("cannot set synchronous=FULL", rc);
  }
  if ((rc = impl->Exec(kSchema)) != SQLITE_OK) return Unavailable("cannot create the schema", rc);
  if ((rc = sqlite3_prepare_v2(impl->db, kInsert, -1, &impl->insert, nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(impl->db, kLast, -1, &impl->last, nullptr)) != SQLITE_OK) {
    return Unavailable("cannot prepare statements", rc);
  }
  return std::unique_ptr<SqliteQueryLog>(new SqliteQueryLog(std::move(impl)));
}

SqliteQueryLog::SqliteQueryLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteQueryLog::~SqliteQueryLog() = default;

absl::Status SqliteQueryLog::Impl::AppendLocked(const core::QueryLogEntry& entry) {
  StoredEntry e;
  std::string prev_hash = kGenesis;
  sqlite3_reset(last);
  int rc = sqlite3_step(last);
  if (rc == SQLITE_ROW) {
    e.seq = sqlite3_column_int64(last, 0) + 1;
    prev_hash = ColumnText(last, 1);
  } else if (rc == SQLITE_DONE) {
    e.seq = 1;
  } else {
    sqlite3_reset(last);
    return Unavailable("cannot read the chain head", rc);
  }
  sqlite3_reset(last);

  e.ts = UtcNow();
  e.type = core::QueryLogEntryTypeName(entry.type);
  e.request_id = entry.request_id;
  e.caller = entry.caller;
  e.role = entry.role;
  e.rpc = entry.rpc;
  e.template_id = entry.template_id;
  e.template_version = entry.template_version;
  e.template_sha256 = entry.template_sha256;
  e.canonical_params = entry.canonical_params;
  e.decision = entry.decision;
  e.reason = entry.reason;
  e.rule_set = entry.rule_set;
  e.data_version = entry.data_version;
  e.cells_released = entry.cells_released;
  e.cells_confidential = entry.cells_confidential;
  e.cell_rules = entry.cell_rules;
  e.result_sha256 = entry.result_sha256;
  const std::string hash = EntryHash(prev_hash, e);

  sqlite3_reset(insert);
  sqlite3_clear_bindings(insert);
  int i = 0;
  auto text = [&](const std::string& s) {
    return sqlite3_bind_text(insert, ++i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  };
  auto integer = [&](std::int64_t v) { return sqlite3_bind_int64(insert, ++i, v); };
  const int bound[] = {integer(e.seq),           text(e.ts),
                       text(e.type),             text(e.request_id),
                       text(e.caller),           text(e.role),
                       text(e.rpc),              text(e.template_id),
                       integer(e.template_version), text(e.template_sha256),
                       text(e.canonical_params), text(e.decision),
                       text(e.reason),           text(e.rule_set),
                       text(e.data_version),     integer(e.cells_released),
                       integer(e.cells_confidential), text(e.cell_rules),
                       text(e.result_sha256),    text(prev_hash),
                       text(hash)};
  for (int b : bound) {
    if (b != SQLITE_OK) return Unavailable("cannot bind an entry", b);
  }
  rc = sqlite3_step(insert);
  sqlite3_reset(insert);
  if (rc != SQLITE_DONE) return Unavailable("cannot insert an entry", rc);
  return absl::OkStatus();
}

absl::Status SqliteQueryLog::Append(const core::QueryLogEntry& entry) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  int rc = impl_->Exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return Unavailable("cannot begin a transaction", rc);
  absl::Status status = impl_->AppendLocked(entry);
  if (status.ok()) {
    rc = impl_->Exec("COMMIT");
    if (rc == SQLITE_OK) return absl::OkStatus();
    status = Unavailable("cannot commit an entry", rc);
  }
  impl_->Exec("ROLLBACK");
  base::LogError("query_log_append_failed", {{"code", status.code()}});
  return status;
}

absl::Status SqliteQueryLog::VerifyChain() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db, kAll, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Unavailable("cannot read the log", rc);
  std::string prev_hash = kGenesis;
  std::int64_t expected_seq = 1;
  absl::Status result = absl::OkStatus();
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    StoredEntry e;
    int c = 0;
    e.seq = sqlite3_column_int64(stmt, c++);
    e.ts = ColumnText(stmt, c++);
    e.type = ColumnText(stmt, c++);
    e.request_id = ColumnText(stmt, c++);
    e.caller = ColumnText(stmt, c++);
    e.role = ColumnText(stmt, c++);
    e.rpc = ColumnText(stmt, c++);
    e.template_id = ColumnText(stmt, c++);
    e.template_version = sqlite3_column_int64(stmt, c++);
    e.template_sha256 = ColumnText(stmt, c++);
    e.canonical_params = ColumnText(stmt, c++);
    e.decision = ColumnText(stmt, c++);
    e.reason = ColumnText(stmt, c++);
    e.rule_set = ColumnText(stmt, c++);
    e.data_version = ColumnText(stmt, c++);
    e.cells_released = sqlite3_column_int64(stmt, c++);
    e.cells_confidential = sqlite3_column_int64(stmt, c++);
    e.cell_rules = ColumnText(stmt, c++);
    e.result_sha256 = ColumnText(stmt, c++);
    const std::string stored_prev = ColumnText(stmt, c++);
    const std::string stored_hash = ColumnText(stmt, c++);
    const std::string where = "query log entry seq " + std::to_string(e.seq);
    if (e.seq != expected_seq) {
      result = absl::DataLossError("query log: expected entry seq " + std::to_string(expected_seq) +
                                   " but found seq " + std::to_string(e.seq) +
                                   " (an entry is missing)");
      break;
    }
    if (stored_prev != prev_hash) {
      result = absl::DataLossError(where + " does not link to the entry before it");
      break;
    }
    if (EntryHash(prev_hash, e) != stored_hash) {
      result = absl::DataLossError(where + " does not match its hash (it was altered)");
      break;
    }
    prev_hash = stored_hash;
    ++expected_seq;
  }
  if (result.ok() && rc != SQLITE_DONE) result = Unavailable("cannot read the log", rc);
  sqlite3_finalize(stmt);
  return result;
}

std::int64_t SqliteQueryLog::CountForTest() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  sqlite3_stmt* stmt = nullptr;
  std::int64_t n = -1;
  if (sqlite3_prepare_v2(impl_->db, "SELECT COUNT(*) FROM query_log", -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return n;
}

std::string SqliteQueryLog::PragmaForTest(const std::string& name) {
  if (name.empty()) return std::string();
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return std::string();
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  sqlite3_stmt* stmt = nullptr;
  std::string value;
  const std::string sql = "PRAGMA " + name;
  if (sqlite3_prepare_v2(impl_->db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = ColumnText(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace enclave::adapters::sqlite
