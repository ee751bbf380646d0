// Back up and restore enclaved's state while it runs (issue 13; docs/operator.md "Back up and
// restore"). `enclaved --backup DIR`, `enclaved --verify-backup DIR`, `enclaved --restore DIR`.
//
// A backup is a directory of standalone files and a signed manifest:
//
//   audit_log.db         the query log, copied with SQLite's online backup API (one read
//                        transaction: a consistent snapshot while the server appends), then
//                        verified in full (below); its signed head (the checkpoint the server
//                        signs in the transaction of each commit) covers every entry of the copy
//   checkpoint           that signed head (C2SP note), as the restored state directory's
//                        checkpoint file
//   log_verifier.key     the log's public verifier key (a copy; restore trusts only the one it is
//                        given)
//   release_history.db   the differencing guard's history   } copied after the log: they hold at
//   budget_ledger.db     the privacy-budget ledger           } least what the log records
//   microdata.db         the microdata database (person-level data: protect the backup like the host)
//   MANIFEST             "enclave-state-backup/1", the log's size and root, and each file's size
//                        and SHA-256, as a signed note (the log's key, first line not an origin,
//                        so it can never pass for a checkpoint)
//
// Never in a backup: the secrets log_signing.key (or the systemd credential), record_key.secret,
// the TLS server key and the steward's pseudonymisation key. Keep them in the key escrow; a restore
// needs record_key.secret (and the signing key) in place first.
//
// Verification of a log database, the same at backup and at restore, with the independent
// verifier (client/verifier), not the writer's code: every leaf decodes strictly, has sequence =
// row = index, the log's origin and non-decreasing time; its bytes hash to the stored leaf hash;
// every stored node and the stored tree state equal the tree rebuilt from the leaves; every stored
// checkpoint (history and signed head) verifies with the pinned key and equals the root of its
// prefix; the signed head covers every leaf (at backup and at restore: entries beyond it were
// written around the server, whose start-up refuses them too).
//
// Modes: the backup directory 0700 and its files 0600; a restore writes 0600 files into a state
// directory of mode 0700 (created so; an existing wider one is refused, as enclaved refuses it).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::server {

inline constexpr char kBackupManifestName[] = "MANIFEST";
inline constexpr char kBackupFormatLine[] = "enclave-state-backup/1";

struct BackupOptions {
  std::string state_dir;
  std::string database_path;     // "" : no microdata in the backup
  std::string signing_key_file;  // "" : state_dir/log_signing.key
  std::string to;                // created; must not exist yet
  std::string origin;            // "" : the default log origin
};

struct BackupFile {
  std::string name;
  std::uint64_t bytes = 0;
  std::string sha256_hex;
};

struct BackupReport {
  std::uint64_t log_entries = 0;           // every entry acknowledged before the copy began
  std::vector<BackupFile> files;           // MANIFEST excluded
};

// Copies the state into options.to (written as "<to>.partial-<pid>" and renamed when complete,
// mode 0700/0600). kFailedPrecondition when `to` exists, the state directory holds no query log,
// the signing key is missing or does not match the log; kDataLoss when the copied log does not
// verify (naming the first bad leaf, node or checkpoint) or holds entries beyond its signed head;
// kUnavailable for I/O errors.
absl::StatusOr<BackupReport> BackupState(const BackupOptions& options);

struct VerifiedBackup {
  std::uint64_t log_entries = 0;
  std::vector<BackupFile> files;
  std::int64_t created_unix_ms = 0;
};

// The verifier key file's text (at most 4 KiB). kNotFound / kUnavailable naming the file.
absl::StatusOr<std::string> ReadVerifierKeyFile(const std::string& path);

// Checks a backup against the pinned verifier key ("<name>+<id>+<key>", the one the privacy
// officers hold; never the backup's own copy): the manifest's signature, every listed file's size
// and SHA-256, the log database in full (file comment), the checkpoint covering every entry, and
// SQLite's integrity_check of each database. kDataLoss naming the first thing that is wrong,
// kUnauthenticated for a manifest not signed by that key, kNotFound/kUnavailable for files.
absl::StatusOr<VerifiedBackup> VerifyBackup(const std::string& from,
                                            const std::string& verifier_key,
                                            const std::string& origin = "");

struct RestoreOptions {
  std::string from;
  std::string state_dir;
  std::string database_path;      // where microdata.db goes ("" : not restored)
  std::string verifier_key_file;  // the pinned verifier key (required)
  bool signing_key_configured = false;  // a signing_key_file is set (not state_dir's own key)
  std::string origin;
};

// VerifyBackup, then copies the files into the state directory (and the microdata to
// database_path, unless an identical file is already there), holding the state directory's lock
// (so never while enclaved runs). Refuses (kFailedPrecondition, before anything is written) a
// state directory that already holds a query log, release history or budget ledger (a restore
// never rolls a live log back: move the old directory aside), one without record_key.secret, or
// without log_signing.key when no signing_key_file is configured, one that group or others may use
// (mode wider than 0700, or another user's); and a database_path holding another database.
absl::StatusOr<VerifiedBackup> RestoreState(const RestoreOptions& options);

// The full verification of one query-log database (exposed for tests): kDataLoss naming the first
// problem. Returns (entries, size covered by the latest stored checkpoint).
absl::StatusOr<std::pair<std::uint64_t, std::uint64_t>> VerifyLogDatabase(
    const std::string& db_path, const std::string& verifier_key, const std::string& origin = "");

}  // namespace enclave::server
