#include "tests/testing/audit_tamper.h"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "enclave/audit/merkle.h"

namespace enclave::testing {
namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

absl::Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return absl::InternalError("tamper: " + sql + ": " + message);
  return absl::OkStatus();
}

absl::Status Open(const std::string& path, Db& db) {
  if (sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    return absl::InternalError("tamper: cannot open " + path);
  }
  sqlite3_busy_timeout(db.db, 10000);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadAll(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT bytes FROM leaves ORDER BY seq", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return absl::InternalError("tamper: cannot read the leaves");
  }
  std::vector<std::string> out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const void* data = sqlite3_column_blob(stmt, 0);
    out.emplace_back(static_cast<const char*>(data),
                     data == nullptr ? 0 : static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  return out;
}

absl::Status Rewrite(sqlite3* db, std::vector<std::string>& leaves, std::uint64_t from,
                     std::uint64_t to, const std::function<void(audit::LogLeaf&)>& edit,
                     bool with_hash) {
  sqlite3_stmt* update = nullptr;
  const char* sql = with_hash ? "UPDATE leaves SET bytes = ?1, hash = ?2 WHERE seq = ?3"
                              : "UPDATE leaves SET bytes = ?1 WHERE seq = ?3";
  if (sqlite3_prepare_v2(db, sql, -1, &update, nullptr) != SQLITE_OK) {
    return absl::InternalError("tamper: cannot prepare the update");
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(update, sqlite3_finalize);
  for (std::uint64_t i = from; i < to && i < leaves.size(); ++i) {
    absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf(leaves[i]);
    if (!leaf.ok()) return leaf.status();
    edit(*leaf);
    absl::StatusOr<std::string> bytes = audit::EncodeLeaf(*leaf);
    if (!bytes.ok()) return bytes.status();
    leaves[i] = *bytes;
    const audit::Hash h = audit::HashLeaf(*bytes);
    sqlite3_reset(update);
    sqlite3_bind_blob(update, 1, bytes->data(), static_cast<int>(bytes->size()), SQLITE_TRANSIENT);
    if (with_hash) {
      sqlite3_bind_blob(update, 2, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(update, 3, static_cast<sqlite3_int64>(i));
    if (sqlite3_step(update) != SQLITE_DONE) return absl::InternalError("tamper: update failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RewriteLeafBytes(const std::string& db_path, std::uint64_t from, std::uint64_t to,
                              const std::function<void(audit::LogLeaf&)>& edit) {
  Db db;
  if (absl::Status s = Open(db_path, db); !s.ok()) return s;
  if (absl::Status s = Exec(db.db, "DROP TRIGGER IF EXISTS leaves_no_update; BEGIN IMMEDIATE");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> leaves = ReadAll(db.db);
  if (!leaves.ok()) return leaves.status();
  if (absl::Status s = Rewrite(db.db, *leaves, from, to, edit, /*with_hash=*/false); !s.ok()) {
    return s;
  }
  return Exec(db.db, "COMMIT");
}

absl::Status RewriteTailConsistently(const std::string& db_path, std::uint64_t from,
                                     const std::string& caller) {
  Db db;
  if (absl::Status s = Open(db_path, db); !s.ok()) return s;
  if (absl::Status s = Exec(db.db,
                            "DROP TRIGGER IF EXISTS leaves_no_update; "
                            "DROP TRIGGER IF EXISTS nodes_no_delete; BEGIN IMMEDIATE");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> leaves = ReadAll(db.db);
  if (!leaves.ok()) return leaves.status();
  if (from >= leaves->size()) return absl::InvalidArgumentError("tamper: no such tail");
  if (absl::Status s = Rewrite(
          db.db, *leaves, from, leaves->size(), [&](audit::LogLeaf& l) { l.caller = caller; },
          /*with_hash=*/true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Exec(db.db, "DELETE FROM nodes"); !s.ok()) return s;
  sqlite3_stmt* node = nullptr;
  if (sqlite3_prepare_v2(db.db, "INSERT INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)", -1,
                         &node, nullptr) != SQLITE_OK) {
    return absl::InternalError("tamper: cannot prepare the node insert");
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(node, sqlite3_finalize);
  audit::CompactRange range;
  std::vector<audit::Hash> stack;
  for (std::uint64_t seq = 0; seq < leaves->size(); ++seq) {
    audit::Hash h = audit::HashLeaf((*leaves)[seq]);
    range.Append(h);
    std::uint64_t idx = seq;
    int level = 0;
    while ((idx & 1U) == 1U) {  // every perfect subtree this leaf completes, as the writer does
      h = audit::HashChildren(stack.back(), h);
      stack.pop_back();
      ++level;
      idx >>= 1U;
      sqlite3_reset(node);
      sqlite3_bind_int(node, 1, level);
      sqlite3_bind_int64(node, 2, static_cast<sqlite3_int64>(idx));
      sqlite3_bind_blob(node, 3, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(node) != SQLITE_DONE) return absl::InternalError("tamper: node insert");
    }
    stack.push_back(h);
  }
  std::string compact;
  for (const audit::Hash& h : range.hashes()) {
    compact.append(reinterpret_cast<const char*>(h.data()), h.size());
  }
  sqlite3_stmt* state = nullptr;
  if (sqlite3_prepare_v2(db.db, "UPDATE state SET compact = ?1 WHERE id = 1", -1, &state,
                         nullptr) != SQLITE_OK) {
    return absl::InternalError("tamper: cannot prepare the state update");
  }
  sqlite3_bind_blob(state, 1, compact.data(), static_cast<int>(compact.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(state);
  sqlite3_finalize(state);
  if (rc != SQLITE_DONE) return absl::InternalError("tamper: state update");
  return Exec(db.db, "COMMIT");
}

}  // namespace enclave::testing
