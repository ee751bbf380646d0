// The access files of policies/access/ beyond principals (issue 5): researcher agreements
// (agreements.textproto, loaded once with the rest of the policy) and the revocation deny-list
// (revoked.textproto, re-read on every call when its modification time or size changed).
//
//   auto book = LoadAgreements("policies");            // all or nothing, FILE:LINE:COL errors
//   auto revocations = std::make_shared<FileRevocationSource>("policies/access/revoked.textproto");
//   options.revocations = revocations;                 // core asks it on every call
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/policy/access.h"
#include "enclave/policy/principals.h"
#include "enclave/templates/template.h"

namespace enclave::adapters::policy_files {

inline constexpr char kAgreementsFile[] = "access/agreements.textproto";
inline constexpr char kRevokedFile[] = "access/revoked.textproto";

// Where the entries of agreements.textproto are (one-based line and column), for messages.
struct AgreementPositions {
  struct Pos {
    int line = 1;
    int column = 1;
  };
  std::map<std::string, Pos> agreement;                              // id -> its `agreement {`
  std::map<std::pair<std::string, std::string>, Pos> template_entry;  // (id, template) -> `template:`
  // "policies/access/agreements.textproto:LINE:COLUMN: " for an agreement id (1:1 if unknown).
  std::string Prefix(const std::string& agreement_id) const;
};

// An empty book when the file does not exist (then no researcher can run a query).
// kInvalidArgument "policies/access/agreements.textproto:LINE:COLUMN: problem" for a malformed
// file or inconsistent agreements (AgreementBook::Create's rules, each checked on the entry it is
// about: a bad date at its field, a duplicate id or project budget at the second one, an agreement
// without a template, organisation, project, positive budget or project budget at its block).
// `positions`, when given, receives where each agreement and template entry is.
absl::StatusOr<std::shared_ptr<const policy::AgreementBook>> LoadAgreements(
    const std::string& policies_dir, AgreementPositions* positions = nullptr);

// Differential privacy's budget bounds what a researcher learns only if nothing else tells them
// the same for free (disclosure-control.md §7.1; docs/differential-privacy.md §1a). An agreement,
// all agreements of one project, and all agreements of one researcher principal (its organisation
// and projects, AgreementBook::AgreementsOf) may cover differentially private templates
// (Template::dp) or templates without DP (cell key method and suppression) over a unit type
// ("person", "establishment"), never both: the SDC table would answer the DP template's cells more
// precisely and charge nothing. Data versions (Agreement::datasets) do not separate the two: every
// version holds the same persons. Templates an agreement names that `templates` lacks are ignored
// here. kInvalidArgument, one line per conflict, each naming the agreement(s), the DP template(s),
// the SDC template(s), the unit type, and what is allowed; LoadPolicies calls it after loading.
// With `positions` (from LoadAgreements) each line starts "FILE:LINE:COLUMN: " at the template
// entry or the (first) agreement concerned, as the other policy files' errors do.
absl::Status CheckDpSeparation(const std::vector<templates::Template>& templates,
                               const policy::PrincipalDirectory& principals,
                               const policy::AgreementBook& agreements,
                               const AgreementPositions* positions = nullptr);

// Parses a deny-list file's text. kInvalidArgument with "revoked.textproto:LINE:COL: problem" for
// a syntax error, an entry naming none of serial, cert_sha256, principal, or a malformed hex value.
absl::StatusOr<policy::RevocationList> ParseRevocations(const std::string& text);

// The deny-list of one file, re-read when its mtime or size changes (one stat per call). A file
// that does not exist is an empty list, unless it existed before (then every call is refused until
// it is back). A malformed file refuses every call (fail closed) and logs the problem once per
// change in the operational log.
class FileRevocationSource final : public policy::RevocationSource {
 public:
  explicit FileRevocationSource(std::filesystem::path path);
  absl::StatusOr<std::shared_ptr<const policy::RevocationList>> Current() override;

 private:
  std::filesystem::path path_;
  std::mutex mu_;
  bool loaded_ = false;  // guarded by mu_
  bool existed_ = false;
  std::int64_t mtime_ns_ = 0;
  std::int64_t ino_ = 0;
  std::int64_t size_ = -1;
  absl::Status status_;  // of the last read
  std::shared_ptr<const policy::RevocationList> list_;
};

}  // namespace enclave::adapters::policy_files
