// The query log in SQLite: WAL, synchronous=FULL, append-only (triggers refuse UPDATE and
// DELETE), each entry chained to the previous one by SHA-256 so that an edit is detectable.
// Issue 4 replaces the chain with an RFC 9162 Merkle tree and signed checkpoints.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "enclave/core/query_log.h"

namespace enclave::adapters::sqlite {

class SqliteQueryLog final : public core::QueryLog {
 public:
  // Creates the file and schema if needed. kUnavailable if it cannot be opened or written.
  static absl::StatusOr<std::unique_ptr<SqliteQueryLog>> Open(const std::string& path);
  ~SqliteQueryLog() override;

  // Thread-safe. Durable when it returns OK.
  absl::Status Append(const core::QueryLogEntry& entry) override;

  // Re-computes the chain; kDataLoss naming the first bad sequence number.
  absl::Status VerifyChain();
  std::int64_t CountForTest();
  // The value of `PRAGMA <name>` on the log's own connection (e.g. "synchronous" gives "2" for
  // FULL), or "" when `name` is not a plain pragma name. For tests of the durability settings.
  std::string PragmaForTest(const std::string& name);

 private:
  struct Impl;
  explicit SqliteQueryLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::adapters::sqlite
