// Shared by the SQLite stores of the enclave's own durable state (release history, budget
// ledger): how such a database is opened, and the timestamp text they record.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace enclave::adapters::sqlite {

// The enclave's state files are private (security.md §3.3), inside systemd or not: before SQLite
// opens `path`, a missing file is created empty with mode 0600 (never following a symbolic link;
// SQLite gives the -wal, -shm and -journal files it creates the database's mode), and an existing
// file, or its -wal, -shm or -journal file, is refused unless it is a regular file (not a symbolic
// link) of mode 0600 or narrower owned by the user the server runs as (crypto::CheckPrivateFileStat).
// kFailedPrecondition "<store> <path> has mode 0666; allowed: 0600 or narrower, readable by its
// owner only (chmod 600 <path>)"; kUnavailable when it cannot be created.
absl::Status PrepareStateFile(const std::string& path, std::string_view store);

// Opens (creating if missing, through PrepareStateFile) `path` read-write with a busy timeout, extended result codes,
// defensive mode, the WAL journal and synchronous=FULL, and checks that WAL and FULL took effect.
// `*db` is set even on failure, so the caller's destructor closes it. kUnavailable, prefixed
// with `store` ("budget ledger: ..."), naming what failed.
absl::Status OpenDurableDatabase(const std::string& path, std::string_view store,
                                 int busy_timeout_ms, sqlite3** db);

// kUnavailable "<store>: <what> (<sqlite error text>)".
absl::Status SqliteUnavailable(std::string_view store, std::string_view what, int rc);

// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string UtcNowText();

}  // namespace enclave::adapters::sqlite
