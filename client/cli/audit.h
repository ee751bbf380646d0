// enclavectl audit: the privacy officer's log tools over client::AuditClient, with every check
// done by the independent verifier (client/verifier), never by trusting the server's copies.
// Internal to the CLI; the flows take an AuditClient so that tests can run them without a server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "enclave/client/client.h"

namespace enclave::client::cli {

// HOME/.config/enclavectl/checkpoint ("" when home is empty).
std::string DefaultCheckpointStatePath(std::string_view home);

// What the pinned-key commands need. `origin` empty: taken from the stored checkpoint, else from
// the signed checkpoint itself (and said so in the output).
struct AuditTrust {
  std::string log_key;  // "<name>+<hex id>+<base64 key>"; required by verify and verify-bundle
  std::string origin;
  std::string state_path;  // the officer's last verified checkpoint (a signed note); may not exist
};

// audit checkpoint: the latest checkpoint, verified when trust.log_key is set.
// kUnauthenticated / kFailedPrecondition if that verification fails.
absl::StatusOr<std::string> ShowCheckpoint(AuditClient& client, const AuditTrust& trust);

// audit log: every entry matching `filter`, decoded by the verifier's strict leaf parser, as a
// table or as JSON (one array). Each page comes under a signed checkpoint, verified with the
// pinned key (trust.log_key required), consistent with the officer's stored checkpoint
// (trust.state_path, if the file exists; only read) and with the other pages' checkpoints; each
// entry it covers is re-hashed and its inclusion proof checked before anything is shown. Entries
// beyond it are shown marked "NOT YET CHECKPOINTED" (JSON: "checkpointed": false), unless the
// stored checkpoint covers them (then kDataLoss). kDataLoss naming the entry whose bytes do not
// match, that does not decode or carries another sequence number; nothing is shown then.
absl::StatusOr<std::string> ListLog(AuditClient& client, const AuditFilter& filter, bool json,
                                    const AuditTrust& trust);

// ListLog with the decoded cell rules (issue 12). With `cells` (and `templates`, which gives
// each release's layout), the table shows under each query-result entry its withheld cells
// ("District 04 × Female: withheld, share denominator below 100"; `dutch`: in Dutch) and the
// JSON gains "rules_header" and "cells" (every cell), or "cells_error" when the layout cannot be
// had or does not match (e.g. the template changed since).
struct ListOptions {
  bool json = false;
  bool cells = false;
  bool dutch = false;
  EnclaveClient* templates = nullptr;  // required with cells
};
absl::StatusOr<std::string> ListLog(AuditClient& client, const AuditFilter& filter,
                                    const ListOptions& options, const AuditTrust& trust);

// The officer view of `enclavectl serve` (GET /api/audit/entries): the entries matching `filter`,
// newest first, at most `limit`, verified as ListLog verifies them, each with its parameters
// split and, for query-result entries, its per-cell rules decoded into the labels of the
// release's layout (asked of `templates`). One JSON object: {"entries":[…],"log_size":N,
// "checkpoint":{…}|null,"verification":{"ok":bool,"message":"…"}}. A failed verification is OK
// with "ok":false and no entries (nothing unverified is shown).
absl::StatusOr<std::string> AuditEntriesJson(AuditClient& audit, EnclaveClient& templates,
                                             const AuditFilter& filter, std::size_t limit,
                                             const AuditTrust& trust);

// audit verify (security.md §1.6): fetch and verify the latest checkpoint with the pinned key;
// if a checkpoint is stored at trust.state_path, verify it too, refuse a smaller size or the
// same size with another root, and check the server's consistency proof; then export the whole
// log (streamed into a temporary file) and verify every entry's bytes (VerifyBundle against the
// stored checkpoint: the first stored-size entries must fold to its root, all to the new one);
// only then write the new checkpoint to trust.state_path. Returns the report. kDataLoss naming
// what failed (rollback, equivocation, inconsistency, a bad leaf; for bytes that do not fold to
// a signed root, the first altered entry, located by binary search with consistency proofs),
// kUnauthenticated for signatures.
absl::StatusOr<std::string> VerifyLog(AuditClient& client, const AuditTrust& trust);

// audit export: the whole bundle into `path`, streamed chunk by chunk into a temporary file
// beside it, fsynced, verified as `audit verify-bundle` would (pinned key required, the stored
// checkpoint at trust.state_path if the file exists; the first altered entry named), and only
// then renamed into place. Nothing is left at `path` unless the whole stream arrived and
// verified. Returns the report.
absl::StatusOr<std::string> ExportLog(AuditClient& client, const std::string& path,
                                      const AuditTrust& trust);

// audit receipt REQUEST_ID: the caller's receipt of one request (researchers: their own
// requests only; officers: any), checked by the verifier: the checkpoint note's signature by the
// pinned key (trust.log_key required), each leaf's hash, decoding, sequence and request id, and
// its inclusion proof against the signed root. A leaf the server withheld (officer-only fields)
// is shown by its hash, whose inclusion is still checked. Returns a table and the note.
// kDataLoss naming the entry that fails; the server's refusal as is (kPermissionDenied).
absl::StatusOr<std::string> ShowReceipt(AuditClient& client, const std::string& request_id,
                                        const AuditTrust& trust);

// audit verify-bundle: offline. trust.state_path is used only if the file exists.
absl::StatusOr<std::string> VerifyBundleOffline(const std::string& bundle_path,
                                                const AuditTrust& trust);

}  // namespace enclave::client::cli
