// The privacy officer's offline verifier for the enclave's audit log.
//
// An independent code path from the server's writer (enclave/audit): its own SHA-256 wrapper,
// Merkle proof checks, note parser, leaf decoder and bundle reader, written from the
// specification in docs/audit-log.md. It shares no code with enclave/audit; tests cross-check
// the two. It verifies; it never generates proofs or signs.
//
//   ENCLAVE_ASSIGN_OR_RETURN(verifier::PinnedKey key, verifier::ParseVerifierKey(pinned_text));
//   verifier::BundleOptions options{key, "enclave.lv.example/log", last_checkpoint};
//   absl::StatusOr<verifier::BundleReport> report = verifier::VerifyBundleFile(path, options);
//   // not OK: kDataLoss naming the first bad leaf index or what failed
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enclave::verifier {

using Hash = std::array<std::uint8_t, 32>;

// --- Merkle tree (RFC 9162 §2.1) --------------------------------------------------------------

Hash LeafHash(std::string_view leaf_bytes);    // SHA-256(0x00 || leaf)
Hash NodeHash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash EmptyRoot();                              // SHA-256("")

// Root of a growing list of leaf hashes, O(log n) memory.
class TreeBuilder {
 public:
  TreeBuilder() = default;
  // Resumes from the compact range of the first `size` leaves (largest subtree first).
  // kInvalidArgument unless hashes.size() == popcount(size).
  static absl::StatusOr<TreeBuilder> Resume(std::uint64_t size, std::span<const Hash> hashes);
  void Add(const Hash& leaf_hash);
  std::uint64_t size() const { return size_; }
  Hash Root() const;

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> stack_;  // perfect subtrees, largest first
};

// OK if `proof` shows leaf `index` with `leaf_hash` in the tree of `size` leaves with `root`;
// kDataLoss otherwise (kInvalidArgument for index >= size).
absl::Status CheckInclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf_hash,
                            std::span<const Hash> proof, const Hash& root);
// OK if the tree (size1, root1) is a prefix of (size2, root2); kDataLoss otherwise.
absl::Status CheckConsistency(std::uint64_t size1, std::uint64_t size2, std::span<const Hash> proof,
                              const Hash& root1, const Hash& root2);

// --- Signed checkpoints (C2SP signed-note + tlog-checkpoint, Ed25519) -------------------------

struct PinnedKey {
  std::string name;
  std::uint32_t key_id = 0;
  std::string public_key;  // 32 bytes
};
// "<name>+<8 hex key id>+<base64(0x01 || 32-byte key)>"; kInvalidArgument if malformed or the
// key id does not match.
absl::StatusOr<PinnedKey> ParseVerifierKey(std::string_view text);

struct CheckpointView {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
  bool operator==(const CheckpointView&) const = default;
};
// Verifies the note's signature by `key` (other keys' signatures are ignored; a failing
// signature by `key` rejects), parses the body and checks the origin. kUnauthenticated for
// signature problems, kInvalidArgument for malformed notes, kFailedPrecondition for another origin.
absl::StatusOr<CheckpointView> VerifyCheckpointNote(std::string_view note, const PinnedKey& key,
                                                    std::string_view origin);

// --- Leaves (docs/audit-log.md §2, version 1) -------------------------------------------------

struct LeafView {
  std::string origin;
  std::uint64_t sequence = 0;
  std::int64_t time_unix_ms = 0;
  std::uint8_t type = 0;
  std::string type_name;  // "query-accepted", ...
  std::string request_id, caller, caller_cert_sha256, role, project, rpc, template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256, canonical_params, decision, reason, rule_set, rules_applied,
      data_version;
  std::vector<std::pair<std::string, std::uint64_t>> cell_counts;
  std::string cell_rules, result_sha256;
  std::vector<std::uint64_t> related;
  std::string detail;
};
// Strict: kInvalidArgument naming the field, kUnimplemented for another format version.
absl::StatusOr<LeafView> ParseLeaf(std::string_view bytes);

// --- Export bundles (docs/audit-log.md §5) ----------------------------------------------------

struct BundleOptions {
  PinnedKey key;
  std::string origin;
  // The last checkpoint this auditor verified, if any. Required when the bundle starts after 0.
  std::optional<CheckpointView> trusted;
  // Server time may step back by at most this much between consecutive leaves.
  std::int64_t time_tolerance_ms = 5 * 60 * 1000;
};

struct BundleReport {
  CheckpointView checkpoint;
  std::uint64_t first_index = 0;
  std::uint64_t leaves = 0;
  std::uint64_t open_requests = 0;  // accepted, not yet closed at the checkpoint
  std::map<std::string, std::uint64_t> by_type;
};

// Verifies the signature, the structure, every leaf (strict decoding, sequence = index, origin,
// time order, accepted/closed pairing), the root against the checkpoint, and consistency with
// `options.trusted`. The first failure is returned: kDataLoss naming the leaf index or the check.
absl::StatusOr<BundleReport> VerifyBundle(std::string_view bundle, const BundleOptions& options);
// Same, reading (memory-mapping) a file. kNotFound / kUnavailable if it cannot be read.
absl::StatusOr<BundleReport> VerifyBundleFile(const std::string& path, const BundleOptions& options);

// The hashes of a bundle's leaves in order, from its framing alone (nothing else is checked), and
// its first index: for locating the first altered entry after VerifyBundle failed. kDataLoss if
// the framing is broken.
struct BundleLeaves {
  std::uint64_t first_index = 0;
  std::vector<Hash> leaf_hashes;
};
absl::StatusOr<BundleLeaves> BundleLeafHashes(std::string_view bundle);
absl::StatusOr<BundleLeaves> BundleLeafHashesFile(const std::string& path);

}  // namespace enclave::verifier
