#include "enclave/adapters/sqlite/release_history_store.h"

#include <sqlite3.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <mutex>
#include <utility>
#include <vector>

#include "enclave/adapters/sqlite/durable_database.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
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
CREATE TABLE IF NOT EXISTS released_partition (
  id INTEGER PRIMARY KEY,
  data_version TEXT NOT NULL,
  unit_type TEXT NOT NULL,
  population_digest TEXT NOT NULL,
  partition_name TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (data_version, unit_type, population_digest, partition_name)
);
)sql";

// Populations are one history per data version and unit type since the guard became global;
// rows written per project before that are read into it too (they were SDC releases as well).
constexpr char kGlobalProject[] = "*";

constexpr char kInsertPartition[] = R"sql(
INSERT OR IGNORE INTO released_partition
  (data_version, unit_type, population_digest, partition_name, created)
VALUES (?1, ?2, ?3, ?4, ?5)
)sql";

constexpr char kSelectPartitions[] = R"sql(
SELECT unit_type, population_digest, partition_name
FROM released_partition WHERE data_version = ?1 ORDER BY id
)sql";

// The threshold a population was released under (its largest), added after the first layout:
// rows without it were released at T = 10.
constexpr char kAddMinUnits[] =
    "ALTER TABLE released_population ADD COLUMN min_units INTEGER NOT NULL DEFAULT 10";

constexpr char kInsert[] = R"sql(
INSERT INTO released_population
  (project, data_version, unit_type, index_basis, population, population_sha256, created,
   min_units)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (project, data_version, unit_type, population_sha256)
DO UPDATE SET min_units = max(min_units, excluded.min_units)
)sql";

constexpr char kSelect[] = R"sql(
SELECT unit_type, index_basis, population, population_sha256, min_units
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
  sqlite3_stmt* insert_partition = nullptr;
  sqlite3_stmt* select_partitions = nullptr;
  std::mutex mu;

  ~Impl() {
    sqlite3_finalize(insert);
    sqlite3_finalize(select);
    sqlite3_finalize(insert_partition);
    sqlite3_finalize(select_partitions);
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
  {
    bool has_min_units = false;
    sqlite3_stmt* info = nullptr;
    if (sqlite3_prepare_v2(impl->db, "PRAGMA table_info(released_population)", -1, &info,
                           nullptr) == SQLITE_OK) {
      while (sqlite3_step(info) == SQLITE_ROW) {
        const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(info, 1));
        has_min_units = has_min_units || (name != nullptr && std::string_view(name) == "min_units");
      }
    }
    sqlite3_finalize(info);
    if (!has_min_units && (rc = impl->Exec(kAddMinUnits)) != SQLITE_OK) {
      return Unavailable("cannot add the threshold column", rc);
    }
  }
  if ((rc = sqlite3_prepare_v2(impl->db, kInsert, -1, &impl->insert, nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(impl->db, kSelect, -1, &impl->select, nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(impl->db, kInsertPartition, -1, &impl->insert_partition,
                               nullptr)) != SQLITE_OK ||
      (rc = sqlite3_prepare_v2(impl->db, kSelectPartitions, -1, &impl->select_partitions,
                               nullptr)) != SQLITE_OK) {
    return Unavailable("cannot prepare statements", rc);
  }
  return std::unique_ptr<SqliteReleaseHistory>(new SqliteReleaseHistory(std::move(impl)));
}

SqliteReleaseHistory::SqliteReleaseHistory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteReleaseHistory::~SqliteReleaseHistory() = default;

absl::Status SqliteReleaseHistory::Append(const disclosure::GuardKey& key,
                                          std::string_view index_basis,
                                          const disclosure::GuardRecord& added) {
  if (index_basis.empty()) {
    return absl::InvalidArgumentError(
        "release history: populations need a stable unit numbering (UnitIndex::FromUniverse)");
  }
  if (added.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(impl_->mu);
  int rc = impl_->Exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return Unavailable("cannot begin a transaction", rc);
  const std::string created = UtcNowText();
  absl::Status status = absl::OkStatus();
  auto run = [&](sqlite3_stmt* s, std::initializer_list<std::string_view> texts,
                 const std::string* blob, int blob_at, const char* what,
                 std::optional<std::pair<int, std::int64_t>> int_at = std::nullopt) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    int i = 0;
    for (std::string_view v : texts) {
      ++i;
      if (i == blob_at) ++i;
      const int b = sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      if (b != SQLITE_OK) return Unavailable(what, b);
    }
    if (blob != nullptr) {
      const int b = sqlite3_bind_blob(s, blob_at, blob->data(), static_cast<int>(blob->size()),
                                      SQLITE_TRANSIENT);
      if (b != SQLITE_OK) return Unavailable(what, b);
    }
    if (int_at.has_value()) {
      const int b = sqlite3_bind_int64(s, int_at->first, int_at->second);
      if (b != SQLITE_OK) return Unavailable(what, b);
    }
    const int stepped = sqlite3_step(s);
    sqlite3_reset(s);
    return stepped == SQLITE_DONE ? absl::OkStatus() : Unavailable(what, stepped);
  };
  for (const disclosure::KeptPopulation& k : added.populations) {
    const std::string sha = crypto::Sha256Hex(k.encoding);
    status = run(impl_->insert,
                 {kGlobalProject, key.data_version, key.unit_type, index_basis, sha, created},
                 &k.encoding, 5, "cannot insert a population", std::pair<int, std::int64_t>{8, k.min_units});
    if (!status.ok()) break;
  }
  for (std::size_t i = 0; status.ok() && i < added.partitions.size(); ++i) {
    const std::string digest = added.partitions[i].first.Hex();
    status = run(impl_->insert_partition,
                 {key.data_version, key.unit_type, digest, added.partitions[i].second, created},
                 nullptr, 0, "cannot insert a partition");
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
  std::map<std::string, std::vector<disclosure::KeptPopulation>> populations;  // by unit type
  std::map<std::string, std::vector<std::pair<disclosure::PopulationDigest, std::string>>> parts;
  std::map<std::string, std::string, std::less<>> basis_cache;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto bind_version = [&](sqlite3_stmt* s) {
      sqlite3_reset(s);
      sqlite3_bind_text(s, 1, data_version.data(), static_cast<int>(data_version.size()),
                        SQLITE_TRANSIENT);
    };
    int rc = SQLITE_OK;
    absl::Status status = absl::OkStatus();
    sqlite3_stmt* s = impl_->select;
    bind_version(s);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::string unit_type = ColumnBytes(s, 0);
      const std::string basis = ColumnBytes(s, 1);
      std::string population = ColumnBytes(s, 2);
      const std::string sha = ColumnBytes(s, 3);
      const std::int64_t min_units = sqlite3_column_int64(s, 4);
      if (crypto::Sha256Hex(population) != sha) {
        status = absl::DataLossError(
            "release history: a stored population does not match its SHA-256 (it was altered)");
        break;
      }
      auto b = basis_cache.find(unit_type);
      if (b == basis_cache.end()) b = basis_cache.emplace(unit_type, basis_for(unit_type)).first;
      if (basis != b->second) {
        status = absl::FailedPreconditionError(
            "release history: populations of unit type " + unit_type +
            " were recorded under another unit numbering for this data version; refusing to "
            "start with a void differencing history");
        break;
      }
      if (min_units < 1 ||
          min_units > static_cast<std::int64_t>(disclosure::DifferencingGuard::kMaxMinUnits)) {
        status = absl::DataLossError("release history: a stored threshold is out of range");
        break;
      }
      populations[std::move(unit_type)].push_back(
          {std::move(population), static_cast<std::uint32_t>(min_units)});
    }
    if (status.ok() && rc != SQLITE_DONE) status = Unavailable("cannot read the history", rc);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (status.ok()) {
      s = impl_->select_partitions;
      bind_version(s);
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        absl::StatusOr<disclosure::PopulationDigest> digest =
            disclosure::PopulationDigest::FromHex(ColumnBytes(s, 1));
        if (!digest.ok()) {
          status = digest.status();
          break;
        }
        parts[ColumnBytes(s, 0)].emplace_back(*digest, ColumnBytes(s, 2));
      }
      if (status.ok() && rc != SQLITE_DONE) status = Unavailable("cannot read the history", rc);
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
    if (!status.ok()) {
      base::LogError("release_history_load_failed", {{"code", status.code()}});
      return status;
    }
  }
  // Decode everything first, so that the guard gets all or nothing.
  for (const auto& [unit_type, kept] : populations) {
    for (const disclosure::KeptPopulation& k : kept) {
      if (absl::StatusOr<disclosure::Population> p = disclosure::DecodePopulation(k.encoding);
          !p.ok()) {
        base::LogError("release_history_load_failed", {{"code", p.status().code()}});
        return p.status();
      }
    }
  }
  std::set<std::string> types;
  for (const auto& [t, e] : populations) types.insert(t);
  for (const auto& [t, p] : parts) types.insert(t);
  for (const std::string& t : types) {
    const disclosure::GuardKey key{std::string(data_version), t};
    static const std::vector<disclosure::KeptPopulation> kNoPopulations;
    static const std::vector<std::pair<disclosure::PopulationDigest, std::string>> kNoPartitions;
    auto pe = populations.find(t);
    auto pa = parts.find(t);
    ENCLAVE_RETURN_IF_ERROR(guard.Restore(key, pe != populations.end() ? pe->second : kNoPopulations,
                                          pa != parts.end() ? pa->second : kNoPartitions));
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
