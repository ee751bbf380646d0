// Loads the policy directory: code lists, rule sets, templates and principals, from protobuf text
// format files. All or nothing: any malformed or unsafe file fails the whole load with an error
// naming the file, line and problem, and nothing is half-loaded.
//
//   policies/
//     codelists/*.textproto      CodeListFile
//     disclosure/*.textproto     RuleSetFile (named rule sets templates refer to)
//     templates/*.textproto      TemplateFile, one template per file
//     access/principals.textproto PrincipalsFile
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "enclave/core/ports.h"
#include "enclave/core/query_service.h"
#include "enclave/policy/access.h"
#include "enclave/policy/principals.h"

namespace enclave::adapters::policy_files {

struct LoadedPolicies {
  std::shared_ptr<const core::TemplateCatalog> catalog;
  std::shared_ptr<const policy::PrincipalDirectory> principals;
  // access/agreements.textproto (access_files.h); an empty book when the file is absent.
  std::shared_ptr<const policy::AgreementBook> agreements;
};

// kInvalidArgument with "FILE:LINE:COLUMN: problem" (several problems joined by newlines) for a
// malformed file, an unknown code list or rule set, a template that fails templates::Validate, or
// one whose SQL `source` rejects (source->CheckTemplate). When `source` is null the SQL is not
// checked (offline linting). Also kInvalidArgument when an agreement, a project's agreements or a
// researcher's agreements cover both a differentially private template and one without DP over
// the same unit type (CheckDpSeparation in access_files.h), naming the agreements and templates.
absl::StatusOr<LoadedPolicies> LoadPolicies(const std::string& policies_dir,
                                            core::MicrodataSource* source);

}  // namespace enclave::adapters::policy_files
