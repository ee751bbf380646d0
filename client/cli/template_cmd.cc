// enclavectl template sign|check: signs and checks four-eyes template approvals offline.
#include "client/cli/template_cmd.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "client/cli/args.h"
#include "client/cli/output.h"
#include "enclave/adapters/policy_files/approvals.h"
#include "enclave/crypto/ed25519.h"

namespace enclave::client::cli {
namespace {

namespace fs = std::filesystem;
namespace pf = enclave::adapters::policy_files;

constexpr char kHelp[] = R"(Usage: enclavectl template sign --key FILE --approvers FILE [--out DIR] TEMPLATE...
       enclavectl template check --approvers FILE --approvals DIR TEMPLATE...

Four-eyes approval of query templates (docs/privacy-officer.md). Works offline:
no server, no certificate. A TEMPLATE is a template file or a folder of them.

  sign    (privacy officers) approve each template's exact bytes and version
          with your Ed25519 signing key: writes DIR/<id>.approval.textproto
          (default DIR: ./approvals). Refused when your key is not in the
          approvers file or not valid today, when the template has no author,
          or when you are its author (nobody approves their own template).
  check   (anyone) check each template against its approval as enclaved does
          at start-up: unchanged bytes, same version and author, a signature by
          a listed officer key valid then and now, approver other than author.

  --key FILE        your signing key (PKCS#8 PEM, e.g. officer1.sign.key);
                    keep it private: it never goes into the repository
  --approvers FILE  the officers' public keys (approvers_file of enclaved)
  --out DIR         sign: where approvals are written (default approvals)
  --approvals DIR   check: the approvals to check (approvals_dir of enclaved)

enclaved also requires the approver to be a PRIVACY_OFFICER in principals.textproto.
Exit codes: 0 all signed or approved; 1 a template refused; 2 usage error; 4 file not found.

Example:
  enclavectl template sign --key ~/officer1.sign.key --approvers approvers.textproto \
      --out /etc/enclaved/approvals policies/templates/t03_bijstand_stand.textproto
)";

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::UnavailableError("error reading '" + path + "'");
  return std::move(buffer).str();
}

// The template files named: files as given, folders by their *.textproto files (sorted).
absl::StatusOr<std::vector<std::string>> TemplateFiles(const std::vector<std::string>& given) {
  std::vector<std::string> files;
  for (const std::string& g : given) {
    std::error_code ec;
    if (fs::is_directory(g, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(g, ec)) {
        if (e.path().extension() == ".textproto") in_dir.push_back(e.path().string());
      }
      if (ec) return absl::NotFoundError("cannot list '" + g + "'");
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else {
      files.push_back(g);
    }
  }
  return files;
}

}  // namespace

std::string TemplateHelpText() { return kHelp; }

absl::StatusOr<TemplateArgs> ParseTemplateArgs(const std::vector<std::string>& args) {
  TemplateArgs parsed;
  if (args.empty()) {
    return absl::InvalidArgumentError("'template' needs an action (sign, check)");
  }
  std::size_t i = 0;
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") return parsed;
  if (args[0] == "sign") {
    parsed.action = TemplateArgs::Action::kSign;
  } else if (args[0] == "check") {
    parsed.action = TemplateArgs::Action::kCheck;
  } else {
    return absl::InvalidArgumentError("unknown template action '" + args[0] +
                                      "' (allowed: sign, check)");
  }
  const bool sign = parsed.action == TemplateArgs::Action::kSign;
  bool out_given = false;
  for (i = 1; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "-h" || flag == "--help") {
      parsed.action = TemplateArgs::Action::kHelp;
      return parsed;
    }
    if (flag.rfind("--", 0) != 0) {
      parsed.templates.push_back(flag);
      continue;
    }
    std::string value;
    if (const std::size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    }
    std::string* slot = nullptr;
    if (flag == "--approvers") slot = &parsed.approvers_file;
    if (flag == "--key" && sign) slot = &parsed.key_file;
    if (flag == "--out" && sign) slot = &parsed.approvals_dir;
    if (flag == "--approvals" && !sign) slot = &parsed.approvals_dir;
    if (slot == nullptr) {
      return absl::InvalidArgumentError("unknown flag '" + flag + "' for 'template " + args[0] +
                                        "' (see 'enclavectl template --help')");
    }
    if (value.empty()) return absl::InvalidArgumentError("'" + flag + "' needs a value");
    if (flag == "--out") out_given = true;
    *slot = value;
  }
  if (parsed.approvers_file.empty()) {
    return absl::InvalidArgumentError("'template " + args[0] + "' needs --approvers FILE");
  }
  if (sign && parsed.key_file.empty()) {
    return absl::InvalidArgumentError("'template sign' needs --key FILE (your signing key)");
  }
  if (sign && !out_given) parsed.approvals_dir = "approvals";
  if (!sign && parsed.approvals_dir.empty()) {
    return absl::InvalidArgumentError("'template check' needs --approvals DIR");
  }
  if (parsed.templates.empty()) {
    return absl::InvalidArgumentError("'template " + args[0] + "' needs a TEMPLATE file or folder");
  }
  return parsed;
}

int RunTemplateCommand(const std::vector<std::string>& args, absl::Time now, std::ostream& out,
                       std::ostream& err) {
  absl::StatusOr<TemplateArgs> parsed = ParseTemplateArgs(args);
  if (!parsed.ok()) {
    err << "enclavectl: error: " << parsed.status().message() << "\n"
        << "Run 'enclavectl template --help' for usage.\n";
    return 2;
  }
  if (parsed->action == TemplateArgs::Action::kHelp) {
    out << kHelp;
    return 0;
  }
  const auto fail = [&err](const absl::Status& s) {
    err << "enclavectl: error: " << s.message() << "\n";
    return ExitCodeFor(s) == 0 ? 1 : ExitCodeFor(s);
  };
  absl::StatusOr<pf::Approvers> approvers = pf::LoadApprovers(parsed->approvers_file);
  if (!approvers.ok()) return fail(approvers.status());
  absl::StatusOr<std::vector<std::string>> files = TemplateFiles(parsed->templates);
  if (!files.ok()) return fail(files.status());

  std::optional<crypto::Ed25519PrivateKey> key;
  if (parsed->action == TemplateArgs::Action::kSign) {
    absl::StatusOr<std::string> pem = ReadWholeFile(parsed->key_file);
    if (!pem.ok()) return fail(pem.status());
    absl::StatusOr<crypto::Ed25519PrivateKey> loaded = crypto::Ed25519PrivateKey::FromPem(*pem);
    if (!loaded.ok()) {
      return fail(absl::InvalidArgumentError("--key '" + parsed->key_file +
                                             "' is not an Ed25519 private key (PKCS#8 PEM)"));
    }
    key.emplace(*std::move(loaded));
    std::error_code ec;
    fs::create_directories(parsed->approvals_dir, ec);
    if (ec) {
      return fail(absl::UnavailableError("cannot create '" + parsed->approvals_dir + "'"));
    }
  }

  int refused = 0;
  for (const std::string& file : *files) {
    absl::StatusOr<std::string> bytes = ReadWholeFile(file);
    if (!bytes.ok()) return fail(bytes.status());
    absl::StatusOr<pf::TemplateIdentity> identity = pf::IdentifyTemplate(*bytes, file);
    if (!identity.ok()) {
      err << "REFUSED " << file << ": " << identity.status().message() << "\n";
      ++refused;
      continue;
    }
    if (key.has_value()) {
      absl::StatusOr<pf::Approval> approval = pf::SignApproval(*identity, *key, *approvers, now);
      if (!approval.ok()) {
        err << "REFUSED " << identity->id << ": " << approval.status().message() << "\n";
        ++refused;
        continue;
      }
      const std::string path =
          (fs::path(parsed->approvals_dir) / pf::ApprovalFileName(identity->id)).string();
      if (absl::Status s = WriteFileAtomically(path, pf::FormatApproval(*approval)); !s.ok()) {
        return fail(s);
      }
      out << "approved " << identity->id << " v" << identity->version << " (author "
          << identity->author << ") as " << approval->approver << " with key " << approval->key_id
          << ": " << path << "\n";
    } else {
      absl::StatusOr<pf::Approval> approval =
          pf::CheckApproval(*identity, parsed->approvals_dir, *approvers, now);
      if (!approval.ok()) {
        out << "REFUSED " << identity->id << ": " << approval.status().message() << "\n";
        ++refused;
        continue;
      }
      out << "ok " << identity->id << " v" << identity->version << ": approved by "
          << approval->approver << " (key " << approval->key_id << ") at "
          << approval->approved_at << ", "
          << pf::ToTemplateApproval(*approval).LogText() << "\n";
    }
  }
  if (refused > 0) {
    err << "enclavectl: " << refused << " of " << files->size() << " template(s) refused\n";
    return 1;
  }
  return 0;
}

}  // namespace enclave::client::cli
