// The tamper-evident query log in SQLite (issue 4; docs/security.md §1, docs/audit-log.md):
// an RFC 9162 Merkle tree over versioned leaves (audit::EncodeLeaf), with signed C2SP
// checkpoints kept both in the database and in `state_dir/checkpoint`.
//
// Files in `state_dir`:
//   audit_log.db        leaves(seq, type, request_id, bytes, hash), nodes(level, idx, hash) for
//                       levels >= 1, state (tree size + compact range), signed_head (the
//                       checkpoint of the last commit), checkpoints(size, note) (the history);
//                       WAL, synchronous=FULL, append-only triggers
//   log_signing.key     Ed25519 PKCS#8 PEM (SECRET, 0600), created on first start if absent
//   log_verifier.key    the verifier key string the privacy officer pins (public)
//   checkpoint          the latest signed checkpoint note (temp + fsync + rename + dir fsync)
//
// Durability: one writer thread drains the queue of pending Appends (group commit): it assigns
// sequence numbers, encodes the leaves, inserts leaves and nodes in one BEGIN IMMEDIATE
// transaction together with a signed checkpoint of the tree it makes (the signed head), commits,
// and only then wakes each waiter: no acknowledged entry is ever outside a signed checkpoint, so
// a tail rewritten after the acknowledgement no longer matches a signature. The checkpoint
// history and the checkpoint file are written every checkpoint_every_entries /
// checkpoint_interval and at Close. A failed commit fails every Append of
// that batch, and the store then refuses every later Append (kUnavailable; fail closed, since
// the state on disk after a failed fsync is unknown): restart the server, whose start-up
// re-checks the log.
//
// Start-up (Open) re-reads every entry: it refuses with kFailedPrecondition, naming the first bad
// entry by its index (never its content), when an entry's stored bytes do not hash to its stored
// leaf hash or do not decode as the entry its row says; and when the database is behind a signed
// checkpoint (head, history or file), its root at that size differs (rollback or rewritten
// history), entries lie beyond every signed checkpoint, its tree state does not match its leaves,
// or the database holds entries but the checkpoint file is missing. A
// fresh state directory (no database entries, no checkpoint) is initialised and gets a signed
// checkpoint of size 0 at once. Accepted entries left open by a crash are closed by one
// `recovery` entry listing them.
//
//   AuditLogOptions options;
//   options.state_dir = "/var/lib/enclave";
//   ENCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<AuditLogStore> log, AuditLogStore::Open(options));
//   ENCLAVE_RETURN_IF_ERROR(log->Append(entry));     // durable when OK
//   ...
//   ENCLAVE_RETURN_IF_ERROR(log->Close());           // final signed checkpoint
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/audit/checkpoint.h"
#include "enclave/audit/leaf.h"
#include "enclave/audit/merkle.h"
#include "enclave/core/audit_reader.h"
#include "enclave/core/query_log.h"

namespace enclave::adapters::sqlite {

inline constexpr char kDefaultLogOrigin[] = "udc-lv.enclave/query-log";

struct AuditLogOptions {
  std::string state_dir;
  std::string origin = kDefaultLogOrigin;  // also the signing key's name
  // The signing key file (e.g. a systemd credential): must exist, is never created. Empty:
  // state_dir/log_signing.key, created on first start.
  std::string signing_key_file;
  // Every commit stores a signed checkpoint of its tree (the signed head) before it is
  // acknowledged, and start-up refuses entries beyond every signed checkpoint. false: ONLY for
  // the benchmark's baseline and the tests' negative controls; never in a server.
  bool checkpoint_every_commit = true;
  // Keep a checkpoint in the history table and the checkpoint file after this many new entries
  // (0: never by count) ...
  std::uint64_t checkpoint_every_entries = 1000;
  // ... and on this timer when the tree grew (0: no timer). Always at Close.
  std::chrono::milliseconds checkpoint_interval{60000};
  // At most this many entries per commit.
  std::size_t max_batch = 512;
  // When the last commit covered several appenders, wait up to this long for as many to queue
  // again before the next commit (0: commit at once). Trades a little latency for fewer fsyncs.
  std::chrono::microseconds group_commit_delay{500};
  // false: synchronous=OFF. ONLY for the benchmark's baseline; never in a server.
  bool durable = true;
  // Server time in ms since the epoch (UTC); tests inject a clock. Defaults to the system clock.
  std::function<std::int64_t()> clock_ms;
  // Test hook, called inside each batch's transaction just before COMMIT with the first
  // sequence number of the batch: a non-OK status is treated as a failed commit.
  std::function<absl::Status(std::uint64_t first_sequence)> before_commit_for_test;
  // Test hook: the name of a registered sqlite3_vfs for the writer's connection ("" = default).
  std::string vfs_for_test;
};

// Converts an entry of the core port to a leaf (docs/audit-log.md §2 mapping): caller-supplied
// text through audit::SanitizeLeafText, hex digests to raw bytes (kInvalidArgument for a digest
// that is not 64 hex characters). Sequence, time, origin and `related` are left to the caller.
absl::StatusOr<audit::LogLeaf> LeafFromEntry(const core::QueryLogEntry& entry);

class AuditLogStore final : public core::QueryLog, public audit::TreeHashStore {
 public:
  // See the file comment. kFailedPrecondition for a rolled-back, rewritten or inconsistent log
  // or a bad key file; kUnavailable when files cannot be read or written.
  static absl::StatusOr<std::unique_ptr<AuditLogStore>> Open(AuditLogOptions options);
  // Close()s if not yet closed.
  ~AuditLogStore() override;
  AuditLogStore(const AuditLogStore&) = delete;
  AuditLogStore& operator=(const AuditLogStore&) = delete;

  // Thread-safe. Returns only once this entry is durable (or failed). kUnavailable if the
  // commit failed or the store is closed or failed; kInvalidArgument if the entry cannot be
  // encoded (a field over its limit, a malformed digest).
  absl::Status Append(const core::QueryLogEntry& entry) override;
  // The same for a leaf built by the caller (server start details, policy loads, ...):
  // origin, sequence and time are assigned here. Returns the sequence number.
  absl::StatusOr<std::uint64_t> AppendLeaf(audit::LogLeaf leaf);

  // A round trip through the writer thread, queued behind pending appends: OK when the writer
  // runs and no commit has failed; kUnavailable when a commit failed or the store is closed.
  // Blocks while the writer is stuck (enclaved's systemd watchdog relies on that). Writes nothing.
  absl::Status Ping();

  // Drains pending appends, signs a final checkpoint of every acknowledged entry, and stops the
  // writer. Later Appends fail with kUnavailable. Idempotent.
  absl::Status Close();

  // --- Read side (for the AuditService). Thread-safe; sees committed entries only. ------------
  // Number of durable leaves.
  std::uint64_t Size() const override;
  absl::StatusOr<audit::Hash> PerfectSubtreeHash(int level, std::uint64_t index) const override;
  audit::Hash Root() const;
  absl::StatusOr<std::vector<audit::Hash>> InclusionProof(std::uint64_t index,
                                                          std::uint64_t size) const;
  absl::StatusOr<std::vector<audit::Hash>> ConsistencyProof(std::uint64_t size1,
                                                            std::uint64_t size2) const;
  // Leaf bytes of [begin, end). kInvalidArgument unless begin <= end <= Size().
  absl::StatusOr<std::vector<std::string>> ReadLeaves(std::uint64_t begin,
                                                      std::uint64_t end) const;
  // The compact range of leaves [0, size) (largest subtree first), for incremental bundles.
  absl::StatusOr<std::vector<audit::Hash>> CompactRangeAt(std::uint64_t size) const;
  // The latest signed checkpoint note and its parsed body (the signed head: it covers every
  // durable entry unless checkpoint_every_commit is off).
  std::string LatestCheckpointNote() const;
  audit::Checkpoint LatestCheckpoint() const;
  // Both at once: the note and the checkpoint it signs (never from two different signings).
  std::pair<audit::Checkpoint, std::string> LatestSignedCheckpoint() const;
  // Makes sure a checkpoint of the current size is signed and kept in the history and the file
  // now. Thread-safe.
  absl::Status SignCheckpointNow();
  // An export bundle (docs/audit-log.md §5) of the latest checkpoint, leaves [first, size).
  absl::StatusOr<std::string> ExportBundle(std::uint64_t first_index) const;
  // "<name>+<id>+<key>" as written to state_dir/log_verifier.key.
  std::string VerifierKey() const;
  // "journal_mode=wal synchronous=2" (FULL) as read back from the writer's connection at Open.
  std::string DurabilityForTest() const;
  // Sequence numbers of the leaves with this request id, ascending (indexed).
  absl::StatusOr<std::vector<std::uint64_t>> FindRequest(const std::string& request_id) const;

 private:
  struct Impl;
  explicit AuditLogStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The AuditService's read port over a store (the same log the QueryLog port writes).
std::shared_ptr<core::AuditReader> MakeAuditReader(std::shared_ptr<const AuditLogStore> store);

// The log's signing key exactly as Open loads it (options.signing_key_file, else
// state_dir/log_signing.key, with the same mode and owner checks), but never created: for
// `enclaved --backup`, which signs the backup's manifest with it (server/backup.h).
// kFailedPrecondition when it is missing or unusable.
absl::StatusOr<audit::NoteSigner> LoadLogSigner(const AuditLogOptions& options);

}  // namespace enclave::adapters::sqlite
