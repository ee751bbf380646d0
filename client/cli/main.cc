// enclavectl: browse and run the enclave's query templates from a shell.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "client/cli/args.h"
#include "client/cli/audit.h"
#include "client/cli/config.h"
#include "client/cli/output.h"
#include "client/cli/template_cmd.h"
#include "client/web/serve_cmd.h"
#include "enclave/client/client.h"
#include "enclave/client/format.h"
#include "enclave/client/retry.h"

namespace {

using enclave::client::cli::Command;

// The connection of the command, kept by main() so that it is torn down after the outcome is
// known and printed, under the exit watchdog there.
using Connections = std::vector<std::shared_ptr<void>>;

int Fail(const absl::Status& status) {
  std::cerr << "enclavectl: error: " << status.message() << "\n";
  return enclave::client::cli::ExitCodeFor(status);
}

int UsageError(const absl::Status& status) {
  std::cerr << "enclavectl: error: " << status.message() << "\n"
            << enclave::client::cli::ShortUsage();
  return 2;
}

absl::Status Emit(const std::string& text, const std::optional<std::string>& output_file) {
  if (output_file.has_value()) {
    return enclave::client::cli::WriteFileAtomically(*output_file, text);
  }
  std::cout << text;
  std::cout.flush();
  if (!std::cout) return absl::UnknownError("cannot write to standard output");
  return absl::OkStatus();
}

// enclavectl audit ...: verify-bundle runs offline; the others call the AuditService.
int RunAudit(const enclave::client::cli::ParsedArgs& parsed,
             const enclave::client::cli::ConfigValues& file, const char* home,
             Connections& keep) {
  namespace cli = enclave::client::cli;
  namespace client = enclave::client;
  using cli::AuditAction;

  cli::AuditTrust trust;
  trust.log_key = parsed.audit.log_key.value_or(file.log_key.value_or(""));
  trust.origin = parsed.audit.origin.value_or(file.log_origin.value_or(""));
  if (parsed.audit_action == AuditAction::kVerifyBundle) {
    trust.state_path = parsed.audit.state.value_or("");
    absl::StatusOr<std::string> report = cli::VerifyBundleOffline(parsed.bundle_file, trust);
    if (!report.ok()) return Fail(report.status());
    std::cout << *report;
    return 0;
  }

  absl::StatusOr<cli::Settings> settings = cli::ResolveSettings(parsed, file);
  if (!settings.ok()) return UsageError(settings.status());
  if (const char* debug = std::getenv("ENCLAVECTL_DEBUG"); debug == nullptr || *debug == '\0') {
    client::SilenceTransportLogs();
  }
  absl::StatusOr<std::unique_ptr<client::AuditClient>> connection =
      client::ConnectAudit(settings->connect);
  if (!connection.ok()) return Fail(connection.status());
  client::AuditClient& audit = **connection;
  keep.push_back(std::shared_ptr<client::AuditClient>(*std::move(connection)));

  absl::StatusOr<std::string> text;
  switch (parsed.audit_action) {
    case AuditAction::kCheckpoint:
      text = cli::ShowCheckpoint(audit, trust);
      break;
    case AuditAction::kLog: {
      client::AuditFilter filter;
      filter.caller = parsed.audit.caller.value_or("");
      filter.template_id = parsed.audit.template_id.value_or("");
      filter.decision = parsed.audit.decision.value_or("");
      filter.entry_type = parsed.audit.type.value_or("");
      filter.project = parsed.audit.project.value_or("");
      filter.parameters = parsed.params;
      // Checked by ParseArgs already.
      if (parsed.audit.from.has_value()) {
        filter.from_unix_ms = cli::ParseAuditTime("--from", *parsed.audit.from).value_or(0);
      }
      if (parsed.audit.to.has_value()) {
        filter.to_unix_ms = cli::ParseAuditTime("--to", *parsed.audit.to).value_or(0);
      }
      trust.state_path = parsed.audit.state.value_or(
          cli::DefaultCheckpointStatePath(home == nullptr ? "" : home));
      cli::ListOptions options;
      options.json = settings->format == cli::OutputFormat::kJson;
      options.cells = parsed.audit.cells;
      options.dutch = settings->lang == client::Language::kNl;
      if (options.cells) {
        // The release layouts come from the QueryService (DescribeTemplate with parameters).
        absl::StatusOr<std::unique_ptr<client::EnclaveClient>> templates =
            client::Connect(settings->connect);
        if (!templates.ok()) return Fail(templates.status());
        options.templates = templates->get();
        keep.push_back(std::shared_ptr<client::EnclaveClient>(*std::move(templates)));
      }
      text = cli::ListLog(audit, filter, options, trust);
      break;
    }
    case AuditAction::kVerify:
      trust.state_path = parsed.audit.state.value_or(
          cli::DefaultCheckpointStatePath(home == nullptr ? "" : home));
      text = cli::VerifyLog(audit, trust);
      break;
    case AuditAction::kExport:
      trust.state_path = parsed.audit.state.value_or(
          cli::DefaultCheckpointStatePath(home == nullptr ? "" : home));
      text = cli::ExportLog(audit, parsed.output_file.value_or(""), trust);
      break;
    case AuditAction::kReceipt:
      text = cli::ShowReceipt(audit, parsed.receipt_request_id, trust);
      break;
    case AuditAction::kVerifyBundle:
      break;
  }
  if (!text.ok()) return Fail(text.status());
  std::cout << *text;
  std::cout.flush();
  if (!std::cout) return Fail(absl::UnknownError("cannot write to standard output"));
  return 0;
}

int Run(const std::vector<std::string>& args, Connections& keep) {
  namespace cli = enclave::client::cli;
  namespace client = enclave::client;

  // enclavectl template sign|check: offline, with its own flags (template_cmd.h).
  if (!args.empty() && args[0] == "template") {
    return cli::RunTemplateCommand({args.begin() + 1, args.end()}, absl::Now(), std::cout,
                                   std::cerr);
  }
  if (args.size() == 2 && args[0] == "help" && args[1] == "template") {
    std::cout << cli::TemplateHelpText();
    return 0;
  }
  absl::StatusOr<cli::ParsedArgs> parsed = cli::ParseArgs(args);
  if (!parsed.ok()) return UsageError(parsed.status());

  if (parsed->command == Command::kVersion) {
    std::cout << cli::VersionText();
    return 0;
  }
  if (parsed->command == Command::kCompletion) {
    std::cout << cli::BashCompletion();
    return 0;
  }
  if (parsed->command == Command::kHelp) {
    absl::StatusOr<std::string> text = cli::HelpText(parsed->help_topic);
    if (!text.ok()) return UsageError(absl::InvalidArgumentError(text.status().message()));
    std::cout << *text;
    return 0;
  }

  const char* home = std::getenv("HOME");
  cli::ConfigValues file;
  std::optional<std::filesystem::path> config_path;
  if (parsed->config_file.has_value()) {
    config_path = *parsed->config_file;
  } else {
    config_path = cli::DefaultConfigPath(std::getenv("ENCLAVECTL_CONFIG"), home);
  }
  if (config_path.has_value()) {
    absl::StatusOr<cli::ConfigValues> loaded =
        cli::LoadConfigFile(*config_path, home == nullptr ? "" : home);
    if (!loaded.ok()) return Fail(loaded.status());
    file = *std::move(loaded);
  }
  if (parsed->command == Command::kAudit) return RunAudit(*parsed, file, home, keep);
  if (parsed->command == Command::kServe) {  // the local web page (client/web/serve_cmd.h)
    return enclave::web::RunServeCommand(*parsed, file, home, std::cout, std::cerr);
  }
  absl::StatusOr<cli::Settings> settings = cli::ResolveSettings(*parsed, file);
  if (!settings.ok()) return UsageError(settings.status());

  // gRPC's own log lines would repeat the error below in transport terms; keep them for debugging.
  if (const char* debug = std::getenv("ENCLAVECTL_DEBUG"); debug == nullptr || *debug == '\0') {
    client::SilenceTransportLogs();
  }
  absl::StatusOr<std::unique_ptr<client::EnclaveClient>> connection =
      client::Connect(settings->connect);
  if (!connection.ok()) return Fail(connection.status());
  client::EnclaveClient& enclave = **connection;
  keep.push_back(std::shared_ptr<client::EnclaveClient>(*std::move(connection)));
  const client::Language lang = settings->lang;
  if (parsed->command == Command::kHealth) {
    // Exit 0 only when the enclave says SERVING (issue 13): monitoring and scripts rely on it.
    absl::StatusOr<std::string> health =
        client::CheckHealth(settings->connect, parsed->health_service);
    if (!health.ok()) return Fail(health.status());
    std::cout << *health << "\n";
    return *health == "SERVING" ? 0 : cli::ExitCodeFor(absl::UnavailableError(*health));
  }

  // A busy enclave (RESOURCE_EXHAUSTED with a retry hint) is asked again after the wait it gave,
  // with back-off and jitter, within --retries and --retry-max-time.
  client::RetryHooks hooks = client::SystemRetryHooks();
  int retried = 0;
  hooks.on_retry = [&](const absl::Status& status, std::chrono::milliseconds wait, int retry) {
    retried = retry;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(wait.count()) / 1000.0);
    if (lang == client::Language::kNl) {
      std::cerr << "enclavectl: " << status.message() << "; nieuwe poging over " << seconds
                << " s (poging " << retry << " van " << settings->retry.max_retries << ")\n";
    } else {
      std::cerr << "enclavectl: " << status.message() << "; retrying in " << seconds
                << " s (retry " << retry << " of " << settings->retry.max_retries << ")\n";
    }
  };
  const auto retrying = [&](auto call) {
    auto result = client::CallWithRetries<typename decltype(call())::value_type>(
        settings->retry, hooks, call);
    if (!result.ok() && retried > 0 && client::RetryAfterOf(result.status()).has_value()) {
      if (lang == client::Language::kNl) {
        std::cerr << "enclavectl: nog steeds bezet na " << retried + 1
                  << " pogingen; gestopt (zie --retries en --retry-max-time)\n";
      } else {
        std::cerr << "enclavectl: still busy after " << retried + 1
                  << " attempts; giving up (see --retries and --retry-max-time)\n";
      }
    }
    return result;
  };

  std::string text;
  switch (parsed->command) {
    case Command::kTemplates: {
      auto templates = retrying([&] { return enclave.ListTemplates(); });
      if (!templates.ok()) return Fail(templates.status());
      text = settings->format == cli::OutputFormat::kJson
                 ? client::FormatTemplateListJson(*templates) + "\n"
                 : client::FormatTemplateList(*templates, lang);
      break;
    }
    case Command::kDescribe: {
      auto info = retrying([&] { return enclave.DescribeTemplate(parsed->template_id); });
      if (!info.ok()) return Fail(info.status());
      text = settings->format == cli::OutputFormat::kJson
                 ? client::FormatTemplateInfoJson(*info) + "\n"
                 : client::FormatTemplateInfo(*info, lang);
      break;
    }
    case Command::kRun: {
      auto result =
          retrying([&] { return enclave.RunQuery(parsed->template_id, parsed->params); });
      if (!result.ok()) {
        const int code = Fail(result.status());
        // What would work instead (from the parameters only), in the user's language.
        std::cerr << client::FormatSuggestions(client::SuggestionsOf(result.status()), lang,
                                               /*refused=*/true);
        return code;
      }
      switch (settings->format) {
        case cli::OutputFormat::kTable:
          text = client::FormatTable(*result, lang);
          break;
        case cli::OutputFormat::kCsv:
          text = client::FormatCsv(*result, lang);
          break;
        case cli::OutputFormat::kJson:
          text = client::FormatJson(*result);
          break;
      }
      break;
    }
    case Command::kBudget: {
      auto ledgers = retrying([&] { return enclave.GetBudget(); });
      if (!ledgers.ok()) return Fail(ledgers.status());
      text = settings->format == cli::OutputFormat::kJson
                 ? client::FormatBudgetJson(*ledgers) + "\n"
                 : client::FormatBudget(*ledgers, lang);
      break;
    }
    case Command::kCompletion:
    case Command::kHelp:
    case Command::kVersion:
    case Command::kAudit:
    case Command::kHealth:
    case Command::kServe:
      break;
  }
  if (absl::Status s = Emit(text, parsed->output_file); !s.ok()) return Fail(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  Connections keep;
  const int code = Run(args, keep);
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // Every call had its deadline and the outcome is printed: tearing down gRPC (channels, its
  // threads, static destructors) must not keep a script waiting: if that has not finished within
  // 10 s, leave with the same exit code without it.
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    std::_Exit(code);
  }).detach();
  keep.clear();
  return code;
}
