#include "enclave/adapters/sqlite/durable_database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "enclave/crypto/secret_file.h"

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

absl::Status PrepareStateFile(const std::string& path, std::string_view store) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string file = path + suffix;
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
      const int err = errno;
      if (err != ENOENT) {
        return absl::UnavailableError(std::string(store) + ": cannot stat " + file + ": " +
                                      std::strerror(err));
      }
      if (*suffix != '\0') continue;  // SQLite creates these with the database's mode
      const int fd =
          ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0 && errno != EEXIST) {
        const int create_err = errno;
        return absl::UnavailableError(std::string(store) + ": cannot create " + file + ": " +
                                      std::strerror(create_err));
      }
      if (fd >= 0) {
        // The umask can only narrow 0600; set it exactly anyway.
        const bool narrowed = ::fchmod(fd, S_IRUSR | S_IWUSR) == 0;
        ::close(fd);
        if (!narrowed) {
          return absl::UnavailableError(std::string(store) + ": cannot set mode 0600 on " + file);
        }
        continue;
      }
      if (::lstat(file.c_str(), &st) != 0) {  // created concurrently: check what is there
        return absl::UnavailableError(std::string(store) + ": cannot stat " + file);
      }
    }
    if (absl::Status s = crypto::CheckPrivateFileStat(store, file, st, false); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status OpenDurableDatabase(const std::string& path, std::string_view store,
                                 int busy_timeout_ms, sqlite3** db) {
  if (absl::Status s = PrepareStateFile(path, store); !s.ok()) return s;
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
