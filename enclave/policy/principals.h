// Principals: who may call the enclave and in which role. Identity is the URI SAN of the caller's
// client certificate; role, organisation and projects come from the policy, never from the client.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "enclave/templates/template.h"

namespace enclave::policy {

using templates::Role;

// Per-principal limits from the policy (security.md §2.6): a token bucket of queries per minute
// and a number of queries running at once. 0 means no per-principal limit.
struct PrincipalLimits {
  int queries_per_minute = 0;
  int max_concurrent = 0;
};

struct Principal {
  std::string id;  // URI SAN
  std::string display_name;
  std::string organisation;
  Role role = Role::kMunicipalAnalyst;
  std::vector<std::string> projects;
  PrincipalLimits limits;
};

class PrincipalDirectory {
 public:
  PrincipalDirectory() = default;
  // kInvalidArgument on a duplicate or empty id.
  static absl::StatusOr<PrincipalDirectory> Create(std::vector<Principal> principals);

  // kPermissionDenied ("unknown caller") when the id is not in the policy.
  absl::StatusOr<Principal> Find(const std::string& uri_san) const;
  std::size_t size() const { return by_id_.size(); }
  // Every principal, in id order (for checks of the whole policy at load).
  std::vector<const Principal*> All() const;

 private:
  std::map<std::string, Principal> by_id_;
};

// What each role may do on the query service (security.md §2.3, separation of duties).
bool MayListTemplates(Role role);
bool MayRunQueries(Role role);
// Who may call the gRPC health service (grpc.health.v1.Health, issue 13): operators only. The
// answer holds no data, but watching the service is the operator's duty, not the analysts',
// researchers', officers' or stewards' (least privilege; their own calls tell them enough).
bool MayCheckHealth(Role role);

}  // namespace enclave::policy
