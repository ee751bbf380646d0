// The audit log's leaf: an explicitly specified, versioned byte encoding (docs/audit-log.md),
// written once by the server and hashed as stored. Never a re-serialised protobuf.
//
// Version 1 layout: the 19-byte header "enclave-log-leaf/1\n", then every field of LogLeaf in
// declaration order: integers fixed-width big-endian, strings and byte fields with a u32 length.
// The decoder is strict: a known header, every field within its limit, valid UTF-8 text, a known
// entry type, sorted cell counts, and no trailing bytes. EncodeLeaf(DecodeLeaf(b)) == b for every
// accepted b.
//
// The leaf holds identifiers, hashes and counts: never a person-level value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace enclave::audit {

// Wire codes are part of the format: never renumber, only append.
enum class EntryType : std::uint8_t {
  kQueryAccepted = 1,
  kQueryResult = 2,
  kQueryRefused = 3,
  kQueryAborted = 4,
  kRecovery = 5,
  kServerStart = 6,
  kServerStop = 7,
  kPolicyLoaded = 8,
  kAuthFailureSummary = 9,
  kConfigChange = 10,
  kKeyRotation = 11,
  kHeartbeat = 12,
  kDeletion = 13,
  kBudget = 14,
  kDataLoad = 15,
  kPolicyRefused = 16,
  kDatasetRollback = 17,
};

// "query-accepted", ...; nullptr for a code outside the enum.
const char* EntryTypeName(EntryType type);
std::optional<EntryType> EntryTypeFromName(std::string_view name);

struct CellCount {
  std::string status;  // "released", "confidential", "rounded", ...: [a-z0-9_-], 1..32 chars
  std::uint64_t count = 0;
  bool operator==(const CellCount&) const = default;
};

// Every field of core::QueryLogEntry has a place here (the adapter converts; audit does not
// depend on core). Empty strings / zero mean "not applicable for this entry type".
struct LogLeaf {
  std::string origin;                // the log's origin line, as in its checkpoints
  std::uint64_t sequence = 0;        // contiguous from 0: the leaf index
  std::int64_t time_unix_ms = 0;     // server time, UTC, milliseconds since the epoch (>= 0)
  EntryType type = EntryType::kQueryAccepted;
  std::string request_id;
  std::string caller;                // URI SAN from the client certificate, "" if unknown
  std::string caller_cert_sha256;    // 32 raw bytes (certificate fingerprint) or empty
  std::string role;
  std::string project;               // project / agreement
  std::string rpc;                   // "RunQuery", ...
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;       // 32 raw bytes (SHA-256 of the template's exact text) or empty
  std::string canonical_params;
  std::string decision;              // "allowed", or the refusal's status code name
  std::string reason;                // refusal message (never record data)
  std::string rule_set;              // rule set id and version
  std::string rules_applied;         // every disclosure rule applied with its parameters
  std::string data_version;
  std::vector<CellCount> cell_counts;  // sorted by status, each status once
  std::string cell_rules;            // per-cell rule ids in canonical cell order
  std::string result_sha256;         // 32 raw bytes (SHA-256 of the released bytes) or empty
  std::vector<std::uint64_t> related; // e.g. a result's accepted entry; a recovery's orphans
  std::string detail;                // start/stop/policy/summary text (ids, hashes, counts only)

  bool operator==(const LogLeaf&) const = default;
};

inline constexpr std::string_view kLeafHeaderV1 = "enclave-log-leaf/1\n";

// Limits (bytes) enforced by both EncodeLeaf and DecodeLeaf; see docs/audit-log.md.
inline constexpr std::size_t kMaxLeafBytes = 4 * 1024 * 1024;

// Text fields must be valid UTF-8 without control characters other than tab and newline (so the
// officer's tools can print them safely). Replaces every invalid sequence or other control
// character in `text` by U+FFFD; the adapter applies it to text that may come from a caller.
std::string SanitizeLeafText(std::string_view text);

// kInvalidArgument naming the field that breaks a limit or rule.
absl::StatusOr<std::string> EncodeLeaf(const LogLeaf& leaf);
// kInvalidArgument naming the first bad field; kUnimplemented for an unknown format version.
absl::StatusOr<LogLeaf> DecodeLeaf(std::string_view bytes);

// The fields before `caller`, for a reader that needs only those and must be fast over millions
// of leaves (the log store's start-up check): the header, the lengths, the time and the type are
// checked as DecodeLeaf checks them, the text is not validated, and the rest is not read. Views
// into `bytes`. kInvalidArgument naming the field; kUnimplemented for another format version.
struct LeafHead {
  std::string_view origin;
  std::uint64_t sequence = 0;
  std::int64_t time_unix_ms = 0;
  EntryType type = EntryType::kQueryAccepted;
  std::string_view request_id;
};
absl::StatusOr<LeafHead> DecodeLeafHead(std::string_view bytes);

}  // namespace enclave::audit
