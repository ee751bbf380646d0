// The policy directory (enclave/adapters/policy_files): code lists, rule sets, templates,
// principals, agreements, the deny-list, and the four-eyes approval files, as enclaved and
// `enclaved --check` load them.
//
// Input: a bundle of files, each introduced by a line "=== <path>" (e.g. "=== templates/t.textproto",
// "=== access/principals.textproto"); text before the first such line is ignored. Paths are
// limited to the policy layout (codelists/, disclosure/, templates/ *.textproto; access/principals,
// agreements, revoked, approvers; approvals/<id>.approval.textproto). The harness writes them to a
// private directory (under /dev/shm when it exists) and runs:
//   LoadPolicies(dir, nullptr)        every file, all or nothing (templates::Validate included)
//   ParseRevocations(revoked)         the deny-list parser (re-read on every call in enclaved)
//   ParseApprovers, ParseApproval, IdentifyTemplate, VerifyApproval   (enclavectl template check)
// Properties: no crash; a refusal is INVALID_ARGUMENT with a message; a successful load holds only
// templates that templates::Validate accepts, sorted by unique id, each bindable with its defaults
// or refused with a message; an approval verifies only for a template whose bytes it names.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "absl/time/time.h"
#include "enclave/adapters/policy_files/access_files.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/adapters/policy_files/loader.h"
#include "enclave/templates/binding.h"
#include "enclave/templates/validate.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace fs = std::filesystem;
namespace pf = enclave::adapters::policy_files;
namespace templates = enclave::templates;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// "codelists/x.textproto" and the like; false for anything outside the policy layout.
bool AllowedPath(std::string_view path) {
  if (path == "access/principals.textproto" || path == "access/agreements.textproto" ||
      path == "access/revoked.textproto" || path == "access/approvers.textproto") {
    return true;
  }
  const std::size_t slash = path.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view dir = path.substr(0, slash);
  const std::string_view name = path.substr(slash + 1);
  if (dir != "codelists" && dir != "disclosure" && dir != "templates" && dir != "approvals") {
    return false;
  }
  if (name.size() < 11 || name.size() > 80 || name[0] == '.' ||
      !std::all_of(name.begin(), name.end(), NameChar) || !name.ends_with(".textproto")) {
    return false;
  }
  return dir != "approvals" || name.ends_with(".approval.textproto");
}

std::map<std::string, std::string> SplitFiles(std::string_view input) {
  std::map<std::string, std::string> files;
  std::string* current = nullptr;
  for (std::size_t start = 0; start < input.size();) {
    std::size_t end = input.find('\n', start);
    const std::size_t next = end == std::string_view::npos ? input.size() : end + 1;
    const std::string_view line = input.substr(start, next - start);
    if (line.starts_with("=== ")) {
      std::string_view path = line.substr(4);
      while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.remove_suffix(1);
      current = AllowedPath(path) ? &files[std::string(path)] : nullptr;
      if (current != nullptr) current->clear();
    } else if (current != nullptr) {
      current->append(line);
    }
    start = next;
  }
  return files;
}

const fs::path& WorkDir() {
  static const fs::path* dir = [] {
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                           : fs::temp_directory_path();
    auto* p = new fs::path(base / ("enclave-fuzz-policies-" + std::to_string(::getpid())));
    // Silence protobuf's own log lines (e.g. about invalid UTF-8): the loader reports problems.
    google::protobuf::SetLogHandler(nullptr);
    return p;
  }();
  return *dir;
}

// Removes the work directory when the process ends normally.
struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(WorkDir(), ec);
  }
} cleanup;

void CheckLoaded(const pf::LoadedPolicies& loaded) {
  FUZZ_CHECK(loaded.catalog != nullptr && loaded.principals != nullptr &&
                 loaded.agreements != nullptr,
             "a successful load without catalog, principals or agreements");
  const auto& list = loaded.catalog->templates;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const templates::Template& t = list[i];
    FUZZ_CHECK(i == 0 || list[i - 1].id < t.id, "templates not sorted by unique id");
    const std::vector<templates::TemplateProblem> problems = templates::Validate(t);
    FUZZ_CHECK(problems.empty(), "loaded a template that Validate refuses: " +
                                     (problems.empty() ? "" : problems[0].message));
    FUZZ_CHECK(loaded.catalog->rule_sets.contains(t.disclosure.rule_set),
               "loaded a template with an unknown rule set");
    absl::StatusOr<templates::BoundQuery> bound = templates::Bind(t, {});
    FUZZ_CHECK(bound.ok() || !bound.status().message().empty(), "a refusal without a message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, std::string> files = SplitFiles(input);

  const fs::path& root = WorkDir();
  std::error_code ec;
  fs::remove_all(root, ec);
  for (const char* sub : {"codelists", "disclosure", "templates", "access", "approvals"}) {
    fs::create_directories(root / "policies" / sub, ec);
    FUZZ_CHECK(!ec, "cannot create the work directory: " + ec.message());
  }
  for (const auto& [path, text] : files) {
    std::ofstream out(root / "policies" / path, std::ios::binary);
    out << text;
    FUZZ_CHECK(static_cast<bool>(out), "cannot write " + path);
  }

  absl::StatusOr<pf::LoadedPolicies> loaded = pf::LoadPolicies((root / "policies").string(), nullptr);
  enclave::fuzz::Say("LoadPolicies", loaded.status().ToString());
  if (loaded.ok()) {
    CheckLoaded(*loaded);
  } else {
    FUZZ_CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument,
               "not INVALID_ARGUMENT: " + loaded.status().ToString());
    FUZZ_CHECK(!loaded.status().message().empty(), "a refusal without a message");
  }

  if (auto it = files.find("access/revoked.textproto"); it != files.end()) {
    absl::StatusOr<enclave::policy::RevocationList> list = pf::ParseRevocations(it->second);
    FUZZ_CHECK(list.ok() || !list.status().message().empty(), "a refusal without a message");
  }

  // Four-eyes approvals, as `enclavectl template check` runs them (signatures made by
  // make_corpus.cc's officer key; the time is fixed inside the seeds' validity).
  std::optional<pf::Approvers> approvers;
  if (auto it = files.find("access/approvers.textproto"); it != files.end()) {
    absl::StatusOr<pf::Approvers> a = pf::ParseApprovers(it->second, "approvers.textproto");
    FUZZ_CHECK(a.ok() || !a.status().message().empty(), "a refusal without a message");
    if (a.ok()) approvers = *std::move(a);
  }
  const absl::Time now = absl::FromUnixSeconds(1782864000);  // 2026-07-01
  for (const auto& [path, text] : files) {
    if (!path.starts_with("templates/")) continue;
    absl::StatusOr<pf::TemplateIdentity> identity = pf::IdentifyTemplate(text, path);
    if (!identity.ok()) {
      FUZZ_CHECK(!identity.status().message().empty(), "a refusal without a message");
      continue;
    }
    auto approval_file = files.find("approvals/" + pf::ApprovalFileName(identity->id));
    if (approval_file == files.end()) continue;
    absl::StatusOr<pf::Approval> approval = pf::ParseApproval(approval_file->second, "approval");
    if (!approval.ok()) {
      FUZZ_CHECK(!approval.status().message().empty(), "a refusal without a message");
      continue;
    }
    FUZZ_CHECK(pf::FormatApproval(*approval).size() > 0, "an approval formats to nothing");
    if (!approvers.has_value()) continue;
    const absl::Status verified = pf::VerifyApproval(*identity, *approval, *approvers, now);
    enclave::fuzz::Say("VerifyApproval " + identity->id, verified.ToString());
    if (verified.ok()) {
      FUZZ_CHECK(approval->template_sha256 == identity->sha256 &&
                     approval->template_id == identity->id && approval->approver != identity->author,
                 "an approval verified for other bytes, another template or its author");
    } else {
      FUZZ_CHECK(!verified.message().empty(), "a refusal without a message");
    }
  }
  return 0;
}
