// enclavectl audit: the privacy officer's log tools over client::AuditClient, with every check
// done by the independent verifier (client/verifier), never by trusting the server's copies.
// Internal to the CLI; the flows take an AuditClient so that tests can run them without a server.
#pragma once

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
// table or as JSON (one array). kDataLoss if the server sends a leaf that does not decode or
// carries another sequence number.
absl::StatusOr<std::string> ListLog(AuditClient& client, const AuditFilter& filter, bool json);

// audit verify (security.md §1.6): fetch and verify the latest checkpoint with the pinned key;
// if a checkpoint is stored at trust.state_path, verify it too, refuse a smaller size or the
// same size with another root, and check the server's consistency proof; then export the entries
// after the stored size and verify them all (VerifyBundle against the stored checkpoint); only
// then write the new checkpoint to trust.state_path. Returns the report. kDataLoss naming what
// failed (rollback, equivocation, inconsistency, a bad leaf), kUnauthenticated for signatures.
absl::StatusOr<std::string> VerifyLog(AuditClient& client, const AuditTrust& trust);

// audit export: the whole bundle into `path`, streamed chunk by chunk into a temporary file
// beside it, then fsync and rename. Nothing is left at `path` unless the whole stream arrived.
absl::Status ExportLog(AuditClient& client, const std::string& path);

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
