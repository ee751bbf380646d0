// The privacy officer's audit use cases, free of gRPC: the latest checkpoint, filtered entries,
// inclusion and consistency proofs, export bundles, and researchers' receipts of their own
// requests (docs/security.md §1.6–1.7, docs/audit-log.md).
//
// Every call authorises the caller first (AuditPermitted below). A refused call is written to the
// query log (the same log it reads) before the refusal is returned; if that write fails the call
// answers kUnavailable. Successful reads are not logged: they change nothing and release no data.
//
//   core::AuditService audit(principals, reader, log, {});
//   absl::StatusOr<core::CheckpointInfo> cp = audit.GetCheckpoint("spiffe://lv/officer-1");
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/core/audit_reader.h"
#include "enclave/core/query_log.h"
#include "enclave/policy/principals.h"

namespace enclave::core {

enum class AuditMethod {
  kGetCheckpoint,
  kListEntries,
  kGetInclusionProof,
  kGetConsistencyProof,
  kExportBundle,
  kGetReceipt,
};
inline constexpr AuditMethod kAllAuditMethods[] = {
    AuditMethod::kGetCheckpoint,       AuditMethod::kListEntries,  AuditMethod::kGetInclusionProof,
    AuditMethod::kGetConsistencyProof, AuditMethod::kExportBundle, AuditMethod::kGetReceipt};

// "GetCheckpoint", ...: the rpc field of logged refusals is "AuditService/<name>".
const char* AuditMethodName(AuditMethod method);

// The role rule (separation of duties, security.md §2.3): privacy officers may call every method;
// researchers only GetReceipt (and then only for their own requests); every other role nothing.
bool AuditPermitted(policy::Role role, AuditMethod method);

// Filters for ListEntries; an empty string or 0 matches anything.
struct AuditFilter {
  std::string caller;
  std::string template_id;
  std::string decision;     // "allowed", "PERMISSION_DENIED", ...
  std::string entry_type;   // "query-accepted", ...
  std::int64_t from_unix_ms = 0;  // inclusive
  std::int64_t to_unix_ms = 0;    // exclusive
  std::string project;            // the entry's project / agreement, exactly
  // "name=value" pairs; each must equal one of the entry's canonical parameter pairs (the
  // '&'-separated pieces of canonical_params) exactly. Bounds: kMaxParameterFilters and below.
  std::vector<std::string> parameters;
};

inline constexpr std::size_t kMaxParameterFilters = 32;
inline constexpr std::size_t kMaxParameterFilterNameBytes = 64;
inline constexpr std::size_t kMaxParameterFilterValueBytes = 256;
inline constexpr std::size_t kMaxProjectFilterBytes = 256;

// Whether `canonical_params` ("a=1&b=x") holds every pair of `parameters` exactly.
bool ParametersMatch(std::string_view canonical_params, const std::vector<std::string>& parameters);

struct AuditEntry {
  std::uint64_t sequence = 0;
  std::string leaf;  // enclave-log-leaf/1 bytes
  // With proofs, for an entry below the page's checkpoint: PATH(sequence, D[checkpoint size]).
  std::vector<AuditHash> inclusion_path;
};

struct AuditPage {
  std::vector<AuditEntry> entries;
  std::uint64_t next_start = 0;  // where the next page starts; 0 when there is none
  std::uint64_t log_size = 0;
  // With proofs: the latest signed checkpoint when the page was read (unset if none yet). Entries
  // at or beyond its size are not yet covered by a signed checkpoint and carry no path.
  std::optional<SignedCheckpoint> checkpoint;
};

struct LeafProof {
  std::uint64_t sequence = 0;
  std::string leaf;  // empty when redacted
  AuditHash leaf_hash{};
  std::vector<AuditHash> path;
  // Researchers do not get leaves that hold officer-only fields (per-cell rule ids); they get
  // the hash, whose inclusion still verifies.
  bool redacted = false;
};

struct InclusionProofs {
  SignedCheckpoint checkpoint;  // the latest
  std::uint64_t tree_size = 0;
  std::vector<LeafProof> proofs;
};

struct ConsistencyProofs {
  std::uint64_t old_size = 0;
  std::uint64_t new_size = 0;
  std::vector<AuditHash> proof;
};

struct Receipt {
  SignedCheckpoint checkpoint;
  std::vector<LeafProof> leaves;
};

struct CheckpointInfo {
  SignedCheckpoint checkpoint;
  std::uint64_t log_size = 0;
};

// A leaf by sequence number, or every leaf of a request.
struct LeafSelector {
  std::optional<std::uint64_t> sequence;
  std::string request_id;  // used when sequence is unset
};

struct AuditServiceOptions {
  std::uint32_t default_page_size = 100;
  std::uint32_t max_page_size = 1000;
  // Leaves read per storage call while scanning, and at most this many scanned per page, so that
  // one ListEntries call with a rare filter stays bounded (the page then ends early).
  std::uint64_t scan_batch = 1024;
  std::uint64_t max_scan_per_page = 100000;
  // Export chunks are about this large (a leaf is never split across a storage read).
  std::size_t chunk_bytes = 1 << 20;
};

class AuditService {
 public:
  // Receives each export chunk in order; a non-OK status stops the export and is returned.
  using ChunkSink = std::function<absl::Status(std::string_view chunk)>;

  // `log` is where refusals are written; in the server it is the log `reader` reads.
  AuditService(std::shared_ptr<const policy::PrincipalDirectory> principals,
               std::shared_ptr<AuditReader> reader, std::shared_ptr<QueryLog> log,
               AuditServiceOptions options);

  // Common codes for every method: kPermissionDenied (unknown caller, or a role that may not call
  // it; logged), kUnavailable (storage or the log), kNotFound when no checkpoint is signed yet.

  // The latest signed checkpoint and the current log size (leaves, signed or not).
  absl::StatusOr<CheckpointInfo> GetCheckpoint(const std::string& caller_uri);

  // Leaves in [start, end) (end 0: the log size) matching `filter`, at most `page_size`
  // (0: the default; capped). kInvalidArgument if start > end or end > the log size, or a leaf
  // cannot be decoded (kDataLoss). `with_proofs`: the page also carries the latest signed
  // checkpoint and each entry it covers its inclusion path, so that the client can re-hash and
  // prove every entry it shows.
  absl::StatusOr<AuditPage> ListEntries(const std::string& caller_uri, std::uint64_t start,
                                        std::uint64_t end, const AuditFilter& filter,
                                        std::uint32_t page_size, bool with_proofs = false);

  // Inclusion proofs in the tree of `tree_size` leaves (0: the latest checkpoint's). kOutOfRange
  // if tree_size is beyond the latest checkpoint or the leaf is not below it; kNotFound for an
  // unknown request id; kInvalidArgument for an empty selector.
  absl::StatusOr<InclusionProofs> GetInclusionProof(const std::string& caller_uri,
                                                    const LeafSelector& leaf,
                                                    std::uint64_t tree_size);

  // kOutOfRange unless old_size <= new_size <= the latest checkpoint's size (new_size 0: that size).
  absl::StatusOr<ConsistencyProofs> GetConsistencyProof(const std::string& caller_uri,
                                                        std::uint64_t old_size,
                                                        std::uint64_t new_size);

  // Streams the bundle of the latest checkpoint to `sink`: all leaves (from_size 0) or those
  // after the first `from_size` with that prefix's compact range. kOutOfRange if from_size is
  // beyond the checkpoint. Authorisation happens before the first chunk.
  absl::Status ExportBundle(const std::string& caller_uri, std::uint64_t from_size,
                            const ChunkSink& sink);

  // The leaves of `request_id` with inclusion proofs in the latest checkpoint. Researchers: only
  // for requests whose every leaf has them as caller; kPermissionDenied (logged) otherwise,
  // including for unknown ids (the two are not told apart). Officers: kNotFound for an unknown id.
  // kUnavailable (retry later) while some leaf is not yet covered by a signed checkpoint.
  absl::StatusOr<Receipt> GetReceipt(const std::string& caller_uri, const std::string& request_id);

 private:
  // The caller's principal if AuditPermitted; otherwise the refusal, already logged.
  absl::StatusOr<policy::Principal> Authorize(const std::string& caller_uri, AuditMethod method,
                                              const std::string& request_id);
  // Logs `status` (not OK) as a refusal of `method` unless it is a storage or internal failure;
  // returns it, or kUnavailable if the log write failed.
  absl::Status Refuse(const std::string& caller_uri, const std::string& role, AuditMethod method,
                      const std::string& subject, absl::Status status);
  std::string NextRequestId();
  absl::StatusOr<std::vector<std::uint64_t>> FindRequest(const std::string& request_id,
                                                         std::uint64_t limit);
  absl::StatusOr<LeafProof> ProveLeaf(std::uint64_t sequence, std::uint64_t tree_size,
                                      std::string leaf);

  std::shared_ptr<const policy::PrincipalDirectory> principals_;
  std::shared_ptr<AuditReader> reader_;
  std::shared_ptr<QueryLog> log_;
  AuditServiceOptions options_;
  std::mutex mu_;
  std::uint64_t next_request_ = 1;  // guarded by mu_
  std::string request_prefix_;      // "a-<construction time, base 36>-"
};

}  // namespace enclave::core
