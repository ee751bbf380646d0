#include "enclave/policy/principals.h"

#include <utility>

#include "absl/status/status.h"

namespace enclave::policy {

absl::StatusOr<PrincipalDirectory> PrincipalDirectory::Create(std::vector<Principal> principals) {
  PrincipalDirectory directory;
  for (std::size_t i = 0; i < principals.size(); ++i) {
    Principal& p = principals[i];
    if (p.id.empty()) {
      return absl::InvalidArgumentError("principal[" + std::to_string(i) +
                                        "] has an empty id; every principal needs its "
                                        "certificate's URI SAN as id");
    }
    std::string id = p.id;
    auto [it, inserted] = directory.by_id_.emplace(id, std::move(p));
    if (!inserted) {
      return absl::InvalidArgumentError("principal '" + id +
                                        "' is listed more than once; each id must be unique");
    }
  }
  return directory;
}

absl::StatusOr<Principal> PrincipalDirectory::Find(const std::string& uri_san) const {
  auto it = by_id_.find(uri_san);
  if (it == by_id_.end()) {
    return absl::PermissionDeniedError("unknown caller: not a registered principal");
  }
  return it->second;
}

std::vector<const Principal*> PrincipalDirectory::All() const {
  std::vector<const Principal*> out;
  out.reserve(by_id_.size());
  for (const auto& [id, principal] : by_id_) out.push_back(&principal);
  return out;
}

bool MayListTemplates(Role role) {
  switch (role) {
    case Role::kMunicipalAnalyst:
    case Role::kResearcher:
    case Role::kPrivacyOfficer:
    case Role::kDataSteward:
      return true;
    case Role::kOperator:
      return false;
  }
  return false;
}

bool MayRunQueries(Role role) {
  switch (role) {
    case Role::kMunicipalAnalyst:
    case Role::kResearcher:
      return true;
    // Separation of duties: officers audit, stewards load data, operators run the host.
    case Role::kPrivacyOfficer:
    case Role::kDataSteward:
    case Role::kOperator:
      return false;
  }
  return false;
}

bool MayCheckHealth(Role role) { return role == Role::kOperator; }

}  // namespace enclave::policy
