// The audit log store's shared internals (adapters/sqlite only): the SQLite helpers and
// AuditLogStore::Impl, used by the writer (audit_log_store.cc: open, append, group commit,
// checkpoints) and the reader (audit_log_reader.cc: tree hashes, proofs, checkpoints, export).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enclave/adapters/sqlite/audit_log_store.h"

namespace enclave::adapters::sqlite {
namespace audit_log_internal {

using audit::Hash;

inline absl::Status Unavailable(absl::string_view what, int rc) {
  return absl::UnavailableError(
      absl::StrCat("audit log: ", what, " (", sqlite3_errstr(rc), ")"));
}


inline std::string ColumnBlob(sqlite3_stmt* stmt, int col) {
  const void* data = sqlite3_column_blob(stmt, col);
  const int bytes = sqlite3_column_bytes(stmt, col);
  if (data == nullptr || bytes <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(bytes));
}

inline std::optional<Hash> ToHash(std::string_view bytes) {
  if (bytes.size() != 32) return std::nullopt;
  Hash h{};
  std::memcpy(h.data(), bytes.data(), h.size());
  return h;
}


// RAII prepared statement.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  int Prepare(sqlite3* db, const char* sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    return sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

inline std::int64_t ToI64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
inline std::uint64_t ToU64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

inline std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace audit_log_internal

struct AuditLogStore::Impl {
  struct Pending {
    bool sign = false;  // a checkpoint request instead of a leaf
    bool ping = false;  // a round trip through the writer only (Ping)
    audit::LogLeaf leaf;
    bool done = false;
    absl::Status status;
    std::uint64_t sequence = 0;
  };

  AuditLogOptions options;
  std::string db_path, checkpoint_path;
  std::string durability;  // as read back at Open
  std::optional<audit::NoteSigner> signer;
  sqlite3* db = nullptr;       // the writer's connection (the writer thread only, after Open)
  sqlite3* read_db = nullptr;  // readers, under read_mu
  audit_log_internal::Stmt insert_leaf, insert_node, update_state, upsert_head;  // the writer's, prepared once
  mutable std::mutex read_mu;
  audit_log_internal::Stmt read_leaf_hash, read_node;  // on read_db, under read_mu, prepared on first use

  // Queue and lifecycle, under mu.
  std::mutex mu;
  std::condition_variable queue_cv;
  std::condition_variable done_cv;
  std::deque<Pending*> queue;
  bool closed = false;  // no new appends
  bool stop = false;    // writer exits once the queue is empty
  std::thread writer;

  // Writer-owned tree state.
  audit::CompactRange range;
  std::int64_t last_time_ms = 0;
  std::map<std::string, std::uint64_t> open_requests;  // request id -> accepted sequence
  bool failed = false;
  // Size of the latest checkpoint in the checkpoint history and the file (they lag the signed
  // head by up to checkpoint_every_entries / checkpoint_interval).
  std::optional<std::uint64_t> stored_size;
  std::size_t last_batch = 0;
  std::chrono::steady_clock::time_point last_sign_time = std::chrono::steady_clock::now();

  // Published state, under state_mu.
  mutable std::mutex state_mu;
  std::atomic<std::uint64_t> size{0};
  audit::Hash root{};
  std::string checkpoint_note;
  audit::Checkpoint checkpoint;

  ~Impl() {
    if (read_db != nullptr) sqlite3_close_v2(read_db);
    if (db != nullptr) sqlite3_close_v2(db);
  }

  int Exec(const char* sql) const { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
  std::int64_t NowMs() const { return options.clock_ms ? options.clock_ms() : audit_log_internal::SystemNowMs(); }

  absl::Status OpenDatabase();
  absl::Status CheckAndLoad();
  absl::Status CommitBatch(std::vector<Pending*>& batch);
  absl::Status SignAndStore();
  absl::Status StoreHead(const audit::Checkpoint& cp, const std::string& note);
  void WriterLoop();
  absl::Status Submit(Pending& p);
};

}  // namespace enclave::adapters::sqlite
