// enclavectl's command line (client/cli/args.cc, template_cmd.cc) and its config file
// (client/cli/config.cc): everything the CLI parses before it connects. Two modes (first byte):
//   args   (even): the rest split at NUL bytes into argv[1..], dispatched as main.cc does
//          ("template ..." to ParseTemplateArgs, anything else to ParseArgs), then merged with a
//          config (ResolveSettings) and mapped to an exit code; each argument is also tried as an
//          'audit log --from' time.
//   config (odd):  the rest as a config file (ParseConfig).
// Properties: no crash or exception; every refusal is a usage error (INVALID_ARGUMENT, exit 2) with
// a non-empty message (issue 11 §3: never "enclavectl: error:" and nothing); accepted parses are
// internally consistent (a run has a template, params are unique, help topics exist or are
// refused cleanly).
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/config.h"
#include "client/cli/template_cmd.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

namespace cli = enclave::client::cli;

void CheckUsageError(const absl::Status& s) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "not a usage error: " + s.ToString());
  FUZZ_CHECK(!s.message().empty(), "a usage error without a message");
  FUZZ_CHECK(cli::ExitCodeFor(s) == 2, "a usage error does not exit 2");
}

void Args(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "template") {
    absl::StatusOr<cli::TemplateArgs> t = cli::ParseTemplateArgs({args.begin() + 1, args.end()});
    enclave::fuzz::Say("ParseTemplateArgs", t.status().ToString());
    if (!t.ok()) {
      CheckUsageError(t.status());
    } else if (t->action != cli::TemplateArgs::Action::kHelp) {
      FUZZ_CHECK(!t->templates.empty(), "template sign|check accepted without a TEMPLATE");
    }
    return;
  }
  absl::StatusOr<cli::ParsedArgs> parsed = cli::ParseArgs(args);
  enclave::fuzz::Say("ParseArgs", parsed.status().ToString());
  if (!parsed.ok()) {
    CheckUsageError(parsed.status());
    return;
  }
  std::set<std::string> names;
  for (const auto& [name, value] : parsed->params) {
    FUZZ_CHECK(!name.empty(), "an accepted --param without a name");
    FUZZ_CHECK(names.insert(name).second, "an accepted repeated --param");
  }
  if (parsed->command == cli::Command::kRun || parsed->command == cli::Command::kDescribe) {
    FUZZ_CHECK(!parsed->template_id.empty(), "run/describe accepted without a template");
  } else {
    FUZZ_CHECK(parsed->params.empty(), "--param accepted outside run");
  }
  if (parsed->command == cli::Command::kHelp) {
    absl::StatusOr<std::string> help = cli::HelpText(parsed->help_topic);
    FUZZ_CHECK(help.ok() ? !help->empty() : !help.status().message().empty(),
               "an empty help text or refusal");
  }
  if (parsed->command == cli::Command::kAudit) {
    for (const auto& t : {parsed->audit.from, parsed->audit.to}) {
      if (t) FUZZ_CHECK(cli::ParseAuditTime("--from", *t).ok(), "accepted a bad audit time");
    }
  }
  // Merged with an empty config and with a complete one.
  cli::ConfigValues complete;
  complete.target = "localhost:7443";
  complete.ca = "/pki/ca.pem";
  complete.cert = "/pki/analyst.pem";
  complete.key = "/pki/analyst.key";
  for (const cli::ConfigValues& file : {cli::ConfigValues{}, complete}) {
    absl::StatusOr<cli::Settings> settings = cli::ResolveSettings(*parsed, file);
    if (!settings.ok()) CheckUsageError(settings.status());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::vector<std::string> args;
    std::size_t start = 0;
    while (start <= rest.size() && args.size() < 64) {
      const std::size_t nul = rest.find('\0', start);
      args.emplace_back(rest.substr(start, nul == std::string_view::npos ? rest.npos : nul - start));
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
    if (rest.empty()) args.clear();
    Args(args);
    for (const std::string& a : args) {
      absl::StatusOr<std::int64_t> t = cli::ParseAuditTime("--from", a);
      if (!t.ok()) CheckUsageError(t.status());
    }
  } else {
    absl::StatusOr<cli::ConfigValues> config =
        cli::ParseConfig(rest, "/etc/enclavectl", "config", "/home/fuzz");
    enclave::fuzz::Say("ParseConfig", config.status().ToString());
    if (!config.ok()) CheckUsageError(config.status());
  }
  return 0;
}
