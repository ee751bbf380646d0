#include "enclave/adapters/sqlite/durable_database.h"

#include <array>
#include <chrono>
#include <ctime>

namespace enclave::adapters::sqlite {
namespace {

// The first column of the first row of a one-row PRAGMA, as text ("" when there is none).
std::string PragmaValue(sqlite3* db, const char* sql, int* rc) {
  sqlite3_stmt* stmt = nullptr;
  *rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  std::string value;
  if (*rc == SQLITE_OK) {
    *rc = sqlite3_step(stmt);
    if (*rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
      *rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace

absl::Status SqliteUnavailable(std::string_view store, std::string_view what, int rc) {
  return absl::UnavailableError(std::string(store) + ": " + std::string(what) + " (" +
                                sqlite3_errstr(rc) + ")");
}

absl::Status OpenDurableDatabase(const std::string& path, std::string_view store,
                                 int busy_timeout_ms, sqlite3** db) {
  int rc = sqlite3_open_v2(path.c_str(), db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return SqliteUnavailable(store, "cannot open the database", rc);
  sqlite3_busy_timeout(*db, busy_timeout_ms);
  sqlite3_extended_result_codes(*db, 1);
  sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  if (PragmaValue(*db, "PRAGMA journal_mode=WAL", &rc) != "wal") {
    if (rc != SQLITE_OK) return SqliteUnavailable(store, "cannot set journal_mode", rc);
    return absl::UnavailableError(std::string(store) + ": the database does not support WAL");
  }
  if ((rc = sqlite3_exec(*db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr)) !=
      SQLITE_OK) {
    return SqliteUnavailable(store, "cannot set synchronous=FULL", rc);
  }
  if (PragmaValue(*db, "PRAGMA synchronous", &rc) != "2") {
    return absl::UnavailableError(std::string(store) + ": synchronous=FULL did not take effect");
  }
  return absl::OkStatus();
}

std::string UtcNowText() {
  const std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf.data(), n);
}

}  // namespace enclave::adapters::sqlite
