// Shared by the SQLite stores of the enclave's own durable state (release history, budget
// ledger): how such a database is opened, and the timestamp text they record.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace enclave::adapters::sqlite {

// Opens (creating if missing) `path` read-write with a busy timeout, extended result codes,
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
