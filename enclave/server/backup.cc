// enclaved --backup / --verify-backup / --restore: SQLite online backup, full verification of the
// copied log with the independent verifier, a signed manifest (backup.h).
#include "enclave/server/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/verifier/verifier.h"
#include "enclave/adapters/sqlite/audit_log_store.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/base/file.h"
#include "enclave/base/hex.h"
#include "enclave/base/log.h"
#include "enclave/base/status_macros.h"
#include "enclave/crypto/secret_file.h"
#include "enclave/crypto/sha256_hasher.h"
#include "enclave/server/lock_file.h"

namespace enclave::server {
namespace {

namespace fs = std::filesystem;

constexpr char kLogDb[] = "audit_log.db";
constexpr char kCheckpoint[] = "checkpoint";
constexpr char kVerifierKey[] = "log_verifier.key";
constexpr char kHistoryDb[] = "release_history.db";
constexpr char kLedgerDb[] = "budget_ledger.db";
constexpr char kMicrodataDb[] = "microdata.db";
constexpr char kRecordKeySecret[] = "record_key.secret";
constexpr char kSigningKey[] = "log_signing.key";
constexpr int kBusyTimeoutMs = 10000;
constexpr std::int64_t kTimeToleranceMs = 5 * 60 * 1000;

// The files a backup may hold, and whether each is required.
struct KnownFile {
  const char* name;
  bool required;
  bool database;
};
constexpr KnownFile kKnownFiles[] = {
    {kLogDb, true, true},          {kCheckpoint, true, false},   {kVerifierKey, true, false},
    {kHistoryDb, true, true},      {kLedgerDb, true, true},      {kMicrodataDb, false, true},
};

std::string OriginOr(const std::string& origin) {
  return origin.empty() ? std::string(adapters::sqlite::kDefaultLogOrigin) : origin;
}

absl::Status DataLoss(std::string_view what) {
  return absl::DataLossError("backup: " + std::string(what));
}

// --- SQLite ---------------------------------------------------------------------------------------

struct Db {
  sqlite3* db = nullptr;
  ~Db() {
    if (db != nullptr) sqlite3_close_v2(db);
  }
};

struct Stmt {
  sqlite3_stmt* stmt = nullptr;
  ~Stmt() { sqlite3_finalize(stmt); }
};

absl::Status SqliteError(std::string_view what, sqlite3* db, int rc) {
  return absl::UnavailableError("backup: " + std::string(what) + " (" +
                                (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + ")");
}

absl::Status OpenDb(const std::string& path, int flags, Db& out) {
  const int rc = sqlite3_open_v2(path.c_str(), &out.db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteError(absl::StrCat("cannot open ", path), out.db, rc);
  sqlite3_busy_timeout(out.db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(out.db, 1);
  return absl::OkStatus();
}

std::string Blob(sqlite3_stmt* s, int col) {
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return p == nullptr || n <= 0
             ? std::string()
             : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

// One consistent snapshot of `from` (a single read transaction, so concurrent writers go on and
// are not seen), written to `to` as a standalone rollback-journal database, fsynced, mode 0600.
absl::Status OnlineCopy(const std::string& from, const std::string& to) {
  Db src;
  ENCLAVE_RETURN_IF_ERROR(OpenDb(from, SQLITE_OPEN_READONLY, src));
  Db dst;
  ENCLAVE_RETURN_IF_ERROR(OpenDb(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, dst));
  for (int attempt = 0;; ++attempt) {
    sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (b == nullptr) return SqliteError(absl::StrCat("cannot start copying ", from), dst.db, 0);
    const int rc = sqlite3_backup_step(b, -1);  // every page in one step: one snapshot
    sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE) break;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return SqliteError(absl::StrCat("cannot copy ", from), nullptr, rc);
  }
  char* err = nullptr;
  if (sqlite3_exec(dst.db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string message = err != nullptr ? err : "?";
    sqlite3_free(err);
    return absl::UnavailableError(absl::StrCat("backup: cannot finish ", to, " (", message, ")"));
  }
  return absl::OkStatus();
}

absl::Status IntegrityCheck(const std::string& path) {
  Db db;
  ENCLAVE_RETURN_IF_ERROR(OpenDb(path, SQLITE_OPEN_READONLY, db));
  Stmt s;
  if (sqlite3_prepare_v2(db.db, "PRAGMA integrity_check", -1, &s.stmt, nullptr) != SQLITE_OK) {
    return DataLoss(absl::StrCat(fs::path(path).filename().string(), " is not an SQLite database"));
  }
  const int rc = sqlite3_step(s.stmt);
  const std::string result = rc == SQLITE_ROW ? Blob(s.stmt, 0) : std::string();
  if (result != "ok") {
    return DataLoss(absl::StrCat(fs::path(path).filename().string(),
                                 " fails SQLite's integrity check"));
  }
  return absl::OkStatus();
}

// --- Files ----------------------------------------------------------------------------------------

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("backup: cannot open ", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("backup: cannot fsync ", path));
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, std::string_view content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("backup: cannot create ", path));
  if (!base::WriteAll(fd, content, path).ok()) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("backup: cannot write ", path));
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("backup: cannot fsync ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("backup: ", path, " is missing"));
    return absl::UnavailableError(absl::StrCat("backup: cannot read ", path));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("backup: cannot read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) {
      ::close(fd);
      return DataLoss(absl::StrCat(path, " is larger than ", max, " bytes"));
    }
  }
  ::close(fd);
  return out;
}

// Size and SHA-256 (hex) of a file, read in 1 MiB chunks.
absl::StatusOr<BackupFile> HashFile(const std::string& path, const std::string& name) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("backup: ", path, " is missing"));
    return absl::UnavailableError(absl::StrCat("backup: cannot read ", path));
  }
  crypto::Sha256Hasher hasher;
  std::vector<char> buf(1 << 20);
  BackupFile file;
  file.name = name;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("backup: cannot read ", path));
    }
    if (n == 0) break;
    hasher.Update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    file.bytes += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  const crypto::Sha256Digest d = hasher.Finish();
  file.sha256_hex = base::Hex(d);
  return file;
}

// A failed step of a restore, worded as one.
absl::Status Restored(const absl::Status& s) {
  if (s.ok()) return s;
  return absl::UnavailableError(absl::StrCat("restore: ", s.message()));
}

// Copies a file to `to` (created exclusively, `mode`), fsynced.
absl::Status CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("restore: cannot copy ", from, " to ", to, ": ", ec.message()));
  }
  fs::permissions(to, static_cast<fs::perms>(mode), fs::perm_options::replace, ec);
  return FsyncPath(to, false);
}

bool Exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

std::string Hex(const verifier::Hash& h) { return base::Hex(h); }

// --- The log database -----------------------------------------------------------------------------

struct LogCheck {
  std::uint64_t entries = 0;
  verifier::Hash root{};
  std::uint64_t latest_checkpoint = 0;  // the most a signed checkpoint (head or history) covers
  std::string latest_note;  // "" when the database holds no checkpoint
  bool has_head = false;    // the database holds a signed head (every commit stores one)
  std::uint64_t head_size = 0;
};

absl::StatusOr<LogCheck> CheckLog(const std::string& db_path, const verifier::PinnedKey& key,
                                  const std::string& origin) {
  Db db;
  ENCLAVE_RETURN_IF_ERROR(OpenDb(db_path, SQLITE_OPEN_READONLY, db));
  // Every level of the tree rebuilt from the leaves: levels[0] are the leaf hashes.
  std::vector<std::vector<verifier::Hash>> levels(1);
  {
    Stmt s;
    if (sqlite3_prepare_v2(db.db, "SELECT seq, bytes, hash FROM leaves ORDER BY seq", -1, &s.stmt,
                           nullptr) != SQLITE_OK) {
      return DataLoss("the query log has no leaves table");
    }
    std::int64_t last_time = 0;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      const std::uint64_t i = levels[0].size();
      if (sqlite3_column_int64(s.stmt, 0) != static_cast<std::int64_t>(i)) {
        return DataLoss(absl::StrCat("query log: leaf ", i, " is missing"));
      }
      const std::string bytes = Blob(s.stmt, 1);
      const verifier::Hash hash = verifier::LeafHash(bytes);
      const std::string stored = Blob(s.stmt, 2);
      if (stored.size() != hash.size() || std::memcmp(stored.data(), hash.data(), hash.size()) != 0) {
        return DataLoss(absl::StrCat("query log: the bytes of leaf ", i,
                                     " do not hash to its stored hash (the entry was changed)"));
      }
      absl::StatusOr<verifier::LeafView> leaf = verifier::ParseLeaf(bytes);
      if (!leaf.ok()) {
        return DataLoss(absl::StrCat("query log: leaf ", i, " does not decode (",
                                     leaf.status().message(), ")"));
      }
      if (leaf->sequence != i) {
        return DataLoss(absl::StrCat("query log: leaf ", i, " says it is entry ", leaf->sequence));
      }
      if (leaf->origin != origin) {
        return DataLoss(absl::StrCat("query log: leaf ", i, " belongs to another log (origin \"",
                                     leaf->origin, "\", expected \"", origin, "\")"));
      }
      // The writer never steps time back; the officer's verifier allows 5 minutes, so do we.
      if (leaf->time_unix_ms + kTimeToleranceMs < last_time) {
        return DataLoss(absl::StrCat("query log: leaf ", i, " is older than leaf ", i - 1));
      }
      last_time = std::max(last_time, leaf->time_unix_ms);
      levels[0].push_back(hash);
      // Every perfect subtree this leaf completes.
      std::size_t level = 0;
      while (levels[level].size() % 2 == 0) {
        if (levels.size() == level + 1) levels.emplace_back();
        const std::size_t n = levels[level].size();
        levels[level + 1].push_back(verifier::NodeHash(levels[level][n - 2], levels[level][n - 1]));
        ++level;
      }
    }
    if (rc != SQLITE_DONE) return SqliteError("cannot read the leaves", db.db, rc);
  }
  LogCheck out;
  out.entries = levels[0].size();
  verifier::TreeBuilder all;
  for (const verifier::Hash& h : levels[0]) all.Add(h);
  out.root = all.Root();

  // The stored nodes are exactly the rebuilt ones.
  {
    std::uint64_t expected = 0;
    for (std::size_t l = 1; l < levels.size(); ++l) expected += levels[l].size();
    Stmt s;
    if (sqlite3_prepare_v2(db.db, "SELECT level, idx, hash FROM nodes", -1, &s.stmt, nullptr) !=
        SQLITE_OK) {
      return DataLoss("the query log has no nodes table");
    }
    std::uint64_t rows = 0;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      ++rows;
      const std::int64_t level = sqlite3_column_int64(s.stmt, 0);
      const std::int64_t idx = sqlite3_column_int64(s.stmt, 1);
      const std::string stored = Blob(s.stmt, 2);
      const bool known = level >= 1 && static_cast<std::uint64_t>(level) < levels.size() &&
                         idx >= 0 &&
                         static_cast<std::uint64_t>(idx) < levels[static_cast<std::size_t>(level)].size();
      if (!known) {
        return DataLoss(absl::StrCat("query log: tree node (", level, ", ", idx,
                                     ") covers leaves the log does not hold"));
      }
      const verifier::Hash& want =
          levels[static_cast<std::size_t>(level)][static_cast<std::size_t>(idx)];
      if (stored.size() != want.size() || std::memcmp(stored.data(), want.data(), want.size()) != 0) {
        return DataLoss(absl::StrCat("query log: tree node (", level, ", ", idx,
                                     ") differs from the tree of the leaves"));
      }
    }
    if (rc != SQLITE_DONE) return SqliteError("cannot read the tree nodes", db.db, rc);
    if (rows != expected) {
      return DataLoss(absl::StrCat("query log: ", rows, " tree nodes stored, ", expected,
                                   " expected from the leaves"));
    }
  }
  // The stored tree state (size and compact range) is that of the leaves.
  {
    Stmt s;
    if (sqlite3_prepare_v2(db.db, "SELECT size, compact FROM state WHERE id = 1", -1, &s.stmt,
                           nullptr) != SQLITE_OK ||
        sqlite3_step(s.stmt) != SQLITE_ROW) {
      return DataLoss("query log: the tree state is missing");
    }
    const std::uint64_t size = static_cast<std::uint64_t>(sqlite3_column_int64(s.stmt, 0));
    const std::string compact = Blob(s.stmt, 1);
    std::vector<verifier::Hash> hashes(compact.size() / 32);
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      std::memcpy(hashes[i].data(), compact.data() + 32 * i, 32);
    }
    absl::StatusOr<verifier::TreeBuilder> resumed =
        compact.size() % 32 == 0 ? verifier::TreeBuilder::Resume(size, hashes)
                                 : absl::InvalidArgumentError("bad length");
    if (size != out.entries || !resumed.ok() || resumed->Root() != out.root) {
      return DataLoss(absl::StrCat("query log: the stored tree state (", size,
                                   " entries) differs from the tree of the ", out.entries,
                                   " leaves"));
    }
  }
  // Every stored checkpoint: signed by the key, root of its prefix.
  {
    Stmt s;
    if (sqlite3_prepare_v2(db.db, "SELECT size, note FROM checkpoints ORDER BY size", -1, &s.stmt,
                           nullptr) != SQLITE_OK) {
      return DataLoss("the query log has no checkpoints table");
    }
    verifier::TreeBuilder prefix;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      const std::int64_t size = sqlite3_column_int64(s.stmt, 0);
      const std::string note = Blob(s.stmt, 1);
      absl::StatusOr<verifier::CheckpointView> cp = verifier::VerifyCheckpointNote(note, key, origin);
      if (!cp.ok()) {
        return DataLoss(absl::StrCat("query log: the checkpoint at size ", size,
                                     " does not verify with the log key ", key.name, " (",
                                     cp.status().message(), ")"));
      }
      if (static_cast<std::int64_t>(cp->size) != size || cp->size > out.entries) {
        return DataLoss(absl::StrCat("query log: the checkpoint at size ", size, " covers ",
                                     cp->size, " of ", out.entries, " entries"));
      }
      while (prefix.size() < cp->size) prefix.Add(levels[0][prefix.size()]);
      if (prefix.Root() != cp->root) {
        return DataLoss(absl::StrCat("query log: the first ", cp->size,
                                     " entries do not have the root their signed checkpoint "
                                     "gives (the history was rewritten)"));
      }
      out.latest_checkpoint = cp->size;
      out.latest_note = note;
    }
    if (rc != SQLITE_DONE) return SqliteError("cannot read the checkpoints", db.db, rc);
  }
  // The signed head: the checkpoint the writer signs in the transaction of every commit, so it
  // covers every entry the server acknowledged (audit_log_store.h). Signed by the key, root of its
  // prefix; a log from before signed heads has no such table or row.
  {
    Stmt s;
    if (sqlite3_prepare_v2(db.db, "SELECT size, note FROM signed_head WHERE id = 1", -1, &s.stmt,
                           nullptr) == SQLITE_OK) {
      const int rc = sqlite3_step(s.stmt);
      if (rc == SQLITE_ROW) {
        const std::int64_t size = sqlite3_column_int64(s.stmt, 0);
        const std::string note = Blob(s.stmt, 1);
        absl::StatusOr<verifier::CheckpointView> cp =
            verifier::VerifyCheckpointNote(note, key, origin);
        if (!cp.ok()) {
          return DataLoss(absl::StrCat("query log: the signed head (size ", size,
                                       ") does not verify with the log key ", key.name, " (",
                                       cp.status().message(), ")"));
        }
        if (static_cast<std::int64_t>(cp->size) != size || cp->size > out.entries) {
          return DataLoss(absl::StrCat("query log: the signed head at size ", size, " covers ",
                                       cp->size, " of ", out.entries, " entries"));
        }
        verifier::TreeBuilder prefix;
        for (std::uint64_t i = 0; i < cp->size; ++i) prefix.Add(levels[0][i]);
        if (prefix.Root() != cp->root) {
          return DataLoss(absl::StrCat("query log: the first ", cp->size,
                                       " entries do not have the root the signed head gives (the "
                                       "history was rewritten)"));
        }
        out.has_head = true;
        out.head_size = cp->size;
        // Equal sizes: the head (the same tree, signed at a commit rather than in the history).
        if (cp->size >= out.latest_checkpoint || out.latest_note.empty()) {
          out.latest_checkpoint = cp->size;
          out.latest_note = note;
        }
      } else if (rc != SQLITE_DONE) {
        return SqliteError("cannot read the signed head", db.db, rc);
      }
    }
  }
  return out;
}

absl::StatusOr<verifier::PinnedKey> PinnedKeyOf(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  absl::StatusOr<verifier::PinnedKey> key = verifier::ParseVerifierKey(text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the verifier key is not \"<name>+<hex id>+<base64 key>\" (", key.status().message(), ")"));
  }
  return key;
}

// --- The manifest ---------------------------------------------------------------------------------

struct Manifest {
  std::string origin;
  std::int64_t created_unix_ms = 0;
  std::uint64_t log_size = 0;
  std::string log_root_hex;
  std::vector<BackupFile> files;
};

std::string ManifestText(const Manifest& m) {
  std::string text = absl::StrCat(kBackupFormatLine, "\norigin ", m.origin, "\ncreated_unix_ms ",
                                  m.created_unix_ms, "\nlog_size ", m.log_size, "\nlog_root ",
                                  m.log_root_hex, "\n");
  for (const BackupFile& f : m.files) {
    absl::StrAppend(&text, "file ", f.name, " ", f.bytes, " ", f.sha256_hex, "\n");
  }
  return text;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

template <typename Int>
bool ParseDecimal(std::string_view text, Int* out) {
  if (text.empty() || text.size() > 20) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

absl::StatusOr<Manifest> ParseManifest(std::string_view text) {
  Manifest m;
  std::vector<std::string_view> lines = Split(text, '\n');
  if (lines.empty() || lines.front() != kBackupFormatLine) {
    return DataLoss(absl::StrCat("MANIFEST does not start with ", kBackupFormatLine));
  }
  std::set<std::string> seen;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string_view> f = Split(lines[i], ' ');
    bool ok = false;
    if (f.size() == 2 && f[0] == "origin") {
      m.origin = std::string(f[1]);
      ok = true;
    } else if (f.size() == 2 && f[0] == "created_unix_ms") {
      ok = ParseDecimal(f[1], &m.created_unix_ms);
    } else if (f.size() == 2 && f[0] == "log_size") {
      ok = ParseDecimal(f[1], &m.log_size);
    } else if (f.size() == 2 && f[0] == "log_root") {
      m.log_root_hex = std::string(f[1]);
      ok = m.log_root_hex.size() == 64;
    } else if (f.size() == 4 && f[0] == "file") {
      BackupFile file;
      file.name = std::string(f[1]);
      file.sha256_hex = std::string(f[3]);
      ok = ParseDecimal(f[2], &file.bytes) && file.sha256_hex.size() == 64 &&
           std::any_of(std::begin(kKnownFiles), std::end(kKnownFiles),
                       [&](const KnownFile& k) { return file.name == k.name; }) &&
           seen.insert(file.name).second;
      if (ok) m.files.push_back(std::move(file));
    }
    if (!ok) return DataLoss(absl::StrCat("MANIFEST line ", i + 1, " is not understood"));
  }
  for (const KnownFile& k : kKnownFiles) {
    if (k.required && seen.count(k.name) == 0) {
      return DataLoss(absl::StrCat("MANIFEST lists no ", k.name));
    }
  }
  return m;
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::string> ReadVerifierKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, 4096);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--verifier-key: ", text.status().message()));
  }
  return text;
}

absl::StatusOr<std::pair<std::uint64_t, std::uint64_t>> VerifyLogDatabase(
    const std::string& db_path, const std::string& verifier_key, const std::string& origin) {
  ENCLAVE_ASSIGN_OR_RETURN(verifier::PinnedKey key, PinnedKeyOf(verifier_key));
  ENCLAVE_ASSIGN_OR_RETURN(LogCheck check, CheckLog(db_path, key, OriginOr(origin)));
  return std::make_pair(check.entries, check.latest_checkpoint);
}

absl::StatusOr<BackupReport> BackupState(const BackupOptions& options) {
  const std::string origin = OriginOr(options.origin);
  const fs::path state(options.state_dir);
  if (options.to.empty()) return absl::InvalidArgumentError("backup: no target directory given");
  const fs::path to = fs::absolute(options.to).lexically_normal();
  if (Exists(to)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup: ", to.string(), " already exists; give a new directory for each backup"));
  }
  if (!Exists(state / kLogDb)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup: ", (state / kLogDb).string(),
        " does not exist: state_dir is not the state directory of a server that has started"));
  }
  for (const char* name : {kHistoryDb, kLedgerDb}) {
    if (!Exists(state / name)) {
      return absl::FailedPreconditionError(
          absl::StrCat("backup: ", (state / name).string(), " does not exist"));
    }
  }
  adapters::sqlite::AuditLogOptions log_options;
  log_options.state_dir = options.state_dir;
  log_options.signing_key_file = options.signing_key_file;
  log_options.origin = origin;
  absl::StatusOr<audit::NoteSigner> signer = adapters::sqlite::LoadLogSigner(log_options);
  if (!signer.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup: the log-signing key is needed to sign the backup's manifest: ",
        signer.status().message()));
  }
  ENCLAVE_ASSIGN_OR_RETURN(verifier::PinnedKey key, PinnedKeyOf(signer->VerifierKey()));

  const fs::path partial = fs::path(absl::StrCat(to.string(), ".partial-", ::getpid()));
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (!fs::create_directory(partial, ec) || ec) {
    return absl::UnavailableError(
        absl::StrCat("backup: cannot create ", partial.string(), ": ", ec.message()));
  }
  fs::permissions(partial, fs::perms::owner_all, fs::perm_options::replace, ec);
  auto fail = [&](absl::Status s) {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    return s;
  };

  // 1. The log first: the history and the ledger copied after it hold at least what it records.
  if (absl::Status s = OnlineCopy((state / kLogDb).string(), (partial / kLogDb).string()); !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<LogCheck> check = CheckLog((partial / kLogDb).string(), key, origin);
  if (!check.ok()) {
    return fail(absl::Status(check.status().code(),
                             absl::StrCat("the copied query log does not verify with the log's "
                                          "signing key; nothing was backed up: ",
                                          check.status().message())));
  }
  BackupReport report;
  report.log_entries = check->entries;
  // 2. The copy's checkpoint: its signed head, which the server stored in the same transaction
  // as its last entry. Entries beyond every signed checkpoint were written around the server (its
  // start-up refuses them too): never sign them into a backup.
  if (!check->has_head || check->head_size != check->entries) {
    return fail(absl::DataLossError(absl::StrCat(
        "the copied query log holds ", check->entries, " entries but ",
        check->has_head ? absl::StrCat("its signed head covers only ", check->head_size)
                        : std::string("no signed head (every commit of this version stores one)"),
        ": entries were written outside the server; nothing was backed up (enclaved's start-up "
        "refuses this log too: tell the privacy officer)")));
  }
  const std::string note = check->latest_note;  // the head (a history row never outgrows it)
  if (absl::Status s = WriteFile((partial / kCheckpoint).string(), note, 0600); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = WriteFile((partial / kVerifierKey).string(),
                                 signer->VerifierKey() + "\n", 0600);
      !s.ok()) {
    return fail(s);
  }
  // 3. The guard's history and the budget ledger, then the microdata.
  for (const char* name : {kHistoryDb, kLedgerDb}) {
    if (absl::Status s = OnlineCopy((state / name).string(), (partial / name).string()); !s.ok()) {
      return fail(s);
    }
  }
  if (!options.database_path.empty()) {
    if (absl::Status s = OnlineCopy(options.database_path, (partial / kMicrodataDb).string());
        !s.ok()) {
      return fail(s);
    }
  }
  // 4. Each database whole, every file's digest in the signed manifest.
  Manifest manifest;
  manifest.origin = origin;
  manifest.created_unix_ms = NowUnixMs();
  manifest.log_size = check->entries;
  manifest.log_root_hex = Hex(check->root);
  for (const KnownFile& k : kKnownFiles) {
    const fs::path p = partial / k.name;
    if (!Exists(p)) continue;
    if (k.database) {
      if (absl::Status s = IntegrityCheck(p.string()); !s.ok()) return fail(s);
    }
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
    if (absl::Status s = FsyncPath(p.string(), false); !s.ok()) return fail(s);
    absl::StatusOr<BackupFile> file = HashFile(p.string(), k.name);
    if (!file.ok()) return fail(file.status());
    manifest.files.push_back(*file);
  }
  absl::StatusOr<std::string> signed_manifest = signer->Sign(ManifestText(manifest));
  if (!signed_manifest.ok()) return fail(signed_manifest.status());
  if (absl::Status s =
          WriteFile((partial / kBackupManifestName).string(), *signed_manifest, 0600);
      !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = FsyncPath(partial.string(), true); !s.ok()) return fail(s);
  fs::rename(partial, to, ec);
  if (ec) {
    return fail(absl::UnavailableError(
        absl::StrCat("backup: cannot rename ", partial.string(), " to ", to.string())));
  }
  if (absl::Status s = FsyncPath(to.parent_path().string(), true); !s.ok()) return s;
  report.files = manifest.files;
  base::LogInfo("state_backed_up", {{"entries", base::RowCount{static_cast<std::int64_t>(
                                                    report.log_entries)}}});
  return report;
}

absl::StatusOr<VerifiedBackup> VerifyBackup(const std::string& from,
                                            const std::string& verifier_key,
                                            const std::string& origin_in) {
  const std::string origin = OriginOr(origin_in);
  const fs::path dir(from);
  ENCLAVE_ASSIGN_OR_RETURN(verifier::PinnedKey key, PinnedKeyOf(verifier_key));
  std::string_view trimmed = verifier_key;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) {
    trimmed.remove_suffix(1);
  }
  ENCLAVE_ASSIGN_OR_RETURN(audit::NoteVerifier note_verifier,
                           audit::NoteVerifier::FromVerifierKey(trimmed));
  ENCLAVE_ASSIGN_OR_RETURN(std::string manifest_note,
                           ReadSmallFile((dir / kBackupManifestName).string(), audit::kMaxNoteBytes));
  absl::StatusOr<std::string> text =
      audit::OpenNote(manifest_note, std::span<const audit::NoteVerifier>(&note_verifier, 1));
  if (!text.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "backup: ", (dir / kBackupManifestName).string(),
        " is not signed by the log key ", key.name,
        " that was given (a changed manifest, or a backup of another log): ",
        text.status().message()));
  }
  ENCLAVE_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(*text));
  if (manifest.origin != origin) {
    return DataLoss(absl::StrCat("the backup is of log \"", manifest.origin, "\", not \"", origin,
                                 "\""));
  }
  for (const BackupFile& want : manifest.files) {
    ENCLAVE_ASSIGN_OR_RETURN(BackupFile got, HashFile((dir / want.name).string(), want.name));
    if (got.bytes != want.bytes || got.sha256_hex != want.sha256_hex) {
      return DataLoss(absl::StrCat(want.name,
                                   " differs from the signed manifest (size or SHA-256): the "
                                   "backup was changed or damaged"));
    }
  }
  ENCLAVE_ASSIGN_OR_RETURN(LogCheck check, CheckLog((dir / kLogDb).string(), key, origin));
  if (check.entries != manifest.log_size || Hex(check.root) != manifest.log_root_hex) {
    return DataLoss("the query log differs from the size and root in the signed manifest");
  }
  if (!check.has_head || check.head_size != check.entries) {
    return DataLoss(absl::StrCat(
        "the query log's signed head covers ",
        check.has_head ? absl::StrCat(check.head_size) : std::string("none"), " of its ",
        check.entries, " entries; a backup made by enclaved --backup is covered to its last entry "
        "(enclaved's start-up would refuse the rest)"));
  }
  ENCLAVE_ASSIGN_OR_RETURN(std::string file_note,
                           ReadSmallFile((dir / kCheckpoint).string(), audit::kMaxNoteBytes));
  if (file_note != check.latest_note) {
    return DataLoss("the checkpoint file differs from the query log's latest checkpoint");
  }
  for (const KnownFile& k : kKnownFiles) {
    if (k.database && Exists(dir / k.name)) {
      ENCLAVE_RETURN_IF_ERROR(IntegrityCheck((dir / k.name).string()));
    }
  }
  VerifiedBackup out;
  out.log_entries = check.entries;
  out.files = manifest.files;
  out.created_unix_ms = manifest.created_unix_ms;
  return out;
}

absl::StatusOr<VerifiedBackup> RestoreState(const RestoreOptions& options) {
  if (options.verifier_key_file.empty()) {
    return absl::InvalidArgumentError(
        "restore: --verifier-key FILE is required: the log's verifier key as the privacy "
        "officers pinned it (a backup cannot vouch for itself)");
  }
  ENCLAVE_ASSIGN_OR_RETURN(std::string key_text, ReadVerifierKeyFile(options.verifier_key_file));
  ENCLAVE_ASSIGN_OR_RETURN(VerifiedBackup backup,
                           VerifyBackup(options.from, key_text, options.origin));

  const fs::path state(options.state_dir);
  std::error_code ec;
  // The state directory as enclaved wants it: created 0700, an existing one refused when group or
  // others may use it (enclaved would not start on it).
  if (!Exists(state)) {
    fs::create_directories(state.parent_path(), ec);
    if (::mkdir(state.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("restore: cannot create ", state.string(), ": ",
                                                 std::strerror(errno)));
    }
  }
  {
    struct stat st {};
    if (::stat(state.c_str(), &st) != 0) {
      return absl::UnavailableError(absl::StrCat("restore: cannot stat ", state.string(), ": ",
                                                 std::strerror(errno)));
    }
    if (absl::Status s = crypto::CheckPrivateDirStat("state_dir", state.string(), st); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("restore: ", s.message()));
    }
  }
  ENCLAVE_ASSIGN_OR_RETURN(LockFile lock, LockFile::Acquire((state / "enclaved.lock").string()));
  for (const char* name : {kLogDb, "audit_log.db-wal", kCheckpoint, kHistoryDb, kLedgerDb}) {
    if (Exists(state / name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "restore: ", (state / name).string(),
          " exists; a restore never replaces a query log (that would roll it back). Move the "
          "state directory aside, keep it for the privacy officer, and restore into an empty "
          "one that holds only the secrets"));
    }
  }
  if (!Exists(state / kRecordKeySecret)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore: put ", kRecordKeySecret, " from your key escrow into ", state.string(),
        " first (mode 0600): backups never hold it, and a new one would change every perturbed "
        "value"));
  }
  if (!options.signing_key_configured && !Exists(state / kSigningKey)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore: put ", kSigningKey, " from your key escrow into ", state.string(),
        " first (mode 0600), or configure audit_log.signing_key_file: backups never hold it"));
  }
  const bool has_microdata =
      std::any_of(backup.files.begin(), backup.files.end(),
                  [](const BackupFile& f) { return f.name == kMicrodataDb; });
  bool copy_microdata = false;
  if (has_microdata && !options.database_path.empty()) {
    if (Exists(options.database_path)) {
      ENCLAVE_ASSIGN_OR_RETURN(BackupFile there, HashFile(options.database_path, kMicrodataDb));
      auto it = std::find_if(backup.files.begin(), backup.files.end(),
                             [](const BackupFile& f) { return f.name == kMicrodataDb; });
      if (there.sha256_hex != it->sha256_hex) {
        return absl::FailedPreconditionError(absl::StrCat(
            "restore: ", options.database_path,
            " holds another database than the backup's microdata.db; move it aside first"));
      }
    } else {
      copy_microdata = true;
    }
  }

  const fs::path from(options.from);
  for (const char* name : {kLogDb, kHistoryDb, kLedgerDb, kVerifierKey, kCheckpoint}) {
    // The checkpoint last: until it is in place, a half-restored directory starts no server
    // (a log with entries and no checkpoint is refused).
    const fs::path tmp = state / absl::StrCat(name, ".restore-tmp");
    fs::remove(tmp, ec);
    ENCLAVE_RETURN_IF_ERROR(CopyFile((from / name).string(), tmp.string(), 0600));
    ENCLAVE_RETURN_IF_ERROR(Restored(base::ReplaceFile(tmp.string(), (state / name).string())));
  }
  if (copy_microdata) {
    const fs::path target(options.database_path);
    const fs::path tmp = fs::path(absl::StrCat(target.string(), ".restore-tmp"));
    fs::remove(tmp, ec);
    ENCLAVE_RETURN_IF_ERROR(CopyFile((from / kMicrodataDb).string(), tmp.string(), 0600));
    ENCLAVE_RETURN_IF_ERROR(Restored(base::ReplaceFile(tmp.string(), target.string())));
  }
  base::LogInfo("state_restored", {{"entries", base::RowCount{static_cast<std::int64_t>(
                                                  backup.log_entries)}}});
  return backup;
}

}  // namespace enclave::server
