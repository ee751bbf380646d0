// Four-eyes template approval (issue 5 item 5): a template runs only under an Ed25519 signature by a
// privacy officer, other than its author, over the template's exact bytes and version.
//
// Three files take part (formats in proto/enclave/v1/policy.proto, docs/privacy-officer.md):
//   approvers file   ApproversFile: the officers' public keys with a validity period (policy;
//                    named by the server configuration's approvers_file)
//   approvals dir    one TemplateApproval per template, <id>.approval.textproto, written by
//                    `enclavectl template sign` with the officer's private key (never committed)
//   template file    its exact bytes (SHA-256), id, version and `author`
//
// The signed message is domain-separated and versioned (ApprovalMessage):
//   "enclave-template-approval/1\n" "template_id=<id>\n" "version=<n>\n" "sha256=<hex>\n"
//   "author=<principal>\n" "approver=<principal>\n" "key_id=<key>\n" "approved_at=<RFC 3339>\n"
//
//   ENCLAVE_ASSIGN_OR_RETURN(Approvers approvers, LoadApprovers(config.approvers_file));
//   std::vector<ApprovalRefusal> refused =
//       ApplyApprovals(&templates, config.approvals_dir, approvers, is_officer, absl::Now());
//
// Library enclave_approvals: crypto and the policy protos only, so enclavectl links it without the
// server's libraries. Thread-compatible; no globals.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "enclave/crypto/ed25519.h"
#include "enclave/templates/template.h"

namespace enclave::adapters::policy_files {

// The first line of every signed approval message.
inline constexpr char kApprovalDomain[] = "enclave-template-approval/1\n";

struct OfficerKey {
  std::string key_id;
  std::string principal;   // the officer's URI SAN
  std::string public_key;  // 32 raw bytes
  absl::Time valid_from;   // start of the first valid day, UTC
  absl::Time valid_until;  // end of the last valid day (exclusive), UTC
  std::string valid_from_text;
  std::string valid_until_text;

  bool ValidAt(absl::Time t) const { return t >= valid_from && t < valid_until; }
};

struct Approvers {
  std::vector<OfficerKey> keys;
  // nullptr if no key has this id.
  const OfficerKey* Find(std::string_view key_id) const;
  // nullptr if no key has this raw public key.
  const OfficerKey* FindByPublicKey(std::string_view public_key) const;
};

// Parses an ApproversFile. kInvalidArgument "FILE:LINE:COL: problem" (several joined by newlines)
// for a malformed file, a duplicate or malformed key id, an empty principal, a public key that is
// not an Ed25519 SubjectPublicKeyInfo in base64, bad dates or valid_until before valid_from, or
// no key at all. `display` names the file in messages.
[[nodiscard]] absl::StatusOr<Approvers> ParseApprovers(std::string_view text,
                                                       const std::string& display);
// Reads and parses `path`; kNotFound if it cannot be read.
[[nodiscard]] absl::StatusOr<Approvers> LoadApprovers(const std::string& path);

// One `officer_key { ... }` block of an approvers file for the holder of `key` (dates YYYY-MM-DD).
// For deployment scripts and tests; kInternal if the public key cannot be encoded.
[[nodiscard]] absl::StatusOr<std::string> FormatOfficerKey(const crypto::Ed25519PrivateKey& key,
                                                           const std::string& key_id,
                                                           const std::string& principal,
                                                           const std::string& valid_from,
                                                           const std::string& valid_until);

// One approval file.
struct Approval {
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;  // lower-case hex
  std::string author;
  std::string approver;
  std::string key_id;
  std::string approved_at;  // "2026-11-25T15:04:05Z"
  std::string signature;    // 64 raw bytes
};

// The exact bytes the officer signs (see the file comment).
std::string ApprovalMessage(const Approval& approval);
// "<template id>.approval.textproto".
std::string ApprovalFileName(std::string_view template_id);
// The TemplateApproval text-format file for `approval`.
std::string FormatApproval(const Approval& approval);
// kInvalidArgument naming `display` for a malformed file or fields (a signature that is not
// base64 of 64 bytes, a time that is not RFC 3339 UTC, a line break in a field).
[[nodiscard]] absl::StatusOr<Approval> ParseApproval(std::string_view text,
                                                     const std::string& display);

// What an approval must match: read from the template file itself.
struct TemplateIdentity {
  std::string id;
  std::uint32_t version = 0;
  std::string author;
  std::string sha256;  // lower-case hex SHA-256 of the file's exact bytes
  std::string display;  // the file, for messages
};
// From a template file's exact bytes. kInvalidArgument if it is not a TemplateFile or has no id.
[[nodiscard]] absl::StatusOr<TemplateIdentity> IdentifyTemplate(std::string_view bytes,
                                                                const std::string& display);
// From a loaded template (its text_sha256 is the SHA-256 of the file's exact bytes).
TemplateIdentity IdentityOf(const templates::Template& t);

// The officer holding `key` approves `identity` at `now`. kFailedPrecondition when the template
// has no author, the key is not in `approvers`, is outside its validity at `now`, or the officer
// is the author (nobody approves their own template); kInternal if signing fails.
[[nodiscard]] absl::StatusOr<Approval> SignApproval(const TemplateIdentity& identity,
                                                    const crypto::Ed25519PrivateKey& key,
                                                    const Approvers& approvers, absl::Time now);

// OK if `approval` is a valid four-eyes approval of `identity` at `now`: same id, version, SHA-256
// and author; a known officer key naming the approver, valid both when the approval was made and
// at `now`; approver != author; a signature that verifies. Otherwise kFailedPrecondition with a
// message naming the template and what is wrong (never a key or signature).
[[nodiscard]] absl::Status VerifyApproval(const TemplateIdentity& identity,
                                          const Approval& approval, const Approvers& approvers,
                                          absl::Time now);

// Reads approvals_dir/<id>.approval.textproto and verifies it. kFailedPrecondition when it is
// missing ("not approved") or refused as in VerifyApproval; kInvalidArgument when malformed.
[[nodiscard]] absl::StatusOr<Approval> CheckApproval(const TemplateIdentity& identity,
                                                     const std::string& approvals_dir,
                                                     const Approvers& approvers, absl::Time now);

// The approval as a template carries it (digest = SHA-256 of the signature).
templates::TemplateApproval ToTemplateApproval(const Approval& approval);

struct ApprovalRefusal {
  std::string template_id;
  std::uint32_t template_version = 0;
  std::string template_sha256;
  absl::Status status;
};

// The server's start-up check: sets `approval` on every template whose approval holds and whose
// approver `is_privacy_officer`; returns one refusal per other template (empty: all approved).
std::vector<ApprovalRefusal> ApplyApprovals(
    std::vector<templates::Template>* templates, const std::string& approvals_dir,
    const Approvers& approvers, const std::function<bool(const std::string&)>& is_privacy_officer,
    absl::Time now);

}  // namespace enclave::adapters::policy_files
