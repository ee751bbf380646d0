// enclavectl: browse and run the enclave's query templates from a shell.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/config.h"
#include "client/cli/output.h"
#include "enclave/client/client.h"
#include "enclave/client/format.h"

namespace {

using enclave::client::cli::Command;

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

int Run(const std::vector<std::string>& args) {
  namespace cli = enclave::client::cli;
  namespace client = enclave::client;

  absl::StatusOr<cli::ParsedArgs> parsed = cli::ParseArgs(args);
  if (!parsed.ok()) return UsageError(parsed.status());

  if (parsed->command == Command::kVersion) {
    std::cout << cli::VersionText();
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
  const client::Language lang = settings->lang;

  std::string text;
  switch (parsed->command) {
    case Command::kTemplates: {
      auto templates = enclave.ListTemplates();
      if (!templates.ok()) return Fail(templates.status());
      text = client::FormatTemplateList(*templates, lang);
      break;
    }
    case Command::kDescribe: {
      auto info = enclave.DescribeTemplate(parsed->template_id);
      if (!info.ok()) return Fail(info.status());
      text = client::FormatTemplateInfo(*info, lang);
      break;
    }
    case Command::kRun: {
      auto result = enclave.RunQuery(parsed->template_id, parsed->params);
      if (!result.ok()) return Fail(result.status());
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
    case Command::kHelp:
    case Command::kVersion:
      break;
  }
  if (absl::Status s = Emit(text, parsed->output_file); !s.ok()) return Fail(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Run(args);
}
