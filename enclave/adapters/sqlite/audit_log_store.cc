// The audit log store's writer: open and check, append with group commit, signed checkpoints.
// The reader (tree hashes, proofs, checkpoints, export, request search) is audit_log_reader.cc.
#include "enclave/adapters/sqlite/audit_log_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "enclave/adapters/sqlite/audit_log_store_impl.h"
#include "enclave/adapters/sqlite/durable_database.h"
#include "enclave/audit/bundle.h"
#include "enclave/base/file.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/ed25519.h"
#include "enclave/crypto/secret_file.h"

namespace enclave::adapters::sqlite {
namespace {

using namespace audit_log_internal;  // NOLINT: the store's shared helpers
using audit::EntryType;

constexpr int kBusyTimeoutMs = 5000;
constexpr char kDbName[] = "audit_log.db";
constexpr char kSigningKeyName[] = "log_signing.key";
constexpr char kVerifierKeyName[] = "log_verifier.key";
constexpr char kCheckpointName[] = "checkpoint";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS leaves (
  seq INTEGER PRIMARY KEY,
  type INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  compact BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signed_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_by_request ON leaves (request_id) WHERE request_id != '';
INSERT OR IGNORE INTO state (id, size, compact) VALUES (1, 0, x'');
CREATE TRIGGER IF NOT EXISTS leaves_no_update BEFORE UPDATE ON leaves
BEGIN SELECT RAISE(ABORT, 'leaves are append-only'); END;
CREATE TRIGGER IF NOT EXISTS leaves_no_delete BEFORE DELETE ON leaves
BEGIN SELECT RAISE(ABORT, 'leaves are append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_no_update BEFORE UPDATE ON nodes
BEGIN SELECT RAISE(ABORT, 'nodes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_no_delete BEFORE DELETE ON nodes
BEGIN SELECT RAISE(ABORT, 'nodes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS signed_head_no_delete BEFORE DELETE ON signed_head
BEGIN SELECT RAISE(ABORT, 'the signed head is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS signed_head_only_grows BEFORE UPDATE ON signed_head
WHEN NEW.size < OLD.size
BEGIN SELECT RAISE(ABORT, 'the signed head never shrinks'); END;
CREATE TRIGGER IF NOT EXISTS state_no_delete BEFORE DELETE ON state
BEGIN SELECT RAISE(ABORT, 'the tree state is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS state_only_grows BEFORE UPDATE ON state WHEN NEW.size < OLD.size
BEGIN SELECT RAISE(ABORT, 'the tree never shrinks'); END;
)sql";

absl::Status Refuse(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat("audit log: ", what, "; refusing to start"));
}

std::string HashBytes(std::span<const Hash> hashes) {
  std::string out;
  out.reserve(hashes.size() * 32);
  for (const Hash& h : hashes) out.append(reinterpret_cast<const char*>(h.data()), h.size());
  return out;
}

int BindBlob(sqlite3_stmt* stmt, int i, std::string_view bytes) {
  return sqlite3_bind_blob(stmt, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}
int BindHash(sqlite3_stmt* stmt, int i, const Hash& h) {
  return sqlite3_bind_blob(stmt, i, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
}
// --- Files --------------------------------------------------------------------------------------

absl::Status FsyncDir(const std::string& dir) {
  const absl::Status s = base::FsyncDirectory(dir);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("audit log: ", s.message()));
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const absl::Status s = base::WriteFileAtomically(path, content, mode);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("audit log: cannot write ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path,
                                                            std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return absl::UnavailableError(absl::StrCat("audit log: cannot read ", path));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("audit log: cannot read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("audit log: ", path, " is larger than ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

// Loads the Ed25519 signing key (PKCS#8 PEM or a note signer key string), or creates one
// (0600, exclusive create, fsync, directory fsync) if none exists.
// An existing key passes crypto::ReadSecretFile's checks (as the TLS key and the record-key
// secret do). A file in $CREDENTIALS_DIRECTORY, which systemd keeps private to the unit
// (read-only, owned by root with an ACL or by the unit's user, depending on the file system), is
// exempt from the owner and mode checks there.
absl::StatusOr<audit::NoteSigner> LoadOrCreateSigner(const std::string& path,
                                                     const std::string& key_name) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return absl::UnavailableError(absl::StrCat("audit log: cannot stat ", path));
    ENCLAVE_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, crypto::Ed25519PrivateKey::Generate());
    ENCLAVE_ASSIGN_OR_RETURN(std::string pem, key.ToPem());
    // Written whole to a temporary file, then linked: a crash never leaves a partial key, and a
    // concurrent creator's key wins (link fails when the path exists).
    const std::string tmp = absl::StrCat(path, ".tmp");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat("audit log: cannot create the signing key ", tmp));
    }
    absl::Status s = ::fchmod(fd, 0600) == 0 ? base::WriteAll(fd, pem, tmp)
                                              : absl::UnavailableError("chmod failed");
    if (s.ok() && ::fsync(fd) != 0) s = absl::UnavailableError("fsync failed");
    ::close(fd);
    std::fill(pem.begin(), pem.end(), '\0');
    if (s.ok() && ::link(tmp.c_str(), path.c_str()) != 0) {
      ::unlink(tmp.c_str());
      if (errno == EEXIST) return LoadOrCreateSigner(path, key_name);
      s = absl::UnavailableError("link failed");
    }
    ::unlink(tmp.c_str());
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("audit log: cannot write the signing key ", path));
    }
    ENCLAVE_RETURN_IF_ERROR(FsyncDir(std::filesystem::path(path).parent_path().string()));
    base::LogInfo("audit_log_signing_key_created", {});
    return audit::NoteSigner::Create(key_name, std::move(key));
  }
  // The same rules as every secret file (crypto/secret_file.h): regular, no symbolic link, 0600
  // or narrower, owned by the service user; a systemd credential is exempt from mode and owner.
  absl::StatusOr<std::string> read = crypto::ReadSecretFile("audit log: the signing key", path,
                                                            64 * 1024);
  if (!read.ok()) return read.status();
  std::string* text = &*read;
  absl::StatusOr<audit::NoteSigner> signer = absl::InvalidArgumentError("unreadable");
  if (text->rfind("PRIVATE+KEY+", 0) == 0) {
    std::string_view line(*text);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    signer = audit::NoteSigner::FromSignerKey(line);
  } else {
    absl::StatusOr<crypto::Ed25519PrivateKey> key = crypto::Ed25519PrivateKey::FromPem(*text);
    if (key.ok()) signer = audit::NoteSigner::Create(key_name, *std::move(key));
  }
  std::fill(text->begin(), text->end(), '\0');
  if (!signer.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "audit log: the signing key ", path,
        " is neither an Ed25519 PKCS#8 PEM key nor a note signer key"));
  }
  return signer;
}

// A given key file (a systemd credential, or one the operator placed): never created here.
absl::StatusOr<audit::NoteSigner> LoadSigner(const std::string& path, const std::string& key_name) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit log: the signing key ", path, " does not exist"));
    }
    return absl::UnavailableError(absl::StrCat("audit log: cannot stat ", path));
  }
  return LoadOrCreateSigner(path, key_name);
}

audit::EntryType TypeOf(core::QueryLogEntry::Type type) {
  switch (type) {
    case core::QueryLogEntry::Type::kAccepted: return EntryType::kQueryAccepted;
    case core::QueryLogEntry::Type::kResult: return EntryType::kQueryResult;
    case core::QueryLogEntry::Type::kRefused: return EntryType::kQueryRefused;
    case core::QueryLogEntry::Type::kAborted: return EntryType::kQueryAborted;
    case core::QueryLogEntry::Type::kServerStart: return EntryType::kServerStart;
    case core::QueryLogEntry::Type::kServerStop: return EntryType::kServerStop;
    case core::QueryLogEntry::Type::kPolicyLoaded: return EntryType::kPolicyLoaded;
    case core::QueryLogEntry::Type::kPolicyRefused: return EntryType::kPolicyRefused;
    case core::QueryLogEntry::Type::kAuthFailureSummary: return EntryType::kAuthFailureSummary;
    case core::QueryLogEntry::Type::kBudget: return EntryType::kBudget;
    case core::QueryLogEntry::Type::kDataLoad: return EntryType::kDataLoad;
    case core::QueryLogEntry::Type::kDatasetRollback: return EntryType::kDatasetRollback;
  }
  return EntryType::kQueryRefused;
}

absl::StatusOr<std::string> RawDigest(absl::string_view field, std::string_view hex) {
  if (hex.empty()) return std::string();
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit log: ", field, " must be 64 hex characters or empty"));
  }
  std::string out(32, '\0');
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit log: ", field, " must be 64 hex characters or empty"));
    }
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace

absl::StatusOr<audit::LogLeaf> LeafFromEntry(const core::QueryLogEntry& entry) {
  audit::LogLeaf leaf;
  leaf.type = TypeOf(entry.type);
  leaf.request_id = audit::SanitizeLeafText(entry.request_id);
  leaf.caller = audit::SanitizeLeafText(entry.caller);
  ENCLAVE_ASSIGN_OR_RETURN(leaf.caller_cert_sha256,
                           RawDigest("caller_cert_sha256", entry.caller_cert_sha256));
  leaf.role = audit::SanitizeLeafText(entry.role);
  leaf.project = audit::SanitizeLeafText(entry.project);
  leaf.rpc = audit::SanitizeLeafText(entry.rpc);
  leaf.template_id = audit::SanitizeLeafText(entry.template_id);
  leaf.template_version = entry.template_version;
  ENCLAVE_ASSIGN_OR_RETURN(leaf.template_sha256, RawDigest("template_sha256", entry.template_sha256));
  leaf.canonical_params = audit::SanitizeLeafText(entry.canonical_params);
  leaf.decision = audit::SanitizeLeafText(entry.decision);
  leaf.reason = audit::SanitizeLeafText(entry.reason);
  leaf.rule_set = audit::SanitizeLeafText(entry.rule_set);
  leaf.data_version = audit::SanitizeLeafText(entry.data_version);
  // Sorted by status name: "confidential" < "released".
  if (entry.type == core::QueryLogEntry::Type::kResult || entry.cells_released != 0 ||
      entry.cells_confidential != 0) {
    leaf.cell_counts.push_back(
        {"confidential", static_cast<std::uint64_t>(std::max<std::int64_t>(0, entry.cells_confidential))});
    leaf.cell_counts.push_back(
        {"released", static_cast<std::uint64_t>(std::max<std::int64_t>(0, entry.cells_released))});
  }
  leaf.cell_rules = audit::SanitizeLeafText(entry.cell_rules);
  ENCLAVE_ASSIGN_OR_RETURN(leaf.result_sha256, RawDigest("result_sha256", entry.result_sha256));
  leaf.detail = audit::SanitizeLeafText(entry.detail);
  // The leaf has no approval field (format v1): the approval a request ran under goes first in
  // the detail, "approval=<digest> approver=<officer> key=<key id>".
  if (!entry.template_approval.empty()) {
    leaf.detail = audit::SanitizeLeafText(
        entry.detail.empty() ? entry.template_approval
                             : entry.template_approval + " " + entry.detail);
  }
  return leaf;
}

// --- The store ------------------------------------------------------------------------------------

absl::Status AuditLogStore::Impl::OpenDatabase() {
  // Created 0600 if missing, refused if wider (durable_database.h); -wal and -shm follow its mode.
  ENCLAVE_RETURN_IF_ERROR(PrepareStateFile(db_path, "query log"));
  int rc = sqlite3_open_v2(
      db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      options.vfs_for_test.empty() ? nullptr : options.vfs_for_test.c_str());
  if (rc != SQLITE_OK) return Unavailable(absl::StrCat("cannot open ", db_path), rc);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  {
    Stmt stmt;
    if ((rc = stmt.Prepare(db, "PRAGMA journal_mode=WAL")) != SQLITE_OK) {
      return Unavailable("cannot set journal_mode", rc);
    }
    rc = sqlite3_step(stmt.get());
    const std::string mode = rc == SQLITE_ROW ? ColumnBlob(stmt.get(), 0) : std::string();
    if (mode != "wal") return absl::UnavailableError("audit log: the database does not support WAL");
  }
  if ((rc = Exec(options.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF")) !=
      SQLITE_OK) {
    return Unavailable("cannot set synchronous", rc);
  }
  {
    // Read back: a durable log that does not sync is refused, not run.
    Stmt stmt;
    if ((rc = stmt.Prepare(db, "PRAGMA synchronous")) != SQLITE_OK ||
        sqlite3_step(stmt.get()) != SQLITE_ROW) {
      return Unavailable("cannot read synchronous", rc);
    }
    const int level = sqlite3_column_int(stmt.get(), 0);
    if (options.durable && level != 2) {
      return absl::UnavailableError("audit log: synchronous=FULL did not take effect");
    }
    durability = absl::StrCat("journal_mode=wal synchronous=", level);
  }
  if ((rc = Exec(kSchema)) != SQLITE_OK) return Unavailable("cannot create the schema", rc);
  if ((rc = insert_leaf.Prepare(db,
                                "INSERT INTO leaves (seq, type, request_id, time_ms, bytes, hash) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) != SQLITE_OK ||
      (rc = insert_node.Prepare(db, "INSERT INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)")) !=
          SQLITE_OK ||
      (rc = update_state.Prepare(db, "UPDATE state SET size = ?1, compact = ?2 WHERE id = 1")) !=
          SQLITE_OK ||
      (rc = upsert_head.Prepare(db,
                                "INSERT INTO signed_head (id, size, note) VALUES (1, ?1, ?2) "
                                "ON CONFLICT (id) DO UPDATE SET size = excluded.size, "
                                "note = excluded.note")) != SQLITE_OK) {
    return Unavailable("cannot prepare statements", rc);
  }
  rc = sqlite3_open_v2(db_path.c_str(), &read_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                       nullptr);
  if (rc != SQLITE_OK) return Unavailable("cannot open a reader", rc);
  sqlite3_busy_timeout(read_db, kBusyTimeoutMs);
  return absl::OkStatus();
}

// Checks every stored leaf against its own bytes (hash, head fields, the indexed columns), rebuilds
// the tree from them, and checks it against the stored state and against every signed copy of the
// latest checkpoint: the signed head (one per commit), the checkpoint history and the file.
absl::Status AuditLogStore::Impl::CheckAndLoad() {
  std::uint64_t state_size = 0;
  std::string state_compact;
  {
    Stmt stmt;
    int rc = stmt.Prepare(db, "SELECT size, compact FROM state WHERE id = 1");
    if (rc != SQLITE_OK || sqlite3_step(stmt.get()) != SQLITE_ROW) {
      return Unavailable("cannot read the tree state", rc);
    }
    state_size = ToU64(sqlite3_column_int64(stmt.get(), 0));
    state_compact = ColumnBlob(stmt.get(), 1);
  }

  // The signed copies, each verified with the signing key's verifier before anything else.
  const audit::NoteVerifier verifier = signer->Verifier();
  struct Copy {
    std::string where;
    std::string note;
    audit::Checkpoint cp;
    Hash root_here{};  // the root of the stored leaves at cp.size, filled in below
  };
  std::vector<Copy> copies;
  auto add_copy = [&](std::string where, std::string note) -> absl::Status {
    absl::StatusOr<audit::Checkpoint> cp = audit::OpenCheckpoint(note, verifier, options.origin);
    if (!cp.ok()) {
      return Refuse(absl::StrCat("the checkpoint in ", where, " does not verify with ",
                                 kVerifierKeyName, " (", std::string(cp.status().message()), ")"));
    }
    copies.push_back(Copy{std::move(where), std::move(note), *cp, Hash{}});
    return absl::OkStatus();
  };
  auto latest_note = [&](const char* sql, const std::string& where) -> absl::Status {
    Stmt stmt;
    int rc = stmt.Prepare(db, sql);
    if (rc != SQLITE_OK) return Unavailable("cannot read the checkpoints", rc);
    rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_ROW) return add_copy(where, ColumnBlob(stmt.get(), 0));
    if (rc != SQLITE_DONE) return Unavailable("cannot read the checkpoints", rc);
    return absl::OkStatus();
  };
  ENCLAVE_RETURN_IF_ERROR(latest_note("SELECT note FROM signed_head WHERE id = 1",
                                      absl::StrCat(db_path, " (signed head)")));
  const std::size_t history_first = copies.size();
  ENCLAVE_RETURN_IF_ERROR(latest_note("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
                                      absl::StrCat(db_path, " (checkpoint history)")));
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> file_note,
                           ReadFileIfExists(checkpoint_path, audit::kMaxNoteBytes));
  if (file_note.has_value()) ENCLAVE_RETURN_IF_ERROR(add_copy(checkpoint_path, *file_note));
  // The history row and the file are written together: the later of the two is what is stored.
  for (std::size_t i = history_first; i < copies.size(); ++i) {
    stored_size = std::max(stored_size.value_or(0), copies[i].cp.size);
  }

  // Every leaf: its bytes must hash to its stored hash and decode as the entry its row says it
  // is. Reported by index only: the bytes may hold caller-supplied text.
  {
    Stmt stmt;
    int rc = stmt.Prepare(db,
                          "SELECT seq, type, request_id, hash, time_ms, bytes FROM leaves "
                          "ORDER BY seq");
    if (rc != SQLITE_OK) return Unavailable("cannot read the leaves", rc);
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      const std::uint64_t seq = ToU64(sqlite3_column_int64(stmt.get(), 0));
      if (seq != range.size()) {
        return Refuse(absl::StrCat("entry ", range.size(), " is missing from ", db_path));
      }
      const std::optional<Hash> stored_hash = ToHash(ColumnBlob(stmt.get(), 3));
      if (!stored_hash) return Refuse(absl::StrCat("entry ", seq, " has no valid hash in ", db_path));
      const void* data = sqlite3_column_blob(stmt.get(), 5);
      const std::string_view bytes(static_cast<const char*>(data),
                                   data == nullptr ? 0 : static_cast<std::size_t>(
                                                             sqlite3_column_bytes(stmt.get(), 5)));
      const Hash leaf_hash = audit::HashLeaf(bytes);
      if (leaf_hash != *stored_hash) {
        return Refuse(absl::StrCat(
            "entry ", seq, " in ", db_path,
            ": its stored bytes do not hash to its stored leaf hash, so the entry was altered after "
            "it was written (the first such entry; restore the state directory from a backup and "
            "tell the privacy officer)"));
      }
      // The fields the row repeats (for the recovery below and the request index) must be the
      // bytes' own; the rest of each leaf is the officer's verifier's to check, strictly.
      absl::StatusOr<audit::LeafHead> head = audit::DecodeLeafHead(bytes);
      if (!head.ok()) {
        return Refuse(absl::StrCat("entry ", seq, " in ", db_path, " does not decode (",
                                   std::string(head.status().message()), ")"));
      }
      const auto type = static_cast<int>(sqlite3_column_int64(stmt.get(), 1));
      const void* id_data = sqlite3_column_blob(stmt.get(), 2);
      const std::string_view request_id(
          static_cast<const char*>(id_data),
          id_data == nullptr ? 0 : static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), 2)));
      const std::int64_t time_ms = sqlite3_column_int64(stmt.get(), 4);
      if (head->sequence != seq || head->origin != options.origin ||
          static_cast<int>(head->type) != type || head->request_id != request_id ||
          head->time_unix_ms != time_ms) {
        return Refuse(absl::StrCat("entry ", seq, " in ", db_path,
                                   ": its row (sequence, origin, type, request id or time) does "
                                   "not match its bytes"));
      }
      range.Append(leaf_hash);
      for (Copy& c : copies) {
        if (c.cp.size == range.size()) c.root_here = range.Root();
      }
      last_time_ms = std::max(last_time_ms, time_ms);
      if (head->type == EntryType::kQueryAccepted) {
        open_requests[std::string(request_id)] = seq;
      } else if (head->type == EntryType::kQueryResult ||
                 head->type == EntryType::kQueryAborted) {
        open_requests.erase(std::string(request_id));
      } else if (head->type == EntryType::kRecovery) {
        absl::StatusOr<audit::LogLeaf> leaf = audit::DecodeLeaf(bytes);
        if (!leaf.ok()) {
          return Refuse(absl::StrCat("recovery entry ", seq, " in ", db_path, " does not decode (",
                                     std::string(leaf.status().message()), ")"));
        }
        const std::set<std::uint64_t> done_seqs(leaf->related.begin(), leaf->related.end());
        std::erase_if(open_requests, [&](const auto& kv) { return done_seqs.contains(kv.second); });
      }
    }
    if (rc != SQLITE_DONE) return Unavailable("cannot read the leaves", rc);
  }
  const std::uint64_t n = range.size();
  if (n != state_size) {
    return Refuse(absl::StrCat("the tree state records ", state_size, " entries but ", db_path,
                               " holds ", n));
  }
  if (HashBytes(range.hashes()) != state_compact) {
    return Refuse(absl::StrCat("the stored tree state does not match the entries in ", db_path));
  }
  if (!file_note.has_value() && n > 0) {
    return Refuse(absl::StrCat(checkpoint_path, " is missing but ", db_path, " holds ", n,
                               " entries (restore the checkpoint; a new log needs a new state_dir)"));
  }
  const Copy* latest = nullptr;
  for (Copy& c : copies) {
    if (c.cp.size > n) {
      return Refuse(absl::StrCat("the database holds ", n, " entries but the signed checkpoint in ",
                                 c.where, " covers ", c.cp.size,
                                 ": the database was rolled back or truncated"));
    }
    if (c.cp.size == 0) c.root_here = audit::EmptyTreeHash();
    if (c.root_here != c.cp.root) {
      return Refuse(absl::StrCat("the root of the first ", c.cp.size,
                                 " entries differs from the signed checkpoint in ", c.where,
                                 ": the history was rewritten"));
    }
    if (latest == nullptr || c.cp.size > latest->cp.size) latest = &c;
  }
  // Each commit stores a checkpoint of the tree it commits (the signed head), so every entry is
  // covered by one: entries beyond the latest were written around the server.
  if (options.checkpoint_every_commit && latest != nullptr && latest->cp.size < n) {
    return Refuse(absl::StrCat("entries ", latest->cp.size, "..", n - 1, " in ", db_path,
                               " are not covered by any signed checkpoint, but every commit "
                               "signs one: they were written or rewritten outside the server"));
  }
  size.store(n);
  root = range.Root();
  if (latest != nullptr) {
    checkpoint = latest->cp;
    checkpoint_note = latest->note;
  }
  return absl::OkStatus();
}

// Makes the published checkpoint one of the current tree (signing one and storing it as the
// signed head, unless the last commit did), then keeps it in the checkpoint history and the file
// unless they already hold it.
absl::Status AuditLogStore::Impl::SignAndStore() {
  audit::Checkpoint cp;
  cp.origin = options.origin;
  cp.size = range.size();
  cp.root = range.Root();
  std::string note;
  {
    std::lock_guard<std::mutex> lock(state_mu);
    if (!checkpoint_note.empty() && checkpoint == cp) note = checkpoint_note;
  }
  if (note.empty()) {
    ENCLAVE_ASSIGN_OR_RETURN(note, audit::SignCheckpoint(cp, *signer));
    if (absl::Status s = StoreHead(cp, note); !s.ok()) {
      failed = true;  // the database failed a write: fail closed, as for a failed commit
      return s;
    }
    std::lock_guard<std::mutex> lock(state_mu);
    checkpoint = cp;
    checkpoint_note = note;
  }
  if (stored_size == cp.size) return absl::OkStatus();
  Stmt stmt;
  int rc = stmt.Prepare(db, "INSERT OR IGNORE INTO checkpoints (size, time_ms, note) VALUES (?1, ?2, ?3)");
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(stmt.get(), 1, ToI64(cp.size));
    sqlite3_bind_int64(stmt.get(), 2, NowMs());
    BindBlob(stmt.get(), 3, note);
    rc = sqlite3_step(stmt.get());
  }
  if (rc != SQLITE_DONE) {
    failed = true;  // the database failed a write: fail closed, as for a failed commit
    return Unavailable("cannot store a checkpoint", rc);
  }
  ENCLAVE_RETURN_IF_ERROR(WriteFileAtomically(checkpoint_path, note, 0600));
  stored_size = cp.size;
  last_sign_time = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

// Inside the caller's transaction, or on its own.
absl::Status AuditLogStore::Impl::StoreHead(const audit::Checkpoint& cp, const std::string& note) {
  sqlite3_stmt* s = upsert_head.get();
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, ToI64(cp.size));
  BindBlob(s, 2, note);
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return Unavailable("cannot store the signed head", rc);
  return absl::OkStatus();
}

// One transaction for every leaf of the batch. Leaves that cannot be encoded fail alone and get
// no sequence number; a failed commit fails them all.
absl::Status AuditLogStore::Impl::CommitBatch(std::vector<Pending*>& batch) {
  if (failed) {
    for (Pending* p : batch) {
      p->status = absl::UnavailableError(
          "audit log: an earlier commit failed; restart the server (start-up re-checks the log)");
    }
    return absl::OkStatus();
  }
  int rc = Exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) {
    for (Pending* p : batch) p->status = Unavailable("cannot begin a transaction", rc);
    return absl::OkStatus();  // nothing written: later batches may retry
  }
  audit::CompactRange next = range;
  std::vector<Hash> stack = range.hashes();
  std::int64_t time_ms = last_time_ms;
  std::map<std::string, std::uint64_t> open = open_requests;
  absl::Status write_error;
  std::optional<std::uint64_t> first;
  for (Pending* p : batch) {
    if (!write_error.ok()) break;
    audit::LogLeaf& leaf = p->leaf;
    const std::uint64_t seq = next.size();
    leaf.origin = options.origin;
    leaf.sequence = seq;
    time_ms = std::max(time_ms, NowMs());
    leaf.time_unix_ms = time_ms;
    auto it = open.find(leaf.request_id);
    if ((leaf.type == EntryType::kQueryResult || leaf.type == EntryType::kQueryAborted) &&
        leaf.related.empty() && it != open.end()) {
      leaf.related.push_back(it->second);
    }
    absl::StatusOr<std::string> bytes = audit::EncodeLeaf(leaf);
    if (!bytes.ok()) {
      p->status = bytes.status();
      continue;
    }
    const Hash leaf_hash = audit::HashLeaf(*bytes);
    sqlite3_stmt* s = insert_leaf.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, ToI64(seq));
    sqlite3_bind_int(s, 2, static_cast<int>(leaf.type));
    sqlite3_bind_text(s, 3, leaf.request_id.data(), static_cast<int>(leaf.request_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, time_ms);
    BindBlob(s, 5, *bytes);
    BindHash(s, 6, leaf_hash);
    if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
      write_error = Unavailable("cannot insert a leaf", rc);
      break;
    }
    // Every perfect subtree this leaf completes, level >= 1.
    Hash h = leaf_hash;
    std::uint64_t idx = seq;
    int level = 0;
    while ((idx & 1U) == 1U) {
      h = audit::HashChildren(stack.back(), h);
      stack.pop_back();
      ++level;
      idx >>= 1U;
      sqlite3_stmt* n = insert_node.get();
      sqlite3_reset(n);
      sqlite3_bind_int(n, 1, level);
      sqlite3_bind_int64(n, 2, ToI64(idx));
      BindHash(n, 3, h);
      if ((rc = sqlite3_step(n)) != SQLITE_DONE) {
        write_error = Unavailable("cannot insert a tree node", rc);
        break;
      }
    }
    stack.push_back(h);
    next.Append(leaf_hash);
    if (leaf.type == EntryType::kQueryAccepted) {
      open[leaf.request_id] = seq;
    } else if (leaf.type == EntryType::kQueryResult || leaf.type == EntryType::kQueryAborted) {
      open.erase(leaf.request_id);
    } else if (leaf.type == EntryType::kRecovery) {
      const std::set<std::uint64_t> done_seqs(leaf.related.begin(), leaf.related.end());
      std::erase_if(open, [&](const auto& kv) { return done_seqs.contains(kv.second); });
    }
    p->sequence = seq;
    if (!first) first = seq;
  }
  if (write_error.ok() && first.has_value()) {
    sqlite3_stmt* s = update_state.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, ToI64(next.size()));
    BindBlob(s, 2, HashBytes(next.hashes()));
    if ((rc = sqlite3_step(s)) != SQLITE_DONE) write_error = Unavailable("cannot update the tree state", rc);
  }
  // The signed head: a checkpoint of the tree this commit makes, in the same transaction, so that
  // no acknowledged entry is ever without a signed checkpoint (Ed25519, ~50 us; no extra fsync).
  std::optional<std::pair<audit::Checkpoint, std::string>> head;
  if (write_error.ok() && first.has_value() && options.checkpoint_every_commit) {
    audit::Checkpoint cp;
    cp.origin = options.origin;
    cp.size = next.size();
    cp.root = next.Root();
    absl::StatusOr<std::string> note = audit::SignCheckpoint(cp, *signer);
    if (!note.ok()) {
      write_error = absl::UnavailableError(
          absl::StrCat("audit log: cannot sign the checkpoint of a commit: ", note.status().message()));
    } else if (absl::Status stored = StoreHead(cp, *note); !stored.ok()) {
      write_error = stored;
    } else {
      head.emplace(std::move(cp), *std::move(note));
    }
  }
  if (write_error.ok() && first.has_value() && options.before_commit_for_test) {
    write_error = options.before_commit_for_test(*first);
  }
  if (write_error.ok()) {
    rc = Exec("COMMIT");
    if (rc != SQLITE_OK) write_error = Unavailable("cannot commit", rc);
  }
  if (!write_error.ok()) {
    Exec("ROLLBACK");
    failed = true;  // fail closed: the state on disk after a failed commit is not known
    base::LogError("audit_log_commit_failed", {{"code", write_error.code()}});
    for (Pending* p : batch) {
      if (p->status.ok()) p->status = write_error;
    }
    return write_error;
  }
  range = std::move(next);
  last_time_ms = time_ms;
  open_requests = std::move(open);
  std::lock_guard<std::mutex> lock(state_mu);
  size.store(range.size());
  root = range.Root();
  if (head.has_value()) {
    checkpoint = std::move(head->first);
    checkpoint_note = std::move(head->second);
  }
  return absl::OkStatus();
}

void AuditLogStore::Impl::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    if (queue.empty()) {
      if (stop) return;
      if (options.checkpoint_interval.count() > 0) {
        const auto deadline = last_sign_time + options.checkpoint_interval;
        if (!queue_cv.wait_until(lock, deadline, [&] { return stop || !queue.empty(); })) {
          lock.unlock();
          if (!failed && stored_size != range.size()) {
            absl::Status s = SignAndStore();
            if (!s.ok()) base::LogError("audit_log_checkpoint_failed", {{"code", s.code()}});
          }
          last_sign_time = std::chrono::steady_clock::now();
          lock.lock();
        }
      } else {
        queue_cv.wait(lock, [&] { return stop || !queue.empty(); });
      }
      continue;
    }
    // Group commit delay: the appenders of the last batch are likely to come back at once (each
    // writes its next entry as soon as it was woken), so wait a little for them to join.
    if (options.group_commit_delay.count() > 0 && last_batch > 1 && queue.size() < last_batch) {
      queue_cv.wait_for(lock, options.group_commit_delay,
                        [&] { return stop || queue.size() >= last_batch; });
    }
    std::vector<Pending*> leaves, signs, pings;
    while (!queue.empty() && leaves.size() < options.max_batch) {
      Pending* p = queue.front();
      queue.pop_front();
      (p->ping ? pings : p->sign ? signs : leaves).push_back(p);
    }
    lock.unlock();
    last_batch = leaves.size();
    if (!leaves.empty()) CommitBatch(leaves).IgnoreError();  // each waiter has its status
    const bool by_count = options.checkpoint_every_entries > 0 &&
                          range.size() - stored_size.value_or(0) >= options.checkpoint_every_entries;
    absl::Status signed_status = absl::OkStatus();
    if (failed) {
      signed_status = absl::UnavailableError("audit log: an earlier commit failed; not signing");
    } else if (!signs.empty() || by_count) {
      signed_status = SignAndStore();
      if (!signed_status.ok()) {
        base::LogError("audit_log_checkpoint_failed", {{"code", signed_status.code()}});
      }
    }
    for (Pending* p : signs) p->status = signed_status;
    for (Pending* p : pings) {
      if (failed) p->status = absl::UnavailableError("audit log: an earlier commit failed");
    }
    lock.lock();
    for (Pending* p : leaves) p->done = true;
    for (Pending* p : signs) p->done = true;
    for (Pending* p : pings) p->done = true;
    done_cv.notify_all();
  }
}

absl::Status AuditLogStore::Impl::Submit(Pending& p) {
  std::unique_lock<std::mutex> lock(mu);
  if (closed) return absl::UnavailableError("audit log: the log is closed");
  queue.push_back(&p);
  queue_cv.notify_one();
  done_cv.wait(lock, [&] { return p.done; });
  return p.status;
}

absl::StatusOr<std::unique_ptr<AuditLogStore>> AuditLogStore::Open(AuditLogOptions options) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("audit log: state_dir is empty");
  ENCLAVE_RETURN_IF_ERROR(audit::CheckOrigin(options.origin));
  if (options.max_batch == 0) options.max_batch = 1;
  auto impl = std::make_unique<Impl>();
  const std::filesystem::path dir(options.state_dir);
  impl->db_path = (dir / kDbName).string();
  impl->checkpoint_path = (dir / kCheckpointName).string();
  ENCLAVE_ASSIGN_OR_RETURN(
      audit::NoteSigner signer,
      options.signing_key_file.empty()
          ? LoadOrCreateSigner((dir / kSigningKeyName).string(), options.origin)
          : LoadSigner(options.signing_key_file, options.origin));
  impl->signer.emplace(std::move(signer));
  const std::string verifier_key = impl->signer->VerifierKey() + "\n";
  const std::string verifier_path = (dir / kVerifierKeyName).string();
  ENCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                           ReadFileIfExists(verifier_path, 4096));
  if (existing != verifier_key) {
    ENCLAVE_RETURN_IF_ERROR(WriteFileAtomically(verifier_path, verifier_key, 0600));
  }
  impl->options = std::move(options);
  ENCLAVE_RETURN_IF_ERROR(impl->OpenDatabase());
  ENCLAVE_RETURN_IF_ERROR(impl->CheckAndLoad());
  const bool fresh = impl->checkpoint_note.empty();
  std::vector<std::uint64_t> orphans;
  for (const auto& [id, seq] : impl->open_requests) orphans.push_back(seq);
  std::sort(orphans.begin(), orphans.end());

  Impl* raw = impl.get();
  auto store = std::unique_ptr<AuditLogStore>(new AuditLogStore(std::move(impl)));
  raw->writer = std::thread([raw] { raw->WriterLoop(); });
  if (fresh) ENCLAVE_RETURN_IF_ERROR(store->SignCheckpointNow());
  if (!orphans.empty()) {
    audit::LogLeaf recovery;
    recovery.type = EntryType::kRecovery;
    recovery.decision = "aborted";
    recovery.reason = "closed query-accepted entries left open by an unclean stop";
    recovery.detail = absl::StrCat("orphans=", orphans.size());
    recovery.related = orphans;
    ENCLAVE_RETURN_IF_ERROR(store->AppendLeaf(std::move(recovery)).status());
    base::LogWarning("audit_log_recovered_orphans",
                     {{"count", base::RowCount{static_cast<std::int64_t>(orphans.size())}}});
  }
  return store;
}

AuditLogStore::AuditLogStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLogStore::~AuditLogStore() {
  absl::Status s = Close();
  if (!s.ok()) base::LogError("audit_log_close_failed", {{"code", s.code()}});
}

absl::Status AuditLogStore::Append(const core::QueryLogEntry& entry) {
  ENCLAVE_ASSIGN_OR_RETURN(audit::LogLeaf leaf, LeafFromEntry(entry));
  return AppendLeaf(std::move(leaf)).status();
}

absl::StatusOr<std::uint64_t> AuditLogStore::AppendLeaf(audit::LogLeaf leaf) {
  Impl::Pending p;
  p.leaf = std::move(leaf);
  ENCLAVE_RETURN_IF_ERROR(impl_->Submit(p));
  return p.sequence;
}

absl::Status AuditLogStore::SignCheckpointNow() {
  Impl::Pending p;
  p.sign = true;
  return impl_->Submit(p);
}

absl::Status AuditLogStore::Ping() {
  Impl::Pending p;
  p.ping = true;
  return impl_->Submit(p);
}

absl::Status AuditLogStore::Close() {
  if (!impl_->writer.joinable()) return absl::OkStatus();
  Impl::Pending p;
  p.sign = true;
  absl::Status status;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    if (impl_->closed) {
      lock.unlock();
      return absl::OkStatus();
    }
    impl_->closed = true;
    impl_->queue.push_back(&p);  // after every pending append: the final checkpoint covers them
    impl_->queue_cv.notify_one();
    impl_->done_cv.wait(lock, [&] { return p.done; });
    status = p.status;
    impl_->stop = true;
    impl_->queue_cv.notify_one();
  }
  impl_->writer.join();
  return status;
}

std::uint64_t AuditLogStore::Size() const { return impl_->size.load(); }

absl::StatusOr<audit::NoteSigner> LoadLogSigner(const AuditLogOptions& options) {
  const std::string path =
      !options.signing_key_file.empty()
          ? options.signing_key_file
          : (std::filesystem::path(options.state_dir) / kSigningKeyName).string();
  return LoadSigner(path, options.origin);  // never creates a key
}

}  // namespace enclave::adapters::sqlite
