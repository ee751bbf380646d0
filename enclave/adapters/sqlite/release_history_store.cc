#include "enclave/adapters/sqlite/release_history_store.h"

#include <sqlite3.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "enclave/adapters/sqlite/durable_database.h"
#include "enclave/base/log.h"
#include "enclave/crypto/sha256.h"

namespace enclave::adapters::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS released_population (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL,
  data_version TEXT NOT NULL,
  unit_type TEXT NOT NULL,
  index_basis TEXT NOT NULL,
  population BLOB NOT NULL,
  population_sha256 TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (project, data_version, unit_type, population_sha256)
);
)sql";

constexpr char kInsert[] = R"sql(
INSERT OR IGNORE INTO released_population
  (project, data_version, unit_type, index_basis, population, population_sha256, created)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
)sql";

constexpr char kSelect[] = R"sql(
SELECT project, unit_type, index_basis, population, population_sha256
FROM released_population WHERE data_version = ?1 ORDER BY id
)sql";

std::string ColumnBytes(sqlite3_stmt* stmt, int col) {
  const void* data = sqlite3_column_blob(stmt, col);
  const int bytes = sqlite3_column_bytes(stmt, col);
  if (data == nullptr || bytes <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(bytes));
}

absl::Status Unavailable(std::string_view what, int rc) {
  return SqliteUnavailable("release history", what, rc);
}

}  // namespace

struct SqliteReleaseHistory::Impl {
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* select = nullptr;
  std::mutex mu;

  ~Impl() {
    sqlite3_finalize(insert);
    sqlite3_finalize(select);
    if (db != nullptr) sqlite3_close_v2(db);
  }
  int Exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
};

absl::StatusOr<std::unique_ptr<SqliteReleaseHistory>> SqliteReleaseHistory::Open(
    const std::string& path) {
  auto impl = std::make_unique<Impl>();
  if (absl::Status opened = OpenDurableDatabase(path, "release history", kBusyTimeoutMs, &impl->db);
      !opened.ok()) {
    return opened;
  }
  int rc = SQLITE_OK;
  if ((rc = impl->Exec(kSchema)) != SQLITE_OK) return Unavailable("cannot create the schema", rc);
  if ((rc = sqlite3_prepare_v2(impl->db, kInsert, -1, &impl->insert, nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(impl->db, kSelect, -1, &impl->select, nullptr)) != SQLITE_OK) {
    return Unavailable("cannot prepare statements", rc);
  }
  return std::unique_ptr<SqliteReleaseHistory>(new SqliteReleaseHistory(std::move(impl)));
}

SqliteReleaseHistory::SqliteReleaseHistory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteReleaseHistory::~SqliteReleaseHistory() = default;

absl::Status SqliteReleaseHistory::Append(const disclosure::GuardKey& key,
                                          std::string_view index_basis,
                                          std::span<const std::string> encodings) {
  if (index_basis.empty()) {
    return absl::InvalidArgumentError(
        "release history: populations need a stable unit numbering (UnitIndex::FromUniverse)");
  }
  if (encodings.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(impl_->mu);
  int rc = impl_->Exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return Unavailable("cannot begin a transaction", rc);
  const std::string created = UtcNowText();
  absl::Status status = absl::OkStatus();
  sqlite3_stmt* s = impl_->insert;
  for (const std::string& e : encodings) {
    const std::string sha = crypto::Sha256Hex(e);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    auto text = [&](int i, std::string_view v) {
      return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    const int bound[] = {text(1, key.project), text(2, key.data_version), text(3, key.unit_type),
                         text(4, index_basis),
                         sqlite3_bind_blob(s, 5, e.data(), static_cast<int>(e.size()),
                                           SQLITE_TRANSIENT),
                         text(6, sha), text(7, created)};
    for (int b : bound) {
      if (b != SQLITE_OK && status.ok()) status = Unavailable("cannot bind a population", b);
    }
    if (!status.ok()) break;
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      status = Unavailable("cannot insert a population", rc);
      break;
    }
  }
  if (status.ok()) {
    rc = impl_->Exec("COMMIT");
    if (rc == SQLITE_OK) return absl::OkStatus();
    status = Unavailable("cannot commit", rc);
  }
  impl_->Exec("ROLLBACK");
  base::LogError("release_history_append_failed", {{"code", status.code()}});
  return status;
}

absl::Status SqliteReleaseHistory::LoadInto(
    std::string_view data_version,
    const std::function<std::string(std::string_view unit_type)>& basis_for,
    disclosure::DifferencingGuard& guard) {
  std::map<disclosure::GuardKey, std::vector<std::string>> loaded;
  std::map<std::string, std::string, std::less<>> basis_cache;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    sqlite3_stmt* s = impl_->select;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, data_version.data(), static_cast<int>(data_version.size()),
                      SQLITE_TRANSIENT);
    int rc = SQLITE_OK;
    absl::Status status = absl::OkStatus();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      disclosure::GuardKey key{ColumnBytes(s, 0), std::string(data_version), ColumnBytes(s, 1)};
      const std::string basis = ColumnBytes(s, 2);
      std::string population = ColumnBytes(s, 3);
      const std::string sha = ColumnBytes(s, 4);
      if (crypto::Sha256Hex(population) != sha) {
        status = absl::DataLossError(
            "release history: a stored population does not match its SHA-256 (it was altered)");
        break;
      }
      if (absl::StatusOr<disclosure::Population> p = disclosure::DecodePopulation(population);
          !p.ok()) {
        status = p.status();
        break;
      }
      auto b = basis_cache.find(key.unit_type);
      if (b == basis_cache.end()) {
        b = basis_cache.emplace(key.unit_type, basis_for(key.unit_type)).first;
      }
      if (basis != b->second) {
        status = absl::FailedPreconditionError(
            "release history: populations of unit type " + key.unit_type +
            " were recorded under another unit numbering for this data version; refusing to "
            "start with a void differencing history");
        break;
      }
      loaded[std::move(key)].push_back(std::move(population));
    }
    if (status.ok() && rc != SQLITE_DONE) status = Unavailable("cannot read the history", rc);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (!status.ok()) {
      base::LogError("release_history_load_failed", {{"code", status.code()}});
      return status;
    }
  }
  // Every encoding decoded above, so Restore cannot fail now: the guard gets all or nothing.
  for (const auto& [key, encodings] : loaded) {
    absl::Status s = guard.Restore(key, encodings);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string SqliteReleaseHistory::PragmaForTest(const std::string& name) {
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
    value = ColumnBytes(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace enclave::adapters::sqlite
