// enclavectl template sign|check: four-eyes approval of query templates, offline (no server).
//
//   enclavectl template sign  --key OFFICER.sign.key --approvers APPROVERS [--out DIR] TEMPLATE...
//   enclavectl template check --approvers APPROVERS --approvals DIR TEMPLATE...
//
// A TEMPLATE is a template file or a folder of them (*.textproto). `sign` is for privacy officers:
// it writes DIR/<id>.approval.textproto (default DIR: ./approvals) signed with the officer's
// Ed25519 key, which must be listed in the approvers file, be valid today, and belong to someone
// other than the template's author. `check` is for anyone: it runs the check enclaved runs at
// start-up (adapters/policy_files/approvals.h) and prints one line per template. enclaved also
// requires the approver to be a PRIVACY_OFFICER in principals.textproto.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace enclave::client::cli {

struct TemplateArgs {
  enum class Action { kSign, kCheck, kHelp };
  Action action = Action::kHelp;
  std::string key_file;        // sign
  std::string approvers_file;  // sign, check
  std::string approvals_dir;   // check: --approvals; sign: --out (default "approvals")
  std::vector<std::string> templates;
};

// Parses the arguments after "template". kInvalidArgument (a usage error) for an unknown action
// or flag, a missing value or required flag, or no TEMPLATE.
[[nodiscard]] absl::StatusOr<TemplateArgs> ParseTemplateArgs(const std::vector<std::string>& args);

// Runs `enclavectl template ...` at time `now`; returns the exit code (0: every template signed or
// approved; 1: at least one refused; 2: usage error; 4: a file not found).
int RunTemplateCommand(const std::vector<std::string>& args, absl::Time now, std::ostream& out,
                       std::ostream& err);

std::string TemplateHelpText();

}  // namespace enclave::client::cli
